"""Opening sources, schema discovery, the same answers from Parquet, and hostile inputs."""

from __future__ import annotations

import shutil
from datetime import date

import duckdb
import pytest

from metric_anomaly_investigator.warehouse import queries as q
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.demo import (
    default_warehouse_path,
    ensure_default_warehouse,
)
from metric_anomaly_investigator.warehouse.scenarios import generate_scenario
from metric_anomaly_investigator.warehouse.types import WarehouseError

BASE = (date(2026, 1, 7), date(2026, 1, 27))
CUR = (date(2026, 1, 29), date(2026, 2, 11))
SQL_WORDS = ("SELECT", "FROM ", "WHERE", "Traceback")


def _answers(wh):
    return [
        q.metric_series(wh, "dau").points,
        q.metric_series(wh, "wau", start=CUR[0], group_by=["platform"]).points,
        q.metric_series(wh, "sessions_per_user", filters={"plan": "free"}).points,
        q.breakdown(wh, "dau", ["platform", "country", "plan"], baseline=BASE, current=CUR).rows,
        q.breakdown(wh, "events_per_user", ["event_type"], baseline=BASE, current=CUR).rows,
        q.deployments(wh),
        q.annotations(wh),
        q.retention(wh, cohort_start=date(2025, 12, 15), cohort_end=date(2026, 1, 31)).cohorts,
    ]


def test_parquet_directory_gives_the_same_answers(small_wh, small_parquet_dir):
    with open_warehouse(small_parquet_dir) as pq:
        assert pq.schema == small_wh.schema
        assert _answers(pq) == _answers(small_wh)


def test_csv_directory_and_duckdb_url(small_world_path, tmp_path):
    con = duckdb.connect(str(small_world_path), read_only=True)
    recent = "SELECT * FROM events WHERE event_timestamp >= '2026-02-04'"
    con.execute(f"COPY ({recent}) TO '{tmp_path / 'events.csv'}' (HEADER)")
    con.execute(f"COPY users TO '{tmp_path / 'users.csv'}' (HEADER)")
    con.close()
    with open_warehouse(tmp_path) as csv, open_warehouse(f"duckdb://{small_world_path}") as url:
        assert csv.schema.start_date == date(2026, 2, 4)
        assert csv.schema.dimension_names == url.schema.dimension_names
        window = {"start": date(2026, 2, 4), "group_by": ["plan"]}
        assert q.metric_series(csv, "dau", **window) == q.metric_series(url, "dau", **window)


def test_raw_events_path_matches_rollup(small_wh, small_world_path):
    """Without the rollup (any non-DuckDB backend) the answers are the same."""
    with open_warehouse(small_world_path) as raw:
        raw.rollup = None
        assert (
            q.metric_series(raw, "events_per_user").points
            == q.metric_series(small_wh, "events_per_user").points
        )
        b1 = q.breakdown(raw, "dau", ["country", "plan"], baseline=BASE, current=CUR)
        b2 = q.breakdown(small_wh, "dau", ["country", "plan"], baseline=BASE, current=CUR)
        assert b1 == b2


FAST_PATH_CASES = [
    ("dau", {"group_by": ["event_type"]}),
    ("events", {"filters": {"event_type": ["search", "share"]}, "group_by": ["platform"]}),
    ("sessions_per_user", {"group_by": ["event_type"], "filters": {"country": "IN"}}),
    ("sessions_per_user", {"filters": {"event_type": ["search", "share"]}}),
    ("events_per_user", {"filters": {"event_type": "purchase"}, "group_by": ["plan"]}),
    ("wau", {}),
    ("wau", {"group_by": ["platform", "plan"], "filters": {"country": ["IN", "US"]}}),
    ("wau", {"group_by": ["app_version"]}),
    ("wau", {"group_by": ["country"], "filters": {"app_version": "2.3.0"}}),
    ("wau", {"filters": {"app_version": ["2.2.0", "2.3.0"]}}),
    ("wau", {"group_by": ["event_type"], "filters": {"platform": "android"}}),
]


def _raw(wh):
    """Switch off every rollup: the generic path any Ibis backend takes."""
    wh.rollup = wh.type_rollup = None
    wh.rollup_unique = wh.type_rollup_unique = wh.wau_spans = False
    return wh


