"""core.autopilot: the no-anomaly report's wording and confidence on a world where nothing broke."""

from __future__ import annotations

import re

import pytest
from test_autopilot import investigate

from metric_anomaly_investigator.core.models import Report
from metric_anomaly_investigator.warehouse.connect import Warehouse, open_warehouse
from metric_anomaly_investigator.warehouse.generator import generate_world
from metric_anomaly_investigator.warehouse.scenarios import get_scenario

WEEKEND = get_scenario("weekend_seasonality_only")


@pytest.fixture(scope="module")
def weekend_wh(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """Only the usual weekend dip: the right answer is 'no anomaly'."""
    path = tmp_path_factory.mktemp("weekend") / "weekend.duckdb"
    generate_world(WEEKEND.world, path, users=2_500)
    wh = open_warehouse(path)
    yield wh
    wh.close()


def assert_no_anomaly_report(report: Report) -> None:
    assert report.summary.startswith("No anomaly: ")
    assert "stayed within their normal range" in report.summary
    assert "None" not in report.summary and "spiked" not in report.summary
    assert "dropped" not in report.summary
    assert report.root_cause.startswith("Nothing broke: ")
    assert report.anomaly.direction == "none"
    assert report.anomaly.metric == "dau"
    assert report.confidence == 0.8
    assert report.affected_segments == [] and report.correlated_events == []
    assert report.recommendations[0].startswith("No action needed")


@pytest.mark.parametrize("kind", ["clear", "vague", "misleading"])
def test_weekend_dip_is_reported_as_no_anomaly(weekend_wh: Warehouse, kind: str) -> None:
    _, record = investigate(weekend_wh, WEEKEND.questions[kind][0])
    assert record.report is not None
    assert_no_anomaly_report(record.report)
    detects = [s for s in record.steps if s.action == "detect_anomaly"]
    assert detects and detects[0].parameters["metric"] == "dau"
    assert all(s.success and s.data and s.data["detected"] is False for s in detects)


def test_the_demo_drop_report_names_cause_segment_and_size(small_wh: Warehouse) -> None:
    _, record = investigate(small_wh, "Why did DAU drop?")
    report = record.report
    assert report is not None
    assert re.match(
        r"dau dropped \d+\.\d% vs its seasonal baseline from 2026-01-28 onwards \(p=\S+\)\. "
        r"The change is concentrated in platform=android, country=IN, app_version=2\.3\.0 "
        r"\(-\d+\.\d% there, \d+% of the change\)\. It coincides with deploy_003 \(",
        report.summary,
    ), report.summary
    assert report.root_cause.startswith("deploy_003 (android, 2.3.0, IN, BR: ")
    assert report.root_cause.endswith(
        "dau drop in platform=android, country=IN, app_version=2.3.0."
    )
    assert (report.anomaly.metric, report.anomaly.direction) == ("dau", "drop")
    assert report.anomaly.change_pct is not None and -25 < report.anomaly.change_pct < -10
    assert report.anomaly.p_value is not None and report.anomaly.p_value < 1e-6
    assert report.confidence >= 0.8
    events = {e.id: e.confidence for e in report.correlated_events}
    assert events["deploy_003"] >= 0.9 and events.get("deploy_004", 0.0) == 0.0
    assert [s.filters for s in report.affected_segments][:1] == [
        {"platform": "android", "country": "IN", "app_version": "2.3.0"}
    ]
    assert record.steps[0].action == "detect_anomaly"
    assert "check_deployments" in [s.action for s in record.steps]
