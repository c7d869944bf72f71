"""Helpers around ``stats.detect_anomaly`` for real product series.

Products grow: a steady trend is removed before detection (so growth does not read as a
"spike"); the sharpest weekly step is offered as a candidate start; a start detected late (a
ramp-in, a dip whose deepest days come last) is moved back to where the series first left its
baseline; and dimensions whose values replace each other over time (app versions) are spotted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from scipy import stats as sps

from ..warehouse.types import MetricSeries
from . import stats


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


def trend(values: Sequence[float] | np.ndarray, period: int = 7) -> np.ndarray:
    """The series' steady growth or decline (robust Theil-Sen slope over whole-week means),
    as an additive component that is zero on the last day; zero when not clearly there.

    Removing it keeps a growing product's normal growth from reading as a "spike" while a break
    (which moves few of the weekly means) barely changes the slope.
    """
    x = np.asarray(values, dtype=float)
    n = len(x)
    weeks = n // period
    if weeks < 4 or not np.isfinite(x).all():
        return np.zeros(n)
    offset = n - weeks * period
    means = x[offset:].reshape(weeks, period).mean(axis=1)
    slope, _, low, high = sps.theilslopes(means, np.arange(weeks))
    if low <= 0 <= high:
        return np.zeros(n)
    return (slope / period) * (np.arange(n) - (n - 1))


def with_trend(
    res: stats.AnomalyResult, values: Sequence[float] | np.ndarray, trend: np.ndarray
) -> stats.AnomalyResult:
    """Express a result found on the detrended series on the original one."""
    base = np.asarray(res.baseline, dtype=float)
    if len(base) != len(trend):
        return res
    full = base + trend
    change = res.change_pct
    if res.detected and res.start_index is not None:
        x = np.asarray(values, dtype=float)
        i1 = res.end_index if res.end_index is not None else len(x) - 1
        win = slice(res.start_index, i1 + 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = (x[win] - full[win]) / np.abs(full[win])
        rel = rel[np.isfinite(rel)]
        change = float(100 * np.mean(rel)) if len(rel) else None
    return dataclasses.replace(res, baseline=[float(v) for v in full], change_pct=change)


def restart(res: stats.AnomalyResult, values: Sequence[float], start: int) -> stats.AnomalyResult:
    """The same anomaly starting earlier: change and kind re-measured over the longer window."""
    x = np.asarray(values, dtype=float)
    base = np.asarray(res.baseline, dtype=float)
    i1 = res.end_index if res.end_index is not None else len(x) - 1
    win = slice(start, i1 + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = (x[win] - base[win]) / np.abs(base[win])
    rel = rel[np.isfinite(rel)]
    kind = "step" if res.kind == "spike" and i1 - start + 1 > 2 else res.kind
    return dataclasses.replace(
        res,
        start_index=start,
        kind=kind,
        change_pct=float(100 * np.mean(rel)) if len(rel) else res.change_pct,
    )


def sharpest_step(values: Sequence[float], period: int = 7) -> int | None:
    """Where the weekly level jumps most abruptly: a candidate start for the detector.

    Compares the week after each day with the week before it (whole weeks, so the weekday mix
    cancels out); a slow trend scores low, a break scores high.
    """
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n < 4 * period:
        return None
    c = np.concatenate([[0.0], np.cumsum(x)])
    idx = np.arange(2 * period, n - 2)
    after_len = np.minimum(period, n - idx)
    after = (c[idx + after_len] - c[idx]) / after_len
    before = (c[idx] - c[idx - period]) / period
    diffs = np.diff(x[period:] - x[:-period])
    noise = float(np.median(np.abs(diffs))) or 1.0
    score = np.abs(after - before) / noise
    return int(idx[int(np.argmax(score))])


def onset(flat: Sequence[float], start: int, direction: str, period: int = 7) -> int:
    """Move a detected start back over the days already off the baseline in the same direction.

    A change that ramps in (a rollout adopted over a day or two) or a dip whose deepest days
    come last is detected late; against a baseline learned a week before the detected start,
    the first of the consecutive days beyond 3 noise s.d. is where it began (at most a week).
    """
    x = np.asarray(flat, dtype=float)
    train_end = start - period
    if train_end < 2 * period:
        return start
    ref = stats.seasonal_baseline(x, period=period, train_end=train_end)
    resid = x - ref
    pre = resid[max(0, train_end - 4 * period) : train_end]
    sd = float(np.std(pre, ddof=1)) if len(pre) > 2 else 0.0
    if sd <= 0:
        return start
    sign = -1.0 if direction == "drop" else 1.0
    onset = start
    for i in range(start - 1, train_end - 1, -1):
        if sign * resid[i] > 3.0 * sd:
            onset = i
        else:
            break
    return onset
