"""A break hidden in one segment when the metric's total shows none."""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np

from .. import stats
from ..report_markdown import format_filters
from .workbench import Workbench, values_replace_each_other

HIDDEN_MIN_IMPACT = 0.04  # a segment's break must move the total by 4% to be reported
MIN_SEGMENT_SHARE = 0.02  # segments smaller than this share of the total are not scanned
MAX_SEGMENT_P = 0.001
DRIFT_IMPACT_DAYS = 7  # a drift's impact on the total is read on its last week


def scan_segments(
    bench: Workbench, metric: str, days: list[date], values: list[float], hint: int | None
) -> tuple[stats.AnomalyResult, str] | None:
    """(the break re-expressed on the total, a finding), or None.

    Each value (≥ 2% of the traffic) of each breakdown dimension is tested on its own series.
    A break counts when it moved the total by at least ``HIDDEN_MIN_IMPACT`` over its window
    (a drift, which grows, over its last week);
    of those, the one that moved the most of the metric wins (its deviation summed over its
    window: a sustained shift in a small segment outweighs one odd day in a large one, which a
    noisy total such as a sum of amounts shows often). The result is re-expressed on the total
    (window, change vs the total's seasonal baseline) with the segment's p-value.
    """
    if bench.schema.is_ratio(metric):
        return None
    total = np.asarray(values, dtype=float)
    best: tuple[float, int, int, stats.AnomalyResult, str] | None = None
    for dim in bench.splitting_dimensions(metric):
        if dim == "event_type":
            continue
        ms = bench.grouped(metric, dim)
        if values_replace_each_other(ms):
            continue
        for g in ms.groups():
            seg = np.array([p.value for p in ms.for_group(g)], dtype=float)
            if len(seg) != len(total) or seg.sum() < MIN_SEGMENT_SHARE * total.sum():
                continue
            r = stats.detect_anomaly(seg, hint_index=hint)
            if not r.detected or r.start_index is None or (r.p_value or 1) > MAX_SEGMENT_P:
                continue
            i0 = r.start_index
            i1 = r.end_index if r.end_index is not None else len(seg) - 1
            dev = float(np.sum(seg[i0 : i1 + 1] - np.asarray(r.baseline[i0 : i1 + 1])))
            # a drift grows: what it does to the total is read on its last week, not averaged
            # with the early days when it had barely begun
            j0 = max(i0, i1 + 1 - DRIFT_IMPACT_DAYS) if r.kind == "drift" else i0
            moved = float(np.sum(seg[j0 : i1 + 1] - np.asarray(r.baseline[j0 : i1 + 1])))
            impact = abs(moved) / max(float(np.sum(total[j0 : i1 + 1])), 1e-9)
            if impact >= HIDDEN_MIN_IMPACT and (best is None or abs(dev) > best[0]):
                best = (abs(dev), i0, i1, r, format_filters(g))
    if best is None:
        return None
    _, i0, i1, r, where = best
    base = stats.seasonal_baseline(total, train_end=i0)
    win_dev = total[i0 : i1 + 1] - base[i0 : i1 + 1]
    change = float(np.mean(win_dev / np.where(base[i0 : i1 + 1] != 0, base[i0 : i1 + 1], 1.0)))
    direction: stats.Direction = "drop" if float(np.mean(win_dev)) < 0 else "spike"
    if abs(change) < HIDDEN_MIN_IMPACT / 2:
        return None
    result = dataclasses.replace(
        r, direction=direction, change_pct=100 * change, baseline=[float(b) for b in base]
    )
    what = "began to drift" if r.kind == "drift" else "broke"
    note = (
        f"The total alone shows no significant break, but {where} {what} on {days[i0]}: {r.reason}."
    )
    return result, note
