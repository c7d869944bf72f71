"""The orchestrator loop driven by scripted FunctionModels and a fake executor (no warehouse)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from engine_fakes import (
    DETECT,
    DRILL,
    INSIGHTS,
    SEGMENT,
    Clock,
    FakeExecutor,
    Script,
    counter_ids,
    decision,
)
from pydantic_ai.exceptions import ModelHTTPError

from metric_anomaly_investigator.core.models import (
    Event,
    Investigation,
    InvestigationFinished,
    InvestigationStarted,
    ReportReady,
    StepCompleted,
    StepFailed,
    StepPlanned,
    UsageUpdated,
)
from metric_anomaly_investigator.core.orchestrator import Orchestrator
from metric_anomaly_investigator.settings import Settings


def make(
    script: Script, executor: FakeExecutor | None = None, **settings: int
) -> tuple[Orchestrator, FakeExecutor]:
    executor = executor or FakeExecutor()
    orch = Orchestrator(
        model=script.model(),
        executor=executor,
        settings=Settings(**settings),
        clock=Clock(),
        ids=counter_ids(),
        retry_base_delay=0.0,
    )
    return orch, executor


async def collect(events: AsyncIterator[Event]) -> list[Event]:
    return [event async for event in events]


def run(events: AsyncIterator[Event]) -> list[Event]:
    return asyncio.run(collect(events))


def kinds(events: list[Event]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_full_investigation_emits_events_in_order() -> None:
    script = Script(steps=[DETECT, SEGMENT, DRILL, INSIGHTS])
    orch, executor = make(script)
    events = run(orch.investigate("  Why did DAU drop?  "))

    assert kinds(events) == [
        "InvestigationStarted",
        *["UsageUpdated", "StepPlanned", "StepCompleted"] * 3,
        "UsageUpdated",
        "UsageUpdated",
        "ReportReady",
        "InvestigationFinished",
    ]
    record = orch.record
    assert record is not None
    assert isinstance(events[-1], InvestigationFinished) and events[-1].investigation is record
    assert record.status == "completed" and record.error is None
    assert record.question == "Why did DAU drop?"
    assert record.id == f"{1:032x}"
    assert record.finished_at is not None and record.finished_at > record.started_at
    assert [s.index for s in record.steps] == [1, 2, 3]
    assert [s.action for s in record.steps] == [
        "detect_anomaly",
        "segment_by_dimension",
        "drill_down",
    ]
    assert record.steps[1].parameters["dimension"] == "platform"
    assert record.steps[0].reasoning == "establish the anomaly"
    assert record.steps[0].findings == ["detect_anomaly found something"]
    assert record.report is not None and record.report.anomaly.direction == "drop"
    assert record.usage.requests == 5 and record.usage.input_tokens > 0
    assert record.usage.cost_usd is None  # a FunctionModel has no price
    assert len(executor.executed) == 3
    # the model saw the schema-free prompt with earlier findings as JSON
    assert "Step 1: detect_anomaly" in script.prompts[1]
    assert '"value":0.1235' in script.prompts[1]
    assert "Write the report." in script.prompts[-1]


def test_invalid_action_is_corrected_after_a_retry() -> None:
    bad = decision("segment_by_dimension", metric="dau", dimension="device")
    script = Script(steps=[bad, SEGMENT, INSIGHTS])
    orch, executor = make(script)
    run(orch.investigate("why?"))

    assert orch.record is not None and orch.record.status == "completed"
    assert script.retries and "unknown dimension 'device'; valid: platform" in script.retries[0]
    assert [s.parameters["dimension"] for s in orch.record.steps] == ["platform"]
    assert len(executor.executed) == 1


def test_exhausted_output_retries_fail_the_run_clearly() -> None:
    bad = decision("query_metric", metric="revenue")
    orch, _ = make(Script(steps=[bad]))
    run(orch.investigate("why?"))

    record = orch.record
    assert record is not None and record.status == "failed"
    assert record.error is not None
    assert "no valid answer after 3 retries" in record.error and "\n" not in record.error


def test_generate_insights_before_any_data_needs_the_model_to_insist() -> None:
    script = Script(steps=[INSIGHTS])
    orch, executor = make(script)
    run(orch.investigate("what is the meaning of life?"))

    assert orch.record is not None and orch.record.status == "completed"
    assert "No data has been looked at yet" in script.retries[0]
    assert orch.record.steps == [] and executor.executed == []
    assert orch.record.report is not None


def test_transient_model_error_is_retried_with_backoff() -> None:
    script = Script(steps=[DETECT, ModelHTTPError(503, "scripted"), INSIGHTS])
    orch, _ = make(script)
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    orch._policy.sleep = sleep
    orch._policy.base_delay = 0.25
    run(orch.investigate("why?"))

    assert orch.record is not None and orch.record.status == "completed"
    assert delays == [0.25]


def test_model_error_mid_run_fails_and_keeps_steps() -> None:
    script = Script(steps=[DETECT, SEGMENT, ModelHTTPError(401, "scripted", body="bad key")])
    orch, _ = make(script)
    events = run(orch.investigate("why?"))

    record = orch.record
    assert record is not None and record.status == "failed"
    assert len(record.steps) == 2
    assert record.error is not None and "401" in record.error and "\n" not in record.error
    assert record.report is None
    assert isinstance(events[-1], InvestigationFinished)
    assert isinstance(events[-2], UsageUpdated)


def test_persistent_server_errors_give_up_after_the_configured_retries() -> None:
    script = Script(steps=[ModelHTTPError(500, "scripted")])
    orch, _ = make(script, request_retries=2)
    run(orch.investigate("why?"))

    assert orch.record is not None and orch.record.status == "failed"
    assert script.calls == 3
    assert orch.record.error is not None and "500" in orch.record.error


def test_usage_limit_ends_the_run_with_a_clear_message() -> None:
    orch, _ = make(Script(steps=[DETECT]), max_requests=3)
    run(orch.investigate("why?"))

    record = orch.record
    assert record is not None and record.status == "failed"
    assert len(record.steps) == 3
    assert record.error is not None and "MAI_MAX_REQUESTS" in record.error
    assert record.usage.requests == 3


def test_step_budget_goes_to_the_report() -> None:
    orch, _ = make(Script(steps=[DETECT]), max_steps=2)
    events = run(orch.investigate("why?"))

    assert orch.record is not None and orch.record.status == "completed"
    assert len(orch.record.steps) == 2
    assert any(isinstance(e, ReportReady) for e in events)


def test_tool_error_is_a_failed_step_the_model_sees() -> None:
    script = Script(steps=[SEGMENT, DETECT, INSIGHTS])
    orch, _ = make(script, FakeExecutor(fail_actions={"segment_by_dimension"}))
    events = run(orch.investigate("why?"))

    failed = [e for e in events if isinstance(e, StepFailed)]
    assert len(failed) == 1
    assert failed[0].step.error == "RuntimeError: segment_by_dimension exploded"
    assert orch.record is not None and orch.record.status == "completed"
    assert [s.success for s in orch.record.steps] == [False, True]
    assert "FAILED: RuntimeError: segment_by_dimension exploded" in script.prompts[1]


def test_cancel_while_a_query_runs_keeps_completed_steps() -> None:
    executor = FakeExecutor(block=asyncio.Event(), block_on_call=2)
    orch, _ = make(Script(steps=[DETECT, SEGMENT, DRILL, INSIGHTS]), executor)

    async def scenario() -> list[Event]:
        seen: list[Event] = []
        async for event in orch.investigate("why?"):
            seen.append(event)
            if isinstance(event, StepPlanned) and event.index == 2:
                asyncio.get_running_loop().call_later(0.01, orch.cancel)
        return seen

    events = asyncio.run(scenario())
    record = orch.record
    assert record is not None and record.status == "cancelled"
    assert [s.action for s in record.steps] == ["detect_anomaly"]
    assert isinstance(events[-1], InvestigationFinished)
    assert events[-1].investigation.status == "cancelled"
    assert record.finished_at is not None


def test_cancel_while_awaiting_the_model() -> None:
    never = asyncio.Event()
    script = Script(steps=[DETECT, never.wait])
    orch, _ = make(script)

    async def scenario() -> list[Event]:
        seen: list[Event] = []
        async for event in orch.investigate("why?"):
            seen.append(event)
            if isinstance(event, StepCompleted):
                asyncio.get_running_loop().call_later(0.01, orch.cancel)
        return seen

    events = asyncio.run(scenario())
    assert orch.record is not None and orch.record.status == "cancelled"
    assert len(orch.record.steps) == 1
    assert isinstance(events[-1], InvestigationFinished)


def test_cancel_before_start_ends_immediately() -> None:
    script = Script(steps=[DETECT])
    orch, executor = make(script)
    events = orch.investigate("why?")

    async def scenario() -> list[Event]:
        first = await anext(events)
        orch.cancel()
        return [first, *[e async for e in events]]

    seen = asyncio.run(scenario())
    assert kinds(seen) == ["InvestigationStarted", "UsageUpdated", "InvestigationFinished"]
    assert script.calls == 0 and executor.executed == []
    assert orch.record is not None and orch.record.status == "cancelled"


def test_follow_up_continues_the_record() -> None:
    script = Script(steps=[DETECT, INSIGHTS])
    orch, executor = make(script)
    run(orch.investigate("Why did DAU drop?"))
    script.steps[:] = [SEGMENT, INSIGHTS]
    events = run(orch.follow_up("Is it only Android?"))

    root = orch.record
    assert root is not None and len(root.follow_ups) == 1
    follow = root.follow_ups[0]
    assert isinstance(events[0], InvestigationStarted) and events[0].investigation is follow
    assert follow.question == "Is it only Android?" and follow.status == "completed"
    assert follow.id != root.id
    assert [s.index for s in follow.steps] == [2]
    assert follow.usage.requests == 3  # this run's usage only
    prompt = script.prompts[-2]
    assert "## Earlier in this investigation" in prompt
    assert "Question: Why did DAU drop?" in prompt and "Step 1: detect_anomaly" in prompt
    assert "Conclusion: DAU dropped 12%" in prompt
    assert executor.resets == 1  # the executor's context carries over into the follow-up


def test_resume_lets_a_follow_up_continue_a_saved_record() -> None:
    first, _ = make(Script(steps=[DETECT, INSIGHTS]))
    run(first.investigate("Why did DAU drop?"))
    assert first.record is not None
    saved = Investigation.model_validate_json(first.record.model_dump_json())

    script = Script(steps=[SEGMENT, INSIGHTS])
    orch, executor = make(script)
    orch.resume(saved)
    events = run(orch.follow_up("Is it only Android?"))

    assert orch.record is saved and [f.question for f in saved.follow_ups] == [
        "Is it only Android?"
    ]
    assert isinstance(events[0], InvestigationStarted)
    assert [s.index for s in saved.follow_ups[0].steps] == [2]
    prompt = script.prompts[0]
    assert "Question: Why did DAU drop?" in prompt and "Step 1: detect_anomaly" in prompt
    assert "Conclusion: DAU dropped 12%" in prompt
    assert executor.resets == 1


def test_follow_up_without_a_record_starts_one() -> None:
    orch, _ = make(Script(steps=[DETECT, INSIGHTS]))
    run(orch.follow_up("why?"))
    assert orch.record is not None and orch.record.follow_ups == []


def test_needs_a_warehouse_or_an_executor() -> None:
    with pytest.raises(ValueError, match="warehouse or an executor"):
        Orchestrator(model=Script(steps=[]).model())
