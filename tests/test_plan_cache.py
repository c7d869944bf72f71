"""Compiled query plans kept between runs: the same answers, nothing compiled the second time,
and nothing trusted that another version of the code wrote."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from metric_anomaly_investigator.warehouse import plan_cache
from metric_anomaly_investigator.warehouse import queries as q
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.plan_cache import ALIAS_TOKEN, PlanCache
from metric_anomaly_investigator.warehouse.resources import cache_dir
from metric_anomaly_investigator.warehouse.warehouse import Warehouse

BASE = (date(2026, 1, 14), date(2026, 1, 27))
CUR = (date(2026, 1, 28), date(2026, 2, 10))


def _answers(wh: Warehouse) -> list[pd.DataFrame]:
    """A few queries of different shapes: series, a filtered series, breakdowns."""
    ios = q.metric_series(wh, "events", filters={"platform": "ios"})
    return [
        pd.DataFrame([(p.day, p.value) for p in q.metric_series(wh, "dau").points]),
        pd.DataFrame([(p.day, p.value) for p in ios.points]),
        pd.DataFrame(
            [
                r.model_dump()
                for r in q.breakdown(
                    wh, "dau", ["country", "platform"], baseline=BASE, current=CUR
                ).rows
            ]
        ),
        pd.DataFrame(
            [
                r.model_dump()
                for r in q.breakdown(
                    wh,
                    "events_per_user",
                    ["platform"],
                    baseline=BASE,
                    current=CUR,
                    filters={"country": "IN"},
                ).rows
            ]
        ),
    ]


def _plans_file() -> Path:
    (found,) = (cache_dir() / "rollups").glob("*.plans.json")
    return found


def _stored() -> dict:
    return json.loads(_plans_file().read_text())


def _own_copy(parquet_dir: Path, tmp_path: Path) -> Path:
    """A source of this test's own, so its cache entries are this test's alone."""
    return shutil.copytree(parquet_dir, tmp_path / "byo")


def _no_compiling(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object) -> str:
        raise AssertionError("a stored plan was compiled again")

    monkeypatch.setattr(Warehouse, "_prepare", refuse)


def test_a_second_run_binds_to_the_stored_sql(
    small_parquet_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _own_copy(small_parquet_dir, tmp_path)
    with open_warehouse(source) as wh:
        first = _answers(wh)
        assert wh.cache is not None
        alias = wh.cache.alias
    sql = [entry[0] for entry in _stored()["plans"].values()]
    assert len(sql) >= 4  # one per shape run
    assert not any(alias in s for s in sql)  # the connection's own alias is not kept
    assert any(ALIAS_TOKEN in s for s in sql)  # the cached rollup is read through the token
    _no_compiling(monkeypatch)
    with open_warehouse(source) as wh:
        again = _answers(wh)
        assert wh.cache is not None and wh.cache.alias != alias
    for a, b in zip(first, again, strict=True):
        pd.testing.assert_frame_equal(a, b)


def test_a_new_shape_is_compiled_and_kept(small_parquet_dir: Path, tmp_path: Path) -> None:
    source = _own_copy(small_parquet_dir, tmp_path)
    with open_warehouse(source) as wh:
        q.metric_series(wh, "dau")
        kept = len(_stored()["plans"])
    with open_warehouse(source) as wh:
        q.metric_series(wh, "dau", filters={"country": "IN"})  # a filter: another shape
    assert len(_stored()["plans"]) == kept + 1


def test_plans_written_by_other_code_are_ignored(
    small_parquet_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _own_copy(small_parquet_dir, tmp_path)
    with open_warehouse(source) as wh:
        first = _answers(wh)
    path = _plans_file()
    stored = _stored()
    # what an older version might have compiled for the same shapes: wrong SQL, another stamp
    stored["stamp"] = "another version"
    stored["plans"] = {k: ["SELECT 1 AS wrong", v[1]] for k, v in stored["plans"].items()}
    path.write_text(json.dumps(stored))
    with open_warehouse(source) as wh:
        again = _answers(wh)
    for a, b in zip(first, again, strict=True):
        pd.testing.assert_frame_equal(a, b)
    assert json.loads(path.read_text())["stamp"] == plan_cache.code_stamp()


@pytest.mark.parametrize("text", ["", "{", "[]", '{"stamp": 1}', '{"plans": {"x": 1}}'])
def test_a_damaged_file_is_an_empty_cache(tmp_path: Path, text: str) -> None:
    path = tmp_path / "k.plans.json"
    path.write_text(text)
    cache = PlanCache(path, "_mai_cache_abc")
    assert cache.get(("daily", False, ())) is None
    cache.put(
        ("daily", False, ()), "SELECT * FROM _mai_cache_abc.main.t WHERE d = $w_lo", ("w_lo",)
    )
    reread = PlanCache(path, "_mai_cache_def")
    assert reread.get(("daily", False, ())) == (
        "SELECT * FROM _mai_cache_def.main.t WHERE d = $w_lo",
        ("w_lo",),
    )


def test_an_unwritable_cache_only_costs_speed(tmp_path: Path) -> None:
    path = tmp_path / "missing-dir" / "k.plans.json"
    cache = PlanCache(path, "_mai_cache_abc")
    cache.put(("shape",), "SELECT 1", ())  # no directory: nothing written, no error
    assert not path.exists()
    assert cache.get(("shape",)) == ("SELECT 1", ())
