"""``detect_anomaly``: whether and when a metric broke from its seasonal baseline."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np

from .. import stats
from ..context import Anomaly
from ..models import ChartSeries, DetectAnomaly, StepResult
from ..report_markdown import format_filters
from .charts import days_axis, line
from .formatting import fmt, pct
from .hidden import scan_segments
from .workbench import Workbench


def run(bench: Workbench, a: DetectAnomaly) -> StepResult:
    filters = bench.normal_filters(a.filters)
    days, values = bench.series(a.metric, filters)
    hint = None
    if a.hint_date is not None and days:
        hint_day = a.hint_date
        hint = min(range(len(days)), key=lambda i: abs((days[i] - hint_day).days))
    res = stats.detect_anomaly(values, hint_index=hint)
    x = days_axis(days)
    series = [
        ChartSeries(label=a.metric, x=x, y=list(values), style="actual"),
        ChartSeries(
            label="seasonal baseline", x=x, y=[float(v) for v in res.baseline], style="baseline"
        ),
    ]
    hidden = None
    if (not res.detected or res.start_index is None) and not filters:
        hidden = scan_segments(bench, a.metric, days, values, hint)
        if hidden is not None:
            res = hidden[0]
    highlight = None
    data: dict[str, Any]
    if not res.detected or res.start_index is None:
        anomaly = Anomaly(
            a.metric, filters, "none", "none", None, None, None, res.p_value, res.reason
        )
        findings = [f"No anomaly in {a.metric} ({format_filters(filters)}): {res.reason}."]
        if hint is not None:
            findings.append(_hint_note(days, values, res.baseline, hint))
        data = {
            "metric": a.metric,
            "filters": filters,
            "detected": False,
            "direction": "none",
            "p_value": res.p_value,
            "reason": res.reason,
        }
    else:
        i0 = res.start_index
        i1 = res.end_index if res.end_index is not None else len(days) - 1
        start, end = days[i0], days[i1]
        anomaly = Anomaly(
            a.metric,
            filters,
            res.direction,
            res.kind,
            start,
            end,
            res.change_pct,
            res.p_value,
            res.reason,
        )
        until = "to the end of the data" if res.end_index is None else f"until {end}"
        word = "dropped" if res.direction == "drop" else "spiked"
        findings = [
            f"{a.metric} ({format_filters(filters)}) {word} {pct(res.change_pct)} vs its seasonal "
            f"baseline from {start} {until} (p={fmt(res.p_value, 2)}, {res.kind})."
        ]
        seg_vals = values[i0 : i1 + 1]
        exp_vals = res.baseline[i0 : i1 + 1]
        findings.append(
            f"Mean {fmt(float(np.mean(seg_vals)))}/day in the window vs "
            f"{fmt(float(np.mean(exp_vals)))} expected."
        )
        if res.kind == "drift" and res.end_change_pct is not None:
            findings.append(
                f"A gradual drift: the trend bent on {start}, and by the last week the level "
                f"is {pct(res.end_change_pct)} off the line it followed before."
            )
        if hint is not None and not (i0 - 1 <= hint <= i1):
            findings.append(
                f"The date mentioned ({days[hint]}) is not where the break is: it starts {start}."
            )
        if hidden is not None:
            findings.insert(0, hidden[1])
        highlight = (start.isoformat(), end.isoformat())
        data = {
            "metric": a.metric,
            "filters": filters,
            "detected": True,
            "direction": res.direction,
            "kind": res.kind,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "ongoing": res.end_index is None,
            "change_pct": res.change_pct,
            "end_change_pct": res.end_change_pct,
            "p_value": res.p_value,
            "expected_mean": float(np.mean(exp_vals)),
            "actual_mean": float(np.mean(seg_vals)),
        }
    _record(bench, anomaly)
    ctx = bench.context
    if ctx.window is not None:
        data["baseline_window"] = (
            [ctx.baseline[0].isoformat(), ctx.baseline[1].isoformat()] if ctx.baseline else None
        )
    return StepResult(
        success=True,
        findings=findings,
        data=data,
        chart=line(f"{a.metric} vs seasonal baseline", series, a.metric, highlight),
    )


def _record(bench: Workbench, anomaly: Anomaly) -> None:
    """Note the check; make it the investigation's anomaly unless a broader one is known."""
    ctx = bench.context
    ctx.checked[anomaly.metric + "|" + format_filters(anomaly.filters)] = anomaly
    known = ctx.anomaly
    replace = (
        known is None
        or (anomaly.detected and not known.detected)
        or (known.metric == anomaly.metric and known.filters == anomaly.filters)
    )
    narrower = bool(anomaly.filters) and known is not None and known.detected and not known.filters
    if replace and not narrower:
        bench.set_anomaly(anomaly)


def _hint_note(days: list[date], values: list[float], base: list[float], i: int) -> str:
    """How the day the question mentions compares with its weekday's usual level."""
    d = days[i]
    exp = base[i] if i < len(base) else None
    rel = (values[i] / exp - 1) * 100 if exp else None
    same = [values[j] for j in range(i % 7, len(values), 7) if j != i][-4:]
    typical = f"; the same weekday usually reads {fmt(float(np.mean(same)))}" if same else ""
    return (
        f"{d} ({d:%A}) reads {fmt(values[i])} vs {fmt(exp)} expected for that weekday "
        f"({pct(rel)}){typical}: within the usual weekly pattern."
    )
