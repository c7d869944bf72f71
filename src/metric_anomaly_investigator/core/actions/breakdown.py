"""``segment_by_dimension``: one dimension's values, baseline vs the anomaly window."""

from __future__ import annotations

from ..models import SegmentByDimension, StepResult
from ..outcomes import DimensionSplit, SplitRow
from ..segments import dimension_concentration
from .charts import bars
from .formatting import fmt, no_window_note, pct, share_text
from .workbench import Workbench

CONCENTRATED = 0.15
MAX_ROWS = 12


def run(bench: Workbench, a: SegmentByDimension) -> StepResult:
    filters = bench.normal_filters(a.filters)
    problem = bench.split_problem(a.metric, a.dimension)
    if problem is not None:
        return StepResult(success=False, error=problem)
    base, cur, from_anomaly = bench.windows(a.metric)
    bd = bench.breakdown(a.metric, [a.dimension], filters)
    conc = dimension_concentration(bd, ratio=bench.schema.is_ratio(a.metric))
    bench.context.dimension_scores[a.dimension] = conc
    rows = [
        SplitRow(
            value=str(r.segment[a.dimension]),
            before=r.before,
            after=r.after,
            change_pct=None if r.rel_change is None else 100 * r.rel_change,
            share_of_change=r.share_of_change,
        )
        for r in bd.rows
    ]
    total_rel = (bd.total_after / bd.total_before - 1) * 100 if bd.total_before else None
    findings = []
    if rows:
        top = rows[0]
        findings.append(
            f"By {a.dimension}, {top.value} moved most: {fmt(top.before)} → "
            f"{fmt(top.after)}/day ({pct(top.change_pct)}), "
            f"{share_text(top.share_of_change)}% of the change (total {pct(total_rel)})."
        )
        others = [
            f"{r.value} {pct(r.change_pct)} ({share_text(r.share_of_change, 2)}%)"
            for r in rows[1:5]
        ]
        if others:
            findings.append("Others: " + "; ".join(others) + ".")
        findings.append(
            f"Concentration along {a.dimension}: {conc:.2f} "
            + ("(the change is concentrated)" if conc >= CONCENTRATED else "(spread evenly)")
            + "."
        )
    else:
        findings.append(f"No data for {a.metric} by {a.dimension} in these windows.")
    if not from_anomaly:
        findings.append(no_window_note(base, cur))
    top_rows = rows[:MAX_ROWS]
    labels = [r.value for r in top_rows]
    outcome = DimensionSplit(
        metric=a.metric,
        dimension=a.dimension,
        filters=filters,
        baseline=[base[0].isoformat(), base[1].isoformat()],
        current=[cur[0].isoformat(), cur[1].isoformat()],
        total_before=bd.total_before,
        total_after=bd.total_after,
        concentration=conc,
        rows=top_rows,
    )
    return StepResult(
        success=True,
        findings=findings,
        outcome=outcome,
        data=outcome.as_data(),
        chart=bars(
            f"{a.metric} by {a.dimension}: baseline vs anomaly",
            labels,
            {
                "baseline": ([r.before for r in top_rows], "baseline"),
                "anomaly window": ([r.after for r in top_rows], "actual"),
            },
            x_label=a.dimension,
            y_label=a.metric,
        ),
    )
