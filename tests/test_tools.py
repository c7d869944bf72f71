"""The Tool Executor on the small demo world: validation, every action, the shared context."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta

import pytest

from metric_anomaly_investigator.core.models import (
    Action,
    AnalyzeRetention,
    CheckDeployments,
    DetectAnomaly,
    DrillDown,
    GenerateInsights,
    QueryMetric,
    SegmentByDimension,
    StatisticalTest,
    StepResult,
)
from metric_anomaly_investigator.core.tools import InvalidAction, ToolExecutor
from metric_anomaly_investigator.warehouse.warehouse import Warehouse


def run(ex: ToolExecutor, action: Action) -> StepResult:
    return asyncio.run(ex.execute(action))


@pytest.fixture(scope="module")
def investigated(small_wh: Warehouse) -> tuple[ToolExecutor, dict[str, StepResult]]:
    """One executor taken through the whole demo story, step by step."""
    ex = ToolExecutor(small_wh)
    results = {
        "detect": run(ex, DetectAnomaly(metric="dau", hint_date=date(2026, 1, 28))),
        "segment": run(ex, SegmentByDimension(metric="dau", dimension="country")),
        "drill": run(ex, DrillDown(metric="dau")),
    }
    top = ex.context.segments[0].filters
    results["test"] = run(ex, StatisticalTest(metric="dau", segment=top))
    results["rest"] = run(ex, StatisticalTest(metric="dau", segment=top, compare_to="rest"))
    results["deploys"] = run(ex, CheckDeployments())
    results["retention"] = run(ex, AnalyzeRetention(filters={"acquisition_channel": "organic"}))
    results["query"] = run(ex, QueryMetric(metric="events_per_user", group_by="platform"))
    return ex, results


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (DetectAnomaly(metric="daus"), "Unknown metric 'daus'. Valid metrics: dau"),
        (SegmentByDimension(metric="dau", dimension="contry"), "Did you mean 'country'"),
        (DetectAnomaly(metric="dau", filters={"country": "India"}), "is not a value of 'country'"),
        (DetectAnomaly(metric="dau", hint_date=date(2020, 1, 1)), "outside the data"),
        (QueryMetric(metric="dau", group_by="nope"), "Valid dimensions:"),
        (DrillDown(metric="dau", dimensions=["platfrom"]), "Did you mean 'platform'"),
    ],
)
def test_validate_explains_how_to_fix(small_wh: Warehouse, action: Action, message: str) -> None:
    ex = ToolExecutor(small_wh)
    with pytest.raises(InvalidAction, match=message):
        ex.validate(action)
    result = run(ex, action)
    assert not result.success and result.error and message.split("'")[0] in result.error


def test_validate_accepts_values_in_any_case(small_wh: Warehouse) -> None:
    ex = ToolExecutor(small_wh)
    ex.validate(StatisticalTest(metric="dau", segment={"platform": "Android", "country": "in"}))
    result = run(ex, StatisticalTest(metric="dau", segment={"platform": "ANDROID"}))
    assert result.success and result.data["segment"] == {"platform": "android"}


def test_schema_summary_lists_the_real_schema(small_wh: Warehouse) -> None:
    text = ToolExecutor(small_wh).schema_summary()
    s = small_wh.schema
    assert str(s.start_date) in text and str(s.end_date) in text
    assert all(m in text for m in s.metrics)
    assert all(d in text for d in s.dimension_names)
    assert "deployments" in text


def test_detect_sets_the_windows(investigated: tuple[ToolExecutor, dict[str, StepResult]]) -> None:
    ex, results = investigated
    detect = results["detect"]
    assert detect.success and detect.data["direction"] == "drop"
    assert abs((date.fromisoformat(detect.data["start"]) - date(2026, 1, 28)).days) <= 1
    assert "dropped" in detect.findings[0]
    assert detect.chart is not None and detect.chart.highlight is not None
    assert {s.style for s in detect.chart.series} == {"actual", "baseline"}
    ctx = ex.context
    assert ctx.window is not None and ctx.baseline is not None and ctx.anomaly is not None
    assert ctx.baseline[1] == ctx.window[0] - timedelta(days=1)
    assert (ctx.baseline[1] - ctx.baseline[0]).days + 1 <= 28


def test_segment_and_drill_find_the_cause(
    investigated: tuple[ToolExecutor, dict[str, StepResult]],
) -> None:
    ex, results = investigated
    seg = results["segment"]
    assert seg.success and seg.data["rows"][0]["value"] == "IN"
    assert seg.chart is not None and seg.chart.kind == "bar"
    drill = results["drill"]
    assert drill.success and drill.findings[0].startswith("Root cause:")
    top = ex.context.segments[0]
    assert top.filters == {"country": "IN", "platform": "android", "app_version": "2.3.0"}
    assert top.share_of_change is not None and top.share_of_change > 0.7
    assert "app_version" in drill.data["migrating"]


def test_statistical_tests(investigated: tuple[ToolExecutor, dict[str, StepResult]]) -> None:
    _, results = investigated
    before = results["test"]
    assert before.success and before.data["significant"] and before.data["rel_diff"] < -0.3
    assert before.data["ci_high"] < 0 and "significant" in before.findings[0]
    rest = results["rest"]
    assert rest.success and rest.data["compare_to"] == "rest" and rest.data["significant"]


def test_deployments_scored_against_the_segment(
    investigated: tuple[ToolExecutor, dict[str, StepResult]],
) -> None:
    ex, results = investigated
    deploys = results["deploys"]
    assert deploys.success and "deploy_003" in deploys.findings[0]
    by_id = {e["id"]: e for e in deploys.data["events"]}
    assert by_id["deploy_003"]["explains"] and not by_id["deploy_004"]["explains"]
    assert by_id["deploy_004"]["overlap"] == 0.0  # an iOS release cannot explain an Android drop
    assert [e.id for e in ex.context.events if e.explains] == ["deploy_003"]


def test_no_deployment_explains_a_segment_nothing_touched(
    investigated: tuple[ToolExecutor, dict[str, StepResult]],
) -> None:
    ex, _ = investigated
    result = run(ex, CheckDeployments(segment={"acquisition_channel": "referral"}))
    assert result.success and result.findings[0].startswith("No deployment explains it")


def test_retention_and_query(investigated: tuple[ToolExecutor, dict[str, StepResult]]) -> None:
    _, results = investigated
    ret = results["retention"]
    assert ret.success and ret.chart is not None and ret.chart.kind == "retention"
    d = ret.data
    assert d["filters"] == {"acquisition_channel": "organic"}
    assert d["d1_recent"] == pytest.approx(0.549, abs=0.001)
    assert d["d1_earlier"] == pytest.approx(0.665, abs=0.001)
    assert ret.findings[0] == (
        "Retention fell for recent cohorts (acquisition_channel=organic): day-1 66.5% → 54.9% "
        "(-17.4%): new users are churning."
    )
    cohorts = d["cohorts"]
    assert len(cohorts) == len(ret.chart.series) == 8  # the last eight weekly cohorts
    assert all(c["size"] > 0 and set(c["retention"]) == {"1", "7", "14", "28"} for c in cohorts)
    assert [s.label for s in ret.chart.series] == [f"cohort {c['cohort']}" for c in cohorts]
    query = results["query"]
    assert query.success and query.chart is not None
    groups = query.data["groups"]
    assert [g["group"]["platform"] for g in groups] == ["web", "android", "ios"]  # by mean
    assert [s.label for s in query.chart.series] == [
        "platform=web",
        "platform=android",
        "platform=ios",
    ]
    assert query.findings[0].startswith(
        "events_per_user for all traffic from 2025-12-11 to 2026-02-11: platform=web mean 5.19 "
    )


def test_every_result_is_json_and_recorded(
    investigated: tuple[ToolExecutor, dict[str, StepResult]],
) -> None:
    ex, results = investigated
    for result in results.values():
        dumped = result.model_dump_json()  # JSON-able data and chart
        assert json.loads(dumped)["success"] is True
        # nothing lost on the way but the typed outcome, which ``data`` holds as JSON
        assert StepResult.model_validate_json(dumped) == result.model_copy(update={"outcome": None})
        if result.outcome is not None:  # its fields are in the data, as JSON
            outcome = result.outcome.as_data()
            assert {k: result.data[k] for k in outcome} == outcome
    recorded = [h.result for h in ex.context.history]
    assert [r for r in recorded if any(r is x for x in results.values())] == list(results.values())
    summary = run(ex, GenerateInsights())
    assert summary.findings[0].startswith("Anomaly: dau drop -")
    assert summary.findings[0].endswith(" from 2026-01-28.")
    # (the events that explain it depend on which deployment checks ran on the shared executor)
    assert summary.findings[1] == "Segment: platform=android, country=IN, app_version=2.3.0"


def test_no_anomaly_on_a_quiet_segment(small_wh: Warehouse) -> None:
    ex = ToolExecutor(small_wh)
    result = run(ex, DetectAnomaly(metric="dau", filters={"platform": "web"}))
    assert result.success
    assert ex.context.anomaly is not None
    assert not result.data["detected"]
    assert result.findings[0].startswith("No anomaly")
    assert ex.context.window is None
    ex.reset()
    assert ex.context.anomaly is None and not ex.context.history
