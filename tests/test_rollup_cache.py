"""The rollup cache: built once per source in the cache dir, rebuilt on change, never trusted stale.

Also: DuckDB work runs under the configured memory limit, spilling to the cache directory.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import byo_worlds
import duckdb
import pandas as pd
import pytest

from metric_anomaly_investigator.warehouse import queries as q
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.resources import cache_dir
from metric_anomaly_investigator.warehouse.types import WarehouseError


def _files(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _cached() -> list[str]:
    return sorted(p.name for p in (cache_dir() / "rollups").glob("*.duckdb"))


def _dau(wh) -> list[tuple[object, float]]:
    return [(p.day, p.value) for p in q.metric_series(wh, "dau").points]


def test_parquet_rollups_are_built_once_into_the_cache_dir(
    small_parquet_dir: Path, small_wh, tmp_path: Path
) -> None:
    source = tmp_path / "byo"
    shutil.copytree(small_parquet_dir, source)
    before = _files(source)
    stages: list[str] = []
    with open_warehouse(source, progress=lambda stage, _done: stages.append(stage)) as wh:
        assert wh.rollup is not None and wh.type_rollup is None
        assert wh.rollup_source == "cache" and not wh.restored
        first = _dau(wh)
        schema = wh.schema
    assert any("Building the rollup cache" in s for s in stages)
    assert stages[-1] == "rollup cache ready"
    built = _cached()
    assert len(built) == 1
    assert _files(source) == before  # nothing written next to the user's data
    stages.clear()
    with open_warehouse(source, progress=lambda stage, _done: stages.append(stage)) as wh:
        assert stages == []  # the second open builds nothing
        assert wh.restored  # and discovers nothing: the schema comes from the cache
        assert _dau(wh) == first
        assert wh.schema == schema
        assert wh.rollup_unique and wh.wau_spans
    assert _cached() == built
    assert first == _dau(small_wh)  # the same answers as the generated file's stored rollup


def test_a_changed_source_gets_a_new_rollup(small_parquet_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "byo"
    shutil.copytree(small_parquet_dir, source)
    with open_warehouse(source) as wh:
        countries = next(d for d in wh.schema.dimensions if d.name == "country").values
    assert "IN" in countries
    events = source / "events.parquet"
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT * FROM '{events}' WHERE country <> 'IN') TO '{tmp_path / 'e.parquet'}' "
        "(FORMAT parquet)"
    )
    con.close()
    os.replace(tmp_path / "e.parquet", events)
    with open_warehouse(source) as wh:
        countries = next(d for d in wh.schema.dimensions if d.name == "country").values
        raw = wh.con.con.execute(
            f"SELECT count(DISTINCT user_id) FROM '{events}' WHERE event_timestamp::DATE = "
            f"'{wh.schema.end_date}'"
        ).fetchone()
        last = q.metric_series(wh, "dau").points[-1].value
    assert "IN" not in countries
    assert raw == (last,)
    assert len(_cached()) == 2


def test_a_stale_stored_rollup_is_not_trusted(small_world_path: Path, tmp_path: Path) -> None:
    """Delete India's events from a generated file: the product no longer reports India."""
    path = tmp_path / "edited.duckdb"
    shutil.copy(small_world_path, path)
    with open_warehouse(path) as wh:
        assert "IN" in next(d for d in wh.schema.dimensions if d.name == "country").values
        assert wh.rollup_source == "stored"
        stored = wh.rollup
        assert stored is not None and "_mai_cache" not in wh.con.compile(stored.count())
    con = duckdb.connect(str(path))
    con.execute("DELETE FROM events WHERE country = 'IN'")
    con.close()
    with open_warehouse(path) as wh:
        countries = next(d for d in wh.schema.dimensions if d.name == "country").values
        breakdown = q.breakdown(
            wh,
            "dau",
            ["country"],
            baseline=(wh.schema.start_date, wh.schema.start_date),
            current=(wh.schema.end_date, wh.schema.end_date),
        )
        assert wh.rollup is not None and "_mai_cache" in wh.con.compile(wh.rollup.count())
    assert "IN" not in countries
    assert "IN" not in {r.segment.get("country") for r in breakdown.rows}
    with open_warehouse(path) as wh:  # the cached discovery keeps to the rebuilt rollup
        assert wh.restored and wh.rollup_source == "cache"
        assert "IN" not in next(d for d in wh.schema.dimensions if d.name == "country").values


def test_a_damaged_cached_discovery_is_discovered_afresh(
    small_parquet_dir: Path, tmp_path: Path
) -> None:
    """The rollup cache stays usable (kept, not rebuilt) when its saved schema is unreadable."""
    source = tmp_path / "byo"
    shutil.copytree(small_parquet_dir, source)
    with open_warehouse(source) as wh:
        first, schema = _dau(wh), wh.schema
    built = _cached()
    [saved] = (cache_dir() / "rollups").glob("*.schema.json")
    state = json.loads(saved.read_text())
    state["schema"]["start_date"] = "not a date"
    saved.write_text(json.dumps(state))
    stages: list[str] = []
    with open_warehouse(source, progress=lambda stage, _done: stages.append(stage)) as wh:
        assert not wh.restored and wh.rollup_source == "cache"
        assert stages == []  # the cache file is read, not rebuilt
        assert wh.schema == schema and _dau(wh) == first
    assert _cached() == built


def test_duckdb_runs_under_the_memory_limit(
    small_world_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAI_MEMORY_LIMIT", "300MB")
    with open_warehouse(small_world_path) as wh:
        limit, spill = wh.con.con.execute(
            "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchone()
    assert limit == "286.1 MiB"  # DuckDB shows 300 MB in MiB
    assert Path(spill) == cache_dir() / "spill"
    monkeypatch.setenv("MAI_MEMORY_LIMIT", "lots")
    with pytest.raises(WarehouseError, match="MAI_MEMORY_LIMIT='lots' is not a size"):
        open_warehouse(small_world_path)


def test_one_source_opened_twice_in_one_process(tmp_path: Path, small_world_path: Path) -> None:
    """Connections to one DuckDB file share a database instance: each cache has its own alias."""
    world = tmp_path / "edited.duckdb"
    shutil.copy(small_world_path, world)
    con = duckdb.connect(str(world))
    con.execute("DELETE FROM events WHERE country = 'IN'")  # the stored rollup is stale now
    con.close()
    with open_warehouse(world) as first, open_warehouse(world) as second:
        assert first.rollup_source == second.rollup_source == "cache"
        for wh in (first, second):
            countries = next(d for d in wh.schema.dimensions if d.name == "country")
            assert "IN" not in countries.values


@pytest.mark.parametrize("second_device", [False, True])
def test_a_built_rollup_knows_whether_it_has_one_row_per_user_day(
    tmp_path: Path, second_device: bool
) -> None:
    ev = byo_worlds.events(users=40, days=20)
    if second_device:  # one user on a second device for one day: two rows that day
        extra = ev[ev.user_id == ev.user_id.iloc[0]].head(1).copy()
        extra["device"] = "tv"
        ev = pd.concat([ev, extra], ignore_index=True)
    source = byo_worlds.write_parquet_dir(tmp_path / "byo", ev)
    with open_warehouse(source) as wh:
        assert wh.rollup is not None and wh.rollup_source == "cache"
        pairs = wh.execute(wh.rollup.select("user_id", "day").distinct().count())
        assert int(pairs) == int(wh.execute(wh.rollup.count())) - int(second_device)
        assert wh.rollup_unique is (not second_device)
        assert wh.wau_spans is (not second_device)
