"""A pre-aggregated daily table beside the events, mapped in the same TOML: the built-in and
event-defined metrics read the events, the measures (and ratios of them) the daily table; each
metric is broken down only by its own table's dimensions; definitions are validated against the
table they read."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from metric_anomaly_investigator.cli import main
from metric_anomaly_investigator.warehouse import queries as q
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.types import WarehouseError
from metric_anomaly_investigator.warehouse.warehouse import Warehouse

FIRST = date(2026, 3, 1)
DAYS = 35
BASE = (date(2026, 3, 1), date(2026, 3, 28))
CUR = (date(2026, 3, 29), date(2026, 4, 4))
COUNTRIES = ("US", "IN")
CHANNELS = ("ads", "email")
USERS = 120

MAI_TOML = """
[aggregates]
table = "daily_kpis"
date = "day"
[metrics.conversion]
numerator = "orders"
denominator = "visits"
[metrics.views]
count = "events"
where = {event_type = "page_view"}
"""


def _active(user: int, i: int) -> bool:
    """Every day, but in the last week not at all for the iOS users (user % 3 == 0)."""
    return not (i >= 28 and user % 3 == 0)


def _events() -> list[tuple[object, ...]]:
    """Users 0..119 (country and platform fixed per user), a page view on each active day and a
    search on every other one."""
    rows: list[tuple[object, ...]] = []
    for i in range(DAYS):
        day = datetime.combine(FIRST + timedelta(days=i), datetime.min.time())
        for user in range(USERS):
            if not _active(user, i):
                continue
            country, platform = COUNTRIES[user % 2], "ios" if user % 3 == 0 else "web"
            at = day + timedelta(hours=8, minutes=user)
            rows.append((user, at, "page_view", country, platform))
            if (user + i) % 2 == 0:
                rows.append((user, at + timedelta(minutes=5), "search", country, platform))
    return rows


def _kpis() -> list[tuple[object, ...]]:
    """(day, country, channel, orders, visits): in the last week orders by email in IN fall to 5."""
    rows: list[tuple[object, ...]] = []
    for i in range(DAYS):
        for ci, country in enumerate(COUNTRIES):
            for hi, channel in enumerate(CHANNELS):
                orders = (
                    5 if (i >= 28 and country == "IN" and channel == "email") else 20 + ci + 3 * hi
                )
                visits = 100 + 10 * ci + 5 * hi
                rows.append((FIRST + timedelta(days=i), country, channel, orders, visits))
    return rows


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("beside")
    path = root / "shop.duckdb"
    con = duckdb.connect(str(path))
    try:
        con.execute(
            "CREATE TABLE events (user_id BIGINT, event_timestamp TIMESTAMP, event_type VARCHAR, "
            "country VARCHAR, platform VARCHAR)"
        )
        con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", _events())
        con.execute(
            "CREATE TABLE daily_kpis (day DATE, country VARCHAR, channel VARCHAR, "
            "orders BIGINT, visits BIGINT)"
        )
        con.executemany("INSERT INTO daily_kpis VALUES (?, ?, ?, ?, ?)", _kpis())
    finally:
        con.close()
    (root / "mai.toml").write_text(MAI_TOML)
    return path


@pytest.fixture(scope="module")
def wh(world: Path) -> Iterator[Warehouse]:
    with open_warehouse(world) as opened:
        yield opened


def _days(win: tuple[date, date]) -> list[date]:
    return [win[0] + timedelta(days=i) for i in range((win[1] - win[0]).days + 1)]


def _sum(col: int, days: list[date], **where: str) -> float:
    """A column of the daily table (3: orders, 4: visits) summed over days and segment."""
    keys = {"country": 1, "channel": 2}
    return float(
        sum(
            r[col]  # type: ignore[misc]
            for r in _kpis()
            if r[0] in days and all(r[keys[k]] == v for k, v in where.items())
        )
    )


def test_each_metric_has_its_own_tables_dimensions(wh: Warehouse) -> None:
    schema = wh.schema
    assert {"dau", "events", "views", "orders", "visits", "conversion"} <= set(schema.metrics)
    assert set(schema.metric_dimensions("orders")) == {"country", "channel"}
    assert set(schema.metric_dimensions("conversion")) == {"country", "channel"}
    assert "channel" not in schema.metric_dimensions("dau")
    assert {"country", "platform"} <= set(schema.metric_dimensions("dau"))
    assert schema.metric("views").table == "events" and schema.metric("orders").table == (
        "aggregates"
    )
    (note,) = schema.coverage_notes()
    assert note.startswith("conversion, orders, visits come from the pre-aggregated table")
    assert "(country, channel)" in note


def test_the_measures_series_and_breakdowns_from_the_daily_table(wh: Warehouse) -> None:
    days = _days((FIRST, FIRST + timedelta(days=DAYS - 1)))
    assert q.metric_series(wh, "orders").values() == [_sum(3, [d]) for d in days]
    conv = q.metric_series(wh, "conversion", filters={"channel": "email"}).values()
    assert conv == pytest.approx(
        [_sum(3, [d], channel="email") / _sum(4, [d], channel="email") for d in days]
    )
    base, cur = _days(BASE), _days(CUR)
    bd = q.breakdown(wh, "orders", ["channel"], baseline=BASE, current=CUR)
    got = {r.segment["channel"]: (r.before, r.after) for r in bd.rows}
    assert got == pytest.approx(
        {c: (_sum(3, base, channel=c) / 28, _sum(3, cur, channel=c) / 7) for c in CHANNELS}
    )
    bd = q.breakdown(wh, "conversion", ["country"], baseline=BASE, current=CUR)
    got = {r.segment["country"]: (r.before, r.after) for r in bd.rows}
    want = {
        c: (
            _sum(3, base, country=c) / _sum(4, base, country=c),
            _sum(3, cur, country=c) / _sum(4, cur, country=c),
        )
        for c in COUNTRIES
    }
    assert got == pytest.approx(want)


def test_dau_and_event_metrics_still_read_the_events(wh: Warehouse) -> None:
    days = _days((FIRST, FIRST + timedelta(days=DAYS - 1)))
    dau = [sum(_active(u, i) for u in range(USERS)) for i in range(DAYS)]
    assert q.metric_series(wh, "dau").values() == dau
    assert q.metric_series(wh, "views").values() == dau  # one page view per active user-day
    ios = q.metric_series(wh, "dau", filters={"platform": "ios"}).values()
    assert ios == [sum(_active(u, i) for u in range(0, USERS, 3)) for i in range(len(days))]


@pytest.mark.parametrize(
    ("metric", "dim", "fragment"),
    [
        (
            "orders",
            "platform",
            "the metric orders comes from the pre-aggregated table daily_kpis, whose dimensions "
            "are country, channel; platform is only on the events: ask about one of its metrics "
            "(dau, wau, events, events_per_user, views) by platform, or add a platform column to "
            "the pre-aggregated table daily_kpis.",
        ),
        (
            "dau",
            "channel",
            "channel is only on the pre-aggregated table daily_kpis: ask about one of its "
            "metrics (conversion, orders, visits) by channel, or add a channel column to the "
            "events.",
        ),
    ],
)
def test_no_metric_is_broken_down_by_a_dimension_its_table_lacks(
    wh: Warehouse, metric: str, dim: str, fragment: str
) -> None:
    with pytest.raises(WarehouseError) as exc:
        q.breakdown(wh, metric, [dim], baseline=BASE, current=CUR)
    assert fragment in str(exc.value).lower()
    with pytest.raises(WarehouseError):
        q.metric_series(wh, metric, filters={dim: "x"})


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        (
            '[metrics.aov]\nnumerator = "orders"\ndenominator = "revenue"\n',
            "[metrics.aov] denominator: unknown column 'revenue'. Valid numeric columns: "
            "orders, visits.",
        ),
        (
            '[metrics.avg_orders]\nmean = "orders"\n',
            "[metrics.avg_orders] counts events or users, which a pre-aggregated table cannot",
        ),
        (
            '[metrics.ios_views]\ncount = "events"\nwhere = {channel = "ads"}\n',
            "[metrics.ios_views] where: unknown column 'channel'",
        ),
    ],
)
def test_definitions_are_validated_against_the_table_they_read(
    world: Path, tmp_path: Path, toml: str, fragment: str
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[aggregates]\ntable = "daily_kpis"\ndate = "day"\n' + toml)
    with pytest.raises(WarehouseError) as exc:
        open_warehouse(world, config=config)
    assert "\n" not in str(exc.value)
    assert fragment in str(exc.value)


def _cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def _broken_down_by(record: dict[str, object]) -> set[str]:
    """Every dimension a step of the record broke down, drilled into or filtered by."""
    dims: set[str] = set()
    for step in record["steps"]:  # type: ignore[attr-defined]
        params = step["parameters"]
        dims |= {params["dimension"]} if params.get("dimension") else set()
        dims |= set(params.get("dimensions") or []) | set(params.get("filters") or {})
        dims |= set(params.get("segment") or {})
    return dims


def test_questions_on_either_table_run_end_to_end(world: Path) -> None:
    question = "Why did orders drop last week?"
    code, out, err = _cli(["investigate", question, "--warehouse", str(world), "--json"])
    assert code == 0, err
    record = json.loads(out)
    assert record["report"]["anomaly"]["metric"] == "orders"
    assert _broken_down_by(record) == {"country", "channel"}  # never the events' platform
    (segment,) = record["report"]["affected_segments"]
    assert segment["filters"] == {"country": "IN", "channel": "email"}
    dau = "Why did DAU drop last week?"
    code, out, err = _cli(["investigate", dau, "--warehouse", str(world), "--json"])
    assert code == 0, err
    record = json.loads(out)
    assert record["report"]["anomaly"]["metric"] == "dau"
    assert "channel" not in _broken_down_by(record)
    (segment,) = record["report"]["affected_segments"]
    assert segment["filters"] == {"platform": "ios"}


def test_data_metrics_names_the_table_each_metric_reads(world: Path) -> None:
    code, out, err = _cli(["data", "metrics", "--warehouse", str(world)])
    assert code == 0, err
    listing = out.split("\n\n")[0].splitlines()  # the metrics, before any suggestions
    rows = {line.split()[0]: line.split()[1] for line in listing}
    assert rows["METRIC"] == "TABLE"
    assert rows["dau"] == "events" and rows["orders"] == "aggregates"


def test_a_question_s_segment_on_a_dimension_the_metric_s_table_lacks_is_not_known(
    world: Path,
) -> None:
    question = "Did orders drop on iOS last week?"
    code, out, err = _cli(["investigate", question, "--warehouse", str(world), "--json"])
    assert code == 0, err
    record = json.loads(out)
    assert "platform" not in _broken_down_by(record)  # no test it cannot run
    answer = record["report"]["answer"]
    assert answer.startswith(
        "Not known — the metric orders comes from the pre-aggregated table daily_kpis"
    ), answer
    assert "platform is only on the events" in answer
