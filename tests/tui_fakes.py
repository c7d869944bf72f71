"""Deterministic stand-ins for the TUI tests: a schema-only warehouse, a scripted orchestrator."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from textual.pilot import Pilot

from metric_anomaly_investigator.core.models import (
    Chart,
    ChartSeries,
    Event,
    Investigation,
    InvestigationFinished,
    InvestigationStarted,
    ReportReady,
    Step,
    StepCompleted,
    StepFailed,
)
from metric_anomaly_investigator.core.store import (
    InvestigationStore,
    load_investigation,
    replay_events,
)
from metric_anomaly_investigator.settings import Settings
from metric_anomaly_investigator.tui.app import InvestigatorApp
from metric_anomaly_investigator.tui.services import Progress, Services, WarehouseLike
from metric_anomaly_investigator.warehouse.types import DimensionInfo, WarehouseSchema

FIXTURES = Path(__file__).parent / "fixtures"
RECORD_PATH = FIXTURES / "investigation.json"
"""Hand-written: every kind of step, including a failed one."""
AUTOPILOT_PATH = FIXTURES / "autopilot_seed_android_india.json"
"""Recorded from a real autopilot run on the default demo warehouse."""

SCHEMA = WarehouseSchema(
    metrics=["dau", "wau", "events", "events_per_user", "sessions_per_user"],
    dimensions=[
        DimensionInfo(
            name="platform", level="event", values=["android", "ios", "web"], cardinality=3
        ),
        DimensionInfo(
            name="country", level="event", values=["IN", "US", "BR", "DE"], cardinality=4
        ),
        DimensionInfo(name="app_version", level="event", values=["2.3.0", "2.2.4"], cardinality=2),
    ],
    start_date=date(2026, 1, 1),
    end_date=date(2026, 2, 10),
    event_types=["app_open", "view", "purchase"],
    has_users=True,
    has_deployments=True,
    has_annotations=False,
    row_count=1_234_567,
)


class FrozenClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeWarehouse:
    label: str = "demo.duckdb"
    schema: WarehouseSchema = field(default_factory=lambda: SCHEMA)
    closed: bool = False

    def close(self) -> None:
        self.closed = True


def record() -> Investigation:
    return load_investigation(RECORD_PATH)


@dataclass
class ScriptedOrchestrator:
    """Replays the fixture record as live events; ``stop_after`` holds the run there until
    cancelled (the in-progress state), like the real orchestrator's cancel."""

    script: Investigation = field(default_factory=record)
    stop_after: int | None = None
    model_name: str = "autopilot"
    record: Investigation | None = None
    questions: list[str] = field(default_factory=list)
    held: bool = False
    """The run reached ``stop_after`` and waits to be cancelled."""
    _cancel: asyncio.Event | None = None

    def investigate(self, question: str) -> AsyncIterator[Event]:
        self.record = self.script.model_copy(update={"question": question, "follow_ups": []})
        return self._run(self.record)

    def follow_up(self, question: str) -> AsyncIterator[Event]:
        assert self.record is not None
        run = self.script.model_copy(
            update={
                "question": question,
                "id": f"follow{len(self.record.follow_ups)}",
                "follow_ups": [],
            }
        )
        self.record.follow_ups.append(run)
        return self._run(run)

    def resume(self, record: Investigation) -> None:
        self.record = record

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()

    async def _run(self, run: Investigation) -> AsyncIterator[Event]:
        """Emit the scripted events, filling ``run`` in place as the real orchestrator does."""
        self.questions.append(run.question)
        self._cancel = asyncio.Event()
        script = run.model_copy(deep=True)
        run.steps, run.report, run.status = [], None, "running"
        events = [e for e in replay_events(script) if not isinstance(e, InvestigationFinished)]
        for i, event in enumerate(events):
            if self.stop_after is not None and i == self.stop_after:
                self.held = True
                await self._cancel.wait()
                run.status = "cancelled"
                yield InvestigationFinished(run)
                return
            if isinstance(event, InvestigationStarted):
                event = InvestigationStarted(run)
            elif isinstance(event, StepCompleted | StepFailed):
                run.steps.append(event.step)
            elif isinstance(event, ReportReady):
                run.report = event.report
            await asyncio.sleep(0)
            yield event
        run.status = "completed"
        yield InvestigationFinished(run)


