"""Series-level helpers for the tools layer around :func:`stats.detect_anomaly`.

The statistics (trend, weekly pattern, candidate starts, onset, re-measuring a window) live in
``stats``; ``detect_anomaly`` already models trend and weekly seasonality and dates the onset
itself. What stays here is about a warehouse dimension rather than one series
(:func:`values_replace_each_other`) and the result bookkeeping for callers that remove a trend
before detecting: the functions below apply the ``stats`` ideas to an :class:`AnomalyResult`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from ..warehouse.types import MetricSeries
from . import stats
from .stats import onset, sharpest_step, trend

__all__ = [
    "onset",
    "restart",
    "sharpest_step",
    "trend",
    "values_replace_each_other",
    "with_trend",
]


def values_replace_each_other(ms: MetricSeries, weeks: int = 4) -> bool:
    """Whether a dimension's values appear or vanish over the data (app versions rolling out)."""
    for g in ms.groups():
        v = np.array([p.value for p in ms.for_group(g)], dtype=float)
        if len(v) < 4 * weeks * 7 // 2:
            continue
        head, tail = float(v[: 7 * weeks].mean()), float(v[-7 * weeks :].mean())
        if max(head, tail) > 0 and min(head, tail) < 0.25 * max(head, tail):
            return True
    return False


def with_trend(
    res: stats.AnomalyResult, values: Sequence[float] | np.ndarray, trend: np.ndarray
) -> stats.AnomalyResult:
    """Express a result found on a detrended series on the original one."""
    base = np.asarray(res.baseline, dtype=float)
    if len(base) != len(trend):
        return res
    full = base + trend
    change = res.change_pct
    if res.detected and res.start_index is not None:
        change, _ = stats.window_change(values, full, res.start_index, res.end_index)
    return dataclasses.replace(res, baseline=[float(v) for v in full], change_pct=change)


def restart(res: stats.AnomalyResult, values: Sequence[float], start: int) -> stats.AnomalyResult:
    """The same anomaly starting earlier: change and kind re-measured over the longer window."""
    change, magnitude = stats.window_change(values, res.baseline, start, res.end_index)
    i1 = res.end_index if res.end_index is not None else len(values) - 1
    kind = "step" if res.kind == "spike" and i1 - start + 1 > 2 else res.kind
    return dataclasses.replace(
        res,
        start_index=start,
        kind=kind,
        change_pct=change if change is not None else res.change_pct,
        magnitude=magnitude if magnitude is not None else res.magnitude,
    )
