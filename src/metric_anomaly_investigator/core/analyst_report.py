"""The autopilot's report: what the steps established, written as a :class:`Report`.

It opens with ``answer``, one paragraph answering the question actually asked ("No — …" when
its premise does not hold). Each affected segment is its own cause: its mechanism (when a check
or an in-scope event shows it) and the events whose scope covers it. Every figure is labelled
with its comparison, and a segment has one change wherever the report names it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..warehouse import metrics as catalogue
from ..warehouse.metric_config import toml_body
from .actions.deployments import explains_segment
from .actions.formatting import plural
from .actions.insights import HistoryShortfall, history_shortfall
from .analyst_base import INFORMATIVE, AnalystBase, Plan, Prompt, short_error
from .context import Anomaly, CohortBreak, EventFinding, MechanismFinding, SegmentFinding
from .mechanisms import CALENDAR_KINDS, OUTAGE_KINDS
from .models import (
    AffectedSegment,
    AnomalySummary,
    CheckDeployments,
    CorrelatedEvent,
    DetectAnomaly,
    DrillDown,
    Mechanism,
    Report,
    SegmentByDimension,
    StatisticalTest,
)
from .outcomes import SegmentTest
from .premise import Premise, read_premise
from .report_markdown import format_filters

SIGNIFICANT = 0.05
VS_BASELINE = "vs its seasonal baseline"
VS_BEFORE = "vs the weeks before"
# the drill-down's figure: the weeks before scaled by what most of the data did (growth, season)
VS_TREND = "vs the weeks before (trend-adjusted)"
MECHANISM_WORDS: dict[str, str] = {
    "behaviour": "a change in what people do",
    "outage": "an outage",
    "deployment": "a release in its scope",
    "instrumentation": "a logging change",
    "automated_traffic": "automated traffic",
    "calendar": "a calendar effect",
    "cohort": "recent cohorts retaining worse",
    "data_freshness": "data not fully loaded yet",
}
# mechanisms under which the movement is not people doing more or less
UNREAL = frozenset({"automated_traffic", "instrumentation", "data_freshness"})
CARRIES = 0.5  # a part carrying half of a change or more carries it
HOLDS = 0.9  # a segment holding this share of a cause's rows holds the cause
_COUNT_WORDS = {2: "two", 3: "three", 4: "four", 5: "five"}


@dataclass
class Cause:
    """One affected segment with what explains it: the in-scope events and the mechanism."""

    segment: SegmentFinding
    events: list[EventFinding] = field(default_factory=list)
    mechanism: Mechanism | None = None
    evidence: str | None = None

    @property
    def where(self) -> str:
        return format_filters(self.segment.filters)

    @property
    def deployments(self) -> list[EventFinding]:
        return [e for e in self.events if e.kind == "deployment"]


@dataclass(frozen=True)
class Verdict:
    """Whether the segment a question blames is where the change is, and what it did."""

    holds: bool | None  # None: not known
    moved: str  # e.g. "platform=ios moved +0.4% vs the weeks before (p=0.7)"


def change_text(pct: float | None, versus: str) -> str:
    """A signed change with its comparison: ``-63.2% vs the weeks before``."""
    return f"{pct:+.1f}% {versus}" if pct is not None else ""


def share_phrase(share: float | None) -> str:
    """A segment's share of the change, explained when it is not a plain part of it."""
    if share is None:
        return ""
    if share > 1.0:
        return (
            f"more than the whole change ({100 * share:.0f}% of it: other segments moved the "
            "other way)"
        )
    if share < 0:
        return f"against the change ({100 * share:.0f}% of it)"
    return f"{100 * share:.0f}% of the change"


def confidence_words(conf: float) -> str:
    level = "high" if conf >= 0.8 else "moderate" if conf >= 0.6 else "low"
    return f"Confidence: {level} ({conf:.2f})."


def _compatible(a: dict[str, str], b: dict[str, str]) -> bool:
    """No dimension on which the two segments name different values."""
    return all(b[k] == v for k, v in a.items() if k in b)


