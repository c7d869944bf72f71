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

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryFeedbackPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from ..settings import AUTOPILOT
from ..warehouse import metrics as catalogue
from ..warehouse.metric_config import toml_body
from .actions.formatting import plural
from .actions.insights import HistoryShortfall, history_shortfall
from .context import Anomaly, HistoryEntry, InvestigationContext, SegmentFinding
from .models import (
    Action,
    AffectedSegment,
    AnalyzeRetention,
    AnomalySummary,
    CheckDeployments,
    CorrelatedEvent,
    DetectAnomaly,
    DrillDown,
    GenerateInsights,
    Report,
    SegmentByDimension,
    StatisticalTest,
    StepDecision,
)
from .question import ParsedQuestion, parse_question
from .report_markdown import format_filters
from .tools import ToolExecutor

CORE_METRICS = tuple(catalogue.core_metrics())
MAX_SEGMENT_STEPS = 2
INFORMATIVE = 0.15

_QUESTION_RE = re.compile(r"## Question\n(.*?)(?:\n\n## |\Z)", re.S)
_USED_RE = re.compile(r"\((\d+) of at most (\d+) steps? used\)")


@dataclass
class _Prompt:
    question: str
    follow_up: bool
    steps_used: int
    max_steps: int
    retry: str | None = None


def _read_prompt(messages: list[ModelMessage]) -> _Prompt:
    """The question, whether it is a follow-up and the step budget, from the agent's prompt."""
    text, retry = "", None
    for msg in messages:
        if not isinstance(msg, ModelRequest):
            continue
        for part in msg.parts:
            if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                text = part.content
            elif isinstance(part, RetryFeedbackPart) or (
                isinstance(part, ToolReturnPart) and part.outcome == "retried"
            ):  # a rejected output: a retried output-tool call, or feedback on the response
                retry = str(part.content)
    m = _QUESTION_RE.search(text)
    question = m.group(1).strip() if m else text.strip().splitlines()[0] if text.strip() else ""
    used = _USED_RE.search(text)
    return _Prompt(
        question=question,
        follow_up="## Earlier in this investigation" in text,
        steps_used=int(used.group(1)) if used else 0,
        max_steps=int(used.group(2)) if used else 12,
        retry=retry,
    )


@dataclass
class _Plan:
    """What the analyst has decided for the current question."""

    question: ParsedQuestion
    follow_up: bool
    history_start: int = 0  # where this run's steps begin in the context's history
    done: set[str] = field(default_factory=set)


