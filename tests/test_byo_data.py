"""Bring your own data (contract 3): hand-made worlds with other names, types and layouts.

Each world is built with pandas (see ``byo_worlds``), opened the way a user would, and either
investigated end to end through ``mai investigate --json`` or checked at the warehouse level.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from byo_worlds import BREAK, START, annotations, deployments, events, write_parquet_dir

from metric_anomaly_investigator.cli import main
from metric_anomaly_investigator.warehouse import queries as q
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.types import WarehouseError

END = date(2025, 4, 11)
RENAMED_CONFIG = """
[tables]
events = "app_events"

[columns.events]
user_id = "uid"
event_timestamp = "ts"
"""


@pytest.fixture(scope="module")
def parquet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_parquet_dir(tmp_path_factory.mktemp("byo") / "parquet")


def investigate(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code = main(["investigate", "Why did DAU drop in April?", "--json", "-q", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    record: dict[str, Any] = json.loads(out)
    return record


def assert_finds_the_story(record: dict[str, Any], *, with_deployments: bool = True) -> None:
    report = record["report"]
    assert record["status"] == "completed"
    assert report["anomaly"]["direction"] == "drop"
    assert report["anomaly"]["metric"] == "dau"
    start = date.fromisoformat(report["anomaly"]["start"])
    assert abs((start - BREAK).days) <= 1
    top = report["affected_segments"][0]["filters"]
    assert top.get("market") == "JP"
    assert set(top) <= {"market", "device"}
    if with_deployments:
        best = max(report["correlated_events"], key=lambda e: e["confidence"])
        assert best["id"] == "d2"


def test_parquet_directory_with_other_dimensions(
    parquet_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_warehouse(parquet_dir) as wh:
        assert wh.schema.dimension_names == ["device", "market", "tier", "event_type"]
        assert not wh.schema.has_users
        assert (wh.schema.start_date, wh.schema.end_date) == (START.date(), END)
    record = investigate(capsys, "--warehouse", str(parquet_dir))
    assert record["warehouse"] == str(parquet_dir)
    assert_finds_the_story(record)


def test_csv_with_text_ids_zoned_text_times_and_comma_regions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ev = events()
    ev["user_id"] = "u" + ev["user_id"].astype(str)
    ev["event_timestamp"] = ev["event_timestamp"].dt.tz_localize("UTC").astype(str)
    ev.to_csv(tmp_path / "events.csv", index=False)
    deployments(regions="text").to_csv(tmp_path / "deployments.csv", index=False)
    annotations().to_csv(tmp_path / "annotations.csv", index=False)
    with open_warehouse(tmp_path) as wh:
        assert (wh.schema.start_date, wh.schema.end_date) == (START.date(), END)
        assert [d.regions for d in q.deployments(wh)] == [["all"], ["DE", "FR"], ["JP"]]
    assert_finds_the_story(investigate(capsys, "--warehouse", str(tmp_path)))


def test_renamed_tables_and_columns_in_a_duckdb_file_with_a_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app_events = events().rename(columns={"user_id": "uid", "event_timestamp": "ts"})  # noqa: F841
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE app_events AS SELECT * FROM app_events")
    config = tmp_path / "mai.toml"
    config.write_text(RENAMED_CONFIG)
    record = investigate(capsys, "--warehouse", str(path), "--config", str(config))
    assert_finds_the_story(record, with_deployments=False)
    assert record["report"]["correlated_events"] == []

    code = main(["investigate", "Why did DAU drop?", "-q", "--warehouse", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and "no table 'events'" in err and "app_events" in err and "--config" in err


@pytest.mark.parametrize(
    "as_time",
    [
        pytest.param(lambda ts: ts.dt.date, id="dates"),
        pytest.param(lambda ts: ts.dt.tz_localize("UTC"), id="utc-timestamps"),
        pytest.param(lambda ts: ts.dt.strftime("%Y-%m-%d %H:%M:%S"), id="iso-text"),
        pytest.param(lambda ts: ts.dt.as_unit("s").astype("int64"), id="epoch-seconds"),
        pytest.param(lambda ts: ts.dt.as_unit("ms").astype("int64"), id="epoch-millis"),
    ],
)
def test_timestamps_in_other_types_give_the_same_days(tmp_path: Path, as_time: Any) -> None:
    ev = events(users=60, days=14)
    with open_warehouse(write_parquet_dir(tmp_path / "ref", ev)) as ref:
        expected = q.metric_series(ref, "dau").points
    ev["event_timestamp"] = as_time(ev["event_timestamp"])
    with open_warehouse(write_parquet_dir(tmp_path / "other", ev)) as wh:
        assert wh.schema.start_date == START.date()
        assert q.metric_series(wh, "dau").points == expected


def test_zoned_deployments_and_annotations_come_back_naive_utc(tmp_path: Path) -> None:
    out = write_parquet_dir(tmp_path, events(users=60, days=35))
    dep = deployments()
    dep["deployed_at"] = dep["deployed_at"].dt.tz_localize("Asia/Tokyo")
    dep.to_parquet(out / "deployments.parquet")
    with open_warehouse(out) as wh:
        d2 = next(d for d in q.deployments(wh) if d.deployment_id == "d2")
    assert d2.deployed_at == datetime(2025, 3, 30, 18, 0)  # 03:00 in Tokyo
    assert d2.deployed_at.tzinfo is None


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ("market=JP", {"market": "JP"}),
        ("market=JP; device=phone", {"market": "JP", "device": "phone"}),
        ('{"market": "JP"}', {"market": "JP"}),
        ("JP", {"market": "JP"}),
        ("all", {}),
        (None, {}),
    ],
)
def test_annotation_scope_column(
    tmp_path: Path, scope: str | None, expected: dict[str, str]
) -> None:
    out = write_parquet_dir(tmp_path, events(users=60, days=35))
    ann = annotations()
    ann["scope"] = ["all", scope]
    ann.to_parquet(out / "annotations.parquet")
    with open_warehouse(out) as wh:
        found = {a.name: a.scope for a in q.annotations(wh)}
    assert found == {"Spring sale": {}, "Golden week": expected}


def test_scope_columns_named_like_dimensions(tmp_path: Path) -> None:
    out = write_parquet_dir(tmp_path, events(users=60, days=35))
    ann = annotations().drop(columns="scope").assign(market=[None, "JP"])
    ann.to_parquet(out / "annotations.parquet")
    with open_warehouse(out) as wh:
        assert [a.scope for a in q.annotations(wh)] == [{}, {"market": "JP"}]


def test_events_only_world_has_no_optional_tables(tmp_path: Path) -> None:
    events(users=60, days=21).to_parquet(tmp_path / "events.parquet")
    with open_warehouse(tmp_path) as wh:
        schema = wh.schema
        assert not (schema.has_users or schema.has_deployments or schema.has_annotations)
        assert q.deployments(wh) == [] and q.annotations(wh) == []


def test_a_spark_written_events_parquet_folder_is_read(tmp_path: Path) -> None:
    ev = events(users=60, days=21)
    (tmp_path / "events.parquet").mkdir()
    ev.iloc[: len(ev) // 2].to_parquet(tmp_path / "events.parquet" / "part-0.parquet")
    ev.iloc[len(ev) // 2 :].to_parquet(tmp_path / "events.parquet" / "part-1.parquet")
    with open_warehouse(tmp_path) as wh:
        assert wh.schema.row_count == len(ev)


def test_a_users_table_with_text_ids_joins_integer_event_ids(tmp_path: Path) -> None:
    ev = events(users=60, days=21)
    ev.to_parquet(tmp_path / "events.parquet")
    users = pd.DataFrame(
        {
            "user_id": [str(i) for i in range(1, 61)],
            "signup_date": ["2025-02-01"] * 60,
            "channel": ["ads", "organic"] * 30,
        }
    )
    users.to_csv(tmp_path / "users.csv", index=False)
    with open_warehouse(tmp_path) as wh:
        assert wh.schema.dimension("channel").level == "user"
        by_channel = q.metric_series(wh, "dau", group_by=["channel"])
        assert {g["channel"] for g in by_channel.groups()} == {"ads", "organic"}


def test_config_errors_are_one_clear_message(tmp_path: Path) -> None:
    write_parquet_dir(tmp_path / "w", events(users=30, days=14))
    cases = {
        '[columns.events]\nuser_id = "uid"\n': "'uid' that table 'events'",
        '[tables]\nusers = "customers"\n': "no table 'customers'",
        '[tables]\nevnts = "x"\n': "Unknown table 'evnts'",
        "[tables]\nevents = 3\n": "must be a name in quotes",
        '[dimensions]\nexclude = "tier"\n': "must be a list",
    }
    for text, fragment in cases.items():
        config = tmp_path / "c.toml"
        config.write_text(text)
        with pytest.raises(WarehouseError, match=fragment):
            open_warehouse(tmp_path / "w", config=config)
