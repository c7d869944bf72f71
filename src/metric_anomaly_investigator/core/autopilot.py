"""The autopilot: an offline, deterministic analyst exposed as a PydanticAI model.

:class:`AutopilotModel` is a :class:`~pydantic_ai.models.function.FunctionModel` that answers
the Step Decision agent with one :class:`StepDecision` and the Insights agent with a
:class:`Report`, through the agents' output tools — so the orchestrator, the records and the UI
are the same whichever model runs. It reads the question from the prompt (the ``## Question``
section written by ``agents.render_prompt``) and what the investigation has established from the
Tool Executor's context. It never sees any ground truth.

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
from .actions.formatting import plural
from .actions.insights import history_shortfall
from .analyst_base import (
    INFORMATIVE,
    Plan,
    Prompt,
    read_prompt,
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
    Report,
    SegmentByDimension,
    StatisticalTest,
    StepDecision,
)
from .question import ParsedQuestion
from .report_markdown import format_filters
from .tools import ToolExecutor

CORE_METRICS = tuple(catalogue.core_metrics())
MAX_SEGMENT_STEPS = 2


class Analyst(ReportWriter):
    """The decision policy over a :class:`ToolExecutor` (deterministic, data-driven)."""

    def decide(self, prompt: Prompt) -> StepDecision:
        plan = self._plan_for(prompt)
        # failed steps count as done too: a failing action is not repeated
        plan.done = {signature(h.action) for h in self._run(plan)}
        left = prompt.max_steps - prompt.steps_used
        if left <= 1 or (prompt.retry and "No data has been looked at" not in prompt.retry):
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
        missing = self._plan.question.missing_metric if self._plan else None
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
        if q.missing_metric is not None:  # never a silent substitute: the report says so
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
            if (self.ctx.retention or {}).get("declined"):
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
        # 6. retention when users may be churning
        if schema.has_users and (q.about_retention or self._churn_suspected()):
            user_filters = self._user_level(segs[0].filters) if segs else {}
            act_r = AnalyzeRetention(filters=user_filters)
            if self._fresh(plan, act_r):
                return (
                    "Check whether recent signup cohorts retain worse than earlier ones.",
                    act_r,
                )
        return None

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
        return seg

    def _churn_suspected(self) -> bool:
        a = self.ctx.anomaly
        if a is None or a.direction != "drop" or self.executor.schema.is_ratio(a.metric):
            return False
        return a.kind == "drift" or not self.ctx.segments

    def _user_level(self, filters: dict[str, str]) -> dict[str, str]:
        levels = {d.name: d.level for d in self.executor.schema.dimensions}
        return {k: v for k, v in filters.items() if levels.get(k) == "user"}


class AutopilotModel(FunctionModel):
    """A PydanticAI model that plays both agents with the deterministic :class:`Analyst`."""

    def __init__(self, executor: ToolExecutor) -> None:
        self.analyst = Analyst(executor)
        super().__init__(self._respond, model_name=AUTOPILOT)

    @property
    def system(self) -> str:
        return AUTOPILOT

    def _respond(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        prompt = read_prompt(messages)
        tool = info.output_tools[0]
        is_report = "summary" in tool.parameters_json_schema.get("properties", {})
        output: StepDecision | Report = (
            self.analyst.report(prompt) if is_report else self.analyst.decide(prompt)
        )
        return ModelResponse(parts=[ToolCallPart(tool.name, output.model_dump(mode="json"))])


def autopilot_model(executor: ToolExecutor) -> AutopilotModel:
    """The autopilot for one executor (the orchestrator's default model)."""
    return AutopilotModel(executor)
