"""core.autopilot: the analyst's steps and reports, on hand-made contexts and on generated worlds.

The hand-made ones (a stand-in executor with a schema and a context, no warehouse) check one
decision or one sentence each and run in milliseconds; the world-based ones check the same end to
end: the no-anomaly report where nothing broke and the demo drop's report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from types import SimpleNamespace

import pytest
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    RetryFeedbackPart,
    RetryInfo,
    ToolReturnPart,
    UserPromptPart,
)
from test_autopilot import investigate

from metric_anomaly_investigator.core.actions.charts import line
from metric_anomaly_investigator.core.agents import InvestigationDeps
from metric_anomaly_investigator.core.analyst_base import Prompt, read_turn, short_error
from metric_anomaly_investigator.core.autopilot import Analyst
from metric_anomaly_investigator.core.context import (
    Anomaly,
    CohortBreak,
    EventFinding,
    HistoryEntry,
    InvestigationContext,
    SegmentFinding,
)
from metric_anomaly_investigator.core.models import (
    Action,
    AnalyzeRetention,
    ChartSeries,
    CheckDeployments,
    DetectAnomaly,
    DrillDown,
    GenerateInsights,
    Investigation,
    ProfileAccounts,
    Report,
    SegmentByDimension,
    StatisticalTest,
    Step,
    StepResult,
)
from metric_anomaly_investigator.core.outcomes import SegmentTest
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.generator import generate_world
from metric_anomaly_investigator.warehouse.scenarios import get_scenario
from metric_anomaly_investigator.warehouse.types import DimensionInfo, PartialDay, WarehouseSchema
from metric_anomaly_investigator.warehouse.warehouse import Warehouse

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
        r"\(-\d+\.\d% vs the weeks before \(trend-adjusted\), \d+% of the change\)\. "
        r"It coincides with deploy_003 \(",
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


# -- the analyst on hand-made contexts (no warehouse: fast, one function under test each) ------

SCHEMA = WarehouseSchema(
    metrics=["dau", "events", "sessions_per_user"],
    dimensions=[
        DimensionInfo(name="platform", level="event", values=["android", "ios"], cardinality=2),
        DimensionInfo(name="country", level="user", values=["IN", "US", "BR"], cardinality=3),
    ],
    start_date=date(2026, 1, 1),
    end_date=date(2026, 2, 28),
    event_types=["app_open"],
    has_users=True,
    has_deployments=True,
    has_annotations=False,
    row_count=1_000,
)
ANDROID_IN = {"platform": "android", "country": "IN"}
DROP = Anomaly(
    metric="dau",
    filters={},
    direction="drop",
    kind="step",
    start=date(2026, 1, 28),
    end=date(2026, 2, 28),
    change_pct=-16.04,
    p_value=1e-8,
    reason="a step down",
)
NONE = Anomaly("dau", {}, "none", "none", None, None, None, 1.0, "no break beyond noise")
DEPLOY = EventFinding(
    kind="deployment",
    id="deploy_003",
    at="2026-01-28T10:00:00",
    description="android, IN: new onboarding",
    proximity=1.0,
    overlap=1.0,
    score=1.0,
    explains=True,
    segment=ANDROID_IN,
)
OTHER_DEPLOY = EventFinding(
    "deployment", "deploy_004", "2026-01-30T10:00:00", "ios: fix", 0.125, 0.0, 0.0, False
)


@dataclass
class FakeExecutor:
    """What the analyst reads of a Tool Executor: its schema, its context, dimension scores."""

    schema: WarehouseSchema
    context: InvestigationContext = field(default_factory=InvestigationContext)
    scores: dict[str, float] = field(default_factory=dict)

    def rank_dimensions(self, metric_name: str, filters: dict[str, str]) -> dict[str, float]:
        return self.scores


def analyst(
    anomaly: Anomaly | None = None,
    segments: tuple[SegmentFinding, ...] = (),
    events: tuple[EventFinding, ...] = (),
    history: tuple[tuple[Action, StepResult], ...] = (),
    scores: dict[str, float] | None = None,
    schema: WarehouseSchema = SCHEMA,
) -> Analyst:
    ctx = InvestigationContext(
        anomaly=anomaly,
        segments=list(segments),
        events=list(events),
        history=[HistoryEntry(a, r) for a, r in history],
    )
    if anomaly is not None:
        ctx.checked[anomaly.metric] = anomaly
    return Analyst(FakeExecutor(schema, ctx, scores or {}))  # type: ignore[arg-type]


def report(a: Analyst, question: str = "Why did DAU drop?") -> Report:
    return a.report(Prompt(question, follow_up=False, steps_used=0, max_steps=12))


OK = StepResult(success=True)


def ios_test_result(
    rel_diff: float | None,
    p_value: float | None,
    segment: dict[str, str] | None = None,
    holds_found: float | None = None,
) -> StepResult:
    """A successful statistical_test of ``segment`` (platform=ios) for dau, with these figures."""
    ios = segment or {"platform": "ios"}
    outcome = SegmentTest(
        metric="dau",
        segment=ios,
        tested=ios,
        compare_to="before",
        n_a=14,
        n_b=14,
        mean_a=100.0,
        mean_b=None if rel_diff is None else 100.0 * (1 + rel_diff),
        diff=None if rel_diff is None else 100.0 * rel_diff,
        rel_diff=rel_diff,
        ci_low=None,
        ci_high=None,
        p_value=p_value,
        mannwhitney_p=None,
        effect_size=None,
        significant=p_value is not None and p_value < 0.05,
        holds_found=holds_found,
    )
    return StepResult(success=True, outcome=outcome, data=outcome.as_data())


def cohort_break(
    segment: dict[str, str], change_pct: float | None, p_value: float | None = None
) -> CohortBreak:
    """Cohorts who signed up from 2026-01-10 to 2026-01-20 retaining worse."""
    return CohortBreak(
        segment, date(2026, 1, 10), date(2026, 1, 20), 0.5, 0.4, change_pct, p_value, 9.0
    )


def failed(error: str) -> StepResult:
    return StepResult(success=False, error=error)


def test_nothing_detected_reads_as_no_anomaly_not_a_spike_from_none() -> None:
    r = report(analyst(NONE))
    assert r.summary == "No anomaly: dau stayed within their normal range — no break beyond noise."
    assert r.root_cause.startswith("Nothing broke: the movement asked about is normal variation")
    assert (r.anomaly.metric, r.anomaly.direction, r.anomaly.p_value) == ("dau", "none", 1.0)
    assert r.anomaly.start is None and r.affected_segments == [] and r.correlated_events == []
    assert r.recommendations[0].startswith("No action needed; compare like-for-like weekdays")
    assert r.confidence == 0.8


def test_no_check_at_all_is_a_low_confidence_no_anomaly() -> None:
    r = report(analyst(None))
    assert r.summary == (
        "No anomaly: the metrics stayed within their normal range — no metric was checked."
    )
    assert (r.anomaly.metric, r.anomaly.p_value, r.confidence) == ("dau", None, 0.3)


def test_the_checked_day_note_follows_the_no_anomaly_verdict() -> None:
    hinted = DetectAnomaly(metric="dau", hint_date=date(2026, 1, 25))
    findings = ["verdict", "a dip", "Jan 25 is a Sunday: the usual weekly pattern."]
    r = report(analyst(NONE, history=((hinted, StepResult(success=True, findings=findings)),)))
    assert r.summary.endswith(
        "no break beyond noise. Jan 25 is a Sunday: the usual weekly pattern."
    )
    unhinted = DetectAnomaly(metric="dau")
    r = report(analyst(NONE, history=((unhinted, StepResult(success=True, findings=findings)),)))
    assert r.summary.endswith("no break beyond noise.")


def test_a_failed_check_with_nothing_known_is_undetermined() -> None:
    r = report(analyst(None, history=((DetectAnomaly(metric="dau"), failed("boom\nstack")),)))
    assert r.summary == (
        "Could not establish whether dau moved: the anomaly check failed (boom). "
        "No conclusion either way."
    )
    assert r.root_cause.startswith("Undetermined: the anomaly check failed")
    assert (r.anomaly.direction, r.confidence) == ("none", 0.1)


def test_a_metric_the_warehouse_lacks_is_named_not_substituted() -> None:
    r = report(analyst(None), "Why did revenue fall?")
    assert r.anomaly.metric == "revenue" and r.anomaly.direction == "none"
    assert r.root_cause.startswith("Not investigated: the data has no ")
    assert (
        r.recommendations[1]
        == "Or ask about a metric it has, e.g. 'Why did dau change last week?'."
    )
    assert r.confidence == 0.0


def test_the_demo_drop_report() -> None:
    seg = SegmentFinding(ANDROID_IN, change_pct=-63.2, share_of_change=0.9, score=1.0, p_value=1e-9)
    history = ((CheckDeployments(), OK),)
    r = report(analyst(DROP, (seg,), (DEPLOY, OTHER_DEPLOY), history))
    assert r.summary == (
        "dau dropped 16.0% vs its seasonal baseline from 2026-01-28 onwards (p=1e-08). "
        "The change is concentrated in platform=android, country=IN (-63.2% vs the weeks before "
        "(trend-adjusted), 90% of the change). It coincides with deploy_003 (android, IN: new "
        "onboarding)."
    )
    assert r.root_cause == (
        "deploy_003 (android, IN: new onboarding) — dau drop in platform=android, country=IN."
    )
    assert (r.anomaly.start, r.anomaly.change_pct, r.anomaly.p_value) == (
        date(2026, 1, 28),
        -16.04,
        1e-8,
    )
    assert [(e.id, e.description, e.confidence) for e in r.correlated_events] == [
        ("deploy_003", "android, IN: new onboarding", 0.95),
        ("deploy_004", "ruled out: ios: fix", 0.0),
    ]
    (affected,) = r.affected_segments
    assert affected.filters == ANDROID_IN and affected.confidence == 0.95
    assert (
        affected.description
        == "platform=android, country=IN: -63.2% vs the weeks before (trend-adjusted), 90% of the "
        "change, p=1e-09; a release in its scope: deploy_003 (android, IN: new onboarding) at "
        "2026-01-28"
    )
    assert r.recommendations == [
        "Halt or roll back deploy_003 for platform=android, country=IN and check its crash, "
        "error and funnel logs.",
        "Monitor dau for platform=android, country=IN daily until it returns to its baseline.",
    ]
    assert r.confidence == 0.88  # 0.45 + 0.15 (p < 0.001) + 0.2 * 0.9 (share) + 0.1 (explained)


@pytest.mark.parametrize(
    ("p_value", "share", "expected"),
    [
        (0.01, 0.2, 0.54),  # p not < 0.01: 0.3 + 0.6 * 0.4
        (0.009, 0.2, 0.59),  # significant: + 0.05
        (0.05, 0.2, 0.34),  # p >= 0.05: - 0.2
        (0.049, 0.5, 0.9),  # share capped at 0.5 → 0.3 + 0.6
        (None, None, 0.3),
        (0.5, 0.0, 0.1),
        (0.5, -1.0, 0.05),  # floor
    ],
)
def test_segment_confidence(p_value: float | None, share: float | None, expected: float) -> None:
    seg = SegmentFinding(
        ANDROID_IN, change_pct=None, share_of_change=share, score=1.0, p_value=p_value
    )
    affected = analyst(DROP)._affected(seg)
    assert affected.confidence == expected
    shown = f"{100 * (share or 0):.0f}% of the change"
    if share is not None and share < 0:  # a segment that moved the other way says so
        shown = f"against the change ({100 * share:.0f}% of it)"
    assert affected.description.startswith(f"platform=android, country=IN: {shown}")


@pytest.mark.parametrize(
    ("p_value", "share", "explained", "expected"),
    [
        (1e-3, 0.9, False, 0.63),  # p not < 0.001
        (9e-4, 0.9, False, 0.78),
        (None, 2.0, True, 0.75),  # share counted up to 1
        (1e-8, 1.0, True, 0.9),
    ],
)
def test_report_confidence(
    p_value: float | None, share: float, explained: bool, expected: float
) -> None:
    seg = SegmentFinding(ANDROID_IN, -50.0, share, 1.0)
    a = Anomaly("dau", {}, "drop", "step", date(2026, 1, 28), None, -10.0, p_value, "")
    events = [DEPLOY] if explained else []
    assert analyst(a)._confidence(a, [seg], events) == expected


def test_no_segment_no_deploy_check_reads_as_spread() -> None:
    r = report(analyst(DROP))
    assert r.summary == (
        "dau dropped 16.0% vs its seasonal baseline from 2026-01-28 onwards (p=1e-08). "
        "It is spread across all segments."
    )
    assert r.root_cause == "A broad drop of dau not tied to one segment."
    assert r.confidence == 0.6
    assert r.recommendations == [
        "Monitor dau for all users daily until it returns to its baseline."
    ]


def test_a_deploy_check_that_ran_rules_deploys_out_and_one_that_failed_does_not() -> None:
    seg = SegmentFinding(ANDROID_IN, -63.2, 0.9, 1.0)
    ran = report(analyst(DROP, (seg,), (OTHER_DEPLOY,), ((CheckDeployments(), OK),)))
    assert ran.summary.endswith("90% of the change). No deployment explains it.")
    assert (
        ran.root_cause
        == "dau drop concentrated in platform=android, country=IN; no deployment explains it."
    )
    assert ran.recommendations[0].startswith("Talk to the owners of platform=android, country=IN: ")
    assert ran.recommendations[0].endswith("started on 2026-01-28.")
    broke = report(analyst(DROP, (seg,), (), ((CheckDeployments(), failed("no table")),)))
    assert broke.summary.endswith(
        " The deployment check failed (no table): whether a deployment explains it is not known."
    )
    assert broke.root_cause.endswith(
        "; whether a deployment explains it is not known (the check failed)."
    )
    unchecked = report(analyst(DROP, (seg,)))
    assert unchecked.summary.endswith("90% of the change).")
    assert unchecked.root_cause == "dau drop concentrated in platform=android, country=IN."


def test_a_failed_segment_step_is_not_known_not_spread() -> None:
    history = ((SegmentByDimension(metric="dau", dimension="country"), failed("bad column")),)
    r = report(analyst(DROP, history=history))
    assert r.summary.endswith(
        " Where it concentrates is not known: the segment step failed (bad column)."
    )
    assert r.root_cause == "A drop of dau whose segment is not known (the segment step failed)."
    # a drill-down with nothing informative to search is no failure
    drilled = report(analyst(DROP, history=((DrillDown(metric="dau"), failed("none left")),)))
    assert drilled.summary.endswith("It is spread across all segments.")
    scored = analyst(DROP, history=((DrillDown(metric="dau"), failed("none left")),))
    scored.ctx.dimension_scores = {"country": 0.15}
    assert report(scored).summary.endswith("the segment step failed (none left).")


def test_a_spike_until_a_day_before_the_end() -> None:
    a = Anomaly("events", {}, "spike", "step", date(2026, 2, 1), date(2026, 2, 5), 40.0, 0.02, "")
    seg = SegmentFinding({"country": "US"}, None, None, 1.0)
    r = report(analyst(a, (seg,)), "Why did events spike?")
    assert r.summary == (
        "events spiked 40.0% vs its seasonal baseline from 2026-02-01 to 2026-02-05 (p=0.02). "
        "The change is concentrated in country=US."
    )
    assert r.root_cause == "Extra activity concentrated in country=US (possibly automated traffic)."
    assert r.recommendations[0].startswith(
        "Inspect the accounts behind the extra activity in country=US"
    )
    assert len(r.recommendations) == 2


def test_the_question_s_hypothesis_is_refuted_with_its_numbers() -> None:
    seg = SegmentFinding(ANDROID_IN, -63.2, 0.9, 1.0)
    tested = StatisticalTest(metric="dau", segment={"platform": "ios"})
    result = ios_test_result(0.012, 0.4)
    r = report(analyst(DROP, (seg,), history=((tested, result),)), "Why did DAU drop on iOS?")
    assert r.summary.endswith(
        " The question's hypothesis (platform=ios) is not supported: it moved +1.2% vs the weeks "
        "before (p=0.4)."
    )
    untested = report(analyst(DROP, (seg,)), "Why did DAU drop on iOS?")
    assert untested.summary.endswith(
        " The question's hypothesis (platform=ios) is not where the change is."
    )
    inside = report(
        analyst(
            DROP,
            (seg,),
            history=((StatisticalTest(metric="dau", segment={"country": "IN"}), result),),
        ),
        "Why did DAU drop in India?",
    )
    assert inside.summary.endswith("90% of the change).")


def steps(a: Analyst, question: str, n: int) -> list[tuple[str, Action]]:
    """The analyst's next ``n`` decisions, each recorded as a successful step."""
    out = []
    for _ in range(n):
        d = a.decide(Prompt(question, False, len(a.ctx.history), 12))
        out.append((d.reasoning, d.action))
        a.ctx.history.append(HistoryEntry(d.action, OK))
    return out