async def until_held(pilot: Pilot[None], orchestrator: ScriptedOrchestrator) -> None:
    """Wait (bounded) until the run is held at ``stop_after``, then let the screen catch up."""
    for _ in range(500):
        if orchestrator.held:
            break
        await pilot.pause(0.01)
    assert orchestrator.held, "the scripted run never reached stop_after"
    await pilot.pause()


def make_app(
    tmp_path: Path,
    *,
    orchestrator: ScriptedOrchestrator | None = None,
    warehouse_error: str | None = None,
    replay: Path | None = None,
    clock: FrozenClock | None = None,
    replay_interval: float = 3600.0,
    warehouse_gate: threading.Event | None = None,
    progress_message: str = "Opening the demo warehouse",
) -> InvestigatorApp:
    """The real app with fake engine seams, a temp data dir, a frozen clock, a fixed theme.

    With ``warehouse_gate``, the warehouse stays opening (at half progress) until it is set."""
    orch = orchestrator or ScriptedOrchestrator()

    def open_warehouse(
        source: str | None, config: Path | None, progress: Progress
    ) -> WarehouseLike:
        progress(progress_message, 0.5)
        if warehouse_gate is not None and not warehouse_gate.wait(timeout=30):
            raise TimeoutError("the test never opened the warehouse")
        if warehouse_error:
            raise ValueError(warehouse_error)
        return FakeWarehouse()

    services = Services(
        open_warehouse=open_warehouse,
        make_orchestrator=lambda wh, model, settings: orch,
        warm_up=lambda: None,
    )
    settings = Settings(data_dir=tmp_path, model="autopilot")
    return InvestigatorApp(
        services=services,
        settings=settings,
        clock=clock or FrozenClock(),
        replay=replay,
        replay_interval=replay_interval,
        theme="textual-dark",
    )


def seed_history(tmp_path: Path, count: int = 3) -> InvestigationStore:
    store = InvestigationStore(Settings(data_dir=tmp_path).history_dir)
    base = record()
    questions = [
        "Why did dau drop at the end of January?",
        "Did events_per_user change on iOS?",
        "Which country explains the wau dip?",
    ]
    for i in range(count):
        started = base.started_at.replace(day=base.started_at.day - i)
        store.save(
            base.model_copy(
                update={
                    "id": f"{i}{base.id[1:]}",
                    "question": questions[i % 3],
                    "started_at": started,
                }
            )
        )
    return store


def retention_step(index: int) -> Step:
    """An ``analyze_retention`` step shaped as the real action records it (eight cohorts)."""
    days = [1, 7, 14, 28]
    cohorts = [
        (f"2026-01-{5 + 7 * i:02d}" if 5 + 7 * i <= 31 else f"2026-02-{5 + 7 * i - 31:02d}")
        for i in range(8)
    ]
    rates = {
        c: [0.62 - 0.03 * i * (d / 28) - 0.1 * (d > 1) for d in days] for i, c in enumerate(cohorts)
    }
    series = [
        ChartSeries(
            label=f"cohort {c}",
            x=[f"D{d}" for d in days],
            y=[
                None if i == 7 and d == 28 else round(100 * r, 1)
                for d, r in zip(days, rates[c], strict=True)
            ],
            style="segment" if i >= 6 else "baseline",
        )
        for i, c in enumerate(cohorts)
    ]
    chart = Chart(
        title="Retention by weekly cohort (all users)",
        kind="retention",
        series=series,
        x_label="days since signup",
        y_label="% retained",
    )
    return Step(
        index=index,
        action="analyze_retention",
        reasoning="Check whether new users stopped coming back.",
        parameters={"cohort_weeks": 8},
        success=True,
        findings=["Day-7 retention of recent cohorts is unchanged (51% → 50%)."],
        data={
            "cohorts": [
                {
                    "cohort": c,
                    "size": 1200 + 10 * i,
                    "retention": {
                        str(d): None if i == 7 and d == 28 else r
                        for d, r in zip(days, rates[c], strict=True)
                    },
                }
                for i, c in enumerate(cohorts)
            ],
            "chart": chart.model_dump(mode="json"),
        },
        duration_ms=41.0,
    )


def autopilot_with_retention() -> Investigation:
    """The recorded autopilot run with a retention step added before its report."""
    base = load_investigation(AUTOPILOT_PATH)
    steps = [*base.steps, retention_step(len(base.steps) + 1)]
    return base.model_copy(update={"steps": steps})