def _joined(items: list[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _moved(a: Anomaly) -> str:
    return "spiked" if a.direction == "spike" else "dropped"


def _direction_verb(direction: str) -> str:
    return "fall" if direction == "drop" else "rise"


class ReportWriter(AnalystBase):
    """The Insights half of the autopilot: the report, computed from what the steps established."""

    def report(self, prompt: Prompt) -> Report:
        # the report's prompt carries no step count: the run began where the last plan did
        # (with no plan, another model took the steps: all of the history is considered)
        start = self._plan.history_start if self._plan is not None else 0
        plan = self._plan_for(prompt)
        plan.history_start = start
        premise = read_premise(prompt.question, self.executor.schema)
        ctx = self.ctx
        a = ctx.anomaly
        retention = ctx.retention
        shortfall = history_shortfall(ctx)
        detect_errors = self._failed(plan, DetectAnomaly)
        if plan.question.missing_metric is not None:
            report = self._missing_metric_report(plan.question.missing_metric)
        elif plan.question.unknown_metric is not None:
            report = self._unknown_metric_report(plan.question.unknown_metric, prompt.question)
        elif (a is None or not a.detected) and retention is not None:
            report = self._retention_report(plan, retention, premise)
        elif a is None and detect_errors:
            report = self._undetermined_report(plan, detect_errors[-1])
        elif (a is None or not a.detected) and shortfall is not None:
            report = self._thin_data_report(plan, a, shortfall)
        elif a is None or not a.detected:
            report = self._no_anomaly_report(plan, a, premise)
        else:
            report = self._anomaly_report(plan, a, premise)
        notes = self.executor.schema.coverage_notes()
        if notes:  # what the data range leaves out (an incomplete last day…)
            report.summary += " " + " ".join(notes)
            report.answer += " " + " ".join(notes)
        return report

    def _missing_metric_report(self, name: str) -> Report:
        schema = self.executor.schema
        have = schema.metrics
        metric = catalogue.get(name)
        note = schema.missing_metric_note(name)
        # a per-user metric cannot be defined on daily totals: what can be done instead
        define = schema.define_advice(name) or (
            f"To investigate {metric.label}, define it in mai.toml (beside the warehouse, "
            f"or --config) from your columns, e.g. [metrics.{name}] "
            + "; ".join(toml_body(metric).splitlines())
            + " (mai data metrics lists the columns and more definitions)."
        )
        return Report(
            answer=f"Not answerable from this data: {note[0].lower()}{note[1:]}",
            summary=note,
            root_cause=f"Not investigated: the data has no {metric.label} to look at.",
            anomaly=AnomalySummary(metric=name, direction="none"),
            recommendations=[define, _ask_another(have)],
            confidence=0.0,
        )

    def _unknown_metric_report(self, name: str, question: str) -> Report:
        """A metric neither this warehouse nor the catalogue knows (NPS, support tickets…), as
        the question wrote it: named, never replaced by another."""
        written = re.search(re.escape(name), question, re.IGNORECASE)
        name = written[0] if written else name
        have = self.executor.schema.metrics
        listed = ", ".join(have) if have else "none"
        return Report(
            answer=(
                f"Not answerable from this data: this warehouse has no {name} metric (its "
                f"metrics: {listed}), so nothing was investigated in its place."
            ),
            summary=(
                f"The question asks about {name}, which this warehouse does not measure; its "
                f"metrics are {listed}. Nothing was investigated in its place."
            ),
            root_cause=f"Not investigated: the data has no {name} to look at.",
            anomaly=AnomalySummary(metric=name, direction="none"),
            recommendations=[
                f"To investigate {name}, define it in mai.toml (beside the warehouse, or "
                "--config) from your columns; mai data metrics lists the metrics, the numeric "
                "columns and definitions you could add.",
                _ask_another(have),
            ],
            confidence=0.0,
        )

    def _undetermined_report(self, plan: Plan, error: str) -> Report:
        metric = self._metric(plan)
        return Report(
            answer=(
                f"Not known: the anomaly check of {metric} failed ({short_error(error)}), so "
                f"whether {metric} moved cannot be said either way."
            ),
            summary=(
                f"Could not establish whether {metric} moved: the anomaly check failed "
                f"({short_error(error)}). No conclusion either way."
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
        self, plan: Plan, a: Anomaly | None, shortfall: HistoryShortfall
    ) -> Report:
        s = self.executor.schema
        metric = a.metric if a else self._metric(plan)
        return Report(
            answer=(
                f"Not known: with only {plural(shortfall.usable_days, 'usable day')} of "
                f"history ({s.start_date} to {s.end_date}), a break in {metric} cannot be told "
                f"from normal variation (that takes at least {shortfall.needed_days} days)."
            ),
            summary=(
                f"Not enough history to judge: the data covers {s.start_date} to {s.end_date}, "
                f"only {plural(shortfall.usable_days, 'usable day')} per metric, and telling a "
                "real break from the usual day-to-day and weekly variation takes at least "
                f"{shortfall.needed_days}. No conclusion either way."
            ),
            root_cause="Undetermined: there is too little history to tell whether anything broke.",
            anomaly=AnomalySummary(metric=metric, direction="none"),
            recommendations=[
                f"Collect more history (at least {shortfall.needed_days} days, ideally four "
                "weeks or more) and re-run the investigation.",
                "Until then, compare the same weekdays directly and treat any movement as "
                "unconfirmed.",
            ],
            confidence=0.2,
        )

    def _no_anomaly_report(self, plan: Plan, a: Anomaly | None, premise: Premise) -> Report:
        checked = sorted(self.ctx.checked_metrics())
        reason = a.reason if a is not None else "no metric was checked"
        summary = (
            f"No anomaly: {', '.join(checked) or 'the metrics'} stayed within their normal "
            f"range — {reason}."
        )
        note = self._hint_note()
        if note:
            summary += " " + note
        metric = a.metric if a else self._metric(plan)
        loading = self._loading_answer(premise)
        if loading:
            answer = f"{loading}."
            if note:
                answer += " " + note
        elif a is None:
            answer = f"Not known: no metric was checked, so whether {metric} moved cannot be said."
        else:
            asked = plan.question.metric or metric
            stayed = _joined([asked, *(m for m in checked if m != asked)])
            claims = premise.claimed is not None or premise.yes_no or premise.why
            lead = "Yes — " if premise.asks_fine else "No — " if claims else ""
            answer = (
                f"{lead}{stayed} stayed within "
                f"{'their' if ' and ' in stayed else 'its'} normal range against the seasonal "
                f"baseline ({reason}): nothing broke."
            )
            if note:
                answer += " " + note
        return Report(
            answer=answer,
            summary=summary,
            root_cause="Nothing broke: the movement asked about is normal variation "
            "(e.g. the usual weekly pattern).",
            anomaly=AnomalySummary(
                metric=metric,
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

    def _loading_answer(self, premise: Premise) -> str:
        """ "Will it fill in once loading catches up?": what discovery found of days loaded only
        in part; "" when the question does not ask it."""
        if not premise.asks_loading:
            return ""
        thinned = [p for p in self.executor.schema.partial_days if p.kind == "thinned"]
        if not thinned:
            return "No — no day in the data looks partly loaded"
        days = _joined([str(p.day) for p in thinned])
        share = _joined([f"{100 * (p.loaded_share or 0):.0f} %" for p in thinned])
        return (
            f"Yes — {days} {'hold' if len(thinned) > 1 else 'holds'} {share} of the usual events "
            "per active user, evenly over the day: partly loaded, left out of the analysis; the "
            "numbers should fill in once the load completes (re-run then)"
        )

    def _hint_note(self) -> str:
        """What the check of the day the question names found (its first finding is the verdict)."""
        for h in reversed(self.ctx.history):
            if isinstance(h.action, DetectAnomaly) and h.action.hint_date and h.result.success:
                notes = [f for f in h.result.findings[1:] if "weekly pattern" in f]
                if notes:
                    return notes[0]
        return ""

    # -- the anomaly report ---------------------------------------------------------------------

    def _anomaly_report(self, plan: Plan, a: Anomaly, premise: Premise) -> Report:
        ctx = self.ctx
        segs = ctx.segments
        deploy_errors = self._failed(plan, CheckDeployments)
        segment_errors = self._segment_errors(plan) if not segs else []
        causes = [self._cause(s) for s in segs]
        explaining = self._explaining(causes)
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
        shown = {e.id for e in explaining[:3]}
        ruled_out = [e for e in ctx.events if e.id not in shown and e.kind == "deployment"][:2]
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
        summary = self._headline(a) + "."
        if causes:
            summary += " " + self._where_sentence(causes)
        elif segment_errors:
            summary += (
                " Where it concentrates is not known: the segment step failed "
                f"({short_error(segment_errors[-1])})."
            )
        else:
            summary += " It is spread across all segments."
        no_deploy = self._no_deploy(plan)
        summary += self._deploy_sentence(causes, explaining, deploy_errors, no_deploy)
        verdict = self._verdict(plan, a, premise)
        refuted = self._refuted(plan, verdict)
        if refuted:
            summary += " " + refuted
        root = self._root_cause(a, causes, explaining, no_deploy)
        if segment_errors:
            root = (
                f"A {a.direction} of {a.metric} whose segment is not known (the segment "
                "step failed)."
            )
        conf = self._confidence(a, segs, explaining)
        answer = self._answer(plan, a, premise, causes, verdict, segment_errors, no_deploy)
        return Report(
            answer=f"{answer} {confidence_words(conf)}",
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
            affected_segments=[self._affected(s) for s in segs],
            correlated_events=events,
            recommendations=self._recommendations(a, segs, explaining),
            confidence=conf,
        )

    def _headline(self, a: Anomaly) -> str:
        """What moved, by how much and from when: "dau dropped 16.0% vs its seasonal baseline…"."""
        return f"{a.metric} {_moved(a)} {self._movement(a)}"

    def _movement(self, a: Anomaly) -> str:
        """By how much and from when: "16.0% vs its seasonal baseline from … (p=…)"."""
        change = f"{abs(a.change_pct):.1f}% " if a.change_pct is not None else ""
        until = f" to {a.end}" if a.end and a.end != self.executor.schema.end_date else " onwards"
        text = f"{change}{VS_BASELINE} from {a.start}{until}"
        return text + (f" (p={a.p_value:.2g})" if a.p_value is not None else "")

    def _segment_errors(self, plan: Plan) -> list[str]:
        """Errors of this run's segment steps when none succeeded and there was something to
        segment by (a drill-down with no informative dimension left is no failure)."""
        errors = self._failed(plan, SegmentByDimension, DrillDown)
        informative = any(v >= INFORMATIVE for v in self.ctx.dimension_scores.values())
        tried_segment = any(isinstance(h.action, SegmentByDimension) for h in self._run(plan))
        return errors if informative or tried_segment else []

    # -- causes: each segment, its in-scope events and its mechanism ------------------------------

    def _cause(self, s: SegmentFinding) -> Cause:
        schema = self.executor.schema
        # an event ruled out by a check (e.g. a release the new accounts only happen to run)
        # explains nothing, whatever its scope
        events = [
            e for e in self.ctx.events if e.explains and explains_segment(schema, e, s.filters)
        ]
        found = self._mechanism_finding(s.filters)
        calendar = [e for e in events if e.kind.lower() in CALENDAR_KINDS]
        if calendar and (found is None or found.mechanism in ("outage", "behaviour")):
            # the check says how people stopped; the in-scope holiday says why
            how = f"; {found.evidence}" if found is not None else ""
            return Cause(
                s, events, "calendar", f"{calendar[0].kind} {calendar[0].description}{how}"
            )
        if found is not None:
            return Cause(s, events, found.mechanism, found.evidence)
        deploys = [e for e in events if e.kind == "deployment"]
        if deploys:
            d = deploys[0]
            return Cause(s, events, "deployment", f"{d.id} ({d.description}) at {d.at[:10]}")
        marks: tuple[tuple[frozenset[str], Mechanism], ...] = (
            (CALENDAR_KINDS, "calendar"),
            (OUTAGE_KINDS, "outage"),
        )
        for kinds, mechanism in marks:
            marked = [e for e in events if e.kind.lower() in kinds]
            if marked:
                return Cause(s, events, mechanism, f"{marked[0].kind} {marked[0].description}")
        return Cause(s, events)

    def _mechanism_finding(self, filters: dict[str, str]) -> MechanismFinding | None:
        """The mechanism a check established for this segment: its own, else the most specific
        one established for a segment containing it (all traffic included), else — with a single
        segment — one established for a compatible part of it."""
        found = self.ctx.mechanisms
        exact = [m for m in found if m.filters == filters]
        if exact:
            return exact[-1]
        wider = [m for m in found if all(filters.get(k) == v for k, v in m.filters.items())]
        if wider:
            return max(wider, key=lambda m: len(m.filters))
        if len(self.ctx.segments) == 1:
            parts = [m for m in found if _compatible(m.filters, filters)]
            if parts:
                return parts[-1]
        return None

    def _explaining(self, causes: list[Cause]) -> list[EventFinding]:
        """The events that explain a segment (in time and in scope), most explanatory first;
        with no segment, those that explain the whole change."""
        if not causes:
            return [e for e in self.ctx.events if e.explains]
        ids = {e.id for c in causes for e in c.events}
        return [e for e in self.ctx.events if e.id in ids]

    def _affected(self, s: SegmentFinding) -> AffectedSegment:
        cause = self._cause(s)
        share = s.share_of_change or 0.0
        sig = s.p_value is not None and s.p_value < 0.01
        conf = 0.3 + 0.6 * min(1.0, share / 0.5) + (0.05 if sig else 0.0)
        if s.p_value is not None and s.p_value >= 0.05:
            conf -= 0.2
        parts = [change_text(s.change_pct, VS_TREND), share_phrase(s.share_of_change or 0.0)]
        if s.p_value is not None:
            parts.append(f"p={s.p_value:.2g}")
        desc = f"{format_filters(s.filters)}: " + ", ".join(p for p in parts if p)
        why = self._why(cause)
        if why:
            desc += f"; {why}"
        return AffectedSegment(
            filters=dict(s.filters),
            change_pct=s.change_pct,
            share_of_change=s.share_of_change,
            confidence=round(max(0.05, min(0.95, conf)), 2),
            description=desc,
            mechanism=cause.mechanism,
            explained_by=[e.id for e in cause.events],
        )

    def _why(self, cause: Cause) -> str:
        """Why this segment moved, as far as the steps show: the mechanism and its evidence
        (the segment's description)."""
        if cause.mechanism is None:
            return ""
        word = MECHANISM_WORDS[cause.mechanism]
        if not cause.evidence:
            return word
        if "%" in cause.evidence:  # a check's own figures: raw counts, not trend-adjusted
            return f"{word} (unadjusted, vs the weeks before: {cause.evidence})"
        return f"{word}: {cause.evidence}"

    def _why_briefly(self, cause: Cause) -> str:
        """The mechanism and the in-scope event, without the evidence's own figures: where the
        report names the segment with its change, that change is its only figure."""
        if cause.mechanism is None:
            return ""
        word = MECHANISM_WORDS[cause.mechanism]
        if cause.deployments:
            d = cause.deployments[0]
            return f"{word}: {d.id} ({d.description})"
        if cause.events:
            return f"{word}: {cause.events[0].kind} {cause.events[0].id}"
        return word

    def _figures(self, s: SegmentFinding) -> str:
        """A segment's one set of figures: its trend-adjusted change, its share of the change."""
        return ", ".join(
            p for p in (change_text(s.change_pct, VS_TREND), share_phrase(s.share_of_change)) if p
        )

    def _named(self, s: SegmentFinding) -> str:
        """A segment with its figures: "country=GB (-66.2% vs the weeks before, 58% of …)"."""
        figures = self._figures(s)
        return format_filters(s.filters) + (f" ({figures})" if figures else "")

    def _where_sentence(self, causes: list[Cause]) -> str:
        listed = [self._named(c.segment) for c in causes]
        if self._separate(causes):
            return f"It has {_COUNT_WORDS.get(len(causes), str(len(causes)))} separate causes: " + (
                "; ".join(listed) + "."
            )
        return f"The change is concentrated in {_joined(listed)}."

    @staticmethod
    def _separate(causes: list[Cause]) -> bool:
        """Several segments are several causes unless one event's scope explains them all."""
        if len(causes) < 2:
            return False
        shared = set.intersection(*({e.id for e in c.events} for c in causes))
        return not shared

    def _deploy_sentence(
        self,
        causes: list[Cause],
        explaining: list[EventFinding],
        deploy_errors: list[str],
        no_deploy: str | None,
    ) -> str:
        deploys = [e for e in explaining if e.kind == "deployment"]
        if deploys and (len(causes) < 2 or not self._separate(causes)):
            d = deploys[0]
            return f" It coincides with {d.id} ({d.description})."
        if deploys:
            said = []
            for c in causes:
                if c.deployments:
                    d = c.deployments[0]
                    said.append(f"{c.where} coincides with {d.id} ({d.description})")
                elif no_deploy:
                    said.append(f"for {c.where}, {no_deploy}")
            return " " + "; ".join(said)[0].upper() + "; ".join(said)[1:] + "."
        if deploy_errors:
            return (
                f" The deployment check failed ({short_error(deploy_errors[-1])}): whether a "
                "deployment explains it is not known."
            )
        if no_deploy is not None:
            return f" {no_deploy[0].upper()}{no_deploy[1:]}."
        return ""

    # -- the question's own hypothesis ------------------------------------------------------------

    def _hypo(self, plan: Plan, a: Anomaly) -> dict[str, str]:
        """The segment the question points at (less the columns the metric itself filters on:
        "errors" in a question about the error rate names the metric, not a segment)."""
        own = self.executor.schema.metric(a.metric).filter_columns
        return {k: v for k, v in plan.question.segment.items() if k not in own}

    def _verdict(self, plan: Plan, a: Anomaly, premise: Premise) -> Verdict | None:
        hypo = self._hypo(plan, a)
        if not hypo:
            return None
        schema = self.executor.schema
        problems = [why for d in hypo if (why := schema.dimension_problem(a.metric, d))]
        if problems:  # e.g. a daily table without the platform the question names
            return Verdict(None, problems[0])
        segs = self.ctx.segments
        matched = [s for s in segs if _compatible(hypo, s.filters) and set(hypo) & set(s.filters)]
        if matched and premise.exclusive:  # "only X": every cause must lie within X
            inside = [s for s in segs if all(s.filters.get(k) == v for k, v in hypo.items())]
            if len(inside) < len(segs):
                return Verdict(False, f"not only {format_filters(hypo)}")
        if matched:
            return Verdict(True, "")
        test = self._test_of(plan, hypo)
        if test is None:
            return Verdict(False if segs else None, "")
        rel, p = test.rel_diff, test.p_value
        moved = f"{format_filters(hypo)} moved " + (
            change_text(100 * rel, VS_BEFORE) if rel is not None else "n/a"
        )
        moved += f" (p={p:.2g})" if p is not None else ""
        with_it = test.moved(a.direction, SIGNIFICANT)
        holds = (test.holds_found or 0.0) >= HOLDS and not premise.exclusive
        if segs and with_it and holds and rel is not None and a.change_pct is not None:
            # the part of the data every cause found lies in (the platform of the browser
            # found) moves with the change, at least half as much as the whole; a bystander,
            # or a part beside the causes, does not
            return Verdict(abs(rel) >= CARRIES * abs(a.change_pct) / 100, moved)
        if segs:
            return Verdict(False, moved)
        return Verdict(with_it, moved)

    def _test_of(self, plan: Plan, segment: dict[str, str]) -> SegmentTest | None:
        """The latest successful test of ``segment`` (this run's first)."""
        history = [*self.ctx.history[: plan.history_start], *self._run(plan)]
        for h in reversed(history):
            if (
                isinstance(h.action, StatisticalTest)
                and h.action.segment == segment
                and isinstance(h.result.outcome, SegmentTest)
            ):
                return h.result.outcome
        return None

    def _refuted(self, plan: Plan, verdict: Verdict | None) -> str:
        hypo = plan.question.segment
        if verdict is None or verdict.holds is not False:
            return ""
        if verdict.moved.startswith("not only"):
            return f"The question's hypothesis ({format_filters(hypo)}) is not all of it."
        if verdict.moved:
            return (
                f"The question's hypothesis ({format_filters(hypo)}) is not supported: "
                f"{verdict.moved.replace(format_filters(hypo) + ' ', 'it ', 1)}."
            )
        if self._test_of(plan, hypo) is not None:
            return f"The question's hypothesis ({format_filters(hypo)}) is not supported."
        return f"The question's hypothesis ({format_filters(hypo)}) is not where the change is."

    # -- the answer -------------------------------------------------------------------------------

    def _answer(
        self,
        plan: Plan,
        a: Anomaly,
        premise: Premise,
        causes: list[Cause],
        verdict: Verdict | None,
        segment_errors: list[str],
        no_deploy: str | None,
    ) -> str:
        """One paragraph answering the question asked: what moved, by how much, from when,
        where, why and how sure; "No — …" when the question's premise does not hold."""
        headline = self._headline(a)
        where = self._answer_where(causes, segment_errors)
        asked = plan.question.metric
        quiet = [c for c in self.ctx.checked.values() if c.metric == asked and not c.filters]
        if asked and asked != a.metric and quiet and not quiet[-1].detected:
            # "No" to a question about that metric by name; "engagement seems down" (a word
            # that maps to it) is answered with what did move
            by_name = premise.yes_no or self._names_metric(premise, asked)
            return (
                f"{'No — ' if by_name else ''}{asked} stayed within its normal range against the "
                f"seasonal baseline; {headline}. {where}"
            )
        if premise.claimed is not None and premise.claimed != a.direction:
            return (
                f"No — {a.metric} did not {_direction_verb(premise.claimed)}: it {_moved(a)} "
                f"{self._movement(a)}. {where}"
            )
        paced = self._pace(a, premise, asks_segment=bool(self._hypo(plan, a)))
        if paced:  # "fell off a cliff" when it drifted, "slowly" when it broke on a day
            return f"{paced}. {where}"
        if premise.asks_rollback:  # only a release that changed what people do is undone
            return f"{self._rollback(causes)}. Overall, {headline}. {where}"
        if premise.asks_related and causes:  # "is the UK drop related to the Indonesia one?"
            if self._separate(causes):
                return f"No — {headline}. {where}"
            shared = [e.id for e in causes[0].events if all(e in c.events for c in causes)]
            tie = f": {shared[0]} explains all of it" if shared else ""
            return f"Yes — one cause{tie}. Overall, {headline}. {where}"
        if premise.asks_fine:  # "is DAU ok?": no when it moved the bad way
            bad = a.direction == self.executor.schema.metric(a.metric).bad_direction or any(
                c.mechanism in UNREAL for c in causes
            )
            if verdict is not None and verdict.holds is False:
                said = verdict.moved or f"{format_filters(self._hypo(plan, a))} did not move"
                return f"Yes — {said}. Overall, {headline}. {where}"
            return f"{'No' if bad else 'Yes'} — {headline}. {where}"
        unreal = [c.mechanism for c in causes if c.mechanism in UNREAL]
        if premise.welcomes and unreal and len(unreal) == len(causes):
            # "good news?", "the push worked": the movement is not people's doing
            return (
                f"No — not real usage: {MECHANISM_WORDS[unreal[0]]}. Overall, {headline}. {where}"
            )
        if verdict is not None and verdict.holds is None and verdict.moved:
            why = verdict.moved.rstrip(".")
            return f"Not known — {why[0].lower()}{why[1:]}. Overall, {headline}. {where}"
        if verdict is not None and verdict.holds is False:
            hypo = format_filters(self._hypo(plan, a))
            said = verdict.moved or f"{hypo} is not where the change is"
            if said.startswith("not only") and not premise.yes_no:  # "just X or more?"
                return f"Not only {hypo}. Overall, {headline}. {where}"
            return f"No — {said}. Overall, {headline}. {where}"
        how = {c.mechanism for c in causes}
        if premise.blames_breakage and how == {"calendar"}:
            return (
                f"No — nothing broke: {MECHANISM_WORDS['calendar']}. Overall, {headline}. {where}"
            )
        deploys = [d for c in causes for d in c.deployments]
        named = self._named_events(premise)
        if named and premise.yes_no:
            tied = [c for c in causes if any(e.id == named[0].id for e in c.events)]
            if tied:
                return (
                    f"Yes — {named[0].id} ({named[0].description}) covers "
                    f"{_joined([c.where for c in tied])}. Overall, {headline}. {where}"
                )
            return f"No — {named[0].id} explains none of it. Overall, {headline}. {where}"
        if premise.blames_release and not deploys:
            if no_deploy is None:
                return f"Not known — no deployment check ran. Overall, {headline}. {where}"
            lead = "Not known" if "not known" in no_deploy else "No"
            return f"{lead} — {no_deploy}. Overall, {headline}. {where}"
        if premise.yes_no:
            said = self._yes_no(plan, a, premise, causes)
            if said:
                return f"{said}. Overall, {headline}. {where}"
        settled = (
            premise.asks_change
            or (verdict is not None and verdict.holds is True)
            or (premise.blames_release and bool(deploys))
        )
        opener = "Yes — " if premise.yes_no and settled else ""
        if verdict is not None and verdict.holds and premise.yes_no:
            blamed = self._hypo(plan, a)
            within = any(
                all(s.filters.get(k) == v for k, v in blamed.items()) for s in self.ctx.segments
            )
            said = (
                f"the change is within {format_filters(blamed)}"
                if within
                else verdict.moved or f"{format_filters(blamed)} is part of the change"
            )
            return f"{opener}{said}. Overall, {headline}. {where}"
        pinned = premise.named_dimension
        if premise.yes_no and pinned and verdict is None:
            found = [c for c in causes if pinned in c.segment.filters]
            if not found:
                return f"No — no single {pinned} stands out. Overall, {headline}. {where}"
            values = _joined(sorted({c.segment.filters[pinned] for c in found}))
            return f"Yes — {pinned} {values}. Overall, {headline}. {where}"
        lead = ""
        checked = [self._mechanism_finding(c.segment.filters) for c in causes]
        counted = [f.evidence for f in checked if f is not None] if premise.asks_count else []
        if counted:  # "how many accounts are behind it?": what the accounts check counted
            lead = f"{counted[0][0].upper()}{counted[0][1:]}."
        elif premise.asked_dimension:
            lead = self._dimension_answer(plan, premise.asked_dimension)
        elif plan.follow_up and not settled and verdict is None:
            lead = self._follow_up_findings(plan)
        if lead:
            return f"{opener}{lead} Overall, {headline}. {where}"
        return f"{opener}{headline}. {where}"

    def _pace(self, a: Anomaly, premise: Premise, asks_segment: bool) -> str:
        """The answer about how fast the change came, when the question claims or asks it: "No —
        …" when it claims the other pace, "Yes — …" to a yes/no about the right one (not when
        it asks about a segment: "is the slow decline from India?" asks where)."""
        if premise.pace is None or a.kind not in ("drift", "step"):
            return ""
        drift = a.kind == "drift"
        fits = drift == (premise.pace == "gradual")
        how = (
            f"a gradual drift from {a.start}, no single day broke"
            if drift
            else f"a break on {a.start}, not a gradual drift"
        )
        if fits and (not premise.yes_no or asks_segment):
            return ""
        return f"{'Yes' if fits else 'No'} — {how}. Overall, {self._headline(a)}"

    def _rollback(self, causes: list[Cause]) -> str:
        """ "Should we roll back?": yes for the releases that changed what people do in their
        scope; no when a release only changed what is logged, or none explains the change."""
        undo = [
            (c, d)
            for c in causes
            if c.mechanism in (None, "deployment", "outage")
            for d in c.deployments[:1]
        ]
        if undo:
            said = "; ".join(f"{d.id} for {c.where}" for c, d in undo)
            return f"Yes — roll back {said}"
        logged = [c for c in causes if c.mechanism == "instrumentation" and c.deployments]
        if logged:
            d = logged[0].deployments[0]
            return (
                f"No — {d.id} changed what is logged, not what people do: fix its "
                "instrumentation instead"
            )
        return "No — no release explains it"

    def _yes_no(self, plan: Plan, a: Anomaly, premise: Premise, causes: list[Cause]) -> str:
        """The "Yes — …"/"No — …" opening of a yes/no question about a kind of event, whether
        the change is over, whether the activity is real, new accounts, or a dimension's other
        or every value; "" when the question asks none of these."""
        loading = self._loading_answer(premise)
        if loading:
            return loading
        words = premise.words
        tied = [e for c in causes for e in c.events] or self._explaining(causes)
        for kind in sorted({e.kind.lower() for e in self.ctx.events} - {"deployment"}):
            if kind in words or kind + "s" in words:
                found = [e for e in tied if e.kind.lower() == kind]
                if found:
                    return f"Yes — {kind} {found[0].id} ({found[0].description})"
                return f"No — no {kind} explains it"
        if premise.ongoing is not None:
            end = self.executor.schema.end_date
            ended = a.end is not None and a.end < end
            state = f"it ended on {a.end}" if ended else f"it lasts to the end of the data ({end})"
            says_yes = ended == (premise.ongoing == "over")
            return f"{'Yes' if says_yes else 'No'} — {state}"
        found_how = [c.mechanism for c in causes if c.mechanism is not None]
        if premise.authenticity is not None and found_how:
            unreal = [m for m in found_how if m in UNREAL]
            says_yes = bool(unreal) == (premise.authenticity == "fake")
            what = MECHANISM_WORDS[unreal[0] if unreal else found_how[0]]
            return f"{'Yes' if says_yes else 'No'} — {what}"
        if premise.new_accounts:
            carried = self._new_accounts_share(plan)
            if carried is not None:
                share = f"{100 * carried:.0f}% of the change"
                if carried >= CARRIES:
                    return f"Yes — new accounts carry {share}"
                return f"No — new accounts carry only {share}"
        other, every = premise.other_dimension, premise.every_dimension
        if other and causes and all(other in c.segment.filters for c in causes):
            values = sorted({c.segment.filters[other] for c in causes})
            return f"No — only {other} {_joined(values)}"
        if every and causes:
            values = sorted(
                {c.segment.filters[every] for c in causes if every in c.segment.filters}
            )
            if values:
                return f"No — only {every} {_joined(values)}"
            return f"Yes — no single {every} stands out"
        return ""

    def _new_accounts_share(self, plan: Plan) -> float | None:
        """The new accounts' part of the change, from the latest accounts profile (this run's
        first): of the increase for a spike; for a drop, what the accounts seen before did not
        carry."""
        history = [*self.ctx.history[: plan.history_start], *self._run(plan)]
        for h in reversed(history):
            if getattr(h.action, "action", "") != "profile_accounts" or not h.result.success:
                continue
            data = h.result.data
            share = data.get("new_share_of_increase")
            if share is not None:
                return float(share)
            total = data.get("events_after", 0.0) - data.get("events_before", 0.0)
            existing = data.get("existing_events_after", 0.0) - data.get(
                "existing_events_before", 0.0
            )
            if total:
                return max(0.0, 1.0 - existing / total)
        return None

    def _names_metric(self, premise: Premise, metric: str) -> bool:
        """Whether the question names ``metric`` by its name or the noun of its label ("users"
        for daily active users, "events")."""
        label = self.executor.schema.metric(metric).label.lower().split()
        nouns = {label[-1], label[-1] + "s"} if label else set()
        return metric.lower() in premise.words or bool(nouns & premise.words)

    def _named_events(self, premise: Premise) -> list[EventFinding]:
        """The checked deployments and events the question names by their id."""
        return [e for e in self.ctx.events if e.id.lower() in premise.words]

    def _answer_where(self, causes: list[Cause], segment_errors: list[str]) -> str:
        if segment_errors:
            return "Where it concentrates is not known: the segment step failed."
        if not causes:
            return "It is spread across all segments."
        parts = []
        for c in causes:
            text = self._named(c.segment)
            why = self._why_briefly(c)
            parts.append(f"{text} — {why}" if why else text)
        if self._separate(causes):
            count = _COUNT_WORDS.get(len(causes), str(len(causes)))
            return f"It has {count} separate causes: " + "; ".join(parts) + "."
        return f"It is concentrated in {_joined(parts)}."

    def _dimension_answer(self, plan: Plan, dimension: str) -> str:
        """ "Which <dimension>…": the values of the segments found along it, else the value that
        moved most in the split by it (this run's first)."""
        pinned = [s.filters[dimension] for s in self.ctx.segments if dimension in s.filters]
        if pinned:
            return f"{dimension}={_joined(sorted(set(pinned)))}."
        history = [*self.ctx.history[: plan.history_start], *self._run(plan)]
        for h in reversed(history):
            if not (
                isinstance(h.action, SegmentByDimension)
                and h.action.dimension == dimension
                and h.result.success
            ):
                continue
            rows = h.result.data.get("rows") or []
            if not rows:
                continue
            top = rows[0]
            filters = {**h.action.filters, dimension: str(top["value"])}
            known = next((s for s in self.ctx.segments if s.filters == filters), None)
            if known is not None:
                figures = self._figures(known)
            else:
                figures = ", ".join(
                    p
                    for p in (
                        change_text(top.get("change_pct"), VS_BEFORE),
                        share_phrase(top.get("share_of_change")),
                    )
                    if p
                )
            return f"{format_filters(filters)} moved most ({figures})."
        return ""

    def _follow_up_findings(self, plan: Plan) -> str:
        """What this follow-up's own steps found (the first finding of each, up to two)."""
        found = [
            h.result.findings[0] for h in self._run(plan) if h.result.success and h.result.findings
        ]
        # a finding naming an affected segment may give it another figure (another window,
        # another basis): the report names each segment with its one change only
        names = [format_filters(s.filters) for s in self.ctx.segments]
        kept = [f for f in found if not any(n in f for n in names)]
        return " ".join(kept[:2])

    # -- root cause and advice --------------------------------------------------------------------

    def _root_cause(
        self,
        a: Anomaly,
        causes: list[Cause],
        explaining: list[EventFinding],
        no_deploy: str | None,
    ) -> str:
        if not causes:
            return f"A broad {a.direction} of {a.metric} not tied to one segment" + (
                f", coinciding with {explaining[0].id}." if explaining else "."
            )
        if self._separate(causes):
            count = _COUNT_WORDS.get(len(causes), str(len(causes)))
            parts = [f"{c.where} — {self._cause_reason(a, c, no_deploy)}" for c in causes]
            return f"{count.capitalize()} separate causes: " + "; ".join(parts) + "."
        where = _joined([c.where for c in causes])
        deploys = [e for e in explaining if e.kind == "deployment"]
        if deploys:
            return (
                f"{deploys[0].id} ({deploys[0].description}) — {a.metric} {a.direction} in {where}."
            )
        if explaining:
            return f"{explaining[0].kind} {explaining[0].id} — {a.metric} {a.direction} in {where}."
        deploys_said = f"; {no_deploy}." if no_deploy else "."
        mechanism = causes[0].mechanism if len(causes) == 1 else None
        if mechanism is not None:
            why = self._why_briefly(causes[0])
            return f"{a.metric} {a.direction} in {where}: {why}{deploys_said}"
        counted = self.executor.schema.metric(a.metric).numerator
        if a.direction == "spike" and counted.measure == "events" and not counted.where:
            return (
                f"Extra activity concentrated in {where} (possibly automated traffic){deploys_said}"
            )
        return f"{a.metric} {a.direction} concentrated in {where}{deploys_said}"

    def _cause_reason(self, a: Anomaly, c: Cause, no_deploy: str | None) -> str:
        if c.deployments:
            d = c.deployments[0]
            return f"{d.id} ({d.description})"
        if c.events:
            return f"{c.events[0].kind} {c.events[0].id} ({c.events[0].description})"
        why = self._why_briefly(c)
        if why:
            return why
        return f"a {a.direction} whose cause is not established" + (
            f" ({no_deploy})" if no_deploy else ""
        )

    def _recommendations(
        self, a: Anomaly, segs: list[SegmentFinding], explaining: list[Any]
    ) -> list[str]:
        recs: list[str] = []
        if not segs:
            deploys = [e for e in explaining if e.kind == "deployment"]
            if deploys:
                recs.append(
                    f"Halt or roll back {deploys[0].id} for all users and check its crash, "
                    "error and funnel logs."
                )
            if a.direction == "spike":
                recs.append(
                    "Inspect the accounts behind the extra activity in all users (events per "
                    "account, user agents); filter automated traffic from the metrics."
                )
            others = [e for e in explaining if e.kind != "deployment"]
            if others:
                recs.append(
                    f"{others[0].description} explains the change: annotate it and compare "
                    "against the same period of a previous cycle."
                )
            recs.append(f"Monitor {a.metric} for all users daily until it returns to its baseline.")
            return recs
        causes = [self._cause(s) for s in segs]
        several = self._separate(causes)
        seen: set[str] = set()
        for c in causes:
            for rec in self._cause_advice(a, c, several):
                if rec not in seen:
                    seen.add(rec)
                    recs.append(rec)
        where = _joined([c.where for c in causes]) if several else causes[0].where
        recs.append(f"Monitor {a.metric} for {where} daily until it returns to its baseline.")
        return recs

    def _cause_advice(self, a: Anomaly, c: Cause, several: bool) -> list[str]:
        """Advice for one cause: only what its own evidence points at."""
        recs: list[str] = []
        if c.deployments:
            recs.append(
                f"Halt or roll back {c.deployments[0].id} for {c.where} and check its crash, "
                "error and funnel logs."
            )
        tracking = c.mechanism == "instrumentation" or (
            "event_type" in c.segment.filters and a.direction == "drop"
        )
        if tracking:
            recs.append(
                f"Check the tracking of {c.where}: events stopped being recorded — fix the "
                "logging and annotate the gap in dashboards."
            )
        if a.direction == "spike" or c.mechanism == "automated_traffic":
            recs.append(
                f"Inspect the accounts behind the extra activity in {c.where} (events per "
                "account, user agents); filter automated traffic from the metrics."
            )
        others = [e for e in c.events if e.kind != "deployment"]
        if others:
            recs.append(
                f"{others[0].description} explains the change"
                + (f" in {c.where}" if several else "")
                + ": annotate it and compare against the same period of a previous cycle."
            )
        if not c.events and a.direction == "drop" and c.mechanism != "instrumentation":
            recs.append(
                f"Talk to the owners of {c.where}: look for an outage, a policy or pricing "
                f"change, or a partner issue that started on {a.start}."
            )
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

    def _retention_report(self, plan: Plan, r: CohortBreak, premise: Premise) -> Report:
        seg, start, end, change = r.segment, r.start, r.end, r.change_pct
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
                    mechanism="cohort",
                )
            )
        fell = f"retention of users who signed up from {start} to {end} fell" + (
            f" {change:+.0f}% vs earlier cohorts" if change is not None else ""
        )
        found = f"{fell}, concentrated in {where}; daily metrics show no break of their own."
        conf = 0.7 if seg else 0.5
        hypo = plan.question.segment
        elsewhere = bool(hypo) and not (_compatible(hypo, seg) and set(hypo) & set(seg))
        no_deploy = self._no_deploy(plan)
        if premise.claimed == "spike":
            answer = f"No — retention did not rise: {found}"
        elif premise.asks_fine:  # "are January's signups sticking around?"
            answer = f"No — {found}"
        elif elsewhere:
            answer = f"No — {format_filters(hypo)} is not where the decline is: {found}"
        elif premise.blames_release:
            lead = "No" if no_deploy == "no deployment explains it" else "Not known"
            answer = f"{lead} — {no_deploy or 'no deployment check ran'}: {found}"
        else:  # "is it the paid channels?" names a cause the data may not know: no "Yes"
            answer = f"{'Yes — ' if premise.yes_no and not premise.names_cause else ''}{found}"
        answer = answer[0].upper() + answer[1:]
        return Report(
            answer=f"{answer} {confidence_words(conf)}",
            summary=(
                f"Retention dropped for users who signed up from {start} to {end}"
                + (f" ({change:+.0f}% vs earlier cohorts)" if change is not None else "")
                + f", concentrated in {where}. Daily metrics show no break of their own."
            ),
            root_cause=f"Recent cohorts in {where} retain worse than earlier ones"
            + (f"; {no_deploy}." if no_deploy else "."),
            anomaly=AnomalySummary(
                metric="retention",
                direction="drop",
                start=start,
                end=end,
                change_pct=change,
                p_value=r.p_value,
            ),
            affected_segments=affected,
            recommendations=[
                f"Review how users in {where} were acquired in that period (targeting, promise "
                "vs product) and their onboarding.",
                "Track day-7 retention of new cohorts weekly, by acquisition segment.",
            ],
            confidence=conf,
        )


def _ask_another(have: list[str]) -> str:
    """The advice to ask about a metric the warehouse has, with an example."""
    first = have[0] if have else "dau"
    return f"Or ask about a metric it has, e.g. 'Why did {first} change last week?'."
