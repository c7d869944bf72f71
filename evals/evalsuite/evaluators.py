"""The evaluators: each checks one thing the issue asks of a report, against ground truth.

Each returns an :class:`EvaluationReason`; one that does not apply to a case passes with the
reason ``"n/a"`` (and is left out of its pass rate). "Claimed" means a confidence of at least
:data:`CLAIM`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from pydantic_evals.evaluators import EvaluationReason, Evaluator, EvaluatorContext

from metric_anomaly_investigator.core.models import AffectedSegment, Report
from metric_anomaly_investigator.warehouse import queries as q
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.scenarios import GroundTruth

from .cases import EvalInput
from .outputs import EvalOutput
from .segments import CLAIM, exactly_equal, norm, segments_equivalent, truth_window
from .text import (
    agrees,
    figures_next_to,
    mentions,
    names_mechanism,
    opens_with,
    segment_mentions,
    sentence_spans,
)

NA = "n/a"
Ctx = EvaluatorContext[EvalInput, EvalOutput, GroundTruth]
Scope = dict[str, set[str]]  # dimension -> the values an event's scope allows (lower case)


# -- what the world holds ------------------------------------------------------------------------


@dataclass(frozen=True)
class WorldEvents:
    """The world's deployments and annotations, each as the scope it allows."""

    deployments: dict[str, Scope]
    annotations: dict[str, Scope]


@cache
def world_events(path: str) -> WorldEvents:
    """A deployment's platform, version and regions (from the ``deployments`` table) each
    constrain whichever dimension holds that value; "all" regions constrain nothing. An
    annotation's scope constrains the dimensions it names."""
    with open_warehouse(path) as wh:
        values = {d.name: {str(v).lower() for v in d.values} for d in wh.schema.dimensions}
        deployments: dict[str, Scope] = {}
        for d in q.deployments(wh):
            fields = [d.platform, d.app_version]
            if "all" not in d.regions:
                fields += d.regions
            scope: Scope = {}
            for f in fields:
                if f is None:
                    continue
                for dim, held in values.items():
                    if f.lower() in held:
                        scope.setdefault(dim, set()).add(f.lower())
            deployments[d.deployment_id] = scope
        annotations = {
            a.name: {k: {v.lower()} for k, v in a.scope.items()} for a in q.annotations(wh)
        }
    return WorldEvents(deployments, annotations)


def excludes(scope: Scope, filters: dict[str, str]) -> bool:
    """The scope rules the segment out: it fixes a dimension the segment filters on to other
    values (android 2.4.0 in ID excludes ``country=GB``, not ``platform=android``)."""
    seg = norm(filters)
    return any(dim in seg and seg[dim] not in allowed for dim, allowed in scope.items())


# -- helpers ---------------------------------------------------------------------------------------


def _report(ctx: Ctx) -> Report | None:
    return ctx.output.report


def _no_report(ctx: Ctx) -> EvaluationReason:
    why = ctx.output.error or "no report"
    return EvaluationReason(False, f"{ctx.output.status}: {why}")


def _claimed(report: Report) -> list[AffectedSegment]:
    return [s for s in report.affected_segments if s.confidence >= CLAIM]


def _texts(report: Report) -> list[str]:
    return [report.answer, report.summary, report.root_cause]


def _ok(value: bool, reason: str) -> EvaluationReason:
    return EvaluationReason(value, reason)


# -- the first question's report ------------------------------------------------------------------


@dataclass
class Direction(Evaluator[EvalInput, EvalOutput, GroundTruth]):
    """The anomaly's direction is the truth's (drop, spike or none)."""

    def evaluate(self, ctx: Ctx) -> EvaluationReason:
        report = _report(ctx)
        if report is None:
            return _no_report(ctx)
        got, want = report.anomaly.direction, ctx.metadata.direction if ctx.metadata else None
        return _ok(got == want, f"{got}, truth {want}")


