"""The sample size (``n``) of a metric computed straight from the events is the events it reads:
for a filtered count or sum only the events its filters keep, for a ratio of filtered sides the
events either side keeps, never every event of the segment. The same on the per-(user, day,
event_type) rollup, on the raw events and on Parquet."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from metric_anomaly_investigator.warehouse import queries as q
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.warehouse import Warehouse

FIRST = date(2026, 3, 1)
DAYS = 14
BASE = (FIRST, FIRST + timedelta(days=6))
CUR = (FIRST + timedelta(days=7), FIRST + timedelta(days=13))

CONFIG = """
[metrics.purchases]
count = "events"
where = {event_type = "purchase"}
[metrics.purchase_revenue]
sum = "amount"
where = {event_type = "purchase"}
[metrics.cart_to_purchase]
numerator = {event_type = "purchase"}
denominator = {event_type = "add_to_cart"}
"""


def _events() -> list[tuple[object, ...]]:
    """Per day and user: 5 page views, 2 add-to-carts in US (1 in IN), a purchase every
    other user in the first week and every third in the second."""
    rows: list[tuple[object, ...]] = []
    for i in range(DAYS):
        day = datetime.combine(FIRST + timedelta(days=i), datetime.min.time())
        for user in range(20):
            country = "US" if user % 2 == 0 else "IN"
            at = day + timedelta(hours=8, minutes=user)
            rows += [(user, at, "page_view", country, 0.0)] * 5
            rows += [(user, at, "add_to_cart", country, 0.0)] * (2 if country == "US" else 1)
            if user % (2 if i < 7 else 3) == 0:
                rows.append((user, at, "purchase", country, 10.0))
    return rows


def _count(kind: tuple[str, ...], win: tuple[date, date], country: str) -> int:
    return sum(
        1
        for _, at, t, c, _ in _events()  # type: ignore[misc]
        if t in kind and c == country and win[0] <= at.date() <= win[1]  # type: ignore[attr-defined]
    )


@pytest.fixture(scope="module", params=["duckdb", "parquet"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp(f"n-{request.param}")
    db = root / "shop.duckdb"
    con = duckdb.connect(str(db))
    try:
        con.execute(
            "CREATE TABLE events (user_id BIGINT, event_timestamp TIMESTAMP, event_type VARCHAR, "
            "country VARCHAR, amount DOUBLE)"
        )
        con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", _events())
        if request.param == "parquet":
            con.execute(f"COPY events TO '{root / 'events.parquet'}' (FORMAT parquet)")
    finally:
        con.close()
    (root / "mai.toml").write_text(CONFIG)
    if request.param == "parquet":
        db.unlink()
        return root
    return db


@pytest.fixture(scope="module")
def wh(world: Path) -> Iterator[Warehouse]:
    with open_warehouse(world) as opened:
        yield opened


@pytest.mark.parametrize(
    ("metric", "kinds"),
    [
        ("purchases", ("purchase",)),
        ("purchase_revenue", ("purchase",)),
        ("cart_to_purchase", ("purchase", "add_to_cart")),
    ],
)
@pytest.mark.parametrize("path", ["fast", "rollup", "raw"])
def test_n_counts_the_events_the_metric_reads(
    wh: Warehouse, metric: str, kinds: tuple[str, ...], path: str
) -> None:
    saved = wh.type_rollup, wh.type_rollup_unique
    try:
        if path != "fast":
            wh.type_rollup_unique = False
        if path == "raw":
            wh.type_rollup = None
        bd = q.breakdown(wh, metric, ["country"], baseline=BASE, current=CUR)
    finally:
        wh.type_rollup, wh.type_rollup_unique = saved
    got = {r.segment["country"]: (r.n_before, r.n_after) for r in bd.rows}
    want = {c: (_count(kinds, BASE, c), _count(kinds, CUR, c)) for c in ("US", "IN")}
    assert got == want
