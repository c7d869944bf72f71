"""``check_deployments``: deployments and annotations near the anomaly, scored against it.

A change's score is its time proximity to the anomaly start times how well its scope (platform,
version, regions; an annotation's scope columns) overlaps the affected segment.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

from ...warehouse import queries as q
from ...warehouse.types import Deployment, WarehouseSchema
from ..context import EventFinding
from ..models import CheckDeployments, StepResult
from ..report_markdown import format_filters
from .charts import bars
from .formatting import plural
from .workbench import Workbench

EXPLAINS_SCORE = 0.45
EXPLAINS_OVERLAP = 0.5
MAX_EVENTS = 10
DAY_AFTER_PROXIMITY = 0.75


def run(bench: Workbench, a: CheckDeployments) -> StepResult:
    ctx = bench.context
    around = a.around or (ctx.anomaly.start if ctx.anomaly and ctx.anomaly.start else None)
    if around is None:
        around = bench.windows()[1][0]
    segments = [bench.normal_filters(a.segment)] if a.segment else ctx.affected_segments[:3]
    lo, hi = around - timedelta(days=a.days_before), around + timedelta(days=a.days_after)
    deps = q.deployments(bench.warehouse, start=lo, end=hi)
    anns = q.annotations(bench.warehouse, start=lo, end=hi)
    data_notes = _data_notes(deps, q.undated_deployments(bench.warehouse))
    scored: list[EventFinding] = []
    for d in deps:
        fields = [v for v in (d.platform, d.app_version) if v] + [
            r for r in d.regions if r.lower() != "all"
        ]
        scope = ", ".join(fields) or "global"
        scored.append(
            _scored(
                bench.schema,
                segments,
                ("deployment", d.deployment_id, d.deployed_at),
                f"{scope}: {d.description or ''}".strip(": "),
                fields,
                {},
                around,
            )
        )
    for an in anns:
        scope = format_filters(an.scope) if an.scope else "global"
        scored.append(
            _scored(
                bench.schema,
                segments,
                (an.kind, an.name, an.starts_at),
                f"{an.name} ({scope})",
                [],
                an.scope,
                around,
            )
        )
    scored.sort(key=lambda e: -e.score)
    ctx.events = scored
    findings = _findings(scored, segments, around)
    if not deps and not anns:
        findings.append(f"No deployments or annotations between {lo} and {hi}.")
    findings += data_notes
    shown = scored[:MAX_EVENTS]
    return StepResult(
        success=True,
        findings=findings,
        data={
            "around": around.isoformat(),
            "window": [lo.isoformat(), hi.isoformat()],
            "segments": segments,
            "data_notes": data_notes,
            "events": [
                {
                    "kind": e.kind,
                    "id": e.id,
                    "at": e.at,
                    "description": e.description,
                    "proximity": round(e.proximity, 3),
                    "overlap": round(e.overlap, 3),
                    "score": round(e.score, 3),
                    "explains": e.explains,
                }
                for e in shown
            ],
        },
        chart=bars(
            "Changes near the anomaly (score)",
            [e.id for e in shown],
            {"score": ([e.score for e in shown], "segment")},
            x_label="deployment / annotation",
            y_label="score",
        )
        if scored
        else None,
    )


def _data_notes(deps: list[Deployment], undated: list[tuple[str, str | None]]) -> list[str]:
    """One note per malformed deployment row: which deployment, which field, what was done."""
    notes = [
        f"Data quality: deployment {d.deployment_id}: {'; '.join(d.problems)} — left out, "
        "the rest of it used."
        for d in deps
        if d.problems
    ]
    for ident, raw in undated[:MAX_EVENTS]:
        shown = raw if raw is None or len(raw) <= 40 else raw[:39] + "…"
        what = f"deployed_at {shown!r} is not a date/time" if shown else "it has no deployed_at"
        notes.append(f"Data quality: deployment {ident}: {what} — skipped.")
    if len(undated) > MAX_EVENTS:
        notes.append(f"Data quality: {len(undated) - MAX_EVENTS} more undated deployments skipped.")
    return notes


def _findings(
    scored: list[EventFinding], segments: list[dict[str, str]], around: date
) -> list[str]:
    explaining = [e for e in scored if e.explains]
    seg_txt = "; ".join(format_filters(s) for s in segments) or "the whole metric"
    findings = []
    if explaining:
        e = explaining[0]
        findings.append(
            f"{e.kind} {e.id} at {e.at} explains it: {e.description} — "
            f"{'matches' if e.overlap >= 0.99 else 'overlaps'} "
            f"{format_filters(e.segment) if e.segment else seg_txt}, "
            f"{_days_between(e.at, around)} the anomaly start {around}."
        )
        findings += [f"Also plausible: {o.kind} {o.id} ({o.description})." for o in explaining[1:3]]
    if not any(e.kind == "deployment" for e in explaining):
        findings.append(f"No deployment explains it: none near {around} overlaps {seg_txt}.")
    others = [e for e in scored if not e.explains][:4]
    if others:
        findings.append(
            "Checked and ruled out: "
            + "; ".join(f"{e.kind} {e.id} ({e.description}, score {e.score:.2f})" for e in others)
            + "."
        )
    return findings


def _scored(
    schema: WarehouseSchema,
    segments: list[dict[str, str]],
    what: tuple[str, str, datetime],
    description: str,
    fields: list[str],
    scope: dict[str, str],
    around: date,
) -> EventFinding:
    """One change (kind, id, time) scored by proximity x its best overlap with the segments."""
    kind, ident, at = what
    overlaps = [(overlap(schema, fields, scope, seg), seg) for seg in segments]
    best, matched = max(overlaps, key=lambda x: x[0]) if overlaps else (None, {})
    scoped = bool(fields) or bool(scope)
    ov = best if best is not None else (0.3 if scoped else 1.0)
    prox = proximity(at, around)
    score = prox * ov
    return EventFinding(
        kind=kind,
        id=ident,
        at=at.isoformat(),
        description=description,
        proximity=prox,
        overlap=ov,
        score=score,
        explains=score >= EXPLAINS_SCORE and ov >= EXPLAINS_OVERLAP,
        segment=matched,
        fields=list(fields),
        scope=dict(scope),
    )


def explains_segment(schema: WarehouseSchema, event: EventFinding, segment: dict[str, str]) -> bool:
    """Whether a scored change explains one segment: near the anomaly start in time and with a
    scope (platform, version, regions; an annotation's scope) that covers that segment."""
    ov = overlap(schema, event.fields, event.scope, segment)
    return event.proximity * ov >= EXPLAINS_SCORE and ov >= EXPLAINS_OVERLAP


def overlap(
    schema: WarehouseSchema, fields: list[str], scope: dict[str, str], segment: dict[str, str]
) -> float:
    """How well a change's scope matches a segment: 1 = every part agrees, 0 = a conflict.

    Deployment fields (platform, version, regions) are matched to whichever dimension holds
    that value; annotation scopes are matched by dimension name. No segment = global change.
    """
    claims: dict[str, set[str]] = {}
    for f in fields:
        for dim in schema.dimensions:
            if any(v.lower() == f.lower() for v in dim.values):
                claims.setdefault(dim.name, set()).add(f.lower())
    for k, v in scope.items():
        claims.setdefault(k, set()).add(v.lower())
    if not segment:
        return 1.0 if not claims else 0.3
    if not claims:
        return 0.5
    matched = 0
    for name, claimed in claims.items():
        if name in segment:
            if segment[name].lower() not in claimed:
                return 0.0
            matched += 1
    if not matched:
        return 0.1
    return min(1.0, 0.4 + 0.6 * matched / len(segment))


def proximity(at: datetime, start: date) -> float:
    """1 when the change lands on the anomaly start or the day before, decaying with distance.

    A change the day after the start keeps most of its weight: a start dated on daily data
    (and moved back over the days a ramp-in takes) is only known to within a day.
    """
    delta = (start - at.date()).days  # > 0: the change came before the anomaly
    if delta in (0, 1):
        return 1.0
    if delta == -1:
        return DAY_AFTER_PROXIMITY
    if delta < 0:
        return max(0.0, 0.5 ** (-delta) * 0.5)
    return math.exp(-(delta - 1) / 3.0)


def _days_between(at_iso: str, start: date) -> str:
    delta = (start - datetime.fromisoformat(at_iso).date()).days
    if delta == 0:
        return "on the day of"
    return f"{plural(abs(delta), 'day')} {'before' if delta > 0 else 'after'}"
