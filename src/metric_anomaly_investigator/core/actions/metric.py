"""``query_metric``: a metric's daily series, optionally split by one dimension."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...warehouse import queries as q
from ..models import ChartSeries, QueryMetric, StepResult
from ..report_markdown import format_filters
from .charts import line
from .formatting import fmt
from .workbench import Workbench

MAX_GROUPS_CHARTED = 8


def run(bench: Workbench, a: QueryMetric) -> StepResult:
    filters = bench.normal_filters(a.filters)
    ms = q.metric_series(
        bench.warehouse,
        a.metric,
        start=a.start,
        end=a.end,
        filters=filters or None,
        group_by=[a.group_by] if a.group_by else None,
    )
    series: list[ChartSeries] = []
    summary: list[dict[str, Any]] = []
    for g in ms.groups() or [{}]:
        pts = ms.for_group(g)
        vals = [p.value for p in pts]
        series.append(
            ChartSeries(
                label=format_filters(g) if g else a.metric,
                x=[p.day.isoformat() for p in pts],
                y=vals,
                style="segment" if g else "actual",
            )
        )
        if vals:
            summary.append(
                {
                    "group": g,
                    "mean": float(np.mean(vals)),
                    "first": vals[0],
                    "last": vals[-1],
                    "min": min(vals),
                    "max": max(vals),
                }
            )
    summary.sort(key=lambda r: -r["mean"])
    series = sorted(series, key=lambda s: -float(np.mean([v or 0 for v in s.y] or [0])))
    described = "; ".join(
        f"{format_filters(r['group']) if r['group'] else 'overall'} mean {fmt(r['mean'])} "
        f"(first {fmt(r['first'])}, last {fmt(r['last'])})"
        for r in summary[:4]
    )
    findings = [
        f"{a.metric} for {format_filters(filters)} from {ms.start} to {ms.end}: "
        + (described or "no events in that range")
    ]
    bench.context.metric = bench.context.metric or a.metric
    return StepResult(
        success=True,
        findings=findings,
        data={
            "metric": a.metric,
            "filters": filters,
            "start": ms.start.isoformat(),
            "end": ms.end.isoformat(),
            "group_by": a.group_by,
            "groups": summary[:10],
        },
        chart=line(
            f"{a.metric} ({format_filters(filters)})", series[:MAX_GROUPS_CHARTED], y_label=a.metric
        ),
    )