def test_the_anomaly_comes_first_from_the_day_the_question_names() -> None:
    ((why, act),) = steps(analyst(None), "Why did DAU drop on Jan 28?", 1)
    assert act == DetectAnomaly(metric="dau", hint_date=date(2026, 1, 28))
    assert why == (
        "Establish whether and when dau broke from its seasonal baseline, starting from the "
        "date mentioned (2026-01-28)."
    )
    ((why, act),) = steps(analyst(None), "Why did DAU drop on Jan 28, 2025?", 1)
    assert act == DetectAnomaly(metric="dau") and why.endswith("seasonal baseline.")


def test_no_break_checks_the_other_core_metrics_then_concludes() -> None:
    a = analyst(NONE, history=((DetectAnomaly(metric="dau"), OK),))
    decided = steps(a, "Why did DAU drop?", 3)
    assert [act for _, act in decided] == [
        DetectAnomaly(metric="events"),
        DetectAnomaly(metric="sessions_per_user"),
        GenerateInsights(),
    ]
    assert decided[0][0] == "dau shows no break; check events before concluding."
    assert decided[2][0] == (
        "No metric broke from its seasonal baseline: concluding there is no anomaly."
    )


def test_no_break_in_a_retention_question_compares_cohorts() -> None:
    a = analyst(NONE, history=((DetectAnomaly(metric="dau"), OK),))
    ((why, act),) = steps(a, "Why did retention drop?", 1)
    assert act == AnalyzeRetention() and why.startswith("No break in the daily metric")


