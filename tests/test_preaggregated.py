"""A pre-aggregated daily metrics table as the source: the same series and breakdowns as the
events it was built from, nothing derived that totals cannot give, bad mappings one line each."""

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
from metric_anomaly_investigator.core.question import parse_question
from metric_anomaly_investigator.warehouse import queries as q
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.types import WarehouseError
from metric_anomaly_investigator.warehouse.warehouse import Warehouse

FIRST = date(2026, 3, 1)
DAYS = 14
BASE = (date(2026, 3, 1), date(2026, 3, 7))
CUR = (date(2026, 3, 8), date(2026, 3, 14))
COUNTRIES = ("US", "BR", "DE")
PLATFORMS = ("ios", "web")

EVENTS_TOML = """
[metrics.revenue]
sum = "amount"
[metrics.orders]
count = "events"
where = {event_type = "purchase"}
[metrics.conversion]
numerator = {event_type = "purchase"}
denominator = {event_type = "add_to_cart"}
"""
AGGREGATES_TOML = """
[aggregates]
table = "daily_kpis"
date = "day"
dimensions = ["country", "platform"]
measures = ["revenue", "orders", "carts"]
[metrics.conversion]
numerator = "orders"
denominator = "carts"
"""


def _events() -> list[tuple[object, ...]]:
    """Users 0..29 (country and platform fixed per user), a few carts and purchases a day;
    from day 8 purchases in BR stop for two users in three."""
    rows: list[tuple[object, ...]] = []
    for i in range(DAYS):
        day = datetime.combine(FIRST + timedelta(days=i), datetime.min.time())
        for user in range(30):
            country, platform = COUNTRIES[user % 3], PLATFORMS[user % 2]
            at = day + timedelta(hours=8 + user % 10)
            rows.append((user, at, "page_view", country, platform, None))
            if (user + i) % 2 == 0:
                rows.append(
                    (user, at + timedelta(minutes=5), "add_to_cart", country, platform, None)
                )
                lost = country == "BR" and i >= 7 and user % 3 != 0 and (user + i) % 4 != 0
                if (user + i) % 4 == 0 or (user % 5 == 0 and not lost):
                    amount = 10.0 + (user * 7 + i) % 13
                    rows.append(
                        (user, at + timedelta(minutes=9), "purchase", country, platform, amount)
                    )
    return rows


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The events world, the daily table built from it (DuckDB), and the same as Parquet."""
    root = tmp_path_factory.mktemp("preagg")
    (root / "events").mkdir()
    (root / "kpis").mkdir()
    (root / "parquet").mkdir()
    events, kpis = root / "events" / "shop.duckdb", root / "kpis" / "kpis.duckdb"
    con = duckdb.connect(str(events))
    try:
        con.execute(
            "CREATE TABLE events (user_id BIGINT, event_timestamp TIMESTAMP, event_type VARCHAR, "
            "country VARCHAR, platform VARCHAR, amount DOUBLE)"
        )
        con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", _events())
        con.execute(f"ATTACH '{kpis}' AS kpis")
        con.execute(
            "CREATE TABLE kpis.daily_kpis AS SELECT CAST(event_timestamp AS DATE) AS day, country, "
            "platform, coalesce(sum(amount), 0) AS revenue, "
            "count(*) FILTER (WHERE event_type = 'purchase') AS orders, "
            "count(*) FILTER (WHERE event_type = 'add_to_cart') AS carts "
            "FROM events GROUP BY ALL"
        )
        con.execute(f"COPY kpis.daily_kpis TO '{root / 'parquet' / 'daily_kpis.parquet'}'")
    finally:
        con.close()
    (root / "events" / "mai.toml").write_text(EVENTS_TOML)
    (root / "kpis" / "mai.toml").write_text(AGGREGATES_TOML)
    (root / "parquet" / "mai.toml").write_text(AGGREGATES_TOML)
    return events, kpis, root / "parquet"


@pytest.fixture(scope="module")
def from_events(worlds: tuple[Path, Path, Path]) -> Iterator[Warehouse]:
    with open_warehouse(worlds[0]) as wh:
        yield wh


@pytest.fixture(scope="module", params=["duckdb", "parquet"])
def from_kpis(
    request: pytest.FixtureRequest, worlds: tuple[Path, Path, Path]
) -> Iterator[Warehouse]:
    with open_warehouse(worlds[1] if request.param == "duckdb" else worlds[2]) as wh:
        yield wh


def test_the_measures_are_the_metrics_and_nothing_per_user(from_kpis: Warehouse) -> None:
    schema = from_kpis.schema
    assert schema.metrics == ["conversion", "revenue", "orders", "carts"]
    assert schema.is_ratio("conversion") and not schema.is_ratio("orders")
    assert schema.dimension_names == ["country", "platform"]
    assert (schema.start_date, schema.end_date) == (FIRST, FIRST + timedelta(days=DAYS - 1))
    assert not schema.has_users and from_kpis.rollup is None
    (note,) = schema.coverage_notes()
    assert note.startswith("The data is the pre-aggregated table daily_kpis")
    assert "distinct users, retention and event counts cannot be derived" in note


@pytest.mark.parametrize("metric", ["revenue", "orders", "conversion"])
def test_the_same_series_as_the_events(
    from_events: Warehouse, from_kpis: Warehouse, metric: str
) -> None:
    for flt in (None, {"country": "BR"}, {"platform": "web", "country": "US"}):
        expected = q.metric_series(from_events, metric, filters=flt).values()
        assert q.metric_series(from_kpis, metric, filters=flt).values() == pytest.approx(expected)


@pytest.mark.parametrize("metric", ["revenue", "orders", "conversion"])
@pytest.mark.parametrize("dims", [["country"], ["platform"], ["country", "platform"]])
def test_the_same_breakdowns_as_the_events(
    from_events: Warehouse, from_kpis: Warehouse, metric: str, dims: list[str]
) -> None:
    want = q.breakdown(from_events, metric, dims, baseline=BASE, current=CUR)
    got = q.breakdown(from_kpis, metric, dims, baseline=BASE, current=CUR)

    def rows(bd: object) -> dict[tuple[str, ...], tuple[float, float, float]]:
        return {
            tuple(r.segment[d] for d in dims): (r.before, r.after, r.contribution)
            for r in bd.rows  # type: ignore[attr-defined]
        }

    assert (got.total_before, got.total_after) == pytest.approx(
        (want.total_before, want.total_after)
    )
    expected = rows(want)
    assert rows(got).keys() == expected.keys()
    for key, values in rows(got).items():
        assert values == pytest.approx(expected[key])


def test_the_planted_drop_is_in_brazil(from_kpis: Warehouse) -> None:
    bd = q.breakdown(from_kpis, "orders", ["country"], baseline=BASE, current=CUR)
    worst = min(bd.rows, key=lambda r: r.contribution)
    assert worst.segment == {"country": "BR"}


def test_a_question_about_dau_is_answered_honestly(from_kpis: Warehouse) -> None:
    parsed = parse_question("Why did DAU drop last week?", from_kpis.schema)
    assert parsed.metric is None and parsed.missing_metric == "dau"


def _cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def test_an_investigation_runs_on_the_table(worlds: tuple[Path, Path, Path]) -> None:
    question = "Why did orders drop in the second week?"
    code, out, err = _cli(["investigate", question, "--warehouse", str(worlds[1]), "--json"])
    assert code == 0, err
    record = json.loads(out)
    assert record["report"]["anomaly"]["metric"] == "orders"
    dau = "Why did DAU drop in the second week?"
    code, out, err = _cli(["investigate", dau, "--warehouse", str(worlds[1]), "--json"])
    assert code == 0, err
    text = json.dumps(json.loads(out)["report"])
    assert "distinct users cannot be derived from daily totals" in text
    assert "add a column of distinct users per day and segment" in text


BAD = [
    ('[aggregates]\ntable = "daily_kpis"\ndate = "when"\n', "has no date column 'when'"),
    (
        '[aggregates]\ntable = "daily_kpis"\ndate = "day"\nmeasures = ["country"]\n',
        "measure 'country' is",
    ),
    (
        '[aggregates]\ntable = "daily_kpis"\ndate = "day"\nmeasures = ["profit"]\n',
        "no column 'profit'",
    ),
    ('[aggregates]\ntable = "kpi"\n', "has no table 'kpi'"),
    (
        '[aggregates]\ntabel = "daily_kpis"\n',
        "[aggregates]: unknown key 'tabel'. Valid keys: table",
    ),
    (
        '[aggregates]\ntable = "daily_kpis"\ndate = "day"\n[metrics.buyers]\ncount = "users"\n',
        "[metrics.buyers] counts events or users, which a pre-aggregated table cannot give",
    ),
]


@pytest.mark.parametrize(("toml", "fragment"), BAD)
def test_a_bad_mapping_is_one_line(
    worlds: tuple[Path, Path, Path], tmp_path: Path, toml: str, fragment: str
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(toml)
    with pytest.raises(WarehouseError) as exc:
        open_warehouse(worlds[1], config=config)
    assert "\n" not in str(exc.value)
    assert fragment in str(exc.value)


def test_data_metrics_lists_the_measures_and_suggests_ratios_only(
    worlds: tuple[Path, Path, Path],
) -> None:
    code, out, err = _cli(["data", "metrics", "-w", str(worlds[1])])
    assert code == 0, err
    assert "orders      orders: sum of orders (per day); a drop is bad" in out
    assert "conversion: sum of orders / sum of carts (per day)" in out
    assert '[metrics.revenue_per_orders]\n  numerator = "revenue"\n  denominator = "orders"' in out
    assert "mean =" not in out and "count =" not in out  # neither can be defined on totals
