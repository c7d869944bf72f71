"""The orchestrator with the real Tool Executor and the autopilot on a small generated world."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from metric_anomaly_investigator.core.models import (
    Event,
    InvestigationFinished,
    InvestigationStarted,
    ReportReady,
    StepCompleted,
    StepFailed,
    StepPlanned,
)
from metric_anomaly_investigator.core.orchestrator import Orchestrator
from metric_anomaly_investigator.core.store import replay_events
from metric_anomaly_investigator.warehouse.warehouse import Warehouse


async def collect(events: AsyncIterator[Event]) -> list[Event]:
    return [event async for event in events]


def test_autopilot_investigation_and_follow_up(small_wh: Warehouse) -> None:
    orch = Orchestrator(small_wh)
    assert orch.model_name == "autopilot"
    events = asyncio.run(collect(orch.investigate("Why did DAU drop?")))
    record = orch.record
    assert record is not None and record.status == "completed", record.error
    assert record.model == "autopilot" and record.warehouse == small_wh.label
    assert record.report is not None and record.usage.cost_usd == 0.0
    assert isinstance(events[0], InvestigationStarted) and isinstance(
        events[-1], InvestigationFinished
    )
    assert sum(isinstance(e, ReportReady) for e in events) == 1
    planned = [e.index for e in events if isinstance(e, StepPlanned)]
    done = [e.step.index for e in events if isinstance(e, StepCompleted | StepFailed)]
    assert planned == done == [s.index for s in record.steps] == list(range(1, len(planned) + 1))
    assert any(s.chart is not None for s in record.steps)

    asyncio.run(collect(orch.follow_up("Did retention change for those users?")))
    follow = record.follow_ups[0]
    assert follow.status == "completed", follow.error
    assert follow.steps and follow.steps[0].index == len(record.steps) + 1
    replayed = list(replay_events(record))
    assert sum(isinstance(e, InvestigationFinished) for e in replayed) == 2
