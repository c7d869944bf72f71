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
from .charts import days_axis, line
from .formatting import fmt, pct
from .workbench import Workbench

ALPHA = 0.05


def run(bench: Workbench, a: StatisticalTest) -> StepResult:
    segment = bench.normal_filters(a.segment)
    unfit = _unfit(bench, a.metric, segment)
    if unfit is not None:
        return StepResult(success=False, error=unfit)
    base, cur, _ = bench.windows()
    # a value that replaced the others during the anomaly (a new version) has no "before":
    # the segment's users are compared through its stable part
    stable = {k: v for k, v in segment.items() if k not in bench.context.migrating}
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


def _unfit(bench: Workbench, metric: str, segment: dict[str, str]) -> str | None:
    """Why ``segment`` is no segment of ``metric`` to test, or None: a filter on a column the
    metric's own definition fixes, or on one its users span the same day (a per-user metric's
    users are not split by a request's status)."""
    m = bench.schema.metric(metric)
    for dim in segment:
        if dim in m.filter_columns:
            return f"{metric} is defined by a filter on {dim}: test a segment of other dimensions."
        if dim in bench.schema.metric_dimensions(metric) and bench.double_counts(metric, dim):
            return (
                f"{dim} describes events, not users (a user has several values the same day): "
                f"{metric} counts users, so a segment of {dim} is no group of its users. Test a "
                "metric of events, or a segment of other dimensions."
            )
    return None


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
