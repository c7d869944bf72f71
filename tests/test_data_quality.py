"""Data-quality guard: bad data never turns into a confident wrong answer or a traceback.

Worlds are the hand-made ``byo_worlds`` story (phone users in JP stop on ``BREAK``; deployment
``d2`` ships that morning) written as Parquet/CSV, plus one generated world as a DuckDB file,
each with one kind of bad data added. Every case checks the answer against the clean world's,
and that the input files are unchanged (sha256 before and after).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pqt
import pytest
from backend_parity import ON_POSTGRES, fresh_postgres_db
from byo_worlds import BREAK, START, annotations, deployments, events, write_parquet_dir
from test_autopilot import investigate

from metric_anomaly_investigator.cli import main
from metric_anomaly_investigator.core import tools
from metric_anomaly_investigator.core.models import (
    CheckDeployments,
    DetectAnomaly,
    DrillDown,
    Report,
    SegmentByDimension,
)
from metric_anomaly_investigator.core.question import find_segment, parse_question
from metric_anomaly_investigator.warehouse import queries as q
from metric_anomaly_investigator.warehouse import rollups
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.timerange import bulk_range, day_label
from metric_anomaly_investigator.warehouse.types import (
    DimensionInfo,
    WarehouseError,
    WarehouseSchema,
)
from metric_anomaly_investigator.warehouse.warehouse import Warehouse

FIRST = START.date()
LAST = date(2025, 4, 11)
QUESTION = "Why did DAU drop?"


# -- helpers ------------------------------------------------------------------------------------
def _sha256s(root: Path) -> dict[str, str]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


class _Checksums:
    """sha256 of every input file, taken once the world is written and compared at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.before: dict[str, str] = {}

    def freeze(self) -> None:
        self.before = _sha256s(self.root)
        assert self.before, "no input files written"

    def assert_unchanged(self) -> None:
        assert _sha256s(self.root) == self.before


@pytest.fixture
def inputs(tmp_path: Path) -> Iterator[_Checksums]:
    sums = _Checksums(tmp_path / "input")
    sums.root.mkdir()
    yield sums
    sums.assert_unchanged()


def _investigate(wh: Warehouse, question: str = QUESTION) -> tuple[Report, list[Any]]:
    _, record = investigate(wh, question)
    assert record.report is not None
    return record.report, record.steps


def _with_strays(ev: pd.DataFrame, when: str, n: int = 5) -> pd.DataFrame:
    """The events plus ``n`` copies of real events re-dated to ``when``."""
    strays = ev.head(n).copy()
    strays["event_timestamp"] = pd.Timestamp(when)
    return pd.concat([ev, strays], ignore_index=True)


def _write_events_arrow(out: Path, ev: pd.DataFrame, stray: datetime, n: int = 5) -> None:
    """Events with ``n`` strays at a date pandas' nanoseconds cannot hold (microsecond Parquet)."""
    table = pa.Table.from_pandas(ev, preserve_index=False)
    times = table.column("event_timestamp").cast(pa.timestamp("us")).to_pylist()
    table = table.set_column(
        table.schema.get_field_index("event_timestamp"),
        "event_timestamp",
        pa.array(times, pa.timestamp("us")),
    )
    strays = table.slice(0, n).to_pylist()
    for row in strays:
        row["event_timestamp"] = stray
    table = pa.concat_tables([table, pa.Table.from_pylist(strays, schema=table.schema)])
    pqt.write_table(table, out / "events.parquet")


def _answer(report: Report) -> tuple[str, date | None, dict[str, str]]:
    top = report.affected_segments[0].filters if report.affected_segments else {}
    return report.anomaly.direction, report.anomaly.start, top


@pytest.fixture(scope="module")
def clean_answer(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, date | None, dict]:
    with open_warehouse(write_parquet_dir(tmp_path_factory.mktemp("clean"))) as wh:
        report, _ = _investigate(wh)
    answer = _answer(report)
    assert answer[0] == "drop" and answer[2].get("market") == "JP"
    return answer