def test_a_break_is_segmented_localized_tested_and_checked_for_changes() -> None:
    a = analyst(DROP, history=((DetectAnomaly(metric="dau"), OK),))
    a.executor.scores = {"platform": 0.1, "country": 0.8, "channel": 0.5, "os": 0.4}  # type: ignore[attr-defined]
    decided = steps(a, "Why did DAU drop on iOS?", 3)
    assert [act for _, act in decided] == [
        SegmentByDimension(metric="dau", dimension="country"),
        SegmentByDimension(metric="dau", dimension="channel"),
        DrillDown(metric="dau"),
    ]
    assert decided[0][0] == (
        "The change concentrates along country (score 0.80): compare its values before and "
        "during the anomaly."
    )
    a.ctx.segments = [SegmentFinding(ANDROID_IN, -63.2, 0.9, 1.0)]
    decided = steps(a, "Why did DAU drop on iOS?", 5)
    assert [act for _, act in decided] == [
        StatisticalTest(metric="dau", segment=ANDROID_IN),
        StatisticalTest(metric="dau", segment={"platform": "ios"}),
        CheckDeployments(),
        GenerateInsights(),
        GenerateInsights(),
    ]
    assert decided[0][0] == "Test whether platform=android, country=IN changed significantly."
    assert decided[1][0].startswith("The question points at platform=ios: test that hypothesis")
    assert decided[3][0] == (
        "The anomaly, the affected segment and the changes around it are established."
    )