class Analyst:
    """The decision policy over a :class:`ToolExecutor` (deterministic, data-driven)."""

    def __init__(self, executor: ToolExecutor) -> None:
        self.executor = executor
        self._plan: _Plan | None = None
        self._key: tuple[str, bool] | None = None

    @property
    def ctx(self) -> InvestigationContext:
        return self.executor.context

    # -- step decisions --------------------------------------------------------------------------
    def decide(self, prompt: _Prompt) -> StepDecision:
        plan = self._plan_for(prompt)
        # failed steps count as done too: a failing action is not repeated
        plan.done = {_signature(h.action) for h in self._run(plan)}
        left = prompt.max_steps - prompt.steps_used
        if left <= 1 or (prompt.retry and "No data has been looked at" not in prompt.retry):
            return self._conclude("The step budget is nearly used up: writing the report.")
        step = self._next(plan)
        if step is None:
            return self._conclude(self._why_conclude())
        reasoning, action = step
        return StepDecision(reasoning=reasoning, action=action)

    def _plan_for(self, prompt: _Prompt) -> _Plan:
        key = (prompt.question, prompt.follow_up)
        if self._plan is None or self._key != key or prompt.steps_used == 0:
            self._plan = _Plan(
                parse_question(prompt.question, self.executor.schema),
                prompt.follow_up,
                history_start=max(0, len(self.ctx.history) - prompt.steps_used),
            )
            self._key = key
        return self._plan

    def _run(self, plan: _Plan) -> list[HistoryEntry]:
        """The steps of the current run (the question being answered)."""
        return self.ctx.history[plan.history_start :]

    def _failed(self, plan: _Plan, *kinds: type) -> list[str]:
        """The errors of this run's steps of these kinds when none of them succeeded.

        A failed step is "not known", never a negative finding: the report says it failed.
        """
        steps = [h for h in self._run(plan) if isinstance(h.action, kinds)]
        if any(h.result.success for h in steps):
            return []
        return [h.result.error or "no reason given" for h in steps]

    def _no_deploy(self, plan: _Plan) -> str | None:
        """What a report may say about deployments when none explains the change: only a check
        that ran rules them out, a failed check rules nothing out, no check says nothing."""
        if self._failed(plan, CheckDeployments):
            return "whether a deployment explains it is not known (the check failed)"
        if any(
            isinstance(h.action, CheckDeployments) and h.result.success for h in self.ctx.history
        ):
            return "no deployment explains it"
        return None

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

    def _fresh(self, plan: _Plan, action: Action) -> bool:
        return _signature(action) not in plan.done

    def _next(self, plan: _Plan) -> tuple[str, Action] | None:
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

    def _metric(self, plan: _Plan) -> str:
        """The metric checked first: the one asked about, in a follow-up the one established,
        else dau; the warehouse's first metric when it lacks that one."""
        q, metrics = plan.question, self.executor.schema.metrics
        metric = q.metric or (self.ctx.metric if plan.follow_up and self.ctx.metric else "dau")
        return metric if metric in metrics else metrics[0]

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

    def _hypothesis(self, plan: _Plan) -> dict[str, str] | None:
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

    # -- the report -------------------------------------------------------------------------------
    def report(self, prompt: _Prompt) -> Report:
        # the report's prompt carries no step count: the run began where the last plan did
        # (with no plan, another model took the steps: all of the history is considered)
        start = self._plan.history_start if self._plan is not None else 0
        plan = self._plan_for(prompt)
        plan.history_start = start
        ctx = self.ctx
        a = ctx.anomaly
        retention = ctx.retention or {}
        shortfall = history_shortfall(ctx)
        detect_errors = self._failed(plan, DetectAnomaly)
        if plan.question.missing_metric is not None:
            report = self._missing_metric_report(plan.question.missing_metric)
        elif (a is None or not a.detected) and retention.get("declined"):
            report = self._retention_report(plan, retention)
        elif a is None and detect_errors:
            report = self._undetermined_report(plan, detect_errors[-1])
        elif (a is None or not a.detected) and shortfall is not None:
            report = self._thin_data_report(plan, a, shortfall)
        elif a is None or not a.detected:
            report = self._no_anomaly_report(plan, a)
        else:
            report = self._anomaly_report(plan, a)
        notes = self.executor.schema.coverage_notes()
        if notes:  # what the data range leaves out (an incomplete last day…)
            report.summary += " " + " ".join(notes)
        return report

    def _missing_metric_report(self, name: str) -> Report:
        have = self.executor.schema.metrics
        metric = catalogue.get(name)
        first = have[0] if have else "dau"
        return Report(
            summary=catalogue.missing_metric_note(name, have),
            root_cause=f"Not investigated: the data has no {metric.label} to look at.",
            anomaly=AnomalySummary(metric=name, direction="none"),
            recommendations=[
                f"To investigate {metric.label}, define it in mai.toml (beside the warehouse, "
                f"or --config) from your columns, e.g. [metrics.{name}] "
                + "; ".join(toml_body(metric).splitlines())
                + " (mai data metrics lists the columns and more definitions).",
                f"Or ask about a metric it has, e.g. 'Why did {first} change last week?'.",
            ],
            confidence=0.0,
        )

    def _undetermined_report(self, plan: _Plan, error: str) -> Report:
        metric = self._metric(plan)
        return Report(
            summary=(
                f"Could not establish whether {metric} moved: the anomaly check failed "
                f"({_short(error)}). No conclusion either way."
            ),
            root_cause="Undetermined: the anomaly check failed, so nothing is known yet.",
            anomaly=AnomalySummary(metric=metric, direction="none"),
            recommendations=[
                "Fix the cause of the failure above (the warehouse, its columns or types) and "
                "re-run the investigation.",
            ],
            confidence=0.1,
        )

    def _thin_data_report(
        self, plan: _Plan, a: Anomaly | None, shortfall: HistoryShortfall
    ) -> Report:
        s = self.executor.schema
        return Report(
            summary=(
                f"Not enough history to judge: the data covers {s.start_date} to {s.end_date}, "
                f"only {plural(shortfall.usable_days, 'usable day')} per metric, and telling a "
                "real break from the usual day-to-day and weekly variation takes at least "
                f"{shortfall.needed_days}. No conclusion either way."
            ),
            root_cause="Undetermined: there is too little history to tell whether anything broke.",
            anomaly=AnomalySummary(
                metric=(a.metric if a else self._metric(plan)), direction="none"
            ),
            recommendations=[
                f"Collect more history (at least {shortfall.needed_days} days, ideally four "
                "weeks or more) and re-run the investigation.",
                "Until then, compare the same weekdays directly and treat any movement as "
                "unconfirmed.",
            ],
            confidence=0.2,
        )

    def _no_anomaly_report(self, plan: _Plan, a: Anomaly | None) -> Report:
        checked = sorted(self.ctx.checked_metrics())
        reason = a.reason if a is not None else "no metric was checked"
        summary = (
            f"No anomaly: {', '.join(checked) or 'the metrics'} stayed within their normal "
            f"range — {reason}."
        )
        note = self._hint_note()
        if note:
            summary += " " + note
        return Report(
            summary=summary,
            root_cause="Nothing broke: the movement asked about is normal variation "
            "(e.g. the usual weekly pattern).",
            anomaly=AnomalySummary(
                metric=(a.metric if a else self._metric(plan)),
                direction="none",
                p_value=a.p_value if a else None,
            ),
            recommendations=[
                "No action needed; compare like-for-like weekdays rather than consecutive days.",
                "Keep monitoring against the seasonal baseline; re-run if the level stays off "
                "for several days.",
            ],
            confidence=0.8 if a is not None else 0.3,
        )

    def _hint_note(self) -> str:
        """What the check of the day the question names found (its first finding is the verdict)."""
        for h in reversed(self.ctx.history):
            if isinstance(h.action, DetectAnomaly) and h.action.hint_date and h.result.success:
                notes = [f for f in h.result.findings[1:] if "weekly pattern" in f]
                if notes:
                    return notes[0]
        return ""

    def _anomaly_report(self, plan: _Plan, a: Anomaly) -> Report:
        ctx = self.ctx
        segs = ctx.segments
        deploy_errors = self._failed(plan, CheckDeployments)
        segment_errors = self._segment_errors(plan) if not segs else []
        word = "dropped" if a.direction == "drop" else "spiked"
        change = f" {abs(a.change_pct):.1f}%" if a.change_pct is not None else ""
        until = f" to {a.end}" if a.end and a.end != self.executor.schema.end_date else " onwards"
        affected = [self._affected(s) for s in segs]
        explaining = [e for e in ctx.events if e.explains]
        deploy_explains = [e for e in explaining if e.kind == "deployment"]
        events = [
            CorrelatedEvent(
                kind=e.kind,
                id=e.id,
                at=e.at,
                description=e.description,
                confidence=round(min(0.95, 0.5 + 0.45 * e.score), 2),
            )
            for e in explaining[:3]
        ]
        ruled_out = [e for e in ctx.events if not e.explains and e.kind == "deployment"][:2]
        events += [
            CorrelatedEvent(
                kind=e.kind,
                id=e.id,
                at=e.at,
                description=f"ruled out: {e.description}",
                confidence=round(min(0.3, e.score), 2),
            )
            for e in ruled_out
        ]
        summary = f"{a.metric} {word}{change} vs its seasonal baseline from {a.start}{until}"
        summary += f" (p={a.p_value:.2g})." if a.p_value is not None else "."
        if segs:
            top = segs[0]
            seg_txt = " and ".join(format_filters(s.filters) for s in segs)
            there = f"{top.change_pct:+.1f}% there, " if top.change_pct is not None else ""
            summary += (
                f" The change is concentrated in {seg_txt} "
                f"({there}{100 * (top.share_of_change or 0):.0f}% of the change)."
            )
        elif segment_errors:
            summary += (
                " Where it concentrates is not known: the segment step failed "
                f"({_short(segment_errors[-1])})."
            )
        else:
            summary += " It is spread across all segments."
        if deploy_explains:
            d = deploy_explains[0]
            summary += f" It coincides with {d.id} ({d.description})."
        elif deploy_errors:
            summary += (
                f" The deployment check failed ({_short(deploy_errors[-1])}): whether a "
                "deployment explains it is not known."
            )
        elif (no_deploy := self._no_deploy(plan)) is not None:
            summary += f" {no_deploy[0].upper()}{no_deploy[1:]}."
        refuted = self._refuted(plan)
        if refuted:
            summary += " " + refuted
        root = self._root_cause(a, segs, explaining, deploy_explains, self._no_deploy(plan))
        if segment_errors:
            root = (
                f"A {a.direction} of {a.metric} whose segment is not known (the segment "
                "step failed)."
            )
        conf = self._confidence(a, segs, explaining)
        return Report(
            summary=summary,
            root_cause=root,
            anomaly=AnomalySummary(
                metric=a.metric,
                direction=a.direction,
                start=a.start,
                end=a.end,
                change_pct=a.change_pct,
                p_value=a.p_value,
            ),
            affected_segments=affected,
            correlated_events=events,
            recommendations=self._recommendations(a, segs, explaining),
            confidence=conf,
        )

    def _segment_errors(self, plan: _Plan) -> list[str]:
        """Errors of this run's segment steps when none succeeded and there was something to
        segment by (a drill-down with no informative dimension left is no failure)."""
        errors = self._failed(plan, SegmentByDimension, DrillDown)
        informative = any(v >= INFORMATIVE for v in self.ctx.dimension_scores.values())
        tried_segment = any(isinstance(h.action, SegmentByDimension) for h in self._run(plan))
        return errors if informative or tried_segment else []

    def _affected(self, s: SegmentFinding) -> AffectedSegment:
        share = s.share_of_change or 0.0
        sig = s.p_value is not None and s.p_value < 0.01
        conf = 0.3 + 0.6 * min(1.0, share / 0.5) + (0.05 if sig else 0.0)
        if s.p_value is not None and s.p_value >= 0.05:
            conf -= 0.2
        desc = f"{format_filters(s.filters)}: "
        desc += f"{s.change_pct:+.1f}% vs baseline, " if s.change_pct is not None else ""
        desc += f"{100 * share:.0f}% of the change"
        if s.p_value is not None:
            desc += f", p={s.p_value:.2g}"
        return AffectedSegment(
            filters=dict(s.filters),
            change_pct=s.change_pct,
            share_of_change=s.share_of_change,
            confidence=round(max(0.05, min(0.95, conf)), 2),
            description=desc,
        )

    def _refuted(self, plan: _Plan) -> str:
        hypo = plan.question.segment
        if not hypo or any(s.filters == hypo for s in self.ctx.segments):
            return ""
        for h in self.ctx.history:
            if (
                isinstance(h.action, StatisticalTest)
                and h.action.segment == hypo
                and h.result.success
            ):
                data = h.result.data
                rel = data.get("rel_diff")
                p = data.get("p_value")
                moved = f"{100 * rel:+.1f}%" if rel is not None else "n/a"
                inside = any(
                    all(s.filters.get(k) == v for k, v in hypo.items()) for s in self.ctx.segments
                )
                if inside:
                    return ""
                return (
                    f"The question's hypothesis ({format_filters(hypo)}) is not supported: "
                    "it moved "
                    f"{moved} (p={p:.2g})"
                    if p is not None
                    else f"The question's hypothesis ({format_filters(hypo)}) is not supported"
                ) + "."
        return f"The question's hypothesis ({format_filters(hypo)}) is not where the change is."

    def _root_cause(
        self,
        a: Anomaly,
        segs: list[SegmentFinding],
        explaining: list[Any],
        deploys: list[Any],
        no_deploy: str | None,
    ) -> str:
        if not segs:
            return f"A broad {a.direction} of {a.metric} not tied to one segment" + (
                f", coinciding with {explaining[0].id}." if explaining else "."
            )
        where = " and ".join(format_filters(s.filters) for s in segs)
        if deploys:
            return (
                f"{deploys[0].id} ({deploys[0].description}) — {a.metric} {a.direction} in {where}."
            )
        if explaining:
            return f"{explaining[0].kind} {explaining[0].id} — {a.metric} {a.direction} in {where}."
        counted = self.executor.schema.metric(a.metric).numerator
        deploys_said = f"; {no_deploy}." if no_deploy else "."
        if a.direction == "spike" and counted.measure == "events" and not counted.where:
            return (
                f"Extra activity concentrated in {where} (possibly automated traffic){deploys_said}"
            )
        return f"{a.metric} {a.direction} concentrated in {where}{deploys_said}"

    def _recommendations(
        self, a: Anomaly, segs: list[SegmentFinding], explaining: list[Any]
    ) -> list[str]:
        recs: list[str] = []
        where = format_filters(segs[0].filters) if segs else "all users"
        dims = set(segs[0].filters) if segs else set()
        event_dim = any(d == "event_type" for d in dims)
        deploys = [e for e in explaining if e.kind == "deployment"]
        if deploys:
            recs.append(
                f"Halt or roll back {deploys[0].id} for {where} and check its crash, "
                "error and funnel logs."
            )
        if event_dim and a.direction == "drop":
            recs.append(
                f"Check the tracking of {where}: events stopped being recorded — fix the "
                "logging and annotate the gap in dashboards."
            )
        if a.direction == "spike":
            recs.append(
                f"Inspect the accounts behind the extra activity in {where} (events per "
                "account, user agents); filter automated traffic from the metrics."
            )
        others = [e for e in explaining if e.kind != "deployment"]
        if others:
            recs.append(
                f"{others[0].description} explains the change: annotate it and compare "
                "against the same period of a previous cycle."
            )
        if segs and not deploys and not others and a.direction == "drop":
            recs.append(
                f"Talk to the owners of {where}: look for an outage, a policy or pricing "
                "change, or a partner issue that started on "
                f"{a.start}."
            )
        recs.append(f"Monitor {a.metric} for {where} daily until it returns to its baseline.")
        return recs

    def _confidence(self, a: Anomaly, segs: list[SegmentFinding], explaining: list[Any]) -> float:
        conf = 0.45
        if a.p_value is not None and a.p_value < 0.001:
            conf += 0.15
        if segs:
            conf += 0.2 * min(1.0, sum(s.share_of_change or 0 for s in segs))
        if explaining:
            conf += 0.1
        return round(min(0.95, conf), 2)

    def _retention_report(self, plan: _Plan, r: dict[str, Any]) -> Report:
        seg = r.get("segment") or {}
        start = date.fromisoformat(r["start"]) if r.get("start") else None
        end = date.fromisoformat(r["end"]) if r.get("end") else None
        change = r.get("change_pct")
        where = format_filters(seg) if seg else "all new users"
        affected = []
        if seg:
            affected.append(
                AffectedSegment(
                    filters=seg,
                    change_pct=change,
                    share_of_change=None,
                    confidence=0.75,
                    description=f"{where}: retention of cohorts from {start} to {end} "
                    f"{change:+.0f}% vs earlier cohorts"
                    if change is not None
                    else where,
                )
            )
        return Report(
            summary=(
                f"Retention dropped for users who signed up from {start} to {end}"
                + (f" ({change:+.0f}% vs earlier cohorts)" if change is not None else "")
                + f", concentrated in {where}. Daily metrics show no break of their own."
            ),
            root_cause=f"Recent cohorts in {where} retain worse than earlier ones"
            + (f"; {no_deploy}." if (no_deploy := self._no_deploy(plan)) else "."),
            anomaly=AnomalySummary(
                metric="retention",
                direction="drop",
                start=start,
                end=end,
                change_pct=change,
                p_value=r.get("p_value"),
            ),
            affected_segments=affected,
            recommendations=[
                f"Review how users in {where} were acquired in that period (targeting, promise "
                "vs product) and their onboarding.",
                "Track day-7 retention of new cohorts weekly, by acquisition segment.",
            ],
            confidence=0.7 if seg else 0.5,
        )


def _short(error: str) -> str:
    """An error's first line, short enough for a report sentence."""
    line = error.strip().splitlines()[0] if error.strip() else "no reason given"
    return line if len(line) <= 160 else line[:159] + "…"


def _signature(action: Action) -> str:
    return action.model_dump_json()


class AutopilotModel(FunctionModel):
    """A PydanticAI model that plays both agents with the deterministic :class:`Analyst`."""

    def __init__(self, executor: ToolExecutor) -> None:
        self.analyst = Analyst(executor)
        super().__init__(self._respond, model_name=AUTOPILOT)

    @property
    def system(self) -> str:
        return AUTOPILOT

    def _respond(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        prompt = _read_prompt(messages)
        tool = info.output_tools[0]
        is_report = "summary" in tool.parameters_json_schema.get("properties", {})
        output: StepDecision | Report = (
            self.analyst.report(prompt) if is_report else self.analyst.decide(prompt)
        )
        return ModelResponse(parts=[ToolCallPart(tool.name, output.model_dump(mode="json"))])


def autopilot_model(executor: ToolExecutor) -> AutopilotModel:
    """The autopilot for one executor (the orchestrator's default model)."""
    return AutopilotModel(executor)