@dataclass
class Start(Evaluator[EvalInput, EvalOutput, GroundTruth]):
    """The anomaly starts within one day of the truth's start."""

    def evaluate(self, ctx: Ctx) -> EvaluationReason:
        truth, report = ctx.metadata, _report(ctx)
        if truth is None or truth.start is None:
            return _ok(True, NA)
        if report is None:
            return _no_report(ctx)
        start = report.anomaly.start
        ok = start is not None and abs((start - truth.start).days) <= 1
        return _ok(ok, f"{start}, truth {truth.start}")


@dataclass
class RootCauses(Evaluator[EvalInput, EvalOutput, GroundTruth]):
    """Every root cause named and nothing else claimed: the claimed segments are the true ones,
    exactly or by the rows they select (see :func:`segments_equivalent`)."""

    def evaluate(self, ctx: Ctx) -> EvaluationReason:
        truth, report = ctx.metadata, _report(ctx)
        if report is None or truth is None:
            return _no_report(ctx)
        claimed = [s.filters for s in _claimed(report)]
        if exactly_equal(claimed, truth.root_cause):
            return _ok(True, "exact")
        if not claimed or not truth.root_cause:
            return _ok(False, f"claimed {claimed or 'nothing'}, truth {truth.root_cause or 'none'}")
        with open_warehouse(ctx.inputs.world) as wh:
            ok, why = segments_equivalent(wh, claimed, truth.root_cause, truth_window(truth, wh))
        return _ok(ok, why)


def _root_cause_deployments(report: Report, known: set[str]) -> set[str]:
    return {d for d in known if mentions(report.root_cause, d)}


@dataclass
class DeploymentIffCausal(Evaluator[EvalInput, EvalOutput, GroundTruth]):
    """A deployment is named as a cause iff one caused it: the causal one is claimed among the
    correlated events, and no other deployment is claimed there, cited in a claimed segment's
    ``explained_by`` or named in the root cause (nor any, when no deployment caused it)."""

    def evaluate(self, ctx: Ctx) -> EvaluationReason:
        truth, report = ctx.metadata, _report(ctx)
        if report is None or truth is None:
            return _no_report(ctx)
        known = set(world_events(ctx.inputs.world).deployments)
        claimed = {
            e.id
            for e in report.correlated_events
            if e.kind == "deployment" and e.confidence >= CLAIM
        }
        cited = {i for s in _claimed(report) for i in s.explained_by if i in known}
        named = _root_cause_deployments(report, known)
        causal = {truth.deployment_id} if truth.deployment_id else set()
        wrong = (claimed | cited | named) - causal
        if wrong:
            return _ok(False, f"names {sorted(wrong)}, truth {truth.deployment_id or 'none'}")
        if causal - claimed:
            return _ok(False, f"{truth.deployment_id} not claimed")
        return _ok(True, truth.deployment_id or "none named")


def root_cause_ties(report: Report, known: set[str]) -> dict[str, set[int]]:
    """Which claimed segments (by index in the claimed list) the root cause ties each deployment
    to: those named by label in the same sentence, or all of them when that sentence names
    none."""
    claimed = _claimed(report)
    text = report.root_cause
    ties: dict[str, set[int]] = {}
    for start, end in sentence_spans(text):
        sentence = text[start:end]
        deps = {d for d in known if mentions(sentence, d)}
        if not deps:
            continue
        named = {i for i, s in enumerate(claimed) if segment_mentions(sentence, s.filters)}
        for d in deps:
            ties.setdefault(d, set()).update(named or range(len(claimed)))
    return ties


@dataclass
class ScopeCoherence(Evaluator[EvalInput, EvalOutput, GroundTruth]):
    """No event is tied to a segment outside its scope: for every claimed segment, each id in
    its ``explained_by`` and each deployment the root cause ties to it (:func:`root_cause_ties`)
    is an event of the world whose scope (a deployment's platform, version and regions; an
    annotation's scope) does not exclude the segment's filters."""

    def evaluate(self, ctx: Ctx) -> EvaluationReason:
        report = _report(ctx)
        if report is None:
            return _no_report(ctx)
        world = world_events(ctx.inputs.world)
        claimed = _claimed(report)
        if not claimed:
            return _ok(True, NA)
        ties = root_cause_ties(report, set(world.deployments))
        problems = []
        for i, seg in enumerate(claimed):
            ids = [*seg.explained_by, *(d for d, segs in ties.items() if i in segs)]
            for ident in dict.fromkeys(ids):
                scope = world.deployments.get(ident, world.annotations.get(ident))
                if scope is None:
                    problems.append(f"{ident} is no event of the world")
                elif excludes(scope, seg.filters):
                    problems.append(f"{ident} does not cover {seg.filters}")
        return _ok(not problems, "; ".join(problems) or "coherent")


