"""Statistics for the investigation: anomaly detection, seasonal baselines, comparisons.

Plain numpy/scipy/ruptures — no database code. Every public function tolerates degenerate input
(empty, length 1, constant, all zeros, NaN) and never returns NaN: a figure that cannot be
computed is ``None`` and the accompanying message says why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import ruptures as rpt
from scipy import stats as sps

Direction = Literal["drop", "spike", "none"]
Kind = Literal["step", "spike", "drift", "none"]

MIN_SAMPLE = 3
_LEVEL_WINDOW_PERIODS = 4  # the baseline level is the mean of the last 4 periods of history
_ALPHA_DETECT = 0.01
_MIN_SHIFT_SIGMAS = 1.0  # a window must move at least one noise s.d. from its baseline
_MIN_SPIKE_SIGMAS = 4.0  # a window of 1-2 points must stand out by 4 noise s.d.
_EPS = 1e-12


# --------------------------------------------------------------------------------------------
# helpers


def _as_float_array(values: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    return np.where(np.isfinite(arr), arr, np.nan)


def _fill_missing(x: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaN (ends held constant); all-NaN stays all-NaN."""
    ok = np.isfinite(x)
    if ok.all() or not ok.any():
        return x.copy()
    idx = np.arange(len(x))
    return np.interp(idx, idx[ok], x[ok])


def _finite(x: float | np.floating | None) -> float | None:
    if x is None:
        return None
    f = float(x)
    return f if math.isfinite(f) else None


def _seasonal_profile(x: np.ndarray, period: int) -> np.ndarray:
    """Additive weekday profile (zero-mean, length ``period``) from a gap-free array.

    Each point's deviation from its centred one-period moving mean, medianed per phase;
    zero when there are fewer than two full periods.
    """
    n = len(x)
    if period < 2 or n < 2 * period:
        return np.zeros(max(period, 1))
    kernel = np.ones(period) / period
    if period % 2 == 1:
        trend = np.convolve(x, kernel, mode="valid")  # trend[i] centred at i + period // 2
        offset = period // 2
    else:  # 2xP moving average keeps the centring exact for even periods
        k2 = np.convolve(kernel, [0.5, 0.5])
        trend = np.convolve(x, k2, mode="valid")
        offset = period // 2
    idx = np.arange(len(trend)) + offset
    dev = x[idx] - trend
    phases = idx % period
    prof = np.zeros(period)
    for p in range(period):
        sel = dev[phases == p]
        if len(sel):
            prof[p] = float(np.median(sel))
    return prof - prof.mean()


def seasonal_baseline(
    values: Sequence[float] | np.ndarray, *, period: int = 7, train_end: int
) -> np.ndarray:
    """Expected value for every point of ``values``, learned only from ``values[:train_end]``.

    Expected = level + weekday profile, where the level is the median of the last (up to four)
    whole periods of the training data with the profile removed, and the profile is the
    median deviation of each weekday from its centred weekly mean. No trend is extrapolated.
    NaN in the training data is interpolated; with no usable training data the result is 0.
    """
    x = _as_float_array(values)
    n = len(x)
    train_end = int(min(max(train_end, 0), n))
    train = _fill_missing(x[:train_end])
    if train_end == 0 or not np.isfinite(train).any():
        return np.zeros(n)
    period = max(int(period), 1)
    prof = _seasonal_profile(train, period)
    deseason = train - prof[np.arange(train_end) % period]
    span = min(train_end, _LEVEL_WINDOW_PERIODS * period)
    if train_end >= period:
        span = max(period, span - span % period)
    level = float(np.median(deseason[train_end - span :]))
    return level + prof[np.arange(n) % period]


def _mad_sigma(r: np.ndarray) -> float:
    if len(r) < 2:
        return 0.0
    return 1.4826 * float(np.median(np.abs(r - np.median(r))))


def _robust_sigma(r: np.ndarray) -> float:
    """Noise s.d. from first differences (MAD based), robust to a level shift."""
    r = r[np.isfinite(r)]
    if len(r) < 3:
        return float(np.std(r)) if len(r) else 0.0
    d = np.diff(r)
    mad = float(np.median(np.abs(d - np.median(d))))
    s = 1.4826 * mad / math.sqrt(2.0)
    if s <= _EPS:
        s = float(np.std(d)) / math.sqrt(2.0)
    return s


# --------------------------------------------------------------------------------------------
# anomaly detection


