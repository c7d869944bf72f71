"""The metric catalogue: its records, the parser reading it, the honest unknown-metric answer."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import date
from pathlib import Path

import pytest

from metric_anomaly_investigator.cli import main
from metric_anomaly_investigator.core.autopilot import CORE_METRICS
from metric_anomaly_investigator.core.question import find_metric, parse_question
from metric_anomaly_investigator.warehouse import metrics as catalogue
from metric_anomaly_investigator.warehouse.types import (
    DimensionInfo,
    WarehouseSchema,
)


def _schema(metrics: list[str]) -> WarehouseSchema:
    return WarehouseSchema(
        metrics=metrics,
        dimensions=[DimensionInfo(name="country", level="user", values=["IN"], cardinality=1)],
        start_date=date(2026, 1, 1),
        end_date=date(2026, 2, 1),
        event_types=["app_open"],
        has_users=True,
        has_deployments=False,
        has_annotations=False,
        row_count=10,
    )


BUILTINS = ["dau", "wau", "events", "events_per_user", "sessions_per_user"]


def test_builtin_entries_and_what_is_derived_from_them() -> None:
    assert [m.name for m in catalogue.BUILTIN] == BUILTINS
    assert [m.name for m in catalogue.BUILTIN if m.is_ratio] == [
        "events_per_user",
        "sessions_per_user",
    ]
    assert CORE_METRICS == ("dau", "events", "events_per_user", "sessions_per_user")
    assert catalogue.get("wau").kind == "rolling_distinct"
    # segments add up for dau, not for a ratio (is_ratio is what the localizer reads)
    assert not catalogue.get("dau").is_ratio and catalogue.get("events_per_user").is_ratio
    assert {m.name: m.needs for m in (*catalogue.BUILTIN, *catalogue.SUGGESTED) if m.needs} == {
        "sessions_per_user": ("session_id",),
        "revenue": ("amount",),
        "checkout_conversion": ("event_type",),
        "error_rate": ("status",),
        "latency": ("latency_ms",),
        "signups": ("event_type",),
    }
    assert catalogue.get("error_rate").bad_direction == "spike"
    assert catalogue.get("error_rate").filter_columns == {"status"}
    assert [m.name for m in catalogue.BUILTIN if m.counts_events] == ["events"]
    assert [m.name for m in catalogue.BUILTIN if m.rolling] == ["wau"]
    assert [m.name for m in catalogue.BUILTIN if m.uses_sessions] == ["sessions_per_user"]


def test_available_metrics_follow_the_columns() -> None:
    assert catalogue.available(["user_id", "event_timestamp"]) == BUILTINS[:4]
    assert catalogue.available(["user_id", "session_id"]) == BUILTINS


def test_definitions_and_formats_read_plainly() -> None:
    assert catalogue.get("events_per_user").definition() == "events / distinct users (per day)"
    assert catalogue.get("wau").definition() == "distinct users over the trailing 7 days"
    conversion = catalogue.get("checkout_conversion").definition()
    assert conversion == (
        "distinct users where event_type = 'purchase' / "
        "distinct users where event_type = 'checkout_started' (per day)"
    )
    assert catalogue.get("latency").format(123.456) == "123.5 ms"
    assert catalogue.get("dau").format(12345) == "12,345 users"


def test_no_two_metrics_share_a_phrase() -> None:
    owners: dict[str, str] = {}
    for m in (*catalogue.BUILTIN, *catalogue.SUGGESTED):
        for phrase in m.phrases:
            assert owners.setdefault(phrase, m.name) == m.name, phrase


@pytest.mark.parametrize(
    ("text", "metric"),
    [
        ("DAU dropped while total events look normal. Why?", "dau"),
        ("Total events look normal, but DAU dropped", "dau"),
        ("Sessions fell although engagement is stable", "sessions_per_user"),
        ("events per user dropped for users in India", "events_per_user"),
        ("Why did daily active users fall?", "dau"),  # the label
    ],
)
def test_the_metric_asked_about_wins(text: str, metric: str) -> None:
    assert find_metric(" " + text.lower() + " ", BUILTINS) == metric


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("Why did revenue drop last week?", "revenue"),
        ("Revenue is down while DAU looks fine", "revenue"),
        ("Checkout conversion fell on Chrome", "checkout_conversion"),
        ("error rate spiked in Europe", "error_rate"),
        ("Why is the response time up?", "latency"),
    ],
)
def test_a_metric_the_warehouse_lacks_is_named_not_replaced(text: str, missing: str) -> None:
    q = parse_question(text, _schema(BUILTINS))
    assert (q.metric, q.missing_metric) == (None, missing)


def test_signups_in_a_retention_question_are_the_cohort_not_a_metric() -> None:
    q = parse_question("Did the release hurt retention of January signups?", _schema(BUILTINS))
    assert (q.metric, q.missing_metric, q.about_retention) == (None, None, True)


def test_a_metric_the_warehouse_has_is_no_longer_missing() -> None:
    q = parse_question("Why did revenue drop?", _schema([*BUILTINS, "revenue"]))
    assert (q.metric, q.missing_metric) == ("revenue", None)


def test_missing_metric_note_lists_what_exists() -> None:
    note = catalogue.missing_metric_note("revenue", ["dau", "events"])
    assert note == (
        "This warehouse has no revenue metric (revenue needs amount in the events, computed as "
        "sum of amount (per day)), so it was not investigated and no other metric was put in "
        "its place. Metrics it has: dau (daily active users), events."
    )


def _cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


QUESTION = "Why did revenue drop last week?"


def test_unknown_metric_honest_answer_json(small_world_path: Path) -> None:
    code, out, err = _cli(["investigate", QUESTION, "--warehouse", str(small_world_path), "--json"])
    assert code == 0, err
    record = json.loads(out)
    report = record["report"]
    assert report["anomaly"] == {
        "metric": "revenue",
        "direction": "none",
        "start": None,
        "end": None,
        "change_pct": None,
        "p_value": None,
    }
    assert report["summary"].startswith("This warehouse has no revenue metric")
    assert (
        "Metrics it has: dau (daily active users), wau (weekly active users)" in (report["summary"])
    )
    assert report["confidence"] == 0.0
    assert report["affected_segments"] == []
    # nothing was computed on another metric in its place
    assert record["steps"] == []


def test_unknown_metric_honest_answer_text(small_world_path: Path) -> None:
    code, out, err = _cli(["investigate", QUESTION, "--warehouse", str(small_world_path)])
    assert code == 0, err
    assert "This warehouse has no revenue metric" in out
    assert "Root cause:  Not investigated: the data has no revenue to look at." in out
    assert "Anomaly:     revenue none" in out
    assert (
        "define it in mai.toml (beside the warehouse, or --config) from your columns, e.g. "
        '[metrics.revenue] sum = "amount"' in out
    )