# -- the bulk range rules -----------------------------------------------------------------------
def _days(*runs: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Day numbers and counts from (first day, last day, events per day) runs."""
    days = [d for first, last, _ in runs for d in range(first, last + 1)]
    counts = [n for first, last, n in runs for _ in range(first, last + 1)]
    return np.array(days), np.array(counts)


@pytest.mark.parametrize(
    ("runs", "kept", "ignored"),
    [
        pytest.param([(100, 160, 3_000)], (100, 160), 0, id="clean"),
        pytest.param([(0, 0, 5), (100, 160, 3_000)], (100, 160), 5, id="epoch-zero"),
        pytest.param([(100, 160, 3_000), (2_932_896, 2_932_896, 1)], (100, 160), 1, id="9999"),
        pytest.param([(100, 160, 3_000), (163, 163, 4)], (100, 160), 4, id="stray-3-days-later"),
        pytest.param([(100, 104, 1), (105, 160, 3_000)], (100, 160), 0, id="ramp-up-kept"),
        pytest.param([(100, 130, 3_000), (140, 160, 3_000)], (100, 160), 0, id="outage-kept"),
        pytest.param(
            [(100, 130, 3_000), (135, 135, 2), (140, 160, 3_000)],
            (100, 160),
            0,
            id="quiet-day-inside-kept",
        ),
        pytest.param([(100, 160, 3_000), (170, 200, 2_000)], (100, 200), 0, id="big-chunk-kept"),
        pytest.param([(100, 102, 3), (200, 260, 4)], (100, 260), 0, id="tiny-data-kept"),
    ],
)
def test_the_bulk_range_leaves_out_only_thin_isolated_runs(
    runs: list[tuple[int, int, int]], kept: tuple[int, int], ignored: int
) -> None:
    days, counts = _days(*runs)
    order = np.random.default_rng(0).permutation(len(days))  # any order in, same answer
    bulk = bulk_range(days[order], counts[order])
    assert (bulk.lo, bulk.hi, bulk.ignored_events) == (*kept, ignored)
    assert bulk.total_events == int(counts.sum())


def test_weekday_only_data_is_kept_whole() -> None:
    days = np.array([d for d in range(0, 364) if d % 7 < 5])
    bulk = bulk_range(days, np.full(len(days), 500))
    assert (bulk.lo, bulk.hi, bulk.ignored_events) == (0, 361, 0)


@pytest.mark.parametrize(
    ("day", "label"),
    [
        (0, "1970-01-01"),
        (2_932_896, "9999-12-31"),
        (10**9, "after 9999-12-31"),
        (-(10**9), "before 0001-01-01"),
    ],
)
def test_stray_days_are_named_even_beyond_python_dates(day: int, label: str) -> None:
    assert day_label(day) == label


# -- stray far-off events -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("when", "shown"),
    [
        ("1970-01-01 00:00:00", "1970-01-01"),
        ("2027-06-01 12:00:00", "2027-06-01"),
        ("2100-01-01 08:00:00", "2100-01-01"),
        ("2262-01-01 08:00:00", "2262-01-01"),
    ],
)
def test_five_stray_events_give_the_same_answer_and_a_note(
    inputs: _Checksums, clean_answer: tuple[Any, ...], when: str, shown: str
) -> None:
    ev = events()
    write_parquet_dir(inputs.root, _with_strays(ev, when))
    inputs.freeze()
    with open_warehouse(inputs.root) as wh:
        note = f"Ignored 5 of {len(ev) + 5:,} events dated outside {FIRST}..{LAST} ({shown})."
        assert (wh.schema.start_date, wh.schema.end_date) == (FIRST, LAST)
        assert wh.schema.coverage_notes() == [note]
        report, _ = _investigate(wh)
    assert _answer(report) == clean_answer
    assert note in report.summary


@pytest.mark.parametrize(
    ("stray", "shown"),
    [(datetime(9999, 12, 31, 23, 59, 59), "9999-12-31"), (datetime(1000, 1, 1), "1000-01-01")],
)
def test_sentinels_and_ancient_dates_keep_the_bulk_range(
    inputs: _Checksums, capsys: pytest.CaptureFixture[str], stray: datetime, shown: str
) -> None:
    write_parquet_dir(inputs.root)
    _write_events_arrow(inputs.root, events(), stray)
    inputs.freeze()
    with open_warehouse(inputs.root) as wh:
        assert (wh.schema.start_date, wh.schema.end_date) == (FIRST, LAST)
        assert f"({shown})." in wh.schema.coverage_notes()[0]
        series = q.metric_series(wh, "dau")
        assert (series.start, series.end, len(series.points)) == (FIRST, LAST, 42)
    code = main(["investigate", QUESTION, "-q", "--warehouse", str(inputs.root)])
    out, err = capsys.readouterr()
    assert code == 0 and "Traceback" not in err
    assert "Ignored 5 of" in out and shown in out


def test_stray_days_mixed_with_a_sentinel_are_named_earliest_and_latest(inputs: _Checksums) -> None:
    ev = events()
    for when in ("1970-01-01", "1999-05-05", "2100-01-01"):
        ev = _with_strays(ev, when, n=2)
    write_parquet_dir(inputs.root)
    _write_events_arrow(inputs.root, ev, datetime(9999, 12, 31), n=1)
    inputs.freeze()
    with open_warehouse(inputs.root) as wh:
        [note] = wh.schema.coverage_notes()
    assert note.startswith(f"Ignored 7 of {len(ev) + 1:,} events dated outside {FIRST}..{LAST}")
    assert note.endswith("(1970-01-01, 1999-05-05, …, 9999-12-31).")


def test_strays_in_a_duckdb_file_give_the_same_answer(
    small_world_path: Path, tmp_path: Path
) -> None:
    def copy(name: str, stray: str | None) -> Path:
        out = tmp_path / f"{name}.duckdb"
        with duckdb.connect(str(out)) as con:
            con.execute(f"ATTACH '{small_world_path}' AS w (READ_ONLY)")
            for table in ("events", "users", "deployments", "annotations"):
                con.execute(f"CREATE TABLE {table} AS SELECT * FROM w.{table}")
            if stray:
                con.execute(
                    "INSERT INTO events SELECT user_id, TIMESTAMP '"
                    + stray
                    + "', event_type, session_id, platform, country, app_version "
                    "FROM events LIMIT 5"
                )
        return out

    clean, dirty = copy("clean", None), copy("dirty", "2100-06-01 12:00:00")
    before = hashlib.sha256(dirty.read_bytes()).hexdigest()
    with open_warehouse(clean) as wh:
        expected = _answer(_investigate(wh)[0])
        rows = wh.schema.row_count
    with open_warehouse(dirty) as wh:
        assert "Ignored 5 of" in wh.schema.coverage_notes()[0]
        assert wh.schema.row_count == rows + 5
        assert _answer(_investigate(wh)[0]) == expected
    assert expected[0] == "drop"
    assert hashlib.sha256(dirty.read_bytes()).hexdigest() == before


def test_strays_are_left_out_without_a_rollup_too(
    inputs: _Checksums, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Backends that cannot build the in-memory rollup query the raw events: same range."""
    ev = events()
    (inputs.root / "clean").mkdir()
    (inputs.root / "dirty").mkdir()
    ev.to_csv(inputs.root / "clean" / "events.csv", index=False)
    _with_strays(ev, "1970-01-01").to_csv(inputs.root / "dirty" / "events.csv", index=False)
    inputs.freeze()
    monkeypatch.setattr(rollups, "_materialise", lambda wh, name, expr: None)
    with open_warehouse(inputs.root / "clean") as wh:
        assert wh.rollup is None
        expected = q.metric_series(wh, "dau").points
    with open_warehouse(inputs.root / "dirty") as wh:
        assert wh.rollup is None
        assert (wh.schema.start_date, wh.schema.end_date) == (FIRST, LAST)
        assert q.metric_series(wh, "dau").points == expected
        assert "(1970-01-01)" in wh.schema.coverage_notes()[0]


@pytest.fixture
def postgres_db() -> Iterator[tuple[str, Any]]:
    """A fresh PostgreSQL database: its URL and a connection to load tables with."""
    with fresh_postgres_db("mai_dq") as db:
        yield db


@ON_POSTGRES
def test_strays_are_left_out_through_ibis_on_postgres(
    tmp_path: Path, clean_answer: tuple[Any, ...], postgres_db: tuple[str, Any]
) -> None:
    url, target = postgres_db
    _write_events_arrow(tmp_path, _with_strays(events(), "1970-01-01"), datetime(9999, 12, 31))
    target.create_table("events", pqt.read_table(tmp_path / "events.parquet"))
    target.create_table("deployments", pa.Table.from_pandas(deployments()))
    with open_warehouse(url) as wh:
        assert wh.rollup is None
        assert (wh.schema.start_date, wh.schema.end_date) == (FIRST, LAST)
        assert wh.schema.coverage_notes()[0].endswith("(1970-01-01, 9999-12-31).")
        assert _answer(_investigate(wh)[0]) == clean_answer


# -- time zones and epoch numbers ---------------------------------------------------------------
def _reference_points(tmp: Path) -> list[Any]:
    with open_warehouse(write_parquet_dir(tmp, events(users=60, days=14))) as wh:
        return q.metric_series(wh, "dau").points


def _iso_with_offset(ts: pd.Series) -> pd.Series:
    return ts.dt.tz_localize("UTC").dt.tz_convert("Asia/Kolkata").map(lambda t: t.isoformat())


@pytest.mark.parametrize(
    ("as_time", "fmt"),
    [
        pytest.param(_iso_with_offset, "parquet", id="offset-text-parquet"),
        pytest.param(_iso_with_offset, "csv", id="offset-text-csv"),
        pytest.param(lambda ts: ts.dt.strftime("%Y-%m-%dT%H:%M:%SZ"), "parquet", id="zulu-text"),
        pytest.param(lambda ts: ts.dt.as_unit("s").astype("int64"), "parquet", id="epoch-s"),
        pytest.param(lambda ts: ts.dt.as_unit("ms").astype("int64"), "parquet", id="epoch-ms"),
        pytest.param(lambda ts: ts.dt.as_unit("us").astype("int64"), "parquet", id="epoch-us"),
        pytest.param(lambda ts: ts.dt.as_unit("ns").astype("int64"), "csv", id="epoch-ns-csv"),
    ],
)
def test_time_zones_and_epoch_units_give_the_utc_days(
    inputs: _Checksums,
    tmp_path: Path,
    as_time: Callable[[pd.Series], pd.Series],
    fmt: str,
) -> None:
    expected = _reference_points(tmp_path / "ref")
    ev = events(users=60, days=14)
    ev["event_timestamp"] = as_time(ev["event_timestamp"])
    if fmt == "csv":
        ev.to_csv(inputs.root / "events.csv", index=False)
    else:
        ev.to_parquet(inputs.root / "events.parquet")
    inputs.freeze()
    with open_warehouse(inputs.root) as wh:
        assert wh.schema.start_date == FIRST
        assert q.metric_series(wh, "dau").points == expected


@ON_POSTGRES
@pytest.mark.parametrize(
    "as_time",
    [
        pytest.param(_iso_with_offset, id="offset-text"),
        pytest.param(lambda ts: ts.dt.as_unit("us").astype("int64"), id="epoch-us"),
    ],
)
def test_time_zones_and_epoch_units_on_postgres(
    tmp_path: Path, postgres_db: tuple[str, Any], as_time: Callable[[pd.Series], pd.Series]
) -> None:
    url, target = postgres_db
    expected = _reference_points(tmp_path / "ref")
    ev = events(users=60, days=14)
    ev["event_timestamp"] = as_time(ev["event_timestamp"])
    target.create_table("events", pa.Table.from_pandas(ev, preserve_index=False))
    with open_warehouse(url) as wh:
        assert q.metric_series(wh, "dau").points == expected


def test_an_offset_moves_the_event_to_its_utc_day(inputs: _Checksums) -> None:
    rows = [("a", f"2025-03-{d:02d}T10:00:00") for d in range(1, 15)]
    rows.append(("late", "2025-03-08T01:30:00+05:30"))  # 2025-03-07 20:00 UTC
    pd.DataFrame(rows, columns=["user_id", "event_timestamp"]).to_parquet(
        inputs.root / "events.parquet"
    )
    inputs.freeze()
    with open_warehouse(inputs.root) as wh:
        series = q.metric_series(wh, "dau", start="2025-03-07", end="2025-03-08")
    assert series.values() == [2.0, 1.0]


def test_epoch_microseconds_with_a_sentinel_keep_their_unit(inputs: _Checksums) -> None:
    ev = events(users=60, days=14)
    ev["event_timestamp"] = ev["event_timestamp"].dt.as_unit("us").astype("int64")
    sentinel = ev.head(1).assign(event_timestamp=253_402_300_799_000_000)  # 9999-12-31, in us
    pd.concat([ev, sentinel]).to_parquet(inputs.root / "events.parquet")
    inputs.freeze()
    with open_warehouse(inputs.root) as wh:
        assert (wh.schema.start_date, wh.schema.end_date) == (FIRST, date(2025, 3, 14))
        assert wh.schema.coverage_notes() == [
            f"Ignored 1 of {len(ev) + 1:,} events dated outside 2025-03-01..2025-03-14 "
            "(9999-12-31)."
        ]


# -- question matching --------------------------------------------------------------------------
def _schema(values: list[str]) -> WarehouseSchema:
    return WarehouseSchema(
        metrics=["dau"],
        dimensions=[
            DimensionInfo(name="market", level="event", values=values, cardinality=len(values))
        ],
        start_date=FIRST,
        end_date=LAST,
        event_types=[],
        has_users=False,
        has_deployments=False,
        has_annotations=False,
        row_count=1,
    )


@pytest.mark.parametrize("junk", ["", "?", "-", "N/A", "n/a", "...", " ", "--"])
@pytest.mark.parametrize(
    "question", ["Why did DAU drop?", "Why did DAU drop - in March?", "DAU n/a ... why?"]
)
def test_empty_or_punctuation_values_are_never_mentioned(junk: str, question: str) -> None:
    schema = _schema(["JP", junk, "DE"])
    assert find_segment(question, schema) == {}
    assert parse_question(question, schema).segment == {}
    assert find_segment(question.replace("DAU", "DAU in JP"), schema) == {"market": "JP"}


def test_a_question_mark_value_in_the_data_makes_no_phantom_hypothesis(
    inputs: _Checksums,
) -> None:
    ev = events()
    ev["market"] = ev["market"].where(ev["user_id"] % 7 != 0, "?")
    ev["tier"] = ev["tier"].where(ev["user_id"] % 5 != 0, "")
    write_parquet_dir(inputs.root, ev)
    inputs.freeze()
    with open_warehouse(inputs.root) as wh:
        assert "?" in wh.schema.dimension("market").values
        assert "" in wh.schema.dimension("tier").values
        report, steps = _investigate(wh)
    assert "hypothesis" not in report.summary
    assert not any("hypothesis" in s.reasoning for s in steps)
    assert report.anomaly.direction == "drop"


# -- users that do not join ---------------------------------------------------------------------
@pytest.mark.parametrize(("offset", "joins"), [(0, True), (10_000, False)])
def test_a_users_table_that_does_not_join_is_reported_and_not_used(
    inputs: _Checksums, offset: int, joins: bool
) -> None:
    ev = events()
    users = pd.DataFrame({"user_id": ev["user_id"].unique() + offset})
    users["signup_date"] = START - pd.Timedelta(days=30)
    users["plan"] = ["free", "paid"] * (len(users) // 2) + ["free"] * (len(users) % 2)
    write_parquet_dir(inputs.root, ev)
    users.to_parquet(inputs.root / "users.parquet")
    inputs.freeze()
    with open_warehouse(inputs.root) as wh:
        schema = wh.schema
        notes = schema.coverage_notes()
    assert schema.has_users is joins
    assert ("plan" in schema.dimension_names) is joins
    if joins:
        assert notes == []
    else:
        assert notes == [
            f"The users table's user_id matches 0 of {ev['user_id'].nunique():,} users in the "
            "events (0.0%): its signup dates and user-level dimensions are not used (check "
            "the user_id mapping)."
        ]


# -- deployments with bad fields, and a failed check ----------------------------------------------
def _bad_deployments() -> pd.DataFrame:
    dep = deployments()
    dep["regions"] = [7, 8, 9]  # numbers, not region lists
    dep["deployed_at"] = dep["deployed_at"].astype(str)
    dep.loc[2, "deployed_at"] = "soon"
    return dep


def test_bad_deployment_fields_are_reported_per_row_and_the_rest_is_used(
    inputs: _Checksums,
) -> None:
    write_parquet_dir(inputs.root)
    _bad_deployments().to_parquet(inputs.root / "deployments.parquet")
    inputs.freeze()
    with open_warehouse(inputs.root) as wh:
        deps = q.deployments(wh)
        assert [(d.deployment_id, d.platform, d.regions, d.problems) for d in deps] == [
            ("d1", "tablet", ["all"], ["regions 7 is not a list of region names"]),
            ("d2", "phone", ["all"], ["regions 8 is not a list of region names"]),
        ]
        assert q.undated_deployments(wh) == [("d3", "soon")]
        result = tools.ToolExecutor(wh).run(CheckDeployments(around=BREAK))
    assert result.success
    assert result.data["data_notes"] == [
        "Data quality: deployment d2: regions 8 is not a list of region names — left out, "
        "the rest of it used.",
        "Data quality: deployment d3: deployed_at 'soon' is not a date/time — skipped.",
    ]
    assert [e["id"] for e in result.data["events"]][:1] == ["d2"]


def test_an_annotation_dated_with_junk_is_skipped_and_the_others_used(
    inputs: _Checksums,
) -> None:
    write_parquet_dir(inputs.root)
    ann = annotations()
    ann["starts_at"] = ann["starts_at"].astype(str)
    ann.loc[0, "starts_at"] = "tbd"
    ann.to_parquet(inputs.root / "annotations.parquet")
    inputs.freeze()
    with open_warehouse(inputs.root) as wh:
        assert [a.name for a in q.annotations(wh)] == ["Golden week"]
        result = tools.ToolExecutor(wh).run(CheckDeployments(around=BREAK))
    assert result.success
    assert "Golden week" in {e["id"] for e in result.data["events"]}


@pytest.mark.parametrize(
    "failure",
    [WarehouseError("The warehouse query failed (ConversionException)."), TypeError("boom")],
    ids=["warehouse-error", "bug"],
)
def test_a_failed_deployment_check_is_reported_as_failed_not_as_no_deployment(
    inputs: _Checksums,
    clean_answer: tuple[Any, ...],
    monkeypatch: pytest.MonkeyPatch,
    failure: Exception,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> list[Any]:
        raise failure

    write_parquet_dir(inputs.root)
    inputs.freeze()
    monkeypatch.setattr(q, "deployments", broken)
    with open_warehouse(inputs.root) as wh:
        report, steps = _investigate(wh)
    checks = [s for s in steps if s.action == "check_deployments"]
    assert len(checks) == 1 and not checks[0].success
    assert _answer(report) == clean_answer
    assert "No deployment explains it" not in report.summary
    assert "The deployment check failed (" in report.summary
    assert "whether a deployment explains it is not known" in report.summary
    assert "no deployment explains it" not in report.root_cause
    assert "not known (the check failed)" in report.root_cause
    assert len(steps) < 10


def _broken_step(*args: Any) -> Any:
    raise WarehouseError("The warehouse query failed (IOException).")


def test_failed_segment_steps_leave_the_segment_unknown_not_spread(
    inputs: _Checksums, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_parquet_dir(inputs.root)
    inputs.freeze()
    for action in (SegmentByDimension, DrillDown):
        monkeypatch.setitem(tools._HANDLERS, action, _broken_step)
    with open_warehouse(inputs.root) as wh:
        report, steps = _investigate(wh)
    failed = [(s.action, json.dumps(s.parameters, sort_keys=True)) for s in steps if not s.success]
    assert {a for a, _ in failed} == {"drill_down", "segment_by_dimension"}
    assert len(failed) == len(set(failed))  # no failed action is repeated
    assert report.anomaly.direction == "drop"
    assert "spread across all segments" not in report.summary
    assert "Where it concentrates is not known: the segment step failed (" in report.summary
    assert "not tied to one segment" not in report.root_cause
    assert "segment is not known" in report.root_cause


def test_a_failed_anomaly_check_is_no_all_clear(
    inputs: _Checksums, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_parquet_dir(inputs.root)
    inputs.freeze()
    monkeypatch.setitem(tools._HANDLERS, DetectAnomaly, _broken_step)
    with open_warehouse(inputs.root) as wh:
        report, steps = _investigate(wh)
    assert all(s.action == "detect_anomaly" and not s.success for s in steps)
    assert len({json.dumps(s.parameters, sort_keys=True) for s in steps}) == len(steps)
    assert report.summary.startswith("Could not establish whether dau moved: the anomaly check")
    assert "No anomaly" not in report.summary
    assert report.root_cause.startswith("Undetermined")
    assert report.confidence <= 0.1


# -- --config table paths -----------------------------------------------------------------------
@pytest.mark.parametrize("where", ["absolute", "dotdot", "symlink"])
def test_config_table_paths_outside_the_warehouse_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    outside = write_parquet_dir(tmp_path / "elsewhere")
    wh_dir = tmp_path / "warehouse"
    wh_dir.mkdir()
    shutil.copy(outside / "events.parquet", wh_dir / "inside.parquet")
    name = {
        "absolute": str(outside / "events"),
        "dotdot": "../elsewhere/events",
        "symlink": "linked",
    }[where]
    if where == "symlink":
        (wh_dir / "linked.parquet").symlink_to(outside / "events.parquet")
    config = tmp_path / "mai.toml"
    config.write_text(f'[tables]\nevents = "{name}"\n')
    with pytest.raises(WarehouseError, match="points outside"):
        open_warehouse(wh_dir, config=config)
    code = main(["investigate", QUESTION, "-q", "-w", str(wh_dir), "--config", str(config)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "points outside" in err
    config.write_text('[tables]\nevents = "inside"\n')
    with open_warehouse(wh_dir, config=config) as wh:
        assert wh.schema.start_date == FIRST
