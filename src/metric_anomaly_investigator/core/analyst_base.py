"""What the autopilot's two halves share: the turn it answers (typed, from the run's deps), the
plan for the current question, and the view of this run's steps (which failed, what
deployments were checked)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    RetryFeedbackPart,
    ToolReturnPart,
)

from .agents import InvestigationDeps
from .context import HistoryEntry, InvestigationContext
from .models import (
    Action,
    CheckDeployments,
)
from .question import ParsedQuestion, parse_question
from .tools import ToolExecutor

INFORMATIVE = 0.15


@dataclass
class Prompt:
    """The turn the autopilot answers: the question, whether it follows earlier ones, this run's
    step budget, whether any data has been looked at, and whether its last output was
    rejected."""

    question: str
    follow_up: bool
    steps_used: int
    max_steps: int
    rejected: bool = False
    data_steps: int = 0  # successful data steps, this run's and earlier ones'


def read_turn(deps: InvestigationDeps, messages: list[ModelMessage]) -> Prompt:
    """The turn from the run's deps; whether the last output was rejected from its messages (a
    retried output-tool call, or feedback on a response)."""
    last = next((m for m in reversed(messages) if isinstance(m, ModelRequest)), None)
    rejected = last is not None and any(
        isinstance(part, RetryFeedbackPart)
        or (isinstance(part, ToolReturnPart) and part.outcome == "retried")
        for part in last.parts
    )
    return Prompt(
        question=deps.question,
        follow_up=bool(deps.earlier),
        steps_used=len(deps.steps),
        max_steps=deps.max_steps,
        rejected=rejected,
        data_steps=deps.data_steps,
    )


@dataclass
class Plan:
    """What the analyst has decided for the current question."""

    question: ParsedQuestion
    follow_up: bool
    history_start: int = 0  # where this run's steps begin in the context's history
    done: set[str] = field(default_factory=set)


class AnalystBase:
    """The state of the analyst over a :class:`ToolExecutor`: the plan and the run's steps."""

    def __init__(self, executor: ToolExecutor) -> None:
        self.executor = executor
        self._plan: Plan | None = None
        self._key: tuple[str, bool] | None = None

    @property
    def ctx(self) -> InvestigationContext:
        return self.executor.context

    def _plan_for(self, prompt: Prompt) -> Plan:
        key = (prompt.question, prompt.follow_up)
        if self._plan is None or self._key != key or prompt.steps_used == 0:
            self._plan = Plan(
                parse_question(prompt.question, self.executor.schema),
                prompt.follow_up,
                history_start=max(0, len(self.ctx.history) - prompt.steps_used),
            )
            self._key = key
        return self._plan

    def _run(self, plan: Plan) -> list[HistoryEntry]:
        """The steps of the current run (the question being answered)."""
        return self.ctx.history[plan.history_start :]

    def _failed(self, plan: Plan, *kinds: type) -> list[str]:
        """The errors of this run's steps of these kinds when none of them succeeded.

        A failed step is "not known", never a negative finding: the report says it failed.
        """
        steps = [h for h in self._run(plan) if isinstance(h.action, kinds)]
        if any(h.result.success for h in steps):
            return []
        return [h.result.error or "no reason given" for h in steps]

    def _no_deploy(self, plan: Plan) -> str | None:
        """What a report may say about deployments when none explains the change: only a check
        that ran rules them out, a failed check rules nothing out, no check says nothing."""
        if self._failed(plan, CheckDeployments):
            return "whether a deployment explains it is not known (the check failed)"
        if any(
            isinstance(h.action, CheckDeployments) and h.result.success for h in self.ctx.history
        ):
            return "no deployment explains it"
        return None

    def _metric(self, plan: Plan) -> str:
        """The metric checked first: the one asked about, in a follow-up the one established,
        else dau; the warehouse's first metric when it lacks that one."""
        q, metrics = plan.question, self.executor.schema.metrics
        metric = q.metric or (self.ctx.metric if plan.follow_up and self.ctx.metric else "dau")
        return metric if metric in metrics else metrics[0]


def short_error(error: str) -> str:
    """An error's first line, short enough for a report sentence."""
    line = error.strip().splitlines()[0] if error.strip() else "no reason given"
    return line if len(line) <= 160 else line[:159] + "…"


def signature(action: Action) -> str:
    return action.model_dump_json()
