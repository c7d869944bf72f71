"""How the parser finds the metric a question names: a user's own definition of a catalogue
metric keeps the catalogue's words for it, a close misspelling of a one-word metric name is
read as that metric (never a different word such as "event" for events), and the columns the
asked metric's own definition filters on are no segment of the question."""

from __future__ import annotations

import pytest
from question_schema import DIMENSIONS, question_schema

from metric_anomaly_investigator.core.question import parse_question
from metric_anomaly_investigator.warehouse.metrics import Aggregate, Metric
from metric_anomaly_investigator.warehouse.types import WarehouseSchema

ERROR_RATE = Metric(  # as a mai.toml defines it: its own synonyms only
    name="error_rate",
    label="error rate",
    kind="ratio",
    numerator=Aggregate("events", where=(("status", ("error",)),)),
    denominator=Aggregate("events"),
    synonyms=("failing", "failures"),
)
ORDERS = Metric(
    name="orders",
    label="orders",
    kind="sum",
    numerator=Aggregate("sum", "orders"),
    synonyms=("purchases",),
)


def _schema() -> WarehouseSchema:
    schema = question_schema({**DIMENSIONS, "status": ["ok", "error"]})
    schema.custom_metrics = [ERROR_RATE, ORDERS]
    schema.metrics = [*schema.metrics, "error_rate", "orders"]
    return schema


@pytest.mark.parametrize(
    ("text", "metric"),
    [
        ("errors up since feb 2", "error_rate"),  # the catalogue's word for error_rate
        ("lots of erors since feb 2nd, which region?", "error_rate"),
        ("purchses look low in India", "orders"),
        ("sesions dropped on android", "sessions_per_user"),
        ("why is it failing", "error_rate"),
    ],
)
def test_the_metric_is_found(text: str, metric: str) -> None:
    assert parse_question(text, _schema()).metric == metric


@pytest.mark.parametrize(
    "text",
    ["Which event type moved?", "something looks off with the evnt", "ordering looks odd"],
)
def test_other_words_are_no_metric(text: str) -> None:
    assert parse_question(text, _schema()).metric is None


def test_the_metrics_own_filter_column_is_no_segment() -> None:
    q = parse_question("errors up in Germany since feb 2", _schema())
    assert (q.metric, q.segment) == ("error_rate", {"country": "DE"})
    # without a metric named, the same word is a segment as before
    assert parse_question("what happened to status error?", _schema()).segment == {
        "status": "error"
    }
