"""The autopilot's report: what the steps established, written as a :class:`Report`.

It opens with ``answer``, one paragraph answering the question actually asked ("No — …" when
its premise does not hold). Each affected segment is its own cause: its mechanism (when a check
or an in-scope event shows it) and the events whose scope covers it. Every figure is labelled
with its comparison, and a segment has one change wherever the report names it.
"""

from __future__ import annotations

import re
from typing import Any

from ..warehouse import metrics as catalogue
from ..warehouse.metric_config import toml_body
from .actions.formatting import plural
from .actions.insights import HistoryShortfall, history_shortfall
from .analyst_answer import AnswerWriter
from .analyst_base import Plan, Prompt, short_error
from .context import Anomaly, CohortBreak, EventFinding, SegmentFinding
from .models import (
    AffectedSegment,
    AnomalySummary,
    CheckDeployments,
    CorrelatedEvent,
    DetectAnomaly,
    Report,
)
from .premise import Premise, read_premise
from .report_markdown import format_filters
from .report_text import (
    COUNT_WORDS,
    Cause,
    compatible,
    confidence_words,
    joined,
)


class ReportWriter(AnswerWriter):
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
            stayed = joined([asked, *(m for m in checked if m != asked)])
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
            count = COUNT_WORDS.get(len(causes), str(len(causes)))
            parts = [f"{c.where} — {self._cause_reason(a, c, no_deploy)}" for c in causes]
            return f"{count.capitalize()} separate causes: " + "; ".join(parts) + "."
        where = joined([c.where for c in causes])
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
        where = joined([c.where for c in causes]) if several else causes[0].where
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
        elsewhere = bool(hypo) and not (compatible(hypo, seg) and set(hypo) & set(seg))
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