def test_a_drift_down_looks_at_the_segment_s_retention() -> None:
    drift = Anomaly("dau", {}, "drop", "drift", date(2026, 1, 28), None, -8.0, 1e-4, "")
    a = analyst(drift, (SegmentFinding(ANDROID_IN, -20.0, 0.8, 1.0),))
    for act in (
        DetectAnomaly(metric="dau"),
        DrillDown(metric="dau"),
        StatisticalTest(metric="dau", segment=ANDROID_IN),
        CheckDeployments(),
        ProfileAccounts(segment=ANDROID_IN),  # a drift is profiled first (how people moved)
    ):
        a.ctx.history.append(HistoryEntry(act, OK))
    ((why, act),) = steps(a, "Why did DAU drop?", 1)
    assert act == AnalyzeRetention(filters={"country": "IN"})  # the user-level part
    assert why == "Check whether recent signup cohorts retain worse than earlier ones."
    a.ctx.anomaly = DROP  # a step with a segment: no churn suspected
    assert steps(a, "Why did DAU drop?", 1)[0][1] == GenerateInsights()


def test_the_step_budget_and_a_retry_end_the_run() -> None:
    a = analyst(None)
    last = a.decide(Prompt("Why did DAU drop?", False, 11, 12))
    assert last.action == GenerateInsights()
    assert last.reasoning == "The step budget is nearly used up: writing the report."
    assert a.decide(Prompt("Why did DAU drop?", False, 10, 12)).action == DetectAnomaly(
        metric="dau"
    )
    rejected = Prompt("Why did DAU drop?", False, 1, 12, rejected=True, data_steps=1)
    assert a.decide(rejected).action == GenerateInsights()
    # the one rejection before any data: asked for a data step first, the analyst takes one
    nothing_seen = Prompt("Why did DAU drop?", False, 0, 12, rejected=True, data_steps=0)
    assert a.decide(nothing_seen).action == DetectAnomaly(metric="dau")


