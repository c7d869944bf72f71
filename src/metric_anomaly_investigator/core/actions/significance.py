"""``statistical_test``: is a segment's change during the anomaly window significant?"""

from __future__ import annotations

from datetime import date

import pandas as pd

from ...warehouse import queries as q
from ...warehouse.types import MetricSeries
from .. import stats
from ..models import ChartSeries, StatisticalTest, StepResult
from ..outcomes import SegmentTest
from ..report_markdown import format_filters
from ..segments import rollout_expectation
from .charts import days_axis, line
from .formatting import fmt, pct
from .workbench import Workbench

ALPHA = 0.05


def run(bench: Workbench, a: StatisticalTest) -> StepResult:
    segment = bench.normal_filters(a.segment)
    unfit = [p for dim in segment if (p := bench.split_problem(a.metric, dim))]
    if unfit:
        return StepResult(success=False, error=unfit[0])
    base, cur, _ = bench.windows(a.metric)
    # a value that replaced the others during the anomaly (a new version) has no "before":
    # the segment's users are compared through its stable part
    moving = {k for k in segment if k in bench.context.migrating or bench.replacing(k)}
    stable = {k: v for k, v in segment.items() if k not in moving}
    tested = stable if stable and stable != segment else segment
    ms = q.metric_series(
        bench.warehouse, a.metric, start=base[0], end=cur[1], filters=tested or None
    )
    days, vals = ms.days(), ms.values()
    before, during = _split(days, vals, base, cur)
    if a.compare_to == "rest" and segment:
        tot = q.metric_series(bench.warehouse, a.metric, start=base[0], end=cur[1])
        rest = _rest_values(tot, ms, bench.schema.is_ratio(a.metric))
        rest_b, rest_d = _split(tot.days(), rest, base, cur)
        ref_s = _mean(before) or 1.0
        ref_r = _mean(rest_b) or 1.0
        comp = stats.compare_samples([v / ref_r for v in rest_d], [v / ref_s for v in during])
        what = (
            f"{format_filters(tested)} vs the rest during {cur[0]}..{cur[1]} (indexed to baseline)"
        )
    elif not stable or not _mean(before):
        # a value that did not exist before (a new version) has no "before": it is compared
        # with like instead, or the step says why it cannot be
        fresh = _without_before(bench, a.metric, segment, moving, cur)
        if fresh is None:
            return StepResult(
                success=False,
                error=(
                    f"{format_filters(segment)} had no {a.metric} in {base[0]}..{base[1]} "
                    f"({fmt(_mean(during))}/day during {cur[0]}..{cur[1]}): there is no before "
                    "to compare its change with. Test its stable part, or compare_to='rest'."
                ),
            )
        comp, what = fresh
    else:
        comp = stats.compare_samples(before, during)
        what = f"{format_filters(tested)}: {cur[0]}..{cur[1]} vs {base[0]}..{base[1]}"
    sig = comp.sufficient and comp.welch_p is not None and comp.welch_p < ALPHA
    if not comp.sufficient:
        key = f"Not enough data to test {what}: {comp.message}."
    else:
        key = (
            f"{format_filters(segment)} changed "
            f"{pct(None if comp.rel_diff is None else 100 * comp.rel_diff)} "
            f"({fmt(comp.mean_a)} → {fmt(comp.mean_b)}/day), "
            + ("significant" if sig else "not significant")
            + f" (Welch p={fmt(comp.welch_p, 2)}, effect size g={fmt(comp.effect_size, 2)}, "
            f"95% CI of the difference [{fmt(comp.ci_low)}, {fmt(comp.ci_high)}])."
        )
    findings = [key, f"Compared {what}."]
    if tested != segment:
        findings.append(
            f"{', '.join(k for k in segment if k not in tested)} changed hands during the "
            f"window: tested the users of {format_filters(tested)} before vs during."
        )
    for s in bench.context.segments:
        if s.filters == segment:
            s.p_value = comp.welch_p
    holds = _holds_found(bench, a.metric, segment, cur)
    outcome = SegmentTest(
        metric=a.metric,
        segment=segment,
        tested=tested,
        compare_to=a.compare_to,
        n_a=comp.n_a,
        n_b=comp.n_b,
        mean_a=comp.mean_a,
        mean_b=comp.mean_b,
        diff=comp.diff,
        rel_diff=comp.rel_diff,
        ci_low=comp.ci_low,
        ci_high=comp.ci_high,
        p_value=comp.welch_p,
        mannwhitney_p=comp.mannwhitney_p,
        effect_size=comp.effect_size,
        significant=sig,
        holds_found=holds,
    )
    return StepResult(
        success=True,
        findings=findings,
        outcome=outcome,
        data=outcome.as_data(),
        chart=line(
            f"{a.metric}: {format_filters(segment)}",
            [
                ChartSeries(
                    label=format_filters(segment), x=days_axis(days), y=list(vals), style="segment"
                )
            ],
            a.metric,
            (cur[0].isoformat(), cur[1].isoformat()),
        ),
    )


