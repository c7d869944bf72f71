"""What the screen shows, rebuilt from the orchestrator's event stream.

A :class:`Session` applies events one by one (live, or from ``store.replay_events`` when
replaying) and keeps one :class:`RunView` per question: the root investigation first, then each
follow-up. It knows nothing about widgets, so it is tested on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

from ..core.models import (
    Event,
    Investigation,
    InvestigationFinished,
    InvestigationStarted,
    Report,
    ReportReady,
    Step,
    StepCompleted,
    StepFailed,
    StepPlanned,
    Usage,
    UsageUpdated,
)
from ..core.report_markdown import escape_controls

StepStatus = Literal["running", "done", "failed"]
M = TypeVar("M", bound=BaseModel)


def visible(value: Any) -> Any:
    """``value`` with every string's control characters shown as escapes (``\\x1b``).

    A saved record's text and the warehouse's values are data: on screen they must never act
    as terminal codes (clear the screen, move the cursor, retitle the window).
    """
    if isinstance(value, str):
        return escape_controls(value)
    if isinstance(value, dict):
        return {visible(key): visible(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [visible(item) for item in value]
    return value


def visible_model(model: M) -> M:
    """A copy of ``model`` for the screen (see :func:`visible`); the record itself is kept."""
    return type(model).model_validate(visible(model.model_dump()))


@dataclass
class StepView:
    """One step of one run as the timeline shows it."""

    run: int
    index: int
    action: str
    reasoning: str
    parameters: dict[str, Any]
    status: StepStatus
    step: Step | None = None

    @property
    def key(self) -> str:
        """A stable id for the timeline option (``run-index``)."""
        return f"{self.run}-{self.index}"


@dataclass
class RunView:
    """One question and everything that came back for it."""

    number: int
    record: Investigation
    steps: list[StepView] = field(default_factory=list)
    report: Report | None = None
    usage: Usage = field(default_factory=Usage)
    status: str = "running"
    error: str | None = None

    @property
    def question(self) -> str:
        return escape_controls(self.record.question)

    @property
    def is_follow_up(self) -> bool:
        return self.number > 0


class Session:
    """The runs of one investigation (root + follow-ups), built from events."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.runs: list[RunView] = []
        self.pending: str | None = None
        self.started_at: float | None = None
        self.finished_at: float | None = None

    @classmethod
    def from_events(cls, events: Iterable[Event], clock: Callable[[], float]) -> Session:
        session = cls(clock)
        for event in events:
            session.apply(event)
        return session

    # -- queries -----------------------------------------------------------------------------

    @property
    def current(self) -> RunView | None:
        return self.runs[-1] if self.runs else None

    @property
    def steps(self) -> list[StepView]:
        return [s for run in self.runs for s in run.steps]

    @property
    def report(self) -> Report | None:
        """The latest report (a follow-up's report supersedes the root's)."""
        for run in reversed(self.runs):
            if run.report is not None:
                return run.report
        return None

    @property
    def usage(self) -> Usage:
        """Tokens and cost summed over every run."""
        total = Usage()
        costs = [r.usage.cost_usd for r in self.runs if r.usage.cost_usd is not None]
        for run in self.runs:
            total.requests += run.usage.requests
            total.input_tokens += run.usage.input_tokens
            total.output_tokens += run.usage.output_tokens
        total.cost_usd = sum(costs) if costs else None
        return total

    @property
    def questions(self) -> list[str]:
        """Every question of the session, the one still waiting to start included."""
        asked = [run.question for run in self.runs]
        if self.pending is None:
            return asked
        return [*asked, escape_controls(self.pending)]

    def ask(self, question: str) -> None:
        """A question was entered: the clock starts now, before its run has started."""
        self.pending = question
        self.started_at = self._clock()
        self.finished_at = None

    def elapsed(self) -> float:
        """Seconds since the current question was entered (frozen once its run finishes)."""
        if self.started_at is None:
            return 0.0
        end = self.finished_at if self.finished_at is not None else self._clock()
        return max(0.0, end - self.started_at)

    def find(self, key: str) -> StepView | None:
        for step in self.steps:
            if step.key == key:
                return step
        return None

    # -- events ------------------------------------------------------------------------------

    def apply(self, event: Event) -> StepView | None:
        """Apply one event; return the step it created or changed, if any."""
        if isinstance(event, InvestigationStarted):
            self.runs.append(RunView(number=len(self.runs), record=event.investigation))
            if self.pending is None:  # a replay, or a run not started through ask()
                self.started_at = self._clock()
            self.pending = None
            self.finished_at = None
            return None
        run = self.current
        if run is None:
            return None
        if isinstance(event, StepPlanned):
            return self._plan(run, event.index, event.action, event.reasoning, event.parameters)
        if isinstance(event, StepCompleted | StepFailed):
            return self._complete(run, event.step, failed=isinstance(event, StepFailed))
        if isinstance(event, ReportReady):
            run.report = visible_model(event.report)
        elif isinstance(event, UsageUpdated):
            run.usage = event.usage
        elif isinstance(event, InvestigationFinished):
            record = event.investigation
            run.status = record.status
            run.error = visible(record.error)
            if record.report is not None:
                run.report = visible_model(record.report)
            run.usage = record.usage
            for view in run.steps:
                if view.status == "running":
                    view.status = "failed"
            self.finished_at = self._clock()
        return None

    def _plan(
        self, run: RunView, index: int, action: str, reasoning: str, parameters: dict[str, Any]
    ) -> StepView:
        view = StepView(
            run=run.number,
            index=index,
            action=action,
            reasoning=visible(reasoning),
            parameters=visible(parameters),
            status="running",
        )
        run.steps.append(view)
        return view

    def _complete(self, run: RunView, step: Step, *, failed: bool) -> StepView:
        view = next((v for v in run.steps if v.index == step.index), None)
        if view is None:  # completed without being planned (an older saved record)
            view = self._plan(run, step.index, step.action, step.reasoning, step.parameters)
        view.step = visible_model(step)
        view.status = "failed" if failed or not step.success else "done"
        return view