def thin_detect(days: int) -> tuple[Action, StepResult]:
    actual = ChartSeries(
        label="dau", x=[str(i) for i in range(days)], y=[5.0] * days, style="actual"
    )
    return DetectAnomaly(metric="dau"), StepResult(
        success=True, chart=line("dau", [actual], "users")
    )


def test_too_little_history_is_said_not_judged() -> None:
    a = analyst(NONE, history=(thin_detect(10),))
    ((why, act),) = steps(a, "Why did DAU drop?", 1)
    assert act == GenerateInsights()
    assert why.startswith("Only 10 usable days of data, fewer than the ")
    r = report(a)
    assert r.summary.startswith(
        "Not enough history to judge: the data covers 2026-01-01 to 2026-02-28, only 10 usable "
        "days per metric"
    )
    assert r.root_cause.startswith("Undetermined: there is too little history")
    assert (r.anomaly.direction, r.confidence) == ("none", 0.2)


def test_a_retention_decline_without_a_daily_break_is_reported_as_such() -> None:
    a = analyst(NONE)
    a.ctx.retention = cohort_break({"country": "IN"}, change_pct=-25.0, p_value=0.01)
    r = report(a, "Why did retention drop?")
    assert r.summary == (
        "Retention dropped for users who signed up from 2026-01-10 to 2026-01-20 (-25% vs "
        "earlier cohorts), concentrated in country=IN. Daily metrics show no break of their own."
    )
    assert r.root_cause == "Recent cohorts in country=IN retain worse than earlier ones."
    assert (r.anomaly.metric, r.anomaly.direction, r.anomaly.p_value) == ("retention", "drop", 0.01)
    assert [s.description for s in r.affected_segments] == [
        "country=IN: retention of cohorts from 2026-01-10 to 2026-01-20 -25% vs earlier cohorts"
    ]
    assert r.confidence == 0.7
    a.ctx.retention = cohort_break({}, change_pct=None)
    r = report(a, "Why did retention drop?")
    assert r.summary == (
        "Retention dropped for users who signed up from 2026-01-10 to 2026-01-20, concentrated "
        "in all new users. Daily metrics show no break of their own."
    )
    assert r.affected_segments == [] and r.confidence == 0.5


def test_a_question_without_a_metric_starts_from_dau_or_the_first_metric() -> None:
    ((_, act),) = steps(analyst(None), "What happened last week?", 1)
    assert act == DetectAnomaly(metric="dau")
    no_dau = SCHEMA.model_copy(update={"metrics": ["events", "sessions_per_user"]})
    ((_, act),) = steps(analyst(None, schema=no_dau), "What happened last week?", 1)
    assert act == DetectAnomaly(metric="events")


