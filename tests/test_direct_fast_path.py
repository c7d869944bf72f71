"""Metrics filtered on event types read from counts per (day, group, event_type) of the
per-(user, day, event_type) rollup (distinct users as its rows, where it is unique per user, day
and event type; breakdown totals as the sum of the segments where they add up) give exactly what
the filtered aggregates give, on the rollup and on the raw events, for series, groupings,
filters and multi-day breakdowns."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from metric_anomaly_investigator.warehouse import queries as q
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.types import Breakdown, MetricSeries
from metric_anomaly_investigator.warehouse.warehouse import Warehouse

CONFIG = """
[metrics.cart_conversion]
numerator = {event_type = "purchase"}
denominator = {event_type = "add_to_cart"}
per = "user"
[metrics.shoppers]
count = "users"
where = {event_type = ["app_open", "purchase"]}  # the same users on a day: no adding up
[metrics.purchases_per_cart]
numerator = {event_type = "purchase"}
denominator = {event_type = "add_to_cart"}
[metrics.purchases]
count = "events"
where = {event_type = "purchase"}
"""


def _answers(wh: Warehouse, metric: str) -> tuple[list[MetricSeries], list[Breakdown]]:
    end = wh.schema.end_date
    cur = (end - timedelta(days=6), end)
    base = (cur[0] - timedelta(days=14), cur[0] - timedelta(days=1))
    dims = [d.name for d in wh.schema.dimensions if d.name != "event_type"][:2]
    first = wh.schema.dimensions[0]
    seg = {first.name: first.values[0]}
    series = [
        q.metric_series(wh, metric, start=base[0]),
        q.metric_series(wh, metric, start=base[0], group_by=dims),
        q.metric_series(wh, metric, start=base[0], filters=seg),
        q.metric_series(wh, metric, start=base[0], group_by=["event_type"]),
    ]
    breakdowns = [
        q.breakdown(wh, metric, dims, baseline=base, current=cur),
        q.breakdown(wh, metric, ["event_type"], baseline=base, current=cur),
    ]
    return series, breakdowns


@pytest.mark.parametrize(
    "metric", ["cart_conversion", "shoppers", "purchases_per_cart", "purchases"]
)
def test_counting_rollup_rows_equals_counting_distinct_users(
    small_world_path: Path, tmp_path: Path, metric: str
) -> None:
    config = tmp_path / "mai.toml"
    config.write_text(CONFIG)
    with open_warehouse(small_world_path, config=config) as wh:
        assert wh.type_rollup is not None and wh.type_rollup_unique
        fast = _answers(wh, metric)
        wh.type_rollup_unique = False  # distinct users on the rollup
        general = _answers(wh, metric)
        wh.type_rollup = None  # distinct users on the raw events
        raw = _answers(wh, metric)
    assert fast == general == raw
    series = fast[0][0]
    assert sum(p.numerator for p in series.points) > 0  # real purchasers, not empty answers