def _holds_found(
    bench: Workbench, metric: str, segment: dict[str, str], cur: tuple[date, date]
) -> float | None:
    """How much of the segments found so far lies inside ``segment``: the smallest share of
    one's rows in the window that are also the segment's (1.0 for a browser inside its
    platform, near 0 for a bystander); None with no segment found or nothing to count rows by."""
    found = [s.filters for s in bench.context.segments if s.filters and s.filters != segment]
    schema = bench.schema
    counter = (
        "events" if "events" in schema.metrics else metric if not schema.is_ratio(metric) else None
    )
    if not found or not segment or counter is None:
        return None
    if any(schema.dimension_problem(counter, d) for f in found for d in {*f, *segment}):
        return None

    def rows(filters: dict[str, str]) -> float:
        days, values = bench.series(counter, filters)  # cached across the run's steps
        return float(sum(v for d, v in zip(days, values, strict=True) if cur[0] <= d <= cur[1]))

    shares = []
    for f in found:
        if any(f.get(k, v) != v for k, v in segment.items()):
            shares.append(0.0)  # another value of the same dimension: none of it inside
            continue
        whole = rows(f)
        shares.append(rows({**f, **segment}) / whole if whole else 0.0)
    return min(shares)


def _without_before(
    bench: Workbench,
    metric: str,
    segment: dict[str, str],
    moving: set[str],
    cur: tuple[date, date],
) -> tuple[stats.Comparison, str] | None:
    """A segment new in the window compared with like, over the window's days: for a count, its
    traffic vs what its rollout gave it (its share of the rest of the segment on the days either
    side of the window); for a rate, its rate vs the other values' of the same dimension in the
    rest of the segment. Migrating dimensions are tried first."""
    ratio = bench.schema.is_ratio(metric)
    for dim in sorted(segment, key=lambda d: d not in moving):
        part = {k: v for k, v in segment.items() if k != dim}
        ms = q.metric_series(bench.warehouse, metric, filters=part or None, group_by=[dim])
        days, groups = ms.days(), ms.groups()
        if {dim: segment[dim]} not in groups:
            continue
        if ratio:
            own, rest = _rates_in(ms, dim, segment[dim], cur)
            if not own:
                continue
            where = format_filters(part) if part else "all traffic"
            what = f"the other {dim} values of {where} on the same days ({cur[0]}..{cur[1]})"
            return stats.compare_samples(rest, own), f"{format_filters(segment)} vs {what}"
        by_value = {g[dim]: [p.value for p in ms.for_group(g)] for g in groups}
        got = rollout_expectation(days, by_value, cur, segment[dim])
        if got is None:
            continue
        expected, observed = got
        return stats.compare_samples(expected, observed), (
            f"{format_filters(segment)} during {cur[0]}..{cur[1]} vs what its rollout gave it "
            "(its share of the rest of the segment on the days either side, carried linearly)"
        )
    return None


def _rates_in(
    ms: MetricSeries, dim: str, value: str, cur: tuple[date, date]
) -> tuple[list[float], list[float]]:
    """(the value's daily rate, the other values' pooled daily rate) on the window's days when
    the value had traffic."""
    own: list[float] = []
    rest: list[float] = []
    others = [g for g in ms.groups() if g[dim] != value]
    pooled: dict[date, tuple[float, float]] = {}
    for g in others:
        for p in ms.for_group(g):
            n, d = pooled.get(p.day, (0.0, 0.0))
            pooled[p.day] = (n + p.numerator, d + p.denominator)
    for p in ms.for_group({dim: value}):
        n, d = pooled.get(p.day, (0.0, 0.0))
        if cur[0] <= p.day <= cur[1] and p.denominator > 0 and d > 0:
            own.append(p.numerator / p.denominator)
            rest.append(n / d)
    return own, rest


def _split(
    days: list[date], values: list[float], base: tuple[date, date], cur: tuple[date, date]
) -> tuple[list[float], list[float]]:
    """The values in the baseline window and in the current window."""
    pairs = list(zip(days, values, strict=True))
    return (
        [v for d, v in pairs if base[0] <= d <= base[1]],
        [v for d, v in pairs if cur[0] <= d <= cur[1]],
    )


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _rest_values(total: MetricSeries, seg: MetricSeries, ratio: bool) -> list[float]:
    """The daily metric of everything outside the segment (total minus segment)."""

    def frame(ms: MetricSeries) -> pd.DataFrame:
        return pd.DataFrame(
            [(p.day, p.numerator, p.denominator) for p in ms.points], columns=["day", "num", "den"]
        ).set_index("day")

    t = frame(total)
    s = frame(seg).reindex(t.index).fillna(0.0)
    num, den = t["num"] - s["num"], t["den"] - s["den"]
    if ratio:
        return [float(n / d) if d > 0 else 0.0 for n, d in zip(num, den, strict=True)]
    return [float(v) for v in num]