@dataclass(frozen=True)
class AnomalyResult:
    """Outcome of :func:`detect_anomaly` (indices are positions in the input series)."""

    detected: bool
    direction: Direction
    kind: Kind
    start_index: int | None
    end_index: int | None  # inclusive; None = continues to the end of the series
    change_pct: float | None  # mean relative deviation from the baseline over the window, %
    magnitude: float | None  # mean absolute deviation over the window, metric units
    p_value: float | None
    baseline: list[float] = field(default_factory=list)
    reason: str = ""


@dataclass(frozen=True)
class _Window:
    start: int
    stop: int  # exclusive
    p_value: float
    shift_sigmas: float  # |mean deviation| / noise s.d.
    score: float  # |t| like statistic used to rank windows
    baseline: np.ndarray


def _window_test(
    resid_pre: np.ndarray, resid_win: np.ndarray, noise: float
) -> tuple[float, float, float]:
    """(p, |t|, shift in noise s.d.) of the window's residuals against the pre-window ones.

    Welch's t-test for windows of 3+ points, else a prediction-interval t-test. The pre-window
    centre and spread are robust (median, MAD) so an earlier incident does not mask this one;
    ``noise`` is a floor for the pre-window s.d.
    """
    m, k = len(resid_pre), len(resid_win)
    sd_pre = max(_mad_sigma(resid_pre), noise)
    shift = float(np.mean(resid_win)) - float(np.median(resid_pre))
    if k >= MIN_SAMPLE and m >= MIN_SAMPLE:
        # the window's variance is floored at the pre-window one: a short, smooth window
        # must not look more certain than the noise allows
        va, vb = sd_pre**2 / m, max(float(np.var(resid_win, ddof=1)), sd_pre**2) / k
        se = math.sqrt(va + vb)
        den = va**2 / (m - 1) + vb**2 / (k - 1)
        df = (va + vb) ** 2 / den if den > 0 else float(m + k - 2)
    else:
        se = sd_pre * math.sqrt(1.0 / k + 1.0 / max(m, 1))
        df = float(max(m - 1, 1))
    if se <= _EPS:
        moved = abs(shift) > _EPS
        return (0.0 if moved else 1.0), (math.inf if moved else 0.0), (math.inf if moved else 0.0)
    t = shift / se
    p = float(2.0 * sps.t.sf(abs(t), df))
    return p, abs(t), abs(shift) / sd_pre


def _change_points(d: np.ndarray, sigma: float) -> list[int]:
    """Change points of the deseasonalised series (ruptures, linear-kernel PELT, BIC-like pen)."""
    n = len(d)
    if n < 4 or sigma <= _EPS:
        return []
    pen = 3.0 * sigma**2 * math.log(n)
    algo = rpt.KernelCPD(kernel="linear", min_size=2).fit(d.reshape(-1, 1))
    return [int(b) for b in algo.predict(pen=pen) if 0 < int(b) < n]


def _outliers(d: np.ndarray, sigma: float, width: int) -> list[int]:
    """Points that stand out from their centred rolling median by more than 4 noise s.d."""
    if sigma <= _EPS or len(d) < width:
        return []
    half = width // 2
    padded = np.pad(d, half, mode="edge")
    med = np.median(np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1), axis=1)
    return [int(i) for i in np.flatnonzero(np.abs(d - med) > _MIN_SPIKE_SIGMAS * sigma)]


