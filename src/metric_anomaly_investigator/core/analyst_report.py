"""The autopilot's report: what the steps established, written as a :class:`Report`."""

from __future__ import annotations

from datetime import date
from typing import Any

from ..warehouse import metrics as catalogue
from ..warehouse.metric_config import toml_body
from .actions.formatting import plural
from .actions.insights import HistoryShortfall, history_shortfall
from .analyst_base import INFORMATIVE, AnalystBase, Plan, Prompt, short_error
from .context import Anomaly, SegmentFinding
from .models import (
    AffectedSegment,
    AnomalySummary,
    CheckDeployments,
    CorrelatedEvent,
    DetectAnomaly,
    DrillDown,
    Report,
    SegmentByDimension,
    StatisticalTest,
)
from .report_markdown import format_filters


class ReportWriter(AnalystBase):
    """The Insights half of the autopilot: the report, computed from what the steps established."""

    def report(self, prompt: Prompt) -> Report:
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

    def _undetermined_report(self, plan: Plan, error: str) -> Report:
        metric = self._metric(plan)
        return Report(
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

    def _no_anomaly_report(self, plan: Plan, a: Anomaly | None) -> Report:
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

    def _anomaly_report(self, plan: Plan, a: Anomaly) -> Report:
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
                f"({short_error(segment_errors[-1])})."
            )
        else:
            summary += " It is spread across all segments."
        if deploy_explains:
            d = deploy_explains[0]
            summary += f" It coincides with {d.id} ({d.description})."
        elif deploy_errors:
            summary += (
                f" The deployment check failed ({short_error(deploy_errors[-1])}): whether a "
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

    def _segment_errors(self, plan: Plan) -> list[str]:
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

    def _refuted(self, plan: Plan) -> str:
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

    def _retention_report(self, plan: Plan, r: dict[str, Any]) -> Report:
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
