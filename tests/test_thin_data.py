"""Too little history: the report says it cannot judge, instead of "nothing broke"."""

from __future__ import annotations

import asyncio
from datetime import date, datetime

import pytest
from test_autopilot import investigate

from metric_anomaly_investigator.core.actions.deployments import _days_between
from metric_anomaly_investigator.core.actions.formatting import plural
from metric_anomaly_investigator.core.actions.insights import MIN_HISTORY_DAYS
from metric_anomaly_investigator.core.models import DetectAnomaly, GenerateInsights
from metric_anomaly_investigator.core.tools import ToolExecutor
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.scenarios import generate_scenario
from metric_anomaly_investigator.warehouse.warehouse import Warehouse


@pytest.fixture(scope="module")
def three_days(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    out = tmp_path_factory.mktemp("thin") / "three_days.duckdb"
    wh = open_warehouse(generate_scenario("seed_android_india", out, users=400, days=3))
    yield wh
    wh.close()


def test_three_days_is_not_enough_history(three_days: Warehouse) -> None:
    _, record = investigate(three_days, "Why did DAU drop?")
    assert record.status == "completed", record.error
    report = record.report
    assert report is not None
    assert report.anomaly.direction == "none"
    assert report.confidence <= 0.3
    assert "Not enough history" in report.summary and "3 usable days" in report.summary
    assert "Nothing broke" not in report.root_cause
    assert any("Collect more history" in r for r in report.recommendations)
    # the other metrics span the same three days: one check says it all
    assert [s.action for s in record.steps] == ["detect_anomaly"]


def test_insights_step_reports_the_shortfall(three_days: Warehouse) -> None:
    ex = ToolExecutor(three_days)
    asyncio.run(ex.execute(DetectAnomaly(metric="dau")))
    result = asyncio.run(ex.execute(GenerateInsights()))
    assert any(
        f.startswith("Not enough history") and f"at least {MIN_HISTORY_DAYS}" in f
        for f in result.findings
    )


def test_enough_history_is_judged_as_usual(small_wh: Warehouse) -> None:
    """Nine weeks of the demo story: the drop, its segment and its deployment are named."""
    _, record = investigate(small_wh, "Why did DAU drop?")
    report = record.report
    assert report is not None
    assert "Not enough history" not in report.summary
    assert report.summary.startswith("dau dropped ")
    assert (report.anomaly.direction, report.anomaly.start) == ("drop", date(2026, 1, 28))
    assert report.confidence > 0.5
    assert report.affected_segments[0].filters["country"] == "IN"
    assert report.affected_segments[0].filters["platform"] == "android"
    assert report.correlated_events[0].id == "deploy_003"


@pytest.mark.parametrize(
    ("at", "phrase"),
    [
        ("2026-01-28T09:00:00", "on the day of"),
        ("2026-01-27T09:00:00", "1 day before"),
        ("2026-01-25T09:00:00", "3 days before"),
        ("2026-01-29T09:00:00", "1 day after"),
        ("2026-01-31T09:00:00", "3 days after"),
    ],
)
def test_days_between_is_pluralised(at: str, phrase: str) -> None:
    assert _days_between(datetime.fromisoformat(at).isoformat(), date(2026, 1, 28)) == phrase


def test_plural() -> None:
    assert plural(1, "day") == "1 day"
    assert [plural(n, "usable day") for n in (0, 2)] == ["0 usable days", "2 usable days"]
