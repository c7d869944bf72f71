"""A pre-aggregated daily table beside the events, at its edges: each table covers its own days
(the analysis range is their union; each metric's series and windows its own table's days), a
dimension only the other table has is refused in one line saying where it is and what to do, on
DuckDB and on Parquet."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from metric_anomaly_investigator.core.models import DrillDown, SegmentByDimension, StatisticalTest
from metric_anomaly_investigator.core.question import parse_question
from metric_anomaly_investigator.core.tools import InvalidAction, ToolExecutor
from metric_anomaly_investigator.warehouse import queries as q
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.types import WarehouseError
from metric_anomaly_investigator.warehouse.warehouse import Warehouse

FIRST = date(2026, 3, 1)
EVENT_DAYS = 28  # the events: 2026-03-01 .. 2026-03-28
KPI_DAYS = 35  # the daily table: 2026-03-01 .. 2026-04-04, a week past the events
USERS = 30

MAI_TOML = """
[aggregates]
table = "daily_kpis"
date = "day"
"""


def _events() -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for i in range(EVENT_DAYS):
        day = datetime.combine(FIRST + timedelta(days=i), datetime.min.time())
        for user in range(USERS):
            platform = "ios" if user % 3 == 0 else "web"
            rows.append((user, day + timedelta(hours=9, minutes=user), "page_view", platform))
    return rows


def _kpis(days: int = KPI_DAYS) -> list[tuple[object, ...]]:
    return [
        (FIRST + timedelta(days=i), channel, 10 + i, 100)
        for i in range(days)
        for channel in ("ads", "email")
    ]


def _write(root: Path, fmt: str, kpis: list[tuple[object, ...]]) -> Path:
    """The world as a DuckDB file or a directory of Parquet files, with its mai.toml."""
    root.mkdir(parents=True, exist_ok=True)
    db = root / "shop.duckdb"
    con = duckdb.connect(str(db))
    try:
        con.execute(
            "CREATE TABLE events (user_id BIGINT, event_timestamp TIMESTAMP, "
            "event_type VARCHAR, platform VARCHAR)"
        )
        con.executemany("INSERT INTO events VALUES (?, ?, ?, ?)", _events())
        con.execute(
            "CREATE TABLE daily_kpis (day DATE, channel VARCHAR, orders BIGINT, visits BIGINT)"
        )
        con.executemany("INSERT INTO daily_kpis VALUES (?, ?, ?, ?)", kpis)
        if fmt == "parquet":
            for table in ("events", "daily_kpis"):
                con.execute(f"COPY {table} TO '{root / (table + '.parquet')}' (FORMAT parquet)")
    finally:
        con.close()
    (root / "mai.toml").write_text(MAI_TOML)
    if fmt == "parquet":
        db.unlink()
        return root
    return db


@pytest.fixture(scope="module", params=["duckdb", "parquet"])
def wh(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Warehouse]:
    root = tmp_path_factory.mktemp(f"edges-{request.param}")
    with open_warehouse(_write(root, request.param, _kpis())) as opened:
        yield opened


def test_the_range_is_the_union_and_each_metric_reads_its_own_days(wh: Warehouse) -> None:
    schema = wh.schema
    events_end = FIRST + timedelta(days=EVENT_DAYS - 1)
    kpis_end = FIRST + timedelta(days=KPI_DAYS - 1)
    assert (schema.start_date, schema.end_date) == (FIRST, kpis_end)
    assert schema.metric_range("orders") == (FIRST, kpis_end)
    assert schema.metric_range("dau") == (FIRST, events_end)
    orders = q.metric_series(wh, "orders")
    assert orders.end == kpis_end
    assert orders.values() == [2.0 * (10 + i) for i in range(KPI_DAYS)]
    dau = q.metric_series(wh, "dau")
    assert dau.end == events_end  # not a week of zeros past the events' end
    assert dau.values() == [float(USERS)] * EVENT_DAYS
    note = " ".join(schema.coverage_notes())
    assert f"It covers {FIRST}..{kpis_end}, the events {FIRST}..{events_end}" in note


def test_a_window_past_a_metrics_own_days_is_one_line(wh: Warehouse) -> None:
    late = (FIRST + timedelta(days=EVENT_DAYS + 1), FIRST + timedelta(days=KPI_DAYS - 1))
    base = (FIRST, FIRST + timedelta(days=EVENT_DAYS - 1))
    bd = q.breakdown(wh, "orders", ["channel"], baseline=base, current=late)
    assert {r.segment["channel"] for r in bd.rows} == {"ads", "email"}
    with pytest.raises(WarehouseError) as exc:
        q.breakdown(wh, "dau", ["platform"], baseline=base, current=late)
    message = str(exc.value)
    assert "\n" not in message
    assert f"outside the data of dau, which covers {FIRST}..{base[1]}" in message


def test_question_dates_are_read_against_the_metrics_own_days(wh: Warehouse) -> None:
    # "yesterday" is the day before the last day of the asked metric's own table
    assert parse_question("Orders fell yesterday", wh.schema).day == date(2026, 4, 3)
    assert parse_question("DAU fell yesterday", wh.schema).day == date(2026, 3, 27)


@pytest.mark.parametrize(
    ("action", "fragment"),
    [
        (
            StatisticalTest(metric="orders", segment={"platform": "ios"}),
            "The metric orders comes from the pre-aggregated table daily_kpis, whose dimensions "
            "are channel; platform is only on the events: ask about one of its metrics",
        ),
        (
            SegmentByDimension(metric="orders", dimension="platform"),
            "or add a platform column to the pre-aggregated table daily_kpis.",
        ),
        (
            DrillDown(metric="dau", dimensions=["channel"]),
            "The metric dau is computed from the events, whose dimensions are platform, "
            "event_type; channel is only on the pre-aggregated table daily_kpis: ask about one of "
            "its metrics (orders, visits) by channel, or add a channel column to the events.",
        ),
    ],
)
def test_a_dimension_of_the_other_table_is_refused_in_one_line(
    wh: Warehouse, action: object, fragment: str
) -> None:
    executor = ToolExecutor(wh)
    with pytest.raises(InvalidAction) as exc:
        executor.validate(action)  # type: ignore[arg-type]
    assert "\n" not in str(exc.value)
    assert fragment in str(exc.value)
    result = executor.run(action)  # type: ignore[arg-type]
    assert not result.success and result.error is not None and fragment in result.error


def test_events_ending_after_the_daily_table(tmp_path: Path) -> None:
    """The other way round: the daily table stops first, the events go on."""
    short = _kpis(days=21)
    with open_warehouse(_write(tmp_path / "w", "duckdb", short)) as wh:
        events_end = FIRST + timedelta(days=EVENT_DAYS - 1)
        assert wh.schema.end_date == events_end
        assert wh.schema.metric_range("orders")[1] == FIRST + timedelta(days=20)
        assert q.metric_series(wh, "orders").values()[-1] == 2.0 * 30
        assert q.metric_series(wh, "dau").end == events_end


def test_with_no_anomaly_the_default_week_is_the_metric_s_own_last_week(wh: Warehouse) -> None:
    """No anomaly found: a breakdown compares the metric's own last week with the weeks before,
    not the union's last week (past the events' end for dau)."""
    executor = ToolExecutor(wh)
    result = executor.run(SegmentByDimension(metric="dau", dimension="platform"))
    assert result.success, result.error
    events_end = FIRST + timedelta(days=EVENT_DAYS - 1)
    assert result.data["current"][1] == events_end.isoformat(), result.data
    orders = executor.run(SegmentByDimension(metric="orders", dimension="channel"))
    assert orders.success and orders.data["current"][1] == "2026-04-04", orders.data