def _evaluate(
    x: np.ndarray, start: int, period: int, min_history: int, floor_sigma: float
) -> _Window | None:
    """Test the window starting at ``start`` against the seasonal baseline learned before it.

    The window runs until three consecutive points fall back within max(2 s.d., half the
    initial deviation) of the baseline, or to the end of the series.
    """
    n = len(x)
    if start < max(min_history, 2) or start >= n:
        return None
    base = seasonal_baseline(x, period=period, train_end=start)
    resid = x - base
    pre = resid[max(0, start - _LEVEL_WINDOW_PERIODS * period) : start]
    sd_pre = max(_mad_sigma(pre), floor_sigma)
    head = float(np.mean(resid[start : min(n, start + 3)]))
    sign = 1.0 if head >= 0 else -1.0
    if sign * (resid[start] - float(np.median(pre))) <= sd_pre:
        return None  # a window starts with a point that has clearly left the baseline
    beyond = sign * resid[start:] > max(2.0 * sd_pre, 0.5 * abs(head))
    stop, run = n, 0
    for i, b in enumerate(beyond):
        run = 0 if b else run + 1
        if run >= 3:
            stop = start + i - 2
            break
    stop = max(stop, start + 1)
    # noise: never below the series' robust noise level; the weekday profile's own estimation
    # error (a median over the training weeks) widens the prediction band
    noise = max(sd_pre, floor_sigma) * math.sqrt(1.0 + 1.57 / max(start // period, 1))
    p, score, sig = _window_test(pre, resid[start:stop], noise)
    return _Window(start, stop, p, sig, score, base)


def _kind(resid_win: np.ndarray) -> Kind:
    k = len(resid_win)
    if k <= 2:
        return "spike"
    if k >= 6:
        t = np.arange(k, dtype=float)
        res = sps.linregress(t, resid_win)
        third = max(k // 3, 1)
        first, last = float(np.mean(resid_win[:third])), float(np.mean(resid_win[-third:]))
        grows = abs(last) > 2.0 * abs(first) and np.sign(last) == np.sign(res.slope)
        if res.pvalue < 0.01 and res.rvalue**2 > 0.5 and grows:
            return "drift"
    return "step"


def _none(baseline: np.ndarray, reason: str, p_value: float | None = None) -> AnomalyResult:
    return AnomalyResult(
        detected=False,
        direction="none",
        kind="none",
        start_index=None,
        end_index=None,
        change_pct=None,
        magnitude=None,
        p_value=_finite(p_value),
        baseline=[float(v) for v in np.nan_to_num(baseline)],
        reason=reason,
    )


def detect_anomaly(
    values: Sequence[float] | np.ndarray,
    *,
    period: int = 7,
    min_history: int = 14,
    hint_index: int | None = None,
) -> AnomalyResult:
    """Find whether, when and how a daily series broke from its normal behaviour.

    The series is deseasonalised with a weekday profile, change points are found with ruptures
    (linear-kernel PELT, BIC-like penalty from a robust noise estimate) and 1-2 point outliers
    flagged; every candidate window is tested against the seasonal baseline learned from the
    data before it (Welch t-test, or a prediction-interval t-test for 1-2 points), Bonferroni
    corrected over the candidates. The most significant window wins; ``hint_index`` adds a
    candidate and is preferred when its window is itself significant, but never forces a
    detection. NaN values are interpolated.
    """
    x_raw = _as_float_array(values)
    n = len(x_raw)
    period = max(int(period), 1)
    min_history = max(int(min_history), 2)
    finite = np.isfinite(x_raw)
    if n == 0:
        return _none(np.zeros(0), "empty series: nothing to analyse")
    if finite.sum() < min_history + 1:
        return _none(
            np.zeros(n) if not finite.any() else np.full(n, float(np.nanmean(x_raw))),
            f"not enough data: {int(finite.sum())} usable points (need ≥ {min_history + 1})",
        )
    x = _fill_missing(x_raw)
    prof = _seasonal_profile(x, period)
    d = x - prof[np.arange(n) % period]
    sigma = _robust_sigma(d)
    full_base = seasonal_baseline(x, period=period, train_end=n)

    # candidate starts: change points (and their neighbours: a break is located to ±1 point)
    # and isolated outliers
    starts = {b + o for b in _change_points(d, sigma) for o in (-1, 0, 1)}
    starts |= set(_outliers(d, sigma, max(period, 5)))
    if hint_index is not None and 0 <= hint_index < n:
        starts.add(int(hint_index))
    windows = [
        w for s in sorted(starts) if (w := _evaluate(x, s, period, min_history, sigma)) is not None
    ]

    def adjusted_p(w: _Window) -> float:
        # the window was picked among all n start positions: Bonferroni over all of them
        return min(1.0, w.p_value * n)

    def significant(w: _Window) -> bool:
        need = _MIN_SPIKE_SIGMAS if w.stop - w.start <= 2 else _MIN_SHIFT_SIGMAS
        return adjusted_p(w) < _ALPHA_DETECT and w.shift_sigmas >= need

    sig = [w for w in windows if significant(w)]
    seasonal_amp = float(np.ptp(prof)) if period > 1 else 0.0
    if not sig:
        p_adj = min((adjusted_p(w) for w in windows), default=None)
        if seasonal_amp > 2.0 * sigma and seasonal_amp > _EPS:
            why = "the ups and downs match the usual weekly pattern; no break beyond normal noise"
        elif sigma <= _EPS:
            why = "the series is constant: no change"
        else:
            why = "no change beyond normal day-to-day variation"
        return _none(full_base, why, p_adj)

    chosen = max(sig, key=lambda w: (w.score, -w.start))
    if hint_index is not None:
        near = [w for w in sig if w.start - 1 <= hint_index < max(w.stop, w.start + 2)]
        near = near or [w for w in sig if abs(w.start - hint_index) <= period // 2]
        if near:
            chosen = max(near, key=lambda w: (w.score, -w.start))
    base = chosen.baseline
    win = slice(chosen.start, chosen.stop)
    dev = x[win] - base[win]
    mean_dev = float(np.mean(dev))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = dev / np.abs(base[win])
    rel = rel[np.isfinite(rel)]
    change_pct = _finite(100.0 * float(np.mean(rel))) if len(rel) else None
    direction: Direction = "drop" if mean_dev < 0 else "spike"
    kind = _kind(dev)
    p_adj = adjusted_p(chosen)
    end_index = None if chosen.stop >= n else chosen.stop - 1
    what = {"step": "sustained", "drift": "gradual", "spike": "short", "none": ""}[kind]
    word = "drop" if direction == "drop" else "rise"
    pct = f" of {abs(change_pct):.1f}%" if change_pct is not None else ""
    until = "to the end of the series" if end_index is None else f"to index {end_index}"
    reason = (
        f"{what} {word}{pct} against the seasonal baseline from index {chosen.start} {until}, "
        f"{chosen.shift_sigmas:.1f}× the usual noise (p={p_adj:.2g})"
    )
    return AnomalyResult(
        detected=True,
        direction=direction,
        kind=kind,
        start_index=chosen.start,
        end_index=end_index,
        change_pct=change_pct,
        magnitude=_finite(float(np.mean(np.abs(dev)))),
        p_value=_finite(p_adj),
        baseline=[float(v) for v in np.nan_to_num(base)],
        reason=reason,
    )


# --------------------------------------------------------------------------------------------
# comparisons


@dataclass(frozen=True)
class Comparison:
    """Two-sample comparison of B against A (diff = mean_b - mean_a)."""

    n_a: int
    n_b: int
    mean_a: float | None
    mean_b: float | None
    diff: float | None
    rel_diff: float | None  # diff / |mean_a|; None if mean_a == 0
    ci_low: float | None  # confidence interval of diff (bootstrap when a sample is < 30)
    ci_high: float | None
    welch_p: float | None
    mannwhitney_p: float | None
    effect_size: float | None  # Hedges' g
    sufficient: bool
    message: str


def _clean(x: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = _as_float_array(x)
    return arr[np.isfinite(arr)]


def _welch_p(a: np.ndarray, b: np.ndarray) -> float:
    va, vb = float(np.var(a, ddof=1)), float(np.var(b, ddof=1))
    diff = float(np.mean(b) - np.mean(a))
    scale = max(float(np.max(np.abs(np.concatenate([a, b])))), _EPS)
    if va + vb <= (_EPS * scale) ** 2:
        return 0.0 if abs(diff) > _EPS * scale else 1.0
    p = float(sps.ttest_ind(b, a, equal_var=False).pvalue)
    return p if math.isfinite(p) else 1.0


def _mannwhitney_p(a: np.ndarray, b: np.ndarray) -> float:
    if np.ptp(np.concatenate([a, b])) == 0:
        return 1.0
    p = float(sps.mannwhitneyu(b, a, alternative="two-sided").pvalue)
    return p if math.isfinite(p) else 1.0


def _hedges_g(a: np.ndarray, b: np.ndarray) -> float | None:
    na, nb = len(a), len(b)
    pooled = math.sqrt(
        ((na - 1) * float(np.var(a, ddof=1)) + (nb - 1) * float(np.var(b, ddof=1))) / (na + nb - 2)
    )
    diff = float(np.mean(b) - np.mean(a))
    if pooled <= _EPS * max(1.0, abs(float(np.mean(a))), abs(float(np.mean(b)))):
        return 0.0 if diff == 0 else None
    correction = 1.0 - 3.0 / (4.0 * (na + nb) - 9.0)
    return _finite(correction * diff / pooled)


def _diff_ci(
    a: np.ndarray, b: np.ndarray, alpha: float, n_boot: int, seed: int
) -> tuple[float | None, float | None]:
    diff = float(np.mean(b) - np.mean(a))
    if min(len(a), len(b)) < 30 and n_boot > 0:
        rng = np.random.default_rng(seed)
        ia = rng.integers(0, len(a), size=(n_boot, len(a)))
        ib = rng.integers(0, len(b), size=(n_boot, len(b)))
        boots = b[ib].mean(axis=1) - a[ia].mean(axis=1)
        lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
        return _finite(lo), _finite(hi)
    se = math.sqrt(float(np.var(a, ddof=1)) / len(a) + float(np.var(b, ddof=1)) / len(b))
    q = float(sps.norm.ppf(1 - alpha / 2))
    return _finite(diff - q * se), _finite(diff + q * se)


def compare_samples(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    alpha: float = 0.05,
    n_boot: int = 2000,
    seed: int = 0,
) -> Comparison:
    """Compare sample B with sample A: Welch's t, Mann-Whitney U, Hedges' g, CI of the diff.

    Non-finite values are dropped. With fewer than 3 values on a side the result is marked
    insufficient (means still reported when available) instead of producing NaN.
    """
    xa, xb = _clean(a), _clean(b)
    na, nb = len(xa), len(xb)
    mean_a = _finite(np.mean(xa)) if na else None
    mean_b = _finite(np.mean(xb)) if nb else None
    diff = None if mean_a is None or mean_b is None else _finite(mean_b - mean_a)
    rel = None if diff is None or not mean_a else _finite(diff / abs(mean_a))
    short = [(name, k) for name, k in (("A", na), ("B", nb)) if k < MIN_SAMPLE]
    if short:
        msg = "not enough data: " + "; ".join(
            f"{k} value{'s' if k != 1 else ''} in segment {name} (need ≥ {MIN_SAMPLE})"
            for name, k in short
        )
        return Comparison(
            na, nb, mean_a, mean_b, diff, rel, None, None, None, None, None, False, msg
        )
    welch = _welch_p(xa, xb)
    mw = _mannwhitney_p(xa, xb)
    g = _hedges_g(xa, xb)
    lo, hi = _diff_ci(xa, xb, alpha, n_boot, seed)
    sig = welch < alpha
    rel_txt = f" ({100 * rel:+.1f}%)" if rel is not None else ""
    msg = f"B differs from A by {diff:+.4g}{rel_txt}, Welch p={welch:.2g}" + (
        "" if sig else f": not significant at α={alpha:g}"
    )
    return Comparison(na, nb, mean_a, mean_b, diff, rel, lo, hi, welch, mw, g, True, msg)


def compare_periods(
    values: Sequence[float] | np.ndarray,
    split_index: int,
    *,
    window: int | None = None,
    period: int = 7,
    alpha: float = 0.05,
) -> Comparison:
    """Compare a series after ``split_index`` with before it, seasonality removed.

    Both sides are residuals from the seasonal baseline learned before the split, so a
    weekday mix difference between the two periods does not show up as a change. ``window``
    limits each side to that many points next to the split (default: all).
    """
    x = _as_float_array(values)
    split = int(min(max(split_index, 0), len(x)))
    resid = x - seasonal_baseline(x, period=period, train_end=split)
    before, after = resid[:split], resid[split:]
    if window is not None:
        before, after = before[max(0, split - window) :], after[:window]
    return compare_samples(before, after, alpha=alpha)


def adjust_pvalues(
    pvalues: Sequence[float], method: Literal["holm", "fdr_bh"] = "holm"
) -> list[float]:
    """Multiple-testing adjustment (Holm step-down FWER or Benjamini-Hochberg FDR).

    Returns adjusted p-values in the input order; NaN or missing values count as 1.
    """
    p = np.asarray([float(v) if v is not None else 1.0 for v in pvalues], dtype=float)
    p = np.clip(np.where(np.isfinite(p), p, 1.0), 0.0, 1.0)
    m = len(p)
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    ps = p[order]
    if method == "holm":
        adj = np.maximum.accumulate((m - np.arange(m)) * ps)
    elif method == "fdr_bh":
        adj = np.minimum.accumulate(m / np.arange(m, 0, -1) * ps[::-1])[::-1]
    else:
        raise ValueError(f"unknown method {method!r}; use 'holm' or 'fdr_bh'")
    out = np.empty(m)
    out[order] = np.clip(adj, 0.0, 1.0)
    return [float(v) for v in out]