def test_a_new_question_gets_a_new_plan_and_only_its_own_steps_count() -> None:
    a = analyst(None)
    assert a.decide(Prompt("Why did DAU drop?", False, 0, 12)).action == DetectAnomaly(metric="dau")
    a.ctx.history.append(HistoryEntry(DetectAnomaly(metric="dau"), OK))
    # the same step count, another question: the plan follows the question
    asked = a.decide(Prompt("Why did events drop?", False, 1, 12))
    assert asked.action == DetectAnomaly(metric="events")
    # an earlier run's check of dau is not this run's: this run (one step so far) checks it
    a.ctx.history.append(HistoryEntry(DrillDown(metric="events"), OK))
    again = a.decide(Prompt("Why did DAU fall?", False, 1, 12))
    assert again.action == DetectAnomaly(metric="dau")


def test_the_no_anomaly_root_cause_and_advice() -> None:
    r = report(analyst(NONE))
    assert r.root_cause == (
        "Nothing broke: the movement asked about is normal variation (e.g. the usual weekly "
        "pattern)."
    )
    assert r.recommendations == [
        "No action needed; compare like-for-like weekdays rather than consecutive days.",
        "Keep monitoring against the seasonal baseline; re-run if the level stays off for "
        "several days.",
    ]


def test_events_that_stopped_being_recorded_point_at_the_tracking() -> None:
    seg = SegmentFinding({"event_type": "screen_view"}, -90.0, 1.0, 1.0)
    recs = analyst(DROP)._recommendations(DROP, [seg], [])
    assert recs == [
        "Check the tracking of event_type=screen_view: events stopped being recorded — fix the "
        "logging and annotate the gap in dashboards.",
        "Talk to the owners of event_type=screen_view: look for an outage, a policy or pricing "
        "change, or a partner issue that started on 2026-01-28.",
        "Monitor dau for event_type=screen_view daily until it returns to its baseline.",
    ]


def test_an_error_is_shortened_to_its_first_line() -> None:
    assert short_error("  table missing\n  at line 3") == "table missing"
    assert short_error(" \n ") == "no reason given"
    long = "x" * 200
    assert short_error(long) == "x" * 159 + "…" and short_error("y" * 160) == "y" * 160
    r = report(analyst(None, history=((DetectAnomaly(metric="dau"), failed("")),)))
    assert "the anomaly check failed (no reason given)" in r.summary


def test_two_segments_and_no_p_value() -> None:
    a = Anomaly("dau", {}, "drop", "step", date(2026, 1, 28), None, None, None, "")
    segs = (
        SegmentFinding(ANDROID_IN, -63.2, 0.6, 1.0),
        SegmentFinding({"country": "BR"}, -20.0, 0.3, 0.5),
    )
    r = report(analyst(a, segs))
    assert r.summary == (
        "dau dropped vs its seasonal baseline from 2026-01-28 onwards. It has two separate "
        "causes: platform=android, country=IN (-63.2% vs the weeks before (trend-adjusted), 60% "
        "of the change); country=BR (-20.0% vs the weeks before (trend-adjusted), 30% of the "
        "change)."
    )
    assert r.root_cause == (
        "Two separate causes: platform=android, country=IN — a drop whose cause is not "
        "established; country=BR — a drop whose cause is not established."
    )
    assert r.confidence == 0.63  # 0.45 + 0.2 * 0.9


def test_correlated_events_keep_their_time() -> None:
    r = report(analyst(DROP, (), (DEPLOY, OTHER_DEPLOY)))
    assert [(e.kind, e.at) for e in r.correlated_events] == [
        ("deployment", datetime(2026, 1, 28, 10)),
        ("deployment", datetime(2026, 1, 30, 10)),
    ]
    assert (
        r.root_cause == "A broad drop of dau not tied to one segment, coinciding with deploy_003."
    )


def test_churn_without_a_segment_looks_at_everyone_s_retention() -> None:
    drift = Anomaly("dau", {}, "drop", "drift", date(2026, 1, 28), None, -8.0, 1e-4, "")
    done = (DetectAnomaly(metric="dau"), DrillDown(metric="dau"), CheckDeployments())
    a = analyst(drift, history=tuple((act, OK) for act in done))
    # a drift is profiled first (how people moved), then everyone's retention
    assert steps(a, "Why did DAU drop?", 1)[0][1] == ProfileAccounts(segment={})
    a.ctx.history.append(HistoryEntry(ProfileAccounts(segment={}), OK))
    assert steps(a, "Why did DAU drop?", 1)[0][1] == AnalyzeRetention()


def test_a_hypothesis_tested_without_a_change_figure() -> None:
    seg = SegmentFinding(ANDROID_IN, -63.2, 0.9, 1.0)
    tested = StatisticalTest(metric="dau", segment={"platform": "ios"})
    result = ios_test_result(None, 0.3)
    r = report(analyst(DROP, (seg,), history=((tested, result),)), "Why did DAU drop on iOS?")
    assert r.summary.endswith(
        " The question's hypothesis (platform=ios) is not supported: it moved n/a (p=0.3)."
    )
    no_p = ios_test_result(0.01, None)
    r = report(analyst(DROP, (seg,), history=((tested, no_p),)), "Why did DAU drop on iOS?")
    assert r.summary.endswith(
        " The question's hypothesis (platform=ios) is not supported: it moved +1.0% vs the weeks "
        "before."
    )