@dataclass
class Mechanism(Evaluator[EvalInput, EvalOutput, GroundTruth]):
    """The truth's mechanism is named: by a claimed segment's ``mechanism``; for a cause of the
    whole metric (no root-cause segment) or a truth with no anomaly (e.g. data_freshness), by
    any segment's ``mechanism`` or by the answer, summary or root cause in words
    (:data:`text.MECHANISM_WORDS`)."""

    def evaluate(self, ctx: Ctx) -> EvaluationReason:
        truth, report = ctx.metadata, _report(ctx)
        if truth is None or truth.mechanism is None:
            return _ok(True, NA)
        if report is None:
            return _no_report(ctx)
        want = truth.mechanism
        if truth.root_cause and truth.direction != "none":
            got = [s.mechanism for s in _claimed(report)]
            return _ok(want in got, f"segments say {got}, truth {want}")
        ok = any(s.mechanism == want for s in report.affected_segments) or names_mechanism(
            _texts(report), want
        )
        return _ok(ok, f"{'named' if ok else 'not named'}: {want}")


# word starts (stems) and whole words that ask about a drop or a rise
_DROP = (
    r"\b(?:dropp|declin|decreas|churn|crash|falling)\w*"
    r"|\b(?:drop|drops|fell|fall|falls|down|dip|dips|dipped|lower|lost|losing|lose|worse|soft"
    r"|slow|fewer|less)\b"
)
_SPIKE = (
    r"\b(?:spik|jump|increas|surg|inflat|rising)\w*"
    r"|\b(?:rise|rises|rose|higher|grew|grow|grows|more|up|amazing)\b"
)


def asked_direction(question: str) -> str | None:
    """The direction a question asks about, from its words (:data:`_DROP`, :data:`_SPIKE`):
    ``"drop"``, ``"spike"``, or ``None`` when it names neither or both."""
    drop = re.search(_DROP, question, re.IGNORECASE) is not None
    spike = re.search(_SPIKE, question, re.IGNORECASE) is not None
    return "drop" if drop and not spike else "spike" if spike and not drop else None


@dataclass
class Answer(Evaluator[EvalInput, EvalOutput, GroundTruth]):
    """The report answers the question: a non-empty ``answer``; opening "No" for a question
    whose premise is false (``wrong_premise``); for any other question, not opening "No" when
    the truth has an anomaly in the direction the question asks about (any direction when it
    names none, see :func:`asked_direction`)."""

    def evaluate(self, ctx: Ctx) -> EvaluationReason:
        truth, report = ctx.metadata, _report(ctx)
        if report is None or truth is None:
            return _no_report(ctx)
        answer = report.answer.strip()
        if not answer:
            return _ok(False, "no answer")
        question = ctx.inputs.question.strip()
        if question in {w.strip() for w in truth.wrong_premise}:
            return _ok(opens_with(answer, "no"), "false premise: must open with No")
        asked = asked_direction(question)
        real = truth.direction != "none" and asked in (None, truth.direction)
        if real and opens_with(answer, "no"):
            return _ok(False, f"opens with No, truth: a {truth.direction}")
        return _ok(True, "answers")


# -- follow-ups and unknown metrics ----------------------------------------------------------------


