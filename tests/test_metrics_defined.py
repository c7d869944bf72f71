"""Every metric kind against hand-computed values on a tiny world, on DuckDB, Parquet and
PostgreSQL (when ``MAI_TEST_POSTGRES_URL`` is set); the user's own metrics from ``mai.toml`` end
to end; each bad definition a one-line error."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from backend_parity import ON_POSTGRES, fresh_postgres_db

from metric_anomaly_investigator.cli import main
from metric_anomaly_investigator.warehouse import queries as q
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.types import WarehouseError
from metric_anomaly_investigator.warehouse.warehouse import Warehouse

# (user, event_type, country, amount, status, latency_ms), one day of each pattern
DAY_A = [
    (1, "checkout_started", "US", None, "ok", 100),
    (1, "purchase", "US", 10.0, "ok", 200),
    (1, "purchase", "US", 5.0, "ok", 100),
    (2, "checkout_started", "US", None, "ok", 100),
    (3, "checkout_started", "IN", None, "ok", 300),
    (3, "purchase", "IN", 20.0, "ok", 100),
    (3, "page_view", "IN", None, "error", 400),
]
DAY_B = [
    (1, "checkout_started", "US", None, "ok", 100),
    (2, "checkout_started", "US", None, "error", 300),
    (2, "purchase", "US", 7.0, "ok", 100),
    (3, "page_view", "IN", None, "error", 500),
]
FIRST = date(2026, 3, 1)
BASE = (date(2026, 3, 1), date(2026, 3, 3))  # three days of pattern A
CUR = (date(2026, 3, 4), date(2026, 3, 6))  # three days of pattern B

MAI_TOML = """
[metrics.revenue]
sum = "amount"
synonyms = ["takings"]
[metrics.checkout_conversion]
numerator = {event_type = "purchase"}
denominator = {event_type = "checkout_started"}
per = "user"
[metrics.error_rate]
numerator = {status = "error"}
denominator = {}
bad = "spike"
[metrics.latency]
mean = "latency_ms"
bad = "spike"
unit = "ms"
[metrics.buyers]
count = "users"
where = {event_type = "purchase"}
[metrics.page_views]
count = "events"
where = {event_type = "page_view"}
[metrics.amount_per_ms]
numerator = "amount"
denominator = "latency_ms"
"""

# metric -> (value on a pattern-A day, value on a pattern-B day), computed by hand from above
EXPECTED = {
    "dau": (3, 3),
    "events": (7, 4),
    "events_per_user": (7 / 3, 4 / 3),
    "revenue": (35, 7),
    "checkout_conversion": (2 / 3, 1 / 2),  # purchasers {1, 3} of {1, 2, 3}; {2} of {1, 2}
    "error_rate": (1 / 7, 2 / 4),
    "latency": (1300 / 7, 1000 / 4),
    "buyers": (2, 1),
    "page_views": (1, 1),
    "amount_per_ms": (35 / 1300, 7 / 1000),  # a ratio of two column sums
}


def _rows() -> list[tuple[object, ...]]:
    rows = []
    for i in range(6):
        day = FIRST + timedelta(days=i)
        pattern = DAY_A if i < 3 else DAY_B
        step = timedelta(minutes=(23 * 60 + 40) // (len(pattern) - 1))
        start = datetime.combine(day, datetime.min.time()) + timedelta(minutes=10)
        for k, (user, kind, country, amount, status, latency) in enumerate(pattern):
            rows.append((user, start + k * step, kind, country, amount, status, latency))
    return rows


def _write_duckdb(path: Path) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute(
            "CREATE TABLE events (user_id BIGINT, event_timestamp TIMESTAMP, event_type VARCHAR, "
            "country VARCHAR, amount DOUBLE, status VARCHAR, latency_ms INTEGER)"
        )
        con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", _rows())
    finally:
        con.close()


def _world(kind: str, root: Path) -> Path:
    """The tiny world with its mai.toml beside it (a DuckDB file, or a Parquet directory)."""
    db = root / "shop.duckdb"
    _write_duckdb(db)
    if kind == "duckdb":
        (root / "mai.toml").write_text(MAI_TOML)
        return db
    out = root / "parquet"
    out.mkdir()
    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute(f"COPY events TO '{out / 'events.parquet'}' (FORMAT parquet)")
    finally:
        con.close()
    (out / "mai.toml").write_text(MAI_TOML)
    return out


@pytest.fixture(scope="module", params=["duckdb", "parquet"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _world(request.param, tmp_path_factory.mktemp(request.param))


@pytest.fixture(
    scope="module", params=["duckdb", "parquet", pytest.param("postgres", marks=ON_POSTGRES)]
)
def wh(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Warehouse]:
    """The tiny world opened from a DuckDB file, a Parquet directory or a PostgreSQL database."""
    root = tmp_path_factory.mktemp(f"wh-{request.param}")
    if request.param != "postgres":
        with open_warehouse(_world(request.param, root)) as w:
            yield w
        return
    db = _world("duckdb", root)
    with fresh_postgres_db("mai_metrics") as (url, target):
        source = duckdb.connect(str(db), read_only=True)
        try:
            target.create_table("events", source.table("events").to_arrow_table())
        finally:
            source.close()
        with open_warehouse(url, config=root / "mai.toml") as w:
            yield w


def test_the_users_metrics_join_the_catalogue(wh: Warehouse) -> None:
    assert wh.schema.metrics == [
        "dau",
        "wau",
        "events",
        "events_per_user",
        *("revenue", "checkout_conversion", "error_rate", "latency", "buyers", "page_views"),
        "amount_per_ms",
    ]
    assert wh.schema.metric("error_rate").bad_direction == "spike"
    assert wh.schema.is_ratio("latency") and not wh.schema.is_ratio("revenue")
    assert wh.schema.metric("latency").format(250) == "250.00 ms"


@pytest.mark.parametrize("metric", sorted(EXPECTED))
def test_every_kind_against_hand_computed_values(wh: Warehouse, metric: str) -> None:
    a, b = EXPECTED[metric]
    series = q.metric_series(wh, metric, start=FIRST, end=FIRST + timedelta(days=5))
    assert series.values() == pytest.approx([a, a, a, b, b, b])


def test_wau_counts_distinct_users_over_seven_days(wh: Warehouse) -> None:
    assert q.metric_series(wh, "wau").values() == [3, 3, 3, 3, 3, 3]


def test_sum_by_segment(wh: Warehouse) -> None:
    bd = q.breakdown(wh, "revenue", ["country"], baseline=BASE, current=CUR)
    rows = {r.segment["country"]: (r.before, r.after) for r in bd.rows}
    assert rows == {"US": pytest.approx((15, 7)), "IN": pytest.approx((20, 0))}
    assert (bd.total_before, bd.total_after) == pytest.approx((35, 7))
    assert sum(r.contribution for r in bd.rows) == pytest.approx(7 - 35)


def test_ratio_by_segment(wh: Warehouse) -> None:
    bd = q.breakdown(wh, "checkout_conversion", ["country"], baseline=BASE, current=CUR)
    rows = {r.segment["country"]: (r.before, r.after) for r in bd.rows}
    # US: {1} of {1, 2} both days; IN: {3} of {3}, then no checkout at all (0 of 0 reads 0)
    assert rows == {"US": pytest.approx((0.5, 0.5)), "IN": pytest.approx((1.0, 0.0))}
    assert (bd.total_before, bd.total_after) == pytest.approx((2 / 3, 1 / 2))


def test_filtered_series_of_a_users_metric(wh: Warehouse) -> None:
    us = q.metric_series(wh, "error_rate", filters={"country": "US"}, start=FIRST)
    assert us.values() == pytest.approx([0, 0, 0, 1 / 3, 1 / 3, 1 / 3])


def _cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def _copy(world: Path, to: Path) -> Path:
    """A copy of the world (one process opening the same DuckDB file twice shares its cache)."""
    if world.is_dir():
        return Path(shutil.copytree(world, to / world.name))
    shutil.copy(world.parent / "mai.toml", to / "mai.toml")
    return Path(shutil.copy(world, to / world.name))


def test_a_users_metric_end_to_end(world: Path, tmp_path: Path) -> None:
    question = "Why did takings drop in March?"  # the user's own synonym
    source = str(_copy(world, tmp_path))
    code, out, err = _cli(["investigate", question, "--warehouse", source, "--json"])
    assert code == 0, err
    record = json.loads(out)
    assert record["report"]["anomaly"]["metric"] == "revenue"
    first = record["steps"][0]
    assert (first["action"], first["parameters"]["metric"]) == ("detect_anomaly", "revenue")
    assert first["data"]["chart"]["series"][0]["y"] == [35, 35, 35, 7, 7, 7]


BAD = [
    (  # a metric built on another metric (the only way to a cycle) names no column: refused
        '[metrics.a]\nsum = "b"\n[metrics.b]\nsum = "a"\n',
        "[metrics.a] sum: unknown column 'b'. Valid numeric columns: amount, latency_ms.",
    ),
    (
        '[metrics.aov]\nnumerator = "amount"\ndenominator = "country"\n',
        "[metrics.aov] denominator: column 'country' is string, not a number.",
    ),
    (
        '[metrics.aov]\nnumerator = "amount"\ndenominator = "latency_ms"\nper = "user"\n',
        "[metrics.aov]: per goes with filter numerators, not column sums.",
    ),
    (
        '[metrics.revenue]\nsum = "amt"\n',
        "[metrics.revenue] sum: unknown column 'amt'. Valid numeric columns: amount, latency_ms.",
    ),
    (
        '[metrics.revenue]\nsum = "country"\n',
        "[metrics.revenue] sum: column 'country' is string, not a number. "
        "Valid numeric columns: amount, latency_ms.",
    ),
    (
        '[metrics.buyers]\ncount = "users"\nwhere = {}\n',
        "[metrics.buyers] where is an empty filter: give column = value",
    ),
    (
        '[metrics.dau]\nsum = "amount"\n',
        "[metrics.dau] is a duplicate name: dau is already a metric",
    ),
    (
        '[metrics.a]\nsum = "amount"\n[metrics.b]\nsum = "amount"\n[metrics.a_]\nsum = "x"\n',
        "[metrics.a_] sum: unknown column 'x'.",
    ),
    (
        '[metrics.conv]\nnumerator = {event_type = "purchase"}\n',
        "[metrics.conv]: a numerator needs a denominator",
    ),
    (
        '[metrics.conv]\nsum = "amount"\nmean = "amount"\n',
        "[metrics.conv] needs exactly one of: sum, mean, count, numerator (with denominator)",
    ),
    (
        '[metrics.conv]\nnumerator = {status = "ok"}\ndenominator = {}\nper = "day"\n',
        "[metrics.conv] per must be one of: event, user; got 'day'.",
    ),
    (
        '[metrics.conv]\nsum = "amount"\nper = "user"\n',
        "[metrics.conv]: per and denominator go with numerator, not with sum.",
    ),
    (
        '[metrics.conv]\nsumm = "amount"\n',
        "[metrics.conv]: unknown key 'summ'. Valid keys: sum, mean, count, numerator,",
    ),
    (
        '[metrics.Revenue]\nsum = "amount"\n',
        "the metric name 'Revenue' is not valid: use lower-case letters, digits and _",
    ),
]


@pytest.mark.parametrize(("toml", "fragment"), BAD)
def test_a_bad_definition_is_one_clear_line(
    world: Path, tmp_path: Path, toml: str, fragment: str
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(toml)
    with pytest.raises(WarehouseError) as exc:
        open_warehouse(world, config=config)
    message = str(exc.value)
    assert "\n" not in message
    assert message.startswith(f"In {config}, ")
    assert fragment in message


def test_a_bad_definition_in_the_cli_is_one_line(world: Path, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[metrics.revenue]\nsum = "amt"\n')
    source = str(_copy(world, tmp_path))
    code, out, err = _cli(
        ["investigate", "Why did revenue drop?", "--warehouse", source, "--config", str(config)]
    )
    assert code != 0
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert "unknown column 'amt'" in err and "Traceback" not in err


def test_data_metrics_lists_definitions_and_suggests_more(world: Path, tmp_path: Path) -> None:
    code, out, err = _cli(["data", "metrics", "--warehouse", str(_copy(world, tmp_path))])
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["METRIC", "DEFINITION"]
    assert (
        "error_rate           error rate: events where status = 'error' / events (per day); "
        "a spike is bad"
    ) in lines
    suggested = out[out.index("Definitions you could add") :]
    assert '[metrics.amount_mean]\n  mean = "amount"' in suggested
    assert "[metrics.checkout_conversion]" not in suggested  # already defined
    assert (
        '[metrics.page_view_events]\n  count = "events"\n  where = {event_type = "page_view"}'
        in (suggested)
    )


def test_the_event_type_rollup_gives_the_events_answers(
    small_world_path: Path, tmp_path: Path
) -> None:
    """A conversion between event types read from the per-(user, day, event_type) rollup equals
    the same metric read from the raw events."""
    config = tmp_path / "m.toml"
    config.write_text(
        '[metrics.cart_conversion]\nnumerator = {event_type = "purchase"}\n'
        'denominator = {event_type = "add_to_cart"}\nper = "user"\n'
        '[metrics.purchases]\ncount = "events"\nwhere = {event_type = "purchase"}\n'
    )
    with open_warehouse(small_world_path, config=config) as w:
        assert w.type_rollup is not None
        end = w.schema.end_date
        cur = (end - timedelta(days=6), end)
        base = (end - timedelta(days=27), end - timedelta(days=7))
        answers = []
        for _ in range(2):
            answers.append(
                [
                    q.metric_series(w, m, group_by=["platform"]).points
                    for m in ("cart_conversion", "purchases")
                ]
                + [q.breakdown(w, "cart_conversion", ["country"], baseline=base, current=cur).rows]
            )
            w.type_rollup = None  # the second time round: the raw events
        rolled, raw = answers
        assert rolled[0] and rolled[2]
        for a, b in zip(rolled[:2], raw[:2], strict=True):
            assert [p.value for p in a] == pytest.approx([p.value for p in b])
        assert [(r.segment, r.before, r.after) for r in rolled[2]] == [
            (r.segment, pytest.approx(r.before), pytest.approx(r.after)) for r in raw[2]
        ]
