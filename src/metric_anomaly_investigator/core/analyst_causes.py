"""The causes of a report: each affected segment with the events whose scope covers it and the
mechanism a check or such an event shows, in words and figures (one figure per segment)."""

from __future__ import annotations

from .actions.deployments import explains_segment
from .analyst_base import INFORMATIVE, AnalystBase, Plan, short_error
from .context import Anomaly, EventFinding, MechanismFinding, SegmentFinding
from .mechanisms import CALENDAR_KINDS, OUTAGE_KINDS
from .models import (
    AffectedSegment,
    DrillDown,
    Mechanism,
    SegmentByDimension,
)
from .report_markdown import format_filters
from .report_text import (
    COUNT_WORDS,
    MECHANISM_WORDS,
    VS_BASELINE,
    VS_TREND,
    Cause,
    change_text,
    compatible,
    joined,
    moved_text,
    share_phrase,
)


class CauseWriter(AnalystBase):
    """The report's causes, read from the context the steps filled."""

    def _headline(self, a: Anomaly) -> str:
        """What moved, by how much and from when: "dau dropped 16.0% vs its seasonal baseline…"."""
        return f"{a.metric} {moved_text(a)} {self._movement(a)}"

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
            parts = [m for m in found if compatible(m.filters, filters)]
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
            return f"It has {COUNT_WORDS.get(len(causes), str(len(causes)))} separate causes: " + (
                "; ".join(listed) + "."
            )
        return f"The change is concentrated in {joined(listed)}."

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