@dataclass
class FollowUpAnswer(Evaluator[EvalInput, EvalOutput, GroundTruth]):
    """The follow-up's ``answer`` opens "Yes"/"No" as the truth says and mentions every value
    the truth names (whole words; a value in capitals must appear in capitals)."""

    def evaluate(self, ctx: Ctx) -> EvaluationReason:
        fu, report = ctx.inputs.follow_up, _report(ctx)
        if fu is None:
            return _ok(True, NA)
        if report is None:
            return _no_report(ctx)
        answer = report.answer.strip()
        if not opens_with(answer, fu.answer):
            return _ok(False, f"does not open with {fu.answer.capitalize()}: {answer[:60]!r}")
        missing = [n for n in fu.names if not mentions(answer, n)]
        return _ok(not missing, f"missing {missing}" if missing else "answers")


@dataclass
class Honesty(Evaluator[EvalInput, EvalOutput, GroundTruth]):
    """Asked about a metric the world lacks, the report names it (in the answer or summary),
    claims no anomaly and no segment, with a confidence of at most 0.3."""

    def evaluate(self, ctx: Ctx) -> EvaluationReason:
        names, report = ctx.inputs.unknown_metric, _report(ctx)
        if not names:
            return _ok(True, NA)
        if report is None:
            return _no_report(ctx)
        problems = []
        if not any(mentions(t, n) for t in (report.answer, report.summary) for n in names):
            problems.append(f"{names[0]} not named")
        if report.anomaly.direction != "none":
            problems.append(f"claims a {report.anomaly.direction}")
        if _claimed(report):
            problems.append("claims a segment")
        if report.confidence > 0.3:
            problems.append(f"confidence {report.confidence}")
        return _ok(not problems, "; ".join(problems) or "honest")


# -- every report ----------------------------------------------------------------------------------


@dataclass
class Consistency(Evaluator[EvalInput, EvalOutput, GroundTruth]):
    """One figure per segment: every percentage printed next to an affected segment's label in
    the answer, summary or root cause equals its ``change_pct`` rounded as printed, unless it is
    labelled as another comparison.

    The rule, precisely (``text.py``): a segment is named by its label ``dim=value, …`` (pairs
    in any order, any case); the figures next to it are the percentages after the label up to
    the end of its sentence or the next label of another affected segment; a figure is another
    comparison only when the words after it (to the next comma, semicolon, parenthesis or
    sentence end) start with "of" (a share: "75% of the change") or name something other than
    the segment's own past ("vs the rest", "than other countries", "above the overall
    average": :attr:`text.Figure.other_comparison`). A second figure for the segment's change
    worded another way ("events per user -54.9%" beside "-54.6%") fails. Prose that names a
    segment without its label is not read. A segment with no ``change_pct`` may have no
    figure next to it that is not another comparison.
    """

    def evaluate(self, ctx: Ctx) -> EvaluationReason:
        report = _report(ctx)
        if report is None:
            return _no_report(ctx)
        segs = report.affected_segments
        problems = []
        for seg in segs:
            others = [o.filters for o in segs if o is not seg and o.filters != seg.filters]
            for field, text in zip(
                ("answer", "summary", "root_cause"), _texts(report), strict=True
            ):
                for fig in figures_next_to(text, seg.filters, others):
                    if fig.other_comparison:
                        continue
                    if seg.change_pct is None or not agrees(fig, seg.change_pct):
                        shown = "none" if seg.change_pct is None else f"{seg.change_pct:+.2f}%"
                        problems.append(f"{field}: {fig.text} next to {seg.filters} ({shown})")
        if not segs:
            return _ok(True, NA)
        return _ok(not problems, "; ".join(problems[:3]) or "consistent")


FIRST = (
    Direction,
    Start,
    RootCauses,
    DeploymentIffCausal,
    ScopeCoherence,
    Mechanism,
    Answer,
    Consistency,
)
FOLLOW_UP = (FollowUpAnswer, ScopeCoherence, Consistency)
UNKNOWN = (Honesty,)


def evaluators_for(kind: str) -> list[Evaluator[EvalInput, EvalOutput, GroundTruth]]:
    """The evaluators a case of this kind is scored by."""
    chosen = {"first": FIRST, "follow_up": FOLLOW_UP, "unknown_metric": UNKNOWN}[kind]
    return [e() for e in chosen]
