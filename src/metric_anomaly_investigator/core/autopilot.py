"""The autopilot: an offline, deterministic analyst exposed as a PydanticAI model.

:class:`AutopilotModel` is a :class:`~pydantic_ai.models.function.FunctionModel` that answers
the Step Decision agent with one :class:`StepDecision` and the Insights agent with a
:class:`Report`, through the agents' output tools — so the orchestrator, the records and the UI
are the same whichever model runs. It reads no prompt text: the question, the budget and the steps
come typed from the run's deps (``agents.current_deps``), which agent is asking from the output
tool's name, and what the investigation has established from the Tool Executor's context (typed
outcomes). It never sees any ground truth.

The policy, like a senior analyst: establish the anomaly against a seasonal baseline (checking
the other core metrics when the one asked about shows nothing) → break it down by the dimensions
where the change concentrates → localize the root-cause segment across dimension combinations →
test it (and any segment the question blames, as a hypothesis) → check deployments and other
changes → look at retention when users may be churning → write the report with calibrated
confidence.
"""

from __future__ import annotations

from datetime import date

from pydantic_ai.messages import (
    ModelMessage,
    ModelResponse,
    ToolCallPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from ..settings import AUTOPILOT
from ..warehouse import metrics as catalogue
from .actions import accounts
from .actions.formatting import pct, plural
from .actions.insights import history_shortfall
from .agents import REPORT_TOOL, current_deps
from .analyst_base import (
    INFORMATIVE,
    Plan,
    Prompt,
    read_turn,
    signature,
)
from .analyst_report import ReportWriter
from .models import (
    Action,
    AnalyzeRetention,
    CheckDeployments,
    DetectAnomaly,
    DrillDown,
    GenerateInsights,
    ProfileAccounts,
    Report,
    SegmentByDimension,
    StatisticalTest,
    StepDecision,
)
from .outcomes import AccountsProfiled, DimensionSplit, SegmentTest
from .question import ParsedQuestion
from .report_markdown import format_filters
from .tools import ToolExecutor

CORE_METRICS = tuple(catalogue.core_metrics())
MAX_SEGMENT_STEPS = 2


class Analyst(ReportWriter):
    """The decision policy over a :class:`ToolExecutor` (deterministic, data-driven)."""

    def decide(self, prompt: Prompt) -> StepDecision:
        plan = self._plan_for(prompt)
        # failed steps count as done too: a failing action is not repeated; a follow-up never
        # repeats a step of the earlier questions (their findings are in the context)
        steps = self.ctx.history if plan.follow_up else self._run(plan)
        plan.done = {signature(h.action) for h in steps}
        self._settle_event_types()
        left = prompt.max_steps - prompt.steps_used
        # a rejected step is concluded on, unless no data has been looked at yet (the one
        # rejection of a report that asks for a data step first)
        if left <= 1 or (prompt.rejected and prompt.data_steps > 0):
            return self._conclude("The step budget is nearly used up: writing the report.")
        step = self._next(plan)
        if step is None:
            return self._conclude(self._why_conclude())
        reasoning, action = step
        return StepDecision(reasoning=reasoning, action=action)

    def _conclude(self, why: str) -> StepDecision:
        return StepDecision(reasoning=why, action=GenerateInsights())

    def _why_conclude(self) -> str:
        a = self.ctx.anomaly
        shortfall = history_shortfall(self.ctx)
        if (a is None or not a.detected) and shortfall is not None:
            return (
                f"Only {plural(shortfall.usable_days, 'usable day')} of data, fewer than the "
                f"{shortfall.needed_days} a seasonal baseline needs: too little history to judge."
            )
        q = self._plan.question if self._plan else None
        missing = q.missing_metric or q.unknown_metric if q else None
        if missing is not None:
            return (
                f"The question asks about {missing}, which this warehouse does not have: "
                "saying so rather than investigating another metric in its place."
            )
        if a is None or not a.detected:
            return "No metric broke from its seasonal baseline: concluding there is no anomaly."
        return "The anomaly, the affected segment and the changes around it are established."

    def _fresh(self, plan: Plan, action: Action) -> bool:
        return signature(action) not in plan.done

    def _next(self, plan: Plan) -> tuple[str, Action] | None:
        q = plan.question
        schema = self.executor.schema
        if q.missing_metric is not None or q.unknown_metric is not None:
            # never a silent substitute: the report says so
            return None
        metric = self._metric(plan)
        hint = self._hint(q)
        # 1. the anomaly, on the metric asked about, then on the other core metrics
        first = DetectAnomaly(metric=metric, hint_date=hint)
        if self._fresh(plan, first) and not self._known(metric):
            return (
                f"Establish whether and when {metric} broke from its seasonal baseline"
                + (f", starting from the date mentioned ({hint})." if hint else "."),
                first,
            )
        anomaly = self.ctx.anomaly
        if (anomaly is None or not anomaly.detected) and not (plan.follow_up and anomaly):
            if history_shortfall(self.ctx) is not None:  # the other metrics span the same days
                return None
            retention = AnalyzeRetention()
            if q.about_retention and schema.has_users and self._fresh(plan, retention):
                return (
                    "No break in the daily metric and the question is about retention: "
                    "compare signup cohorts with earlier ones.",
                    retention,
                )
            if self.ctx.retention is not None:
                return None
            for other in [*CORE_METRICS, *(m.name for m in schema.custom_metrics)]:
                if other in schema.metrics and other not in self.ctx.checked_metrics():
                    act = DetectAnomaly(metric=other, hint_date=hint)
                    if self._fresh(plan, act):
                        return (
                            f"{metric} shows no break; check {other} before concluding.",
                            act,
                        )
            return None
        anomaly = self.ctx.anomaly
        assert anomaly is not None
        m = anomaly.metric
        # 2. break it down along the dimensions where the change concentrates
        scores = self.executor.rank_dimensions(m, anomaly.filters)
        ranked = [d for d in sorted(scores, key=lambda d: -scores[d]) if scores[d] >= INFORMATIVE]
        for dim in ranked[:MAX_SEGMENT_STEPS]:
            act_s = SegmentByDimension(metric=m, dimension=dim, filters=anomaly.filters)
            if self._fresh(plan, act_s):
                return (
                    f"The change concentrates along {dim} (score {scores[dim]:.2f}): "
                    "compare its values before and during the anomaly.",
                    act_s,
                )
        # 3. localize across combinations
        drill = DrillDown(metric=m, filters=anomaly.filters)
        if self._fresh(plan, drill):
            return (
                "Search combinations of the informative dimensions for the smallest "
                "segment that explains the change.",
                drill,
            )
        # a follow-up's own question first: the segment, dimensions or accounts it names
        if plan.follow_up:
            targeted = self._targeted(plan, m)
            if targeted is not None:
                return targeted
        # 4. test the top segment, and the question's own hypothesis
        segs = self.ctx.segments
        if segs:
            test = StatisticalTest(metric=m, segment=segs[0].filters, compare_to="before")
            if self._fresh(plan, test):
                return (
                    f"Test whether {format_filters(segs[0].filters)} changed significantly.",
                    test,
                )
        hypo = self._hypothesis(plan)
        if hypo is not None:
            test_h = StatisticalTest(metric=m, segment=hypo, compare_to="before")
            if self._fresh(plan, test_h):
                return (
                    f"The question points at {format_filters(hypo)}: "
                    "test that hypothesis against the data.",
                    test_h,
                )
        # 5. what changed at that time
        if schema.has_deployments or schema.has_annotations:
            dep = CheckDeployments()
            if self._fresh(plan, dep):
                return (
                    "Look for deployments and other changes near the anomaly start that "
                    "match the affected segment.",
                    dep,
                )
        # 6. how the change happened: users vs events, new accounts, event types
        check = self._mechanism_check(plan, m)
        if check is not None:
            return check
        # 7. retention when users may be churning
        if schema.has_users and (q.about_retention or self._churn_suspected()):
            user_filters = self._user_level(segs[0].filters) if segs else {}
            act_r = AnalyzeRetention(filters=user_filters)
            if self._fresh(plan, act_r):
                return (
                    "Check whether recent signup cohorts retain worse than earlier ones.",
                    act_r,
                )
        return None

    def _focus(self, plan: Plan) -> dict[str, str]:
        """The segment a follow-up asks about, else the top affected one, else the anomaly's."""
        return self._named_segment(plan) or self._top()

    def _named_segment(self, plan: Plan) -> dict[str, str]:
        a = self.ctx.anomaly
        own = self.executor.schema.metric(a.metric).filter_columns if a else frozenset()
        named = {k: v for k, v in plan.question.segment.items() if k not in own}
        return {**(a.filters if a else {}), **named} if named else {}

    def _targeted(self, plan: Plan, m: str) -> tuple[str, Action] | None:
        """The steps a follow-up's own question calls for (never a repeat of earlier ones): a
        test of the segment it names, a split along the dimensions it names, the accounts."""
        q = plan.question
        named = self._named_segment(plan)
        if named:
            test = StatisticalTest(metric=m, segment=named, compare_to="before")
            if self._fresh(plan, test):
                return (
                    f"The follow-up asks about {format_filters(named)}: test its change "
                    "against before the anomaly.",
                    test,
                )
        focus = self._focus(plan)
        for dim in q.dimensions:
            split = self._split(m, dim, focus)
            if split is not None and self._fresh(plan, split):
                where = format_filters(focus) if focus else "all traffic"
                return (f"The follow-up asks by {dim}: split {where} along it.", split)
        if q.about_accounts and self._activity(m):
            profile = ProfileAccounts(segment=focus)
            if self._fresh(plan, profile):
                return (
                    "The follow-up asks about the accounts behind the change: count them, new "
                    "vs existing, with their events per account.",
                    profile,
                )
        return None

    def _split(self, m: str, dim: str, focus: dict[str, str]) -> SegmentByDimension | None:
        """A split of ``focus`` along ``dim``: an event-type split counts events (a per-user
        ratio by event type changes its denominator too)."""
        schema = self.executor.schema
        metric = m
        if dim == "event_type" and not schema.metric(m).counts_events:
            counts = [n for n in schema.metrics if schema.metric(n).counts_events]
            if not counts:
                return None
            metric = counts[0]
        if (
            dim not in schema.metric_dimensions(metric)
            or dim in focus
            or self.executor.workbench.split_problem(metric, dim) is not None
        ):
            return None
        return SegmentByDimension(metric=metric, dimension=dim, filters=focus)

    def _activity(self, m: str) -> bool:
        """A metric made of the events table's unfiltered events, users or sessions: the
        accounts behind it can be profiled."""
        metric = self.executor.schema.metric(m)
        return metric.table == "events" and metric.plain

    def _mechanism_check(self, plan: Plan, m: str) -> tuple[str, Action] | None:
        """Profile the accounts behind the top segment (users vs events, new accounts), then —
        when its events moved while its users did not — split them by event type.

        Its trigger: a change of an event count (where logging and automated traffic show), a
        spike or a drift of any activity metric (new accounts; people coming less or more), or a
        segment whose users fell (its test measured it) with no release to explain it or only
        for a while (an outage ends); for a rate or a mean (an error rate, a latency), a step in
        its bad direction (did the segment break?).
        """
        a = self.ctx.anomaly
        metric = self.executor.schema.metric(m)
        rate = metric.table == "events" and metric.is_ratio and not metric.plain
        if a is None or not (self._activity(m) or rate):
            return None
        focus = self._focus(plan) if plan.follow_up else self._top()
        if rate and (a.direction != metric.bad_direction or a.kind == "drift"):
            return None
        if (
            not rate
            and metric.numerator.measure != "events"
            and a.direction != "spike"
            and a.kind != "drift"
            and not self._vanished(focus)
        ):
            return None
        profile = ProfileAccounts(segment=focus)
        if self._fresh(plan, profile):
            return (
                "Check how the change happened: did users leave or do less, and are new "
                "accounts behind it (their number and events per account)?",
                profile,
            )
        profiled = self._profiled(focus)
        if rate or profiled is None or not profiled.events_without_users:
            return None
        split = self._split(m, "event_type", profiled.tested)
        if split is not None and self._fresh(plan, split):
            return (
                f"Events moved {_pct(profiled.events_change)} while users moved "
                f"{_pct(profiled.users_change)}: split the events by type — one type "
                "vanishing is logging, every type moving is behaviour.",
                split,
            )
        return None

    def _vanished(self, segment: dict[str, str]) -> bool:
        """The segment's users fell (its test says by how much), and no release explains it or
        the drop ended before the data does: was it an outage?"""
        a = self.ctx.anomaly
        if a is None or a.direction != "drop":
            return False
        fell = any(
            isinstance(h.action, StatisticalTest)
            and h.action.segment == segment
            and h.action.compare_to == "before"
            and isinstance(h.result.outcome, SegmentTest)
            and (h.result.outcome.rel_diff or 0.0) <= -accounts.MOVED
            for h in self.ctx.history
        )
        explained = {e.kind for e in self.ctx.events if e.explains and e.segment == segment}
        if explained - {"deployment"}:  # a holiday, an incident…: the annotation says how
            return False
        ended = a.end is not None and a.end < self.executor.schema.end_date
        return fell and (ended or not explained)

    def _top(self) -> dict[str, str]:
        a = self.ctx.anomaly
        segs = self.ctx.segments
        return dict(segs[0].filters) if segs else dict(a.filters) if a else {}

    def _profiled(self, segment: dict[str, str]) -> AccountsProfiled | None:
        """The latest accounts profile of ``segment``."""
        for h in reversed(self.ctx.history):
            found = h.result.outcome
            if isinstance(found, AccountsProfiled) and found.segment == segment:
                return found
        return None

    def _settle_event_types(self) -> None:
        """Record instrumentation (or behaviour) once an event-type split followed a profile
        that found events moving without their users (see ``accounts.event_type_mechanism``)."""
        for i, h in enumerate(self.ctx.history):
            profiled = h.result.outcome
            if not (isinstance(profiled, AccountsProfiled) and profiled.events_without_users):
                continue
            for later in self.ctx.history[i + 1 :]:
                split = later.result.outcome
                if (
                    isinstance(split, DimensionSplit)
                    and split.dimension == "event_type"
                    and split.filters == profiled.tested
                ):
                    found = accounts.event_type_mechanism(split)
                    if found is not None and found[0] == "instrumentation":
                        evidence = (
                            f"{found[1]}; events {_pct(profiled.events_change)} while users "
                            f"{_pct(profiled.users_change)}"
                        )
                        accounts.record(self.ctx, profiled.segment, found[0], evidence)

    def _hint(self, q: ParsedQuestion) -> date | None:
        """The day the question names, when it lies in the data's range.

        A period ("mid October", "since May", "last week") is no hint: its first day is rarely
        where a break starts, and a hint pins the detector to it; the detector finds the break.
        """
        s = self.executor.schema
        day = q.day
        if day is None or not s.start_date <= day <= s.end_date:
            return None
        return day

    def _known(self, metric: str) -> bool:
        """A follow-up may reuse an anomaly already established for this metric."""
        a = self.ctx.anomaly
        return bool(self._plan and self._plan.follow_up and a and a.metric == metric)

    def _hypothesis(self, plan: Plan) -> dict[str, str] | None:
        a = self.ctx.anomaly
        # "errors" in a question about the error rate names the metric, not a segment of it
        own = self.executor.schema.metric(a.metric).filter_columns if a else frozenset()
        seg = {k: v for k, v in plan.question.segment.items() if k not in own}
        if not seg or any(s.filters == seg for s in self.ctx.segments):
            return None
        schema = self.executor.schema
        if a is not None and any(schema.dimension_problem(a.metric, d) for d in seg):
            return None  # its table lacks the dimension: the report says so, no test can
        return seg

    def _churn_suspected(self) -> bool:
        a = self.ctx.anomaly
        if a is None or a.direction != "drop" or self.executor.schema.is_ratio(a.metric):
            return False
        return a.kind == "drift" or not self.ctx.segments

    def _user_level(self, filters: dict[str, str]) -> dict[str, str]:
        levels = {d.name: d.level for d in self.executor.schema.dimensions}
        return {k: v for k, v in filters.items() if levels.get(k) == "user"}


def _pct(rel: float | None) -> str:
    return pct(100 * rel) if rel is not None else "n/a"


class AutopilotModel(FunctionModel):
    """A PydanticAI model that plays both agents with the deterministic :class:`Analyst`."""

    def __init__(self, executor: ToolExecutor) -> None:
        self.analyst = Analyst(executor)
        super().__init__(self._respond, model_name=AUTOPILOT)

    @property
    def system(self) -> str:
        return AUTOPILOT

    def _respond(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        deps = current_deps()
        if deps is None:
            raise RuntimeError("the autopilot answers only the agents' runs (agents.run_agent)")
        prompt = read_turn(deps, messages)
        (tool,) = info.output_tools
        output: StepDecision | Report = (
            self.analyst.report(prompt) if tool.name == REPORT_TOOL else self.analyst.decide(prompt)
        )
        return ModelResponse(parts=[ToolCallPart(tool.name, output.model_dump(mode="json"))])


def autopilot_model(executor: ToolExecutor) -> AutopilotModel:
    """The autopilot for one executor (the orchestrator's default model)."""
    return AutopilotModel(executor)