@pytest.mark.parametrize(("metric", "kwargs"), FAST_PATH_CASES)
def test_fast_paths_match_raw_events(small_wh, small_world_path, metric, kwargs):
    window = {"start": date(2026, 1, 10), "end": date(2026, 2, 5)}
    with open_warehouse(small_world_path) as raw:
        expected = q.metric_series(_raw(raw), metric, **window, **kwargs)
    assert q.metric_series(small_wh, metric, **window, **kwargs) == expected


def test_fast_breakdowns_and_retention_match_raw_events(small_wh, small_world_path):
    def answers(wh):
        return [
            q.breakdown(wh, "events", ["event_type"], baseline=BASE, current=CUR),
            q.breakdown(wh, "dau", ["event_type", "platform"], baseline=BASE, current=CUR),
            q.breakdown(wh, "wau", ["app_version"], baseline=BASE, current=CUR),
            q.breakdown(wh, "wau", ["country", "plan"], baseline=BASE, current=CUR),
            q.retention(
                wh,
                cohort_start=date(2025, 12, 20),
                cohort_end=date(2026, 1, 20),
                filters={"event_type": "purchase", "plan": "free"},
            ),
            q.retention(wh, cohort_start=date(2025, 12, 1), cohort_end=date(2026, 2, 1)),
        ]

    with open_warehouse(small_world_path) as raw:
        assert answers(small_wh) == answers(_raw(raw))


def test_prepared_sql_matches_ibis_parameters(small_wh, small_world_path):
    """Each query shape is compiled once with placeholders (DuckDB) and reused with new values;
    the generic path binds Ibis parameters instead, with the same answers."""
    windows = [(BASE, CUR), ((date(2026, 1, 2), date(2026, 1, 15)), (date(2026, 2, 1), CUR[1]))]

    def answers(wh):
        out = [_answers(wh)]
        for base, cur in windows:
            out.append(q.breakdown(wh, "events", ["event_type"], baseline=base, current=cur))
            out.append(q.breakdown(wh, "wau", ["country"], baseline=base, current=cur))
            out.append(q.breakdown(wh, "sessions_per_user", ["plan"], baseline=base, current=cur))
            for metric, kwargs in FAST_PATH_CASES:
                out.append(q.metric_series(wh, metric, start=base[0], end=cur[1], **kwargs))
        return out

    with open_warehouse(small_world_path) as generic:
        generic.prepared = False
        assert answers(small_wh) == answers(generic)
    assert small_wh.prepared and all(p.sql for p in small_wh.plans.values())
    assert not any(p.sql for p in generic.plans.values())


def test_rollups_built_at_open_match_stored_ones(small_wh, small_parquet_dir):
    with open_warehouse(small_parquet_dir) as pq:
        assert pq.type_rollup is None and pq.wau_spans  # event types: read from the events
        assert (
            pq.user_constant
            == small_wh.user_constant
            == {
                "platform",
                "country",
                "acquisition_channel",
                "plan",
            }
        )
        for metric, kwargs in FAST_PATH_CASES:
            assert q.metric_series(pq, metric, **kwargs) == q.metric_series(
                small_wh, metric, **kwargs
            )


def test_config_maps_other_names(small_world_path, tmp_path):
    db = tmp_path / "theirs.duckdb"
    con = duckdb.connect(str(db))
    con.execute(f"ATTACH '{small_world_path}' AS src (READ_ONLY)")
    con.execute(
        "CREATE TABLE app_events AS SELECT user_id AS uid, event_timestamp AS ts, event_type, "
        "platform AS device, country FROM src.events"
    )
    con.execute(
        "CREATE TABLE customers AS "
        "SELECT user_id AS uid, signup_date AS created, plan FROM src.users"
    )
    con.close()
    cfg = tmp_path / "mai.toml"
    cfg.write_text(
        '[tables]\nevents = "app_events"\nusers = "customers"\n'
        '[columns.events]\nuser_id = "uid"\nevent_timestamp = "ts"\n'
        '[columns.users]\nuser_id = "uid"\nsignup_date = "created"\n'
        '[dimensions]\nexclude = ["country"]\n'
    )
    with open_warehouse(db, config=cfg) as wh:
        assert set(wh.schema.dimension_names) == {"device", "plan", "event_type"}
        assert "sessions_per_user" not in wh.schema.metrics
        assert not wh.schema.has_deployments
        assert q.metric_series(wh, "dau", group_by=["device"]).points
    with pytest.raises(WarehouseError, match="no table 'events'"):
        open_warehouse(db)


