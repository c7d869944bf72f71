"""``analyze_retention``: recent signup cohorts vs earlier ones, and the cohorts that broke."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, Literal

import numpy as np

from ...warehouse import queries as q
from ...warehouse.types import CohortRetention as Cohort
from .. import pvalues
from ..context import CohortBreak
from ..models import AnalyzeRetention, Chart, ChartSeries, StepResult
from ..report_markdown import format_filters
from .formatting import fmt, pct
from .workbench import MAX_DIMENSION_CARDINALITY, Workbench

RETENTION_DAYS = (1, 7, 14, 28)
RETENTION_PROBE = 7  # the day-N retention that cohorts are compared on
CHURN_CHANGE_PCT = -15.0
MAX_COHORTS_SHOWN = 8


def run(bench: Workbench, a: AnalyzeRetention) -> StepResult:
    ctx, schema = bench.context, bench.schema
    filters = bench.normal_filters(a.filters)
    start_ref = ctx.window[0] if ctx.window else schema.end_date - timedelta(days=14)
    cs = a.cohort_start or max(schema.start_date, start_ref - timedelta(days=42))
    ce = a.cohort_end or schema.end_date
    ret = q.retention(
        bench.warehouse,
        cohort_start=cs,
        cohort_end=ce,
        days=list(RETENTION_DAYS),
        filters=filters or None,
        cohort_grain="week",
    )
    cohorts = [c for c in ret.cohorts if c.size > 0]
    recent = [c for c in cohorts if c.cohort + timedelta(days=6) >= start_ref]
    earlier = [c for c in cohorts if c.cohort + timedelta(days=6) < start_ref]
    comp: dict[str, Any] = {}
    for n in (1, 7):
        r, e = weighted(recent, n), weighted(earlier, n)
        comp[f"d{n}_recent"], comp[f"d{n}_earlier"] = r, e
        if r is not None and e is not None and e > 0:
            comp[f"d{n}_change_pct"] = (r / e - 1) * 100
    findings = [_verdict(comp, filters)]
    sizes_recent = float(np.mean([c.size for c in recent])) if recent else None
    sizes_earlier = float(np.mean([c.size for c in earlier])) if earlier else None
    if sizes_recent is not None and sizes_earlier:
        comp["cohort_size_change_pct"] = (sizes_recent / sizes_earlier - 1) * 100
        findings.append(
            f"Weekly signups: {fmt(sizes_earlier)} before → {fmt(sizes_recent)} recently "
            f"({pct(comp['cohort_size_change_pct'])})."
        )
    if not filters:  # a segment's own run leaves what the scan of everyone found
        scan = ctx.retention = scan_cohorts(bench)
        if scan is not None:
            comp.update(scan.as_data())
            findings.insert(
                0,
                f"Retention fell for {format_filters(scan.segment)} users who signed up from "
                f"{scan.start} to {scan.end}: day-7 retention "
                f"{100 * scan.d7_before:.0f}% → {100 * scan.d7_during:.0f}% "
                f"({pct(scan.change_pct)}, p={fmt(scan.p_value, 2)}).",
            )
    shown = cohorts[-MAX_COHORTS_SHOWN:]
    series = [
        ChartSeries(
            label=f"cohort {c.cohort}",
            x=[f"D{n}" for n in ret.days],
            y=[_as_pct(c.retention.get(n)) for n in ret.days],
            style="segment" if c in recent else "baseline",
        )
        for c in shown
    ]
    return StepResult(
        success=True,
        findings=findings,
        data={
            "filters": filters,
            "cohort_start": cs.isoformat(),
            "cohort_end": ce.isoformat(),
            **comp,
            "cohorts": [
                {
                    "cohort": c.cohort.isoformat(),
                    "size": c.size,
                    "retention": {str(k): v for k, v in c.retention.items()},
                }
                for c in shown
            ],
        },
        chart=Chart(
            title=f"Retention by weekly cohort ({format_filters(filters)})",
            kind="retention",
            series=series,
            x_label="days since signup",
            y_label="% retained",
        ),
    )


def _as_pct(rate: float | None) -> float | None:
    return None if rate is None else 100 * rate


def _verdict(comp: dict[str, Any], filters: dict[str, str]) -> str:
    d1, d7 = comp.get("d1_change_pct"), comp.get("d7_change_pct")
    key = d1 if d1 is not None else d7
    if key is None:
        return f"Not enough signup cohorts for {format_filters(filters)} to compare retention."
    if key <= CHURN_CHANGE_PCT:
        return (
            f"Retention fell for recent cohorts ({format_filters(filters)}): day-1 "
            f"{fmt(100 * (comp['d1_earlier'] or 0))}% → {fmt(100 * (comp['d1_recent'] or 0))}% "
            f"({pct(d1)}): new users are churning."
        )
    return (
        f"Retention of recent cohorts ({format_filters(filters)}) is in line with earlier ones "
        f"(day-1 {pct(d1)}, day-7 {pct(d7)}): not a churn problem."
    )


def scan_cohorts(bench: Workbench) -> CohortBreak | None:
    """The signup cohorts (and user segment) whose day-7 retention broke from their norm.

    Weekly cohorts of every value of every user-level dimension (and of everyone) are compared
    with their own median (binomial z); the strongest run of bad cohorts wins, and its first
    and last signup days are located on daily cohorts.
    """
    s = bench.schema
    cs, ce = s.start_date, s.end_date - timedelta(days=RETENTION_PROBE)
    if ce <= cs + timedelta(days=21):
        return None
    candidates: list[dict[str, str]] = [{}] + [
        {d.name: v}
        for d in s.dimensions
        if d.level == "user" and d.cardinality <= MAX_DIMENSION_CARDINALITY
        for v in d.values
    ]
    best: tuple[float, dict[str, str], tuple[list[Cohort], list[Cohort]]] | None = None
    for seg in candidates:
        run_ = _bad_run(_probe(bench, seg, (cs, ce), "week"))
        if run_ is not None and (best is None or run_[0] > best[0]):
            best = (run_[0], seg, run_[1])
    if best is None:
        return None
    score, seg, (good, bad) = best
    daily = _probe(bench, seg, (cs, ce), "day")
    first, last = bad[0].cohort, bad[-1].cohort + timedelta(days=6)
    start = _edge(daily, first, falling=True)
    end = _edge(daily, last + timedelta(days=1), falling=False) - timedelta(days=1)
    p0 = weighted(good, RETENTION_PROBE) or 0.0
    p1 = weighted(bad, RETENTION_PROBE) or 0.0
    n1 = sum(c.size for c in bad)
    se = math.sqrt(max(p0 * (1 - p0), 1e-9) / max(n1, 1))
    return CohortBreak(
        segment=seg,
        start=start,
        end=end,
        d7_before=p0,
        d7_during=p1,
        change_pct=(p1 / p0 - 1) * 100 if p0 else None,
        p_value=2 * pvalues.norm_sf(abs(p0 - p1) / se),
        score=score,
    )


def _probe(
    bench: Workbench,
    segment: dict[str, str],
    signups: tuple[date, date],
    grain: Literal["day", "week"],
) -> list[Cohort]:
    """Day-``RETENTION_PROBE`` retention of the segment's signup cohorts (weekly or daily)."""
    return q.retention(
        bench.warehouse,
        cohort_start=signups[0],
        cohort_end=signups[1],
        days=[RETENTION_PROBE],
        filters=segment or None,
        cohort_grain=grain,
    ).cohorts


