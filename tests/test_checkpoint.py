"""The orchestrator's checkpoint hook and the resumption of a run saved mid-way, with a scripted
model and a fake executor (the subprocess kills are in tests/test_kill.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from engine_fakes import DETECT, DRILL, INSIGHTS, SEGMENT, Clock, FakeExecutor, Script, counter_ids

from metric_anomaly_investigator.core.models import (
    DetectAnomaly,
    Event,
    Investigation,
    SegmentByDimension,
    StepCompleted,
    Usage,
)
from metric_anomaly_investigator.core.orchestrator import Orchestrator
from metric_anomaly_investigator.settings import Settings


def run(events: AsyncIterator[Event]) -> list[Event]:
    async def collect() -> list[Event]:
        return [event async for event in events]

    return asyncio.run(collect())


def make(
    script: Script, executor: FakeExecutor, saved: list[Investigation] | None = None
) -> Orchestrator:
    def checkpoint(record: Investigation) -> None:
        assert saved is not None
        saved.append(record.model_copy(deep=True))

    return Orchestrator(
        model=script.model(),
        executor=executor,
        settings=Settings(),
        clock=Clock(),
        ids=counter_ids(),
        retry_base_delay=0.0,
        checkpoint=checkpoint if saved is not None else None,
    )


def test_the_record_is_handed_over_after_every_step_before_its_event() -> None:
    saved: list[Investigation] = []
    orch = make(Script(steps=[DETECT, SEGMENT, DRILL, INSIGHTS]), FakeExecutor(), saved)
    seen_at_event: list[int] = []

    async def consume() -> None:
        async for event in orch.investigate("Why did DAU drop?"):
            if isinstance(event, StepCompleted):
                seen_at_event.append(len(saved))

    asyncio.run(consume())
    assert [len(r.steps) for r in saved] == [1, 2, 3, 3]
    assert [r.status for r in saved] == ["running"] * 3 + ["completed"]
    assert seen_at_event == [1, 2, 3]  # saved before the step's event was yielded
    assert orch.record is not None and orch.record.status == "completed"


def test_a_failing_checkpoint_never_ends_the_investigation() -> None:
    def broken(record: Investigation) -> None:
        raise OSError(28, "No space left on device")

    orch = make(Script(steps=[DETECT, SEGMENT, INSIGHTS]), FakeExecutor())
    orch.checkpoint = broken
    run(orch.investigate("Why did DAU drop?"))
    assert orch.record is not None
    assert orch.record.status == "completed" and len(orch.record.steps) == 2


def test_an_interrupted_run_carries_on_from_its_last_step() -> None:
    saved: list[Investigation] = []
    first = make(Script(steps=[DETECT, SEGMENT, DRILL, INSIGHTS]), FakeExecutor(), saved)
    run(first.investigate("Why did DAU drop?"))
    killed = saved[1]  # what was on disk after step 2, as a SIGKILL would leave it
    killed.usage = Usage.model_validate(
        {"requests": 2, "input_tokens": 100, "output_tokens": 10, "x_budget": 3}
    )

    executor = FakeExecutor()
    resumed = make(Script(steps=[DRILL, INSIGHTS]), executor)
    resumed.resume(killed)
    events = run(resumed.follow_up("Why did DAU drop?"))
    record = resumed.record
    assert record is killed and record.follow_ups == []
    assert record.status == "completed" and record.report is not None
    assert [s.action for s in record.steps] == [
        "detect_anomaly",
        "segment_by_dimension",
        "drill_down",
    ]
    assert [s.index for s in record.steps] == [1, 2, 3]
    # the saved steps were re-run first, to rebuild the executor's context, then the new one
    assert [type(a) for a in executor.executed[:2]] == [DetectAnomaly, SegmentByDimension]
    assert len(executor.executed) == 3
    assert [e.step.index for e in events if isinstance(e, StepCompleted)] == [3]
    assert record.usage.requests > 2  # the earlier part's usage is kept and added to
    assert record.usage.input_tokens > 100
    assert record.usage.model_extra == {"x_budget": 3}  # a field of another tool survives


def test_a_run_cancelled_before_its_report_carries_on_too() -> None:
    """Ctrl-C records the run as cancelled; asking its question again carries it on."""
    saved: list[Investigation] = []
    first = make(Script(steps=[DETECT, SEGMENT, DRILL, INSIGHTS]), FakeExecutor(), saved)
    run(first.investigate("Why did DAU drop?"))
    stopped = saved[1].model_copy(deep=True)
    stopped.status, stopped.error = "cancelled", "cancelled by the user"
    resumed = make(Script(steps=[DRILL, INSIGHTS]), FakeExecutor())
    resumed.resume(stopped)
    run(resumed.follow_up("Why did DAU drop?"))
    assert resumed.record is stopped and stopped.follow_ups == []
    assert stopped.status == "completed" and stopped.error is None
    assert [s.index for s in stopped.steps] == [1, 2, 3]


def test_another_question_closes_the_interrupted_run() -> None:
    saved: list[Investigation] = []
    first = make(Script(steps=[DETECT, SEGMENT, DRILL, INSIGHTS]), FakeExecutor(), saved)
    run(first.investigate("Why did DAU drop?"))
    killed = saved[0]
    resumed = make(Script(steps=[SEGMENT, INSIGHTS]), FakeExecutor())
    resumed.resume(killed)
    run(resumed.follow_up("Only android?"))
    assert killed.status == "cancelled"
    assert killed.error == "interrupted after 1 step, before a report"
    assert [f.question for f in killed.follow_ups] == ["Only android?"]
    assert killed.follow_ups[0].status == "completed"
    assert killed.follow_ups[0].steps[0].index == 2