def test_renamed_dimensions_are_discovered(tmp_path):
    path = generate_scenario("renamed_dims_os_region", tmp_path / "r.duckdb", users=1500, days=40)
    with open_warehouse(path) as wh:
        names = wh.schema.dimension_names
        assert {"os", "region", "source", "plan", "app_version", "event_type"} == set(names)
        assert "platform" not in names and "country" not in names
        b = q.breakdown(
            wh,
            "dau",
            ["os", "region"],
            baseline=(date(2026, 1, 12), date(2026, 1, 25)),
            current=(date(2026, 1, 27), date(2026, 2, 11)),
        )
        assert b.rows[0].segment == {"os": "android", "region": "LATAM"}
        assert q.deployments(wh, region="LATAM")[-1].deployment_id == "rel_2_4_0_latam"


HOSTILE = ["platform; DROP TABLE events", "platform' OR '1'='1", 'x"; --', "", "PLATFORM"]


@pytest.mark.parametrize("bad", HOSTILE)
def test_hostile_identifiers(small_wh, bad):
    calls = [
        lambda: q.metric_series(small_wh, bad),
        lambda: q.metric_series(small_wh, "dau", group_by=[bad]),
        lambda: q.metric_series(small_wh, "dau", filters={bad: "android"}),
        lambda: q.breakdown(small_wh, "dau", [bad], baseline=BASE, current=CUR),
        lambda: q.retention(small_wh, cohort_start=BASE[0], cohort_end=BASE[1], filters={bad: "x"}),
        lambda: small_wh.schema.dimension(bad),
    ]
    for call in calls:
        with pytest.raises(WarehouseError) as exc:
            call()
        msg = str(exc.value)
        assert "Valid" in msg
        assert not any(w in msg for w in SQL_WORDS)
        assert "DROP" not in msg


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_bound(small_wh, value):
    s = q.metric_series(small_wh, "dau", filters={"platform": value, "plan": [value, "free"]})
    assert set(s.values()) == {0.0}
    assert q.deployments(small_wh, platform=value, region=value, version=value) == []
    assert small_wh.schema.row_count == small_wh.events.count().execute()


def test_other_bad_inputs(small_wh):
    cases = [
        lambda: q.metric_series(small_wh, "dau", start="not a date"),
        lambda: q.metric_series(small_wh, "dau", start=date(2026, 2, 1), end=date(2026, 1, 1)),
        lambda: q.metric_series(small_wh, "dau", start=date(1999, 1, 1), end=date(1999, 2, 1)),
        lambda: q.metric_series(small_wh, "dau", filters={"platform": []}),
        lambda: q.breakdown(small_wh, "dau", [], baseline=BASE, current=CUR),
        lambda: q.deployments(small_wh, start=date(2026, 2, 1), end=date(2026, 1, 1)),
        lambda: q.retention(small_wh, cohort_start=BASE[1], cohort_end=BASE[0]),
        lambda: q.retention(small_wh, cohort_start=BASE[0], cohort_end=BASE[1], days=[]),
    ]
    for case in cases:
        with pytest.raises(WarehouseError) as exc:
            case()
        assert not any(w in str(exc.value) for w in SQL_WORDS)
    assert (
        q.retention(small_wh, cohort_start=date(2030, 1, 1), cohort_end=date(2030, 2, 1)).cohorts
        == []
    )
    assert q.deployments(small_wh, start=date(2030, 1, 1)) == []


@pytest.mark.parametrize(
    "source",
    ["/no/such/place.duckdb", "not-a-warehouse.txt", "nosuchdriver://host/db"],
)
def test_bad_sources(source, tmp_path):
    if source.endswith(".txt"):
        source = str(tmp_path / source)
        (tmp_path / "not-a-warehouse.txt").write_text("hello")
    with pytest.raises(WarehouseError):
        open_warehouse(source)


def test_bad_config_and_empty_dir(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[tabels]\n")
    with pytest.raises(WarehouseError, match="Unknown section"):
        open_warehouse(tmp_path, config=cfg)
    with pytest.raises(WarehouseError, match="no events table"):
        open_warehouse(tmp_path)


def test_default_warehouse_is_generated_once(tmp_path, monkeypatch, small_world_path):
    monkeypatch.setenv("MAI_DATA_DIR", str(tmp_path))
    path = default_warehouse_path()
    assert path.parent == tmp_path
    shutil.copy(small_world_path, path)  # pretend it was generated before: reused as is
    seen: list[str] = []
    assert ensure_default_warehouse(lambda msg, frac: seen.append(msg)) == path
    with open_warehouse(None) as wh:
        assert wh.label == str(path)
    assert seen == ["demo warehouse ready"]
