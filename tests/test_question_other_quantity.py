"""A metric's name followed by the head noun of another quantity ("order value", "session
length", "purchase rate") asks about that other quantity, not the metric; a head noun that is a
word of the metric's own names ("conversion rate", "error rate") still names the metric."""

from __future__ import annotations

import pytest
from question_schema import question_schema

from metric_anomaly_investigator.core.question import parse_question
from metric_anomaly_investigator.warehouse.metrics import Aggregate, Metric
from metric_anomaly_investigator.warehouse.types import WarehouseSchema

ORDERS = Metric(
    name="orders",
    label="orders",
    kind="sum",
    numerator=Aggregate("sum", "orders"),
    synonyms=("purchases",),
)
CARTS = Metric(name="carts", label="carts", kind="sum", numerator=Aggregate("sum", "carts"))


def _schema() -> WarehouseSchema:
    schema = question_schema()
    schema.custom_metrics = [ORDERS, CARTS]
    schema.metrics = [*schema.metrics, "orders", "carts", "checkout_conversion"]
    return schema


@pytest.mark.parametrize(
    ("text", "unknown"),
    [
        ("Why did the average order value fall in January?", "average order value"),
        ("order size is down on iOS", "order size"),
        ("What happened to the purchase rate?", "purchase rate"),
        ("session length dropped last week", "session length"),
        ("Is the cart abandonment rate up?", "cart abandonment"),
        ("the orders' value fell", "orders' value"),
        ("why are session times longer", "session times"),
    ],
)
def test_another_quantity_is_not_the_metric_it_names(text: str, unknown: str) -> None:
    q = parse_question(text, _schema())
    assert (q.metric, q.missing_metric, q.unknown_metric) == (None, None, unknown)


@pytest.mark.parametrize(
    ("text", "metric"),
    [
        ("Orders dropped after January 29th", "orders"),
        ("order volume has been off", "orders"),
        ("checkout conversion rate fell", "checkout_conversion"),
        ("conversion rate fell on web", "checkout_conversion"),
        ("sessions dropped", "sessions_per_user"),
        ("order value looks fine but carts fell", "carts"),
        ("DAU is down over time", "dau"),
    ],
)
def test_the_metric_itself_is_still_read(text: str, metric: str) -> None:
    q = parse_question(text, _schema())
    assert (q.metric, q.unknown_metric) == (metric, None)


def test_a_missing_rate_metric_is_still_missing() -> None:
    q = parse_question("error rate spiked in Europe", question_schema())
    assert (q.metric, q.missing_metric) == (None, "error_rate")