def test_the_undetermined_report_asks_to_fix_and_re_run() -> None:
    r = report(analyst(None, history=((DetectAnomaly(metric="dau"), failed("no table")),)))
    assert r.recommendations == [
        "Fix the cause of the failure above (the warehouse, its columns or types) and "
        "re-run the investigation."
    ]


def test_a_metric_the_warehouse_lacks_ends_the_run_at_once() -> None:
    decision = analyst(None).decide(Prompt("Why did revenue fall?", False, 0, 12))
    assert decision.action == GenerateInsights()
    assert decision.reasoning == (
        "The question asks about revenue, which this warehouse does not have: saying so rather "
        "than investigating another metric in its place."
    )


def test_the_report_weighs_only_this_run_s_steps() -> None:
    seg = SegmentFinding(ANDROID_IN, -63.2, 0.9, 1.0)
    earlier = ((CheckDeployments(), failed("the deployments table was locked")),)
    a = analyst(DROP, (seg,), history=earlier)
    a.decide(Prompt("Why did DAU drop?", False, 0, 12))  # a new run starts after the old step
    a.ctx.history.append(HistoryEntry(DetectAnomaly(metric="dau"), OK))
    r = report(a)
    assert r.summary.endswith("90% of the change).")  # the old run's failed check is not this one's
    assert "deployment" not in r.root_cause


def test_what_the_data_range_leaves_out_ends_the_summary() -> None:
    partial = PartialDay(
        day=date(2026, 3, 1),
        edge="end",
        data_from=time(0, 0),
        data_until=time(6, 0),
        events=120,
        usual_events=900.0,
    )
    a = analyst(NONE, schema=SCHEMA.model_copy(update={"partial_days": [partial]}))
    r = report(a)
    assert r.summary == (
        "No anomaly: dau stayed within their normal range — no break beyond noise. "
        + partial.note()
    )
    assert partial.note().startswith("2026-03-01 is incomplete (data until 06:00")


def request(*parts: UserPromptPart | ToolReturnPart | RetryFeedbackPart) -> list[ModelMessage]:
    return [ModelRequest(parts=list(parts))]


def test_the_turn_gives_the_question_the_budget_and_a_rejection() -> None:
    done = Step(index=1, action="detect_anomaly", reasoning="r", success=True)
    failed = Step(index=2, action="drill_down", reasoning="r", success=False, error="boom")
    earlier = Investigation(
        id="e",
        question="Why did DAU drop?",
        model="autopilot",
        warehouse="w",
        started_at=datetime(2026, 1, 30, tzinfo=UTC),
        steps=[done],
    )
    deps = InvestigationDeps(
        executor=SimpleNamespace(),  # type: ignore[arg-type]
        question="Is Brazil affected?",
        steps=[done, failed],
        earlier=[earlier],
        max_steps=10,
    )
    prompt = read_turn(deps, request(UserPromptPart(content="(the rendered prompt)")))
    assert (prompt.question, prompt.follow_up, prompt.steps_used, prompt.max_steps) == (
        "Is Brazil affected?",
        True,
        2,
        10,
    )
    assert (prompt.rejected, prompt.data_steps) == (False, 2)  # one earlier, one now
    first = InvestigationDeps(executor=deps.executor, question="Why did DAU drop?")
    assert read_turn(first, []) == Prompt("Why did DAU drop?", False, 0, 12)
    rejected = ToolReturnPart("decide_next_step", "bad", tool_call_id="1", outcome="retried")
    assert read_turn(deps, request(UserPromptPart(content="p"), rejected)).rejected
    answered = ToolReturnPart("decide_next_step", "ok", tool_call_id="2")
    assert not read_turn(deps, request(UserPromptPart(content="p"), answered)).rejected
    feedback = RetryFeedbackPart("no output", retry=RetryInfo(cause="model_retry"))
    assert read_turn(deps, request(UserPromptPart(content="p"), feedback)).rejected
    # only the last request counts: a rejection answered since is over
    later = [*request(rejected), *request(UserPromptPart(content="p"))]
    assert not read_turn(deps, later).rejected


def test_a_follow_up_reuses_the_established_anomaly() -> None:
    a = analyst(DROP, (SegmentFinding(ANDROID_IN, -63.2, 0.9, 1.0),))
    a.ctx.metric = "dau"
    decision = a.decide(Prompt("Is Brazil affected too?", True, 0, 12))
    assert decision.action == DrillDown(metric="dau")  # no new anomaly check: it is known
    fresh = analyst(None)
    fresh.ctx.metric = "events"  # a follow-up asks about the metric established before
    assert fresh.decide(Prompt("And before that?", True, 0, 12)).action == DetectAnomaly(
        metric="events"
    )