def _bad_run(
    cohorts: Sequence[Cohort], n: int = RETENTION_PROBE
) -> tuple[float, tuple[list[Cohort], list[Cohort]]] | None:
    """(strength, (normal cohorts, the run of consecutive cohorts retaining far below normal))."""
    rated = [c for c in cohorts if c.retention.get(n) is not None and c.size >= 10]
    if len(rated) < 5:
        return None
    rates = [float(c.retention[n] or 0.0) for c in rated]
    p0 = float(np.median(rates))
    if p0 <= 0:
        return None
    z = [
        (p0 - r) / math.sqrt(p0 * (1 - p0) / c.size) if p0 < 1 else 0.0
        for r, c in zip(rates, rated, strict=True)
    ]
    bad = [zi >= 3.0 and rates[i] <= 0.75 * p0 for i, zi in enumerate(z)]
    best: tuple[float, int, int] | None = None
    i = 0
    while i < len(rated):
        if bad[i]:
            j = i
            while j + 1 < len(rated) and bad[j + 1]:
                j += 1
            strength = float(sum(z[i : j + 1]))
            if best is None or strength > best[0]:
                best = (strength, i, j)
            i = j + 1
        else:
            i += 1
    if best is None or best[0] < 5.0:
        return None
    strength, i, j = best
    return strength, ([c for k, c in enumerate(rated) if not bad[k]], rated[i : j + 1])


def _edge(
    daily: Sequence[Cohort], near: date, *, falling: bool, n: int = RETENTION_PROBE, reach: int = 6
) -> date:
    """The signup day within ``reach`` days of ``near`` where day-n retention falls (or recovers)
    most sharply between the week of cohorts before it and the week from it."""
    rates = {c.cohort: (c.retention.get(n), c.size) for c in daily}

    def pooled(lo: date, hi: date) -> float | None:
        pairs = [
            (r, size)
            for r, size in (
                rates.get(lo + timedelta(days=k), (None, 0)) for k in range((hi - lo).days + 1)
            )
            if r is not None
        ]
        total = sum(size for _, size in pairs)
        return sum(r * size for r, size in pairs) / total if total else None

    best, best_day = -math.inf, near
    for k in range(-reach, reach + 1):
        d = near + timedelta(days=k)
        before = pooled(d - timedelta(days=7), d - timedelta(days=1))
        after = pooled(d, d + timedelta(days=6))
        if before is None or after is None:
            continue
        score = (before - after) if falling else (after - before)
        if score > best:
            best, best_day = score, d
    return best_day


def weighted(cohorts: Sequence[Cohort], n: int) -> float | None:
    """Day-n retention pooled over cohorts (weighted by their size)."""
    pairs = [(r, c.size) for c in cohorts if (r := c.retention.get(n)) is not None]
    total = sum(s for _, s in pairs)
    return sum(r * s for r, s in pairs) / total if total else None
