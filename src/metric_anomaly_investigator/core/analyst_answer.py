"""The answer that opens a report: one paragraph answering the question actually asked, from
what the steps established ("No — …" when its premise does not hold; see core/premise.py)."""

from __future__ import annotations

from .analyst_base import Plan
from .analyst_causes import CauseWriter
from .context import Anomaly, EventFinding
from .models import (
    StatisticalTest,
)
from .outcomes import AccountsProfiled, DimensionSplit, SegmentTest
from .premise import Premise
from .report_markdown import format_filters
from .report_text import (
    CARRIES,
    COUNT_WORDS,
    HOLDS,
    MECHANISM_WORDS,
    SIGNIFICANT,
    UNREAL,
    VS_BEFORE,
    Cause,
    Verdict,
    change_text,
    compatible,
    direction_verb,
    joined,
    moved_text,
    share_phrase,
)


class AnswerWriter(CauseWriter):
    """The answer paragraph and the verdict on the question's own hypothesis."""

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
        matched = [s for s in segs if compatible(hypo, s.filters) and set(hypo) & set(s.filters)]
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
                f"No — {a.metric} did not {direction_verb(premise.claimed)}: it {moved_text(a)} "
                f"{self._movement(a)}. {where}"
            )
        paced = self._pace(a, premise, asks_segment=bool(self._hypo(plan, a)))
        if paced:  # "fell off a cliff" when it drifted, "slowly" when it broke on a day
            return f"{paced}. Overall, {headline}. {where}"
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
                    f"{joined([c.where for c in tied])}. Overall, {headline}. {where}"
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
            values = joined(sorted({c.segment.filters[pinned] for c in found}))
            return f"Yes — {pinned} {values}. Overall, {headline}. {where}"
        lead = ""
        counted = [
            f.evidence
            for c in (causes if premise.asks_count else [])
            if (f := self._mechanism_finding(c.segment.filters)) is not None
        ]
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
        return f"{'Yes' if fits else 'No'} — {how}"

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
            return f"No — only {other} {joined(values)}"
        if every and causes:
            values = sorted(
                {c.segment.filters[every] for c in causes if every in c.segment.filters}
            )
            if values:
                return f"No — only {every} {joined(values)}"
            return f"Yes — no single {every} stands out"
        return ""

    def _new_accounts_share(self, plan: Plan) -> float | None:
        """The new accounts' part of the change, from the latest accounts profile (this run's
        first)."""
        history = [*self.ctx.history[: plan.history_start], *self._run(plan)]
        for h in reversed(history):
            if isinstance(h.result.outcome, AccountsProfiled):
                return h.result.outcome.new_accounts_share()
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
            count = COUNT_WORDS.get(len(causes), str(len(causes)))
            return f"It has {count} separate causes: " + "; ".join(parts) + "."
        return f"It is concentrated in {joined(parts)}."

    def _dimension_answer(self, plan: Plan, dimension: str) -> str:
        """ "Which <dimension>…": the values of the segments found along it, else the value that
        moved most in the split by it (this run's first)."""
        pinned = [s.filters[dimension] for s in self.ctx.segments if dimension in s.filters]
        if pinned:
            return f"{dimension}={joined(sorted(set(pinned)))}."
        history = [*self.ctx.history[: plan.history_start], *self._run(plan)]
        for h in reversed(history):
            split = h.result.outcome
            if not (isinstance(split, DimensionSplit) and split.dimension == dimension):
                continue
            if not split.rows:
                continue
            top = split.rows[0]
            filters = {**split.filters, dimension: top.value}
            known = next((s for s in self.ctx.segments if s.filters == filters), None)
            if known is not None:
                figures = self._figures(known)
            else:
                figures = ", ".join(
                    p
                    for p in (
                        change_text(top.change_pct, VS_BEFORE),
                        share_phrase(top.share_of_change),
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

    def _loading_answer(self, premise: Premise) -> str:
        """ "Will it fill in once loading catches up?": what discovery found of days loaded only
        in part; "" when the question does not ask it."""
        if not premise.asks_loading:
            return ""
        thinned = [p for p in self.executor.schema.partial_days if p.kind == "thinned"]
        if not thinned:
            return "No — no day in the data looks partly loaded"
        days = joined([str(p.day) for p in thinned])
        share = joined([f"{100 * (p.loaded_share or 0):.0f} %" for p in thinned])
        return (
            f"Yes — {days} {'hold' if len(thinned) > 1 else 'holds'} {share} of the usual events "
            "per active user, evenly over the day: partly loaded, left out of the analysis; the "
            "numbers should fill in once the load completes (re-run then)"
        )