def test_a_ratio_metric_s_drop_is_not_churn() -> None:
    ratio = Anomaly(
        "sessions_per_user", {}, "drop", "drift", date(2026, 1, 28), None, -8.0, 1e-4, ""
    )
    done = (
        DetectAnomaly(metric="sessions_per_user"),
        DrillDown(metric="sessions_per_user"),
        CheckDeployments(),
        ProfileAccounts(segment={}),  # a drift is profiled first (how people moved)
    )
    a = analyst(ratio, history=tuple((act, OK) for act in done))
    assert steps(a, "Why did sessions per user drop?", 1)[0][1] == GenerateInsights()


def test_the_advice_when_history_is_thin_or_the_metric_missing() -> None:
    thin = report(analyst(NONE, history=(thin_detect(10),)))
    assert thin.recommendations[0].startswith("Collect more history (at least ")
    assert thin.recommendations[1] == (
        "Until then, compare the same weekdays directly and treat any movement as unconfirmed."
    )
    missing = report(analyst(None), "Why did revenue fall?")
    assert missing.recommendations[0].startswith(
        "To investigate revenue, define it in mai.toml (beside the warehouse, or --config) "
        "from your columns, e.g. [metrics.revenue] "
    )
    assert missing.summary.startswith("This warehouse has no revenue metric (")


def test_a_failed_segment_step_does_not_undo_a_segment_found_another_way() -> None:
    seg = SegmentFinding(ANDROID_IN, -63.2, 0.9, 1.0)
    history = ((SegmentByDimension(metric="dau", dimension="country"), failed("bad column")),)
    r = report(analyst(DROP, (seg,), history=history))
    assert r.root_cause == "dau drop concentrated in platform=android, country=IN."
    assert "not known" not in r.summary


def test_only_a_follow_up_inherits_the_metric_established_before() -> None:
    a = analyst(None)
    a.ctx.metric = "events"
    assert a.decide(Prompt("What happened last week?", False, 0, 12)).action == DetectAnomaly(
        metric="dau"
    )


def test_an_anomaly_in_a_segment_is_broken_down_and_searched_within_it() -> None:
    ios = {"platform": "ios"}
    drop = Anomaly("dau", ios, "drop", "step", date(2026, 1, 28), None, -20.0, 1e-6, "")
    a = analyst(
        drop,
        history=((DetectAnomaly(metric="dau"), OK), (DetectAnomaly(metric="dau", filters=ios), OK)),
        scores={"country": 0.7},
    )
    decided = steps(a, "Why did DAU drop?", 3)
    assert [act for _, act in decided] == [
        SegmentByDimension(metric="dau", dimension="country", filters=ios),
        DrillDown(metric="dau", filters=ios),
        CheckDeployments(),
    ]
    assert decided[2][0] == (
        "Look for deployments and other changes near the anomaly start that match the affected "
        "segment."
    )


def test_details_of_less_common_reports() -> None:
    seg = SegmentFinding(ANDROID_IN, -63.2, None, 1.0)
    assert analyst(DROP)._confidence(DROP, [seg], []) == 0.6  # no share known: none counted
    holiday = EventFinding(
        "holiday", "xmas", "2026-01-27T00:00:00", "Christmas", 1.0, 1.0, 1.0, True
    )
    r = report(analyst(DROP, (seg,), (holiday,)))
    assert r.root_cause == "holiday xmas — dau drop in platform=android, country=IN."
    assert r.recommendations[0] == (
        "Christmas explains the change: annotate it and compare against the same period of a "
        "previous cycle."
    )
    spike = Anomaly("dau", {}, "spike", "step", date(2026, 2, 1), None, 30.0, 1e-5, "")
    assert analyst(spike)._recommendations(spike, [seg], [])[0] == (
        "Inspect the accounts behind the extra activity in platform=android, country=IN (events "
        "per account, user agents); filter automated traffic from the metrics."
    )
    quiet_events = Anomaly("events", {}, "none", "none", None, None, None, 0.5, "short")
    thin = report(analyst(quiet_events, history=(thin_detect(10),)))
    assert thin.anomaly.metric == "events"  # the metric checked, not the one asked about


def test_the_retention_report_carries_the_cohorts_window_and_change() -> None:
    a = analyst(NONE)
    a.ctx.retention = cohort_break({"country": "IN"}, change_pct=-25.0)
    anomaly = report(a, "Why did retention drop?").anomaly
    assert (anomaly.start, anomaly.end, anomaly.change_pct) == (
        date(2026, 1, 10),
        date(2026, 1, 20),
        -25.0,
    )


def test_every_coverage_note_is_its_own_sentence() -> None:
    days = [
        PartialDay(
            day=day,
            edge=edge,
            data_from=time(18, 0),
            data_until=time(6, 0),
            events=120,
            usual_events=900.0,
        )
        for day, edge in ((date(2025, 12, 31), "start"), (date(2026, 3, 1), "end"))
    ]
    r = report(analyst(NONE, schema=SCHEMA.model_copy(update={"partial_days": days})))
    assert r.summary.endswith(f"no break beyond noise. {days[0].note()} {days[1].note()}")
