"""Grounding a model's report in the steps: the checker, the retry, the analyst's fallback.

Unit tests run the checker on small typed steps; scripted runs (a FunctionModel on the small
seed world) show an ungrounded report corrected on retry, or replaced by the built-in analyst's
report, labelled; and the analyst's own reports are grounded on every scenario.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest
from engine_fakes import DETECT, INSIGHTS, REPORT, SEGMENT, Script, decision

from metric_anomaly_investigator.core.agents import FALLBACK_NOTE
from metric_anomaly_investigator.core.grounding import (
    Grounding,
    Problem,
    WarehouseFacts,
    check_report,
)
from metric_anomaly_investigator.core.models import ActionName, Investigation, Report, Step
from metric_anomaly_investigator.core.orchestrator import Orchestrator
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.scenarios import SCENARIOS, generate_scenario
from metric_anomaly_investigator.warehouse.warehouse import Warehouse

FACTS = WarehouseFacts(
    metrics=frozenset({"dau", "events"}),
    values={"platform": frozenset({"android", "ios", "web"}), "country": frozenset({"IN", "US"})},
    start=date(2026, 1, 1),
    end=date(2026, 2, 11),
)


def step(
    index: int,
    action: ActionName,
    params: dict[str, Any],
    data: dict[str, Any] | None,
    *,
    findings: list[str] | None = None,
    success: bool = True,
) -> Step:
    return Step(
        index=index,
        action=action,
        reasoning="",
        parameters=params,
        success=success,
        findings=findings or [],
        data=data,
        error=None if success else "InvalidAction: nope",
    )


STEPS = [
    step(
        1,
        "detect_anomaly",
        {"metric": "dau", "filters": {}},
        {
            "metric": "dau",
            "direction": "drop",
            "start": "2026-01-28",
            "end": "2026-02-11",
            "change_pct": -16.16,
            "p_value": 1e-9,
        },
        findings=["dau (all traffic) dropped -16.2% vs its seasonal baseline from 2026-01-28."],
    ),
    step(
        2,
        "segment_by_dimension",
        {"metric": "dau", "dimension": "platform", "filters": {}},
        {
            "metric": "dau",
            "dimension": "platform",
            "filters": {},
            "rows": [
                {"value": "android", "before": 100.0, "after": 60.0, "change_pct": -40.0},
                {"value": "ios", "before": 100.0, "after": 99.0, "change_pct": -1.0},
            ],
        },
    ),
    step(
        3,
        "check_deployments",
        {"segment": {}},
        {
            "around": "2026-01-28",
            "segments": [{"platform": "android"}],
            "events": [
                {"kind": "deployment", "id": "deploy_003", "at": "2026-01-28T10:00:00"},
                {"kind": "deployment", "id": "deploy_000", "at": "2025-12-30T09:00:00"},
            ],
        },
        findings=["Checked and ruled out: deployment deploy_004 (ios, score 0.10)."],
    ),
    step(
        4,
        "statistical_test",
        {"metric": "events", "segment": {"country": "XX"}},
        None,
        success=False,
    ),
]

GOOD: dict[str, Any] = {
    **REPORT,
    "anomaly": {**REPORT["anomaly"], "change_pct": -16.2},
    "affected_segments": [{**REPORT["affected_segments"][0], "change_pct": -40.0}],
}


def report(**changes: Any) -> Report:
    """GOOD with ``anomaly``/``segment``/``event`` fields replaced."""
    data: dict[str, Any] = {
        **GOOD,
        "anomaly": {**GOOD["anomaly"], **changes.get("anomaly", {})},
        "affected_segments": [{**GOOD["affected_segments"][0], **changes.get("segment", {})}],
        "correlated_events": [{**GOOD["correlated_events"][0], **changes.get("event", {})}],
    }
    return Report.model_validate(data)


def test_a_report_citing_only_what_the_steps_show_is_grounded() -> None:
    assert check_report(report(), STEPS, FACTS) == Grounding(())
    assert check_report(report(), STEPS, FACTS).ok


@pytest.mark.parametrize(
    "changes",
    [
        {"anomaly": {"change_pct": -16.0}},  # rounded
        {"anomaly": {"change_pct": 16.2}},  # the magnitude, the direction says "drop"
        {"segment": {"change_pct": -38.5}},  # within a tenth of -40
        {"segment": {"filters": {"platform": "Android", "country": "in"}}},  # case
        {"segment": {"filters": {"country": "US"}}},  # a value the warehouse has
        {"event": {"id": "deploy_004", "at": None}},  # named only in a finding
        {"event": {"id": "deploy_000", "at": "2025-12-30T09:00:00"}},  # before the range, in a step
        {"anomaly": {"metric": "events", "change_pct": None}},  # a warehouse metric
    ],
)
def test_rounding_case_and_claims_found_elsewhere_are_accepted(changes: dict[str, Any]) -> None:
    grounding = check_report(report(**changes), STEPS, FACTS)
    assert grounding.ok, grounding.message


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        (
            {"anomaly": {"metric": "revenue"}},
            Problem(
                "metric",
                "metric 'revenue'",
                "was not investigated and is not in the warehouse; metrics: dau, events",
            ),
        ),
        (
            {"segment": {"filters": {"planet": "Mars"}}},
            Problem(
                "segment",
                "segment planet=Mars",
                "does not appear in any step or in the warehouse; valid segments found: "
                "platform=android, platform=ios",
            ),
        ),
        (  # only a failed step tried it
            {"segment": {"filters": {"country": "XX"}}},
            Problem(
                "segment",
                "segment country=XX",
                "does not appear in any step or in the warehouse; valid segments found: "
                "platform=android, platform=ios",
            ),
        ),
        (
            {"event": {"id": "deploy_999"}},
            Problem(
                "event",
                "deployment deploy_999",
                "does not appear in any step; events found: deploy_000, deploy_003",
            ),
        ),
        (  # a longer id that merely contains one the findings name
            {"event": {"id": "deploy_0045", "at": None}},
            Problem(
                "event",
                "deployment deploy_0045",
                "does not appear in any step; events found: deploy_000, deploy_003",
            ),
        ),
        (
            {"anomaly": {"start": "2025-06-01"}},
            Problem(
                "date",
                "anomaly start 2025-06-01",
                "is outside the analysed range 2026-01-01 .. 2026-02-11 and appears in no step",
            ),
        ),
        (
            {"event": {"at": "2027-03-01T00:00:00"}},
            Problem(
                "date",
                "date of deploy_003 2027-03-01",
                "is outside the analysed range 2026-01-01 .. 2026-02-11 and appears in no step",
            ),
        ),
        (
            {"anomaly": {"change_pct": -55.0}},
            Problem(
                "figure",
                "anomaly change -55.0%",
                "matches no figure in the steps (closest: -40.0%)",
            ),
        ),
        (
            {"segment": {"change_pct": -90.0}},
            Problem(
                "figure",
                "change of platform=android, country=IN -90.0%",
                "matches no figure in the steps (closest: -40.0%)",
            ),
        ),
    ],
    ids=[
        "metric",
        "segment",
        "failed-step-segment",
        "deployment",
        "longer-id",
        "start",
        "event-date",
        "anomaly-figure",
        "segment-figure",
    ],
)
def test_each_unsupported_claim_is_named(changes: dict[str, Any], problem: Problem) -> None:
    assert check_report(report(**changes), STEPS, FACTS).problems == (problem,)


def test_the_message_names_every_problem_in_one_line() -> None:
    grounding = check_report(
        report(anomaly={"metric": "revenue"}, segment={"filters": {"planet": "Mars"}}),
        STEPS,
        FACTS,
    )
    assert grounding.message == (
        "The report is not grounded in the findings: metric 'revenue' was not investigated and "
        "is not in the warehouse; metrics: dau, events; segment planet=Mars does not appear in "
        "any step or in the warehouse; valid segments found: platform=android, platform=ios. "
        "Cite only metrics, segments, deployments, dates and figures that the findings show."
    )


def test_without_steps_only_the_warehouse_vouches() -> None:
    grounding = check_report(report(segment={"filters": {"planet": "Mars"}}), [], FACTS)
    assert [str(p) for p in grounding.problems] == [
        "segment planet=Mars does not appear in any step or in the warehouse; dimensions: "
        "country, platform",
        "deployment deploy_003 does not appear in any step; no step found any deployment or event",
    ]  # figures are not checked: no step has a percent figure to compare with


def test_facts_come_from_the_schema(small_wh: Warehouse) -> None:
    facts = WarehouseFacts.from_schema(small_wh.schema)
    assert facts.metrics == {"dau", "wau", "events", "events_per_user", "sessions_per_user"}
    assert "android" in facts.values["platform"] and "IN" in facts.values["country"]
    assert (facts.start, facts.end) == (small_wh.schema.start_date, small_wh.schema.end_date)


# --------------------------------------------------------------------------------------------
# Scripted runs on the small seed world
# --------------------------------------------------------------------------------------------

# grounded in DETECT + SEGMENT (+ CHECK) on the small world whatever its exact figures
SCRIPTED_GOOD: dict[str, Any] = {
    **REPORT,
    "anomaly": {**REPORT["anomaly"], "change_pct": None},
    "affected_segments": [{**REPORT["affected_segments"][0], "change_pct": None}],
}
SCRIPTED_BAD: dict[str, Any] = {
    **SCRIPTED_GOOD,
    "affected_segments": [{**SCRIPTED_GOOD["affected_segments"][0], "filters": {"planet": "Mars"}}],
}
CHECK = decision("check_deployments", "what changed then")


def scripted(wh: Warehouse, script: Script) -> Orchestrator:
    return Orchestrator(wh, model=script.model(), retry_base_delay=0.0)


def drain(orch: Orchestrator, question: str, *, follow_up: bool = False) -> Investigation:
    async def go() -> None:
        events = orch.follow_up(question) if follow_up else orch.investigate(question)
        async for _ in events:
            pass

    asyncio.run(go())
    assert orch.record is not None
    return orch.record.follow_ups[-1] if follow_up else orch.record


def test_an_ungrounded_report_goes_back_to_the_model_and_the_retry_is_accepted(
    small_wh: Warehouse,
) -> None:
    script = Script(steps=[DETECT, SEGMENT, CHECK, INSIGHTS], report=[SCRIPTED_BAD, SCRIPTED_GOOD])
    record = drain(scripted(small_wh, script), "Why did DAU drop?")

    assert record.status == "completed", record.error
    assert record.report == Report.model_validate(SCRIPTED_GOOD)
    assert record.report.fallback_reason is None
    assert script.retries == [
        "The report is not grounded in the findings: segment planet=Mars does not appear in any "
        "step or in the warehouse; valid segments found: platform=android, platform=ios, "
        "platform=web. Cite only metrics, segments, deployments, dates and figures that the "
        "findings show."
    ]


def test_a_report_that_stays_ungrounded_is_replaced_by_the_analysts_labelled(
    small_wh: Warehouse,
) -> None:
    script = Script(steps=[DETECT, SEGMENT, INSIGHTS], report=[SCRIPTED_BAD])
    orch = scripted(small_wh, script)
    record = drain(orch, "Why did DAU drop?")

    assert record.status == "completed" and record.error is None
    assert len(script.retries) == 3  # every retry was spent before falling back
    report = record.report
    assert report is not None
    assert report.fallback_reason == script.retries[-1]
    assert report.summary.startswith(FALLBACK_NOTE + " dau dropped")
    # the label is saved with the record; a model's own report has no such field
    assert report.model_dump(mode="json")["fallback_reason"] == report.fallback_reason
    assert "fallback_reason" not in Report.model_validate(SCRIPTED_GOOD).model_dump(mode="json")
    assert check_report(report, record.steps, WarehouseFacts.from_schema(small_wh.schema)).ok
    assert record.usage.requests == 3 + 4  # the model's own requests; the analyst is free
    saved = Investigation.model_validate_json(record.model_dump_json())
    assert saved.report is not None and saved.report.fallback_reason == report.fallback_reason


def test_a_follow_up_report_may_cite_what_earlier_steps_found(small_wh: Warehouse) -> None:
    script = Script(steps=[DETECT, CHECK, INSIGHTS], report=[SCRIPTED_GOOD])
    orch = scripted(small_wh, script)
    drain(orch, "Why did DAU drop?")
    script.steps[:] = [SEGMENT, INSIGHTS]
    follow = drain(orch, "Is it only Android?", follow_up=True)

    assert [s.action for s in follow.steps] == ["segment_by_dimension"]
    assert follow.status == "completed" and script.retries == []
    assert follow.report is not None and follow.report.fallback_reason is None
    assert follow.report.correlated_events[0].id == "deploy_003"  # found by the first question


# --------------------------------------------------------------------------------------------
# The analyst's own reports, on every scenario
# --------------------------------------------------------------------------------------------

SCENARIO_USERS = 1000


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_analysts_reports_are_grounded_on_every_scenario(
    name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    scenario = SCENARIOS[name]
    path = generate_scenario(
        name, tmp_path_factory.mktemp("grounding") / f"{name}.duckdb", users=SCENARIO_USERS
    )
    # three styles per scenario, rotating, so every style is checked across the scenarios
    styles = sorted(scenario.questions)
    turn = list(SCENARIOS).index(name) % len(styles)
    questions = [scenario.questions[s][0] for s in (styles[turn:] + styles[:turn])[:3]]
    with open_warehouse(path) as wh:
        facts = WarehouseFacts.from_schema(wh.schema)
        for question in questions:
            orch = Orchestrator(wh)
            record = drain(orch, question)
            assert record.report is not None, (question, record.error)
            grounding = check_report(record.report, record.steps, facts)
            assert grounding.ok, (question, grounding.message)
            assert record.report.fallback_reason is None
        # a follow-up's report, on the steps of both questions
        follow = drain(orch, questions[0], follow_up=True)
        assert follow.report is not None, follow.error
        steps = [*orch.record.steps, *follow.steps] if orch.record else []
        grounding = check_report(follow.report, steps, facts)
        assert grounding.ok, grounding.message
