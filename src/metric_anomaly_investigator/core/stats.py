"""Statistics for the investigation: anomaly detection, seasonal baselines, comparisons.

Plain numpy and scipy.special — no database code. Every public function tolerates degenerate input
(empty, length 1, constant, all zeros, NaN) and never returns NaN: a figure that cannot be
computed is ``None`` and the accompanying message says why.

Baselines model a daily series as level + trend + weekday profile. Strictly positive series
(counts, rates) are modelled on the log scale, so growth and the weekday pattern are
multiplicative — a weekend dip that deepens as the product grows is still the usual pattern.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from . import pvalues
from .changepoints import change_points

Direction = Literal["drop", "spike", "none"]
Kind = Literal["step", "spike", "drift", "none"]

MIN_SAMPLE = 3
MIN_HISTORY = 14  # days of history a seasonal baseline needs by default (two weekly periods)
_FIT_PERIODS = 8  # level and trend are fitted on (up to) the last 8 periods of history
_TREND_MIN_PERIODS = 2  # a slope is fitted only on 2+ periods of history
_LEVEL_PERIODS = 4  # without a slope, the level is the median of the last 4 periods
_ALPHA_DETECT = 0.01
_MIN_SHIFT_SIGMAS = 1.0  # a window must move at least one noise s.d. from its baseline
_MIN_SPIKE_SIGMAS = 4.0  # a window of 1-2 points must stand out by 4 noise s.d.
_ONSET_SIGMAS = 3.0  # days this far off the baseline just before a break may belong to it
_ONSET_MARGIN = 4.0  # an earlier onset must make the data e² (~7x) as likely as the start
_BEND_PERIODS = 4  # a bend is judged on the four weeks either side of it
_ALPHA_BREAK = 0.001  # a bend claims weeks of trend: ten times the evidence of a window, as
# real growth is never exactly linear on the modelling scale and the fit's misfit inflates F
_MEDIAN_VAR = math.pi / 2  # variance of a median relative to a mean (normal noise)
_MAX_RHO = 0.8
_PHASE_PRIOR = 4.0  # a weekday's own noise level counts as much as 4 pooled points
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


def _to_model(x: np.ndarray, period: int) -> tuple[np.ndarray, bool]:
    """The series on its modelling scale: log (multiplicative weekday pattern, growth and
    noise) when strictly positive and the log decomposition fits at least as well as the
    additive one (mean absolute residual relative to the level), else as is."""
    if not len(x) or not bool(np.all(x > 0)):
        return x.copy(), False
    lx = np.log(x)
    d_log, line_log, _ = _global_line(lx, period)
    d_raw, line_raw, _ = _global_line(x, period)
    with np.errstate(divide="ignore", invalid="ignore"):
        misfit_raw = float(np.mean(np.abs((d_raw - line_raw) / np.abs(line_raw))))
    misfit_log = float(np.mean(np.abs(d_log - line_log)))
    return (x.copy(), False) if misfit_raw < misfit_log else (lx, True)


def _from_model(y: np.ndarray, log: bool) -> np.ndarray:
    if not log:
        return y
    with np.errstate(over="ignore"):
        return np.nan_to_num(np.exp(y), posinf=np.finfo(float).max)


def _seasonal_profile(x: np.ndarray, period: int) -> np.ndarray:
    """Additive weekday profile (zero-mean, length ``period``) from a gap-free array.

    Each point's deviation from its centred one-period moving mean (which follows any trend),
    medianed per phase; zero when there are fewer than two full periods.
    """
    n = len(x)
    if period < 2 or n < 2 * period:
        return np.zeros(max(period, 1))
    kernel = np.ones(period) / period
    if period % 2 == 0:  # 2xP moving average keeps the centring exact for even periods
        kernel = np.convolve(kernel, [0.5, 0.5])
    trend = np.convolve(x, kernel, mode="valid")
    idx = np.arange(len(trend)) + period // 2
    dev = x[idx] - trend
    phases = idx % period
    prof = np.zeros(period)
    for p in range(period):
        sel = dev[phases == p]
        if len(sel):
            prof[p] = float(np.median(sel))
    return prof - prof.mean()


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


def _lag1(r: np.ndarray) -> float:
    """Lag-1 autocorrelation of residuals, clipped to [0, _MAX_RHO] (0 when too short)."""
    if len(r) < 8:
        return 0.0
    c = r - np.median(r)
    den = float(np.dot(c, c))
    if den <= _EPS:
        return 0.0
    return min(max(float(np.dot(c[1:], c[:-1])) / den, 0.0), _MAX_RHO)


def _slope(t: np.ndarray, y: np.ndarray) -> float:
    """Theil-Sen slope: the median of the pairwise slopes."""
    i, j = np.triu_indices(len(t), k=1)
    return float(np.median((y[j] - y[i]) / (t[j] - t[i])))


# --------------------------------------------------------------------------------------------
# baselines


@dataclass(frozen=True)
class _Fit:
    """Level + trend + weekday profile learned from the history before ``train_end``.

    ``expected`` is on the modelling scale for every point of the series; the other fields
    give the prediction error of a window mean (see :func:`_window_se`).
    """

    expected: np.ndarray
    sd: float  # robust s.d. of the fit residuals
    rho: float  # their lag-1 autocorrelation
    n_level: int  # points the level was estimated from
    slope: float
    t_mean: float  # centre of the points the slope was estimated from
    sxx: float  # their spread (0 = no slope)
    weeks: int  # whole periods behind the weekday profile
    phase_ratio: np.ndarray  # noise s.d. per weekday relative to the pooled one


def _phase_sd(resid: np.ndarray, phases: np.ndarray, period: int, pooled: float) -> np.ndarray:
    """Robust residual s.d. per phase, shrunk towards the pooled one (few points per phase)."""
    out = np.full(period, pooled)
    for p in range(period):
        r = resid[phases == p]
        if len(r) >= 3:
            w = len(r) / (len(r) + _PHASE_PRIOR)
            out[p] = math.sqrt(w * _mad_sigma(r) ** 2 + (1 - w) * pooled**2)
    return out


def _fit(y: np.ndarray, train_end: int, period: int) -> _Fit:
    n = len(y)
    hi = int(min(max(train_end, 0), n))
    if hi == 0:
        return _Fit(np.zeros(n), 0.0, 0.0, 0, 0.0, 0.0, 0.0, 0, np.ones(period))
    prof = _seasonal_profile(y[:hi], period)
    phase = np.arange(n) % period
    flat = y[:hi] - prof[phase[:hi]]
    span = min(hi, _FIT_PERIODS * period)
    if hi >= period:
        span = max(period, span - span % period)
    t = np.arange(hi - span, hi, dtype=float)
    seg = flat[hi - span :]
    slope, sxx, t_mean = 0.0, 0.0, 0.0
    if span >= _TREND_MIN_PERIODS * period:
        slope = _slope(t, seg)
        t_mean, sxx = float(t.mean()), float(np.sum((t - t.mean()) ** 2))
        level = float(np.median(seg - slope * t))
        n_level = span
        # keep the slope only when the history shows it (|t| ≥ 2): a spurious slope
        # extrapolated forward costs more than the trend it might catch
        noise = _mad_sigma(seg - level - slope * t)
        if abs(slope) * math.sqrt(sxx) < 1.0 * noise * math.sqrt(_MEDIAN_VAR):
            slope, sxx = 0.0, 0.0
            level = float(np.median(seg))
    else:
        last = seg[-min(span, _LEVEL_PERIODS * period) :]
        level, n_level = float(np.median(last)), len(last)
    expected = level + slope * np.arange(n) + prof[phase]
    resid = y[hi - span : hi] - expected[hi - span : hi]
    weeks = hi // period if hi >= 2 * period else 0
    pooled = _mad_sigma(resid)
    ratio = np.ones(period)
    if pooled > _EPS:
        by_phase = _phase_sd(resid, phase[hi - span : hi], period, pooled)
        ratio = np.clip(by_phase / pooled, 0.5, 2.0)
    # the fit's own residuals understate the noise (the weekday medians and the line absorb
    # some of it): also measure it on period-over-period differences, which fit nothing
    params = (period if weeks else 0) + (2 if sxx > 0 else 1)
    sd = pooled * math.sqrt(span / max(span - params, 1))
    if hi > 2 * period:
        sd = max(sd, _mad_sigma(y[period:hi] - y[: hi - period]) / math.sqrt(2.0))
    return _Fit(expected, sd, _lag1(resid), n_level, slope, t_mean, sxx, weeks, ratio)


def _window_se(fit: _Fit, start: int, stop: int, sd: float, period: int) -> float:
    """Standard error of the mean residual over ``[start, stop)`` against ``fit``.

    Noise (inflated for autocorrelation), the level's and the slope's estimation error (robust
    estimators: a median-like efficiency) and the weekday profile's error, which cancels over
    whole periods.
    """
    k = stop - start
    ar = (1.0 + fit.rho) / (1.0 - fit.rho)
    var = ar / k + _MEDIAN_VAR * ar / max(fit.n_level, 1)
    if fit.sxx > 0:
        var += _MEDIAN_VAR * ar * ((start + stop - 1) / 2 - fit.t_mean) ** 2 / fit.sxx
    if fit.weeks:
        partial = k if k < period else k % period
        var += _MEDIAN_VAR / fit.weeks * partial / k**2
    return sd * math.sqrt(var)


def seasonal_baseline(
    values: Sequence[float] | np.ndarray, *, period: int = 7, train_end: int
) -> np.ndarray:
    """Expected value for every point of ``values``, learned only from ``values[:train_end]``.

    Expected = level + trend + weekday profile (on the log scale for strictly positive data):
    the profile is the median deviation of each weekday from its centred weekly mean; level and
    slope are a Theil-Sen line through the last (up to eight) whole periods with the profile
    removed, extrapolated forward — with under two periods of history, the level is their
    median and no slope is fitted. NaN in the training data is interpolated; with no usable
    training data the result is 0.
    """
    x = _as_float_array(values)
    n = len(x)
    train_end = int(min(max(train_end, 0), n))
    train = _fill_missing(x[:train_end])
    if train_end == 0 or not np.isfinite(train).any():
        return np.zeros(n)
    ty, log = _to_model(train, max(int(period), 1))
    y = np.concatenate([ty, np.zeros(n - train_end)])
    return _from_model(_fit(y, train_end, max(int(period), 1)).expected, log)


def _global_line(y: np.ndarray, period: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(deseasonalised series, its steady trend line, slope) over the whole series.

    The slope is the median period-over-period change divided by the period: the weekly
    pattern cancels and a break moves only one period's worth of the differences, so the
    line follows the steady trend rather than bending towards a break.
    """
    n = len(y)
    prof = _seasonal_profile(y, period)
    d = y - prof[np.arange(n) % period]
    t = np.arange(n, dtype=float)
    lag = period if n > 2 * period else 1
    if n < 2:
        return d, d.copy(), 0.0
    b = float(np.median(y[lag:] - y[:-lag])) / lag
    return d, float(np.median(d - b * t)) + b * t, b


def _step_scores(y: np.ndarray, period: int) -> tuple[np.ndarray, np.ndarray]:
    """(positions, scores): how abruptly the mean of the next period differs from the previous
    one at each position, in robust noise units, after removing the steady trend's share.

    Whole periods make the weekday mix cancel; a steady trend moves every position alike.
    """
    n = len(y)
    if period < 1 or n < 4 * period:
        return np.zeros(0, dtype=int), np.zeros(0)
    c = np.concatenate([[0.0], np.cumsum(y)])
    idx = np.arange(2 * period, n - 2)
    after_len = np.minimum(period, n - idx)
    jump = (c[idx + after_len] - c[idx]) / after_len - (c[idx] - c[idx - period]) / period
    noise = _mad_sigma(np.diff(y[period:] - y[:-period])) or 1.0
    return idx, np.abs(jump - np.median(jump)) / noise


def _onset(
    y: np.ndarray, start: int, sign: float, period: int, min_history: int, noise: float
) -> int:
    """Move a start back over the days just before it already off the baseline the same way.

    A change that ramps in (a rollout adopted over a day or two) or a dip whose deepest days
    come last is found late. Against the baseline learned a period before the start (from at
    least three periods of history, so its trend is trustworthy), each earlier day of the run
    of consecutive days beyond ``_ONSET_SIGMAS`` s.d. (at most a period back) is a candidate
    onset: a step there (its level the mean of the residuals up to a period after the start)
    is scored by its squared error over the candidates and that period. The onset moves only
    to the most likely candidate, and only when it beats the start by ``_ONSET_MARGIN``
    (squared error in noise variances = twice the log-likelihood ratio): one noisy day just
    before a break does not pull it early.
    """
    train_end = start - period
    if train_end < max(_TREND_MIN_PERIODS * period + period, min_history):
        return start
    fit = _fit(y, train_end, period)
    sd = max(fit.sd, noise)
    if sd <= _EPS:
        return start
    resid = sign * (y - fit.expected) / sd
    first = start
    for i in range(start - 1, train_end - 1, -1):
        if resid[i] <= _ONSET_SIGMAS:
            break
        first = i
    if first == start:
        return start
    stop = min(len(y), start + period)

    def cost(k: int) -> float:
        after = resid[k:stop]
        return float(np.sum(resid[first:k] ** 2) + np.sum((after - after.mean()) ** 2))

    best = min(range(first, start), key=cost)
    return best if cost(start) - cost(best) >= _ONSET_MARGIN else start


def window_change(
    values: Sequence[float] | np.ndarray,
    baseline: Sequence[float] | np.ndarray,
    start: int,
    end: int | None,
) -> tuple[float | None, float | None]:
    """(mean relative deviation in %, mean absolute deviation) of ``values`` from ``baseline``
    over ``[start, end]`` (``end`` None = to the last point); None where undefined."""
    x, base = _as_float_array(values), _as_float_array(baseline)
    stop = len(x) if end is None else end + 1
    dev = x[start:stop] - base[start:stop]
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = dev / np.abs(base[start:stop])
    rel, dev = rel[np.isfinite(rel)], dev[np.isfinite(dev)]
    pct = _finite(100.0 * float(np.mean(rel))) if len(rel) else None
    return pct, (_finite(float(np.mean(np.abs(dev)))) if len(dev) else None)


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
    end_change_pct: float | None = None  # a drift: how far it took the level by the last point, %


@dataclass(frozen=True)
class _Window:
    start: int
    stop: int  # exclusive
    sign: float
    p_value: float
    shift_sigmas: float  # |mean deviation| / noise s.d.
    score: float  # total deviation in noise units (shift × √length): ranks windows
    fit: _Fit


def _evaluate(
    y: np.ndarray, start: int, period: int, min_history: int, noise: float
) -> _Window | None:
    """Test the window starting at ``start`` against the baseline learned before it.

    The window runs until three consecutive points fall back within max(2 s.d., half the
    initial deviation) of the baseline — the incident's end — or to the end of the series.
    Its mean residual (over the head the baseline can reliably reach) is t-tested against the
    baseline's prediction error (df from the fit).
    """
    n = len(y)
    if start < max(min_history, 2) or start >= n:
        return None
    fit = _fit(y, start, period)
    resid = y - fit.expected
    sd = max(fit.sd, noise)
    head = float(np.mean(resid[start : min(n, start + 3)]))
    sign = 1.0 if head >= 0 else -1.0
    if sign * resid[start] <= sd:
        return None  # a window starts with a point that has clearly left the baseline
    beyond = sign * resid[start:] > max(2.0 * sd, 0.5 * abs(head))
    stop, run = n, 0
    for i, b in enumerate(beyond):
        run = 0 if b else run + 1
        if run >= 3:
            stop = start + i - 2
            break
    return _measure(y, fit, start, max(stop, start + 1), sign, sd, period)


def _measure(
    y: np.ndarray, fit: _Fit, start: int, stop: int, sign: float, sd: float, period: int
) -> _Window:
    """The window ``[start, stop)`` against ``fit``: its shift, score and p-value."""
    resid = y - fit.expected
    # the window's weekdays may be noisier (or quieter) than the average
    sd *= math.sqrt(float(np.mean(fit.phase_ratio[np.arange(start, stop) % period] ** 2)))
    shift = float(np.mean(resid[start:stop]))
    # significance from the window's head: the length whose mean the baseline predicts best
    # (more points average the noise out, further ahead the trend's error grows); it depends
    # on the fit only, not on the values in the window
    head_stop, se = min(
        ((h, _window_se(fit, start, h, sd, period)) for h in range(start + 1, stop + 1)),
        key=lambda hs: hs[1],
    )
    t_shift = float(np.mean(resid[start:head_stop]))
    if se <= _EPS:
        p = 0.0 if abs(t_shift) > _EPS else 1.0
    else:
        df = max(fit.n_level - (2 if fit.sxx > 0 else 1), 1)
        p = 2.0 * pvalues.t_sf(abs(t_shift) / se, df)
    sig = abs(shift) / sd if sd > _EPS else (math.inf if abs(shift) > _EPS else 0.0)
    return _Window(start, stop, sign, p, sig, sig * math.sqrt(stop - start), fit)


def _change_points(r: np.ndarray, sigma: float) -> list[int]:
    """Change points of the detrended, deseasonalised series (penalised least squares,
    BIC-like penalty from the robust noise level)."""
    n = len(r)
    if n < 4 or sigma <= _EPS:
        return []
    pen = 3.0 * sigma**2 * math.log(n)
    return change_points(r, pen, min_size=2)


def _outliers(r: np.ndarray, sigma: float, width: int) -> list[int]:
    """Points that stand out from their centred rolling median by more than 4 noise s.d."""
    if sigma <= _EPS or len(r) < width:
        return []
    half = width // 2
    padded = np.pad(r, half, mode="edge")
    med = np.median(np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1), axis=1)
    return [int(i) for i in np.flatnonzero(np.abs(r - med) > _MIN_SPIKE_SIGMAS * sigma)]


@dataclass(frozen=True)
class _Break:
    """A change of slope at ``start``: the level follows one line, then bends (model scale)."""

    start: int
    expected: np.ndarray  # the line before the bend, extrapolated, plus the weekday profile
    bend: float  # change of slope per day
    p_value: float  # Bonferroni corrected over the candidate days
    shift_sigmas: float  # mean deviation from the bend on / noise s.d.
    beats_step: bool  # the bend fits its window better than any step in it
    misfit: float  # mean absolute residual in its window, relative to the level


def _rss(d: np.ndarray, columns: list[np.ndarray]) -> tuple[float, np.ndarray]:
    """(residual sum of squares, coefficients) of the least-squares fit of ``d``."""
    design = np.column_stack(columns)
    coef, *_ = np.linalg.lstsq(design, d, rcond=None)
    resid = d - design @ coef
    return float(np.dot(resid, resid)), coef


def _bend_f(d: np.ndarray, t: np.ndarray, tau: int) -> tuple[float, float, np.ndarray]:
    """(F of a hinge at ``tau`` against a plain line, the hinge's RSS, its coefficients)."""
    line = [np.ones(len(d)), t]
    rss0, _ = _rss(d, line)
    rss1, coef = _rss(d, [*line, np.maximum(t - tau, 0.0)])
    df = len(d) - 3
    if rss1 <= _EPS * max(float(np.dot(d, d)), _EPS) or df < 1:
        return (math.inf if rss0 - rss1 > _EPS else 0.0), rss1, coef
    return (rss0 - rss1) / (rss1 / df), rss1, coef


def _trend_break(y: np.ndarray, period: int, min_history: int, log: bool) -> _Break | None:
    """The most likely change of slope, and how strongly the data show it.

    Each candidate day τ (with ``min_history`` days and ``_BEND_PERIODS`` periods of history
    before it, so the line and the weekday profile are learned, and a period after it, so a
    slope can be seen) is judged on its own window of those periods either side: the line of
    the weeks before it, bent at τ, against the same line unbent (F test). Local windows keep
    a slow curvature of the growth (a product saturating over months) from reading as a bend;
    the slope must change within weeks. The onset is then chosen by likelihood — least squared
    error over the candidate days within a period of the best one, on one common window — not
    the first day a threshold is crossed, so one noisy day does not move it. Evidence: F at
    the onset, deflated for the residuals' lag-1 autocorrelation and Bonferroni corrected over
    the candidates. A steady trend (a line on the modelling scale) gains nothing from a bend.

    A drift that levels off bends back where it stops, and the line through the drift makes
    that second bend the larger one: when the data before the best bend show a bend the other
    way themselves (significant, beating any step), the drift is that earlier bend — a change
    is dated where it began. ``misfit`` (relative to the level: ``y`` is on the log scale when
    ``log``) says on which scale the bent line fits better.
    """
    n = len(y)
    season = _seasonal_profile(y, period)[np.arange(n) % period]
    found = _best_bend(y, season, period, min_history, log, n)
    if found is None:
        return None
    earlier = _best_bend(y, season, period, min_history, log, found.start)
    if _holds(found) and earlier is not None and earlier.bend * found.bend < 0 and _holds(earlier):
        return earlier
    return found


def _best_bend(
    y: np.ndarray, season: np.ndarray, period: int, min_history: int, log: bool, stop: int
) -> _Break | None:
    """The best bend of ``y[:stop]`` (see :func:`_trend_break`); its line covers all of ``y``."""
    n = len(y)
    half = _BEND_PERIODS * period
    lo, hi = max(min_history, half), stop - period
    if hi < lo:
        return None
    d = y - season
    t = np.arange(n, dtype=float)

    def window(tau: int) -> slice:
        return slice(max(0, tau - half), min(stop, tau + half))

    def f_at(tau: int) -> float:
        w = window(tau)
        return _bend_f(d[w], t[w], tau)[0]

    best = max(range(lo, hi + 1), key=f_at)
    w = window(best)
    near = range(max(lo, best - period), min(hi, best + period) + 1)
    tau = min(near, key=lambda k: _bend_f(d[w], t[w], k)[1])
    f_stat, rss1, coef = _bend_f(d[w], t[w], tau)
    resid = d[w] - np.column_stack([np.ones(len(t[w])), t[w], np.maximum(t[w] - tau, 0.0)]) @ coef
    ar = _lag1(resid)
    f_stat *= (1.0 - ar) / (1.0 + ar)
    df = len(t[w]) - 3
    p = min(1.0, (hi - lo + 1) * 2.0 * pvalues.t_sf(math.sqrt(max(f_stat, 0.0)), df))
    # a step is the rival explanation of a level that ends lower (or higher): the bend must
    # fit its window better than a step anywhere in it
    steps = range(w.start + period, w.stop - 1)
    line = [np.ones(len(t[w])), t[w]]
    step = min((_rss(d[w], [*line, (t[w] >= k).astype(float)])[0] for k in steps), default=math.inf)
    expected = coef[0] + coef[1] * t
    sd = math.sqrt(rss1 / max(df, 1))
    shift = float(np.mean(d[tau:stop] - expected[tau:stop]))
    level = np.ones(len(resid)) if log else np.abs(y[w] - resid)  # the fitted values
    with np.errstate(divide="ignore", invalid="ignore"):
        misfit = float(np.mean(np.abs(resid) / np.maximum(level, _EPS)))
    return _Break(
        start=tau,
        expected=expected + season,
        bend=float(coef[2]),
        p_value=p,
        shift_sigmas=abs(shift) / sd if sd > _EPS else math.inf,
        beats_step=rss1 < step,
        misfit=misfit,
    )


def _window_kind(x: np.ndarray, w: _Window, log: bool) -> Kind:
    base = _from_model(w.fit.expected, log)
    return _kind(x[w.start : w.stop] - base[w.start : w.stop])


def _kind(resid_win: np.ndarray) -> Kind:
    k = len(resid_win)
    if k <= 2:
        return "spike"
    if k >= 6:
        t = np.arange(k, dtype=float)
        res = pvalues.linregress(t, resid_win)
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


def _quiet_reason(
    y: np.ndarray, log: bool, period: int, sigma: float, amp: float, slope: float
) -> str:
    """Why nothing was flagged, naming the normal behaviour that explains the movement."""
    if sigma <= _EPS:
        return "the series is constant: no change"
    normal = []
    if amp > 2.0 * sigma:
        normal.append("the usual weekly pattern")
    if abs(slope) * len(y) > 2.0 * sigma:
        per = slope * period
        size = f"{100 * math.expm1(per):+.1f}%" if log else f"{per:+.3g}"
        normal.append(f"a steady {'growth' if slope > 0 else 'decline'} ({size} per {period} days)")
    if not normal:
        return "no change beyond normal day-to-day variation"
    return "the ups and downs match " + " and ".join(normal) + "; no break beyond normal noise"


def detect_anomaly(
    values: Sequence[float] | np.ndarray,
    *,
    period: int = 7,
    min_history: int = MIN_HISTORY,
    hint_index: int | None = None,
) -> AnomalyResult:
    """Find whether, when and how a daily series broke from its normal behaviour.

    Normal behaviour is level + steady trend + weekday profile (multiplicative for positive
    series). Candidate starts come from least-squares change points (BIC-like penalty) on the
    detrended, deseasonalised series, 1-2 point outliers, the sharpest weekly step and
    ``hint_index``. Each candidate window is tested against the baseline learned from the data
    before it — trend extrapolated, its estimation error in the standard error — and ends where
    the series recovers; p-values are Bonferroni corrected over all start positions. The most
    significant window wins; ``hint_index`` is preferred when its window is itself significant
    but never forces a detection. A start found late is moved back to where a ramp-in first
    left its baseline (:func:`_onset`). A change of slope that beats every step is a gradual
    drift, dated at its bend (:func:`_trend_break`, on the scale where the bent line fits
    best: :func:`_bend`). NaN values are interpolated.
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
    y, log = _to_model(x, period)
    d, line, slope = _global_line(y, period)
    r = d - line
    sigma = _robust_sigma(r)

    # candidate starts: change points (and their neighbours: a break is located to ±1 point),
    # isolated outliers, the sharpest weekly step and the hint
    starts = {b + o for b in _change_points(r, sigma) for o in (-1, 0, 1)}
    starts |= set(_outliers(r, sigma, max(period, 5)))
    idx, score = _step_scores(y, period)
    if len(idx):
        starts.add(int(idx[int(np.argmax(score))]))
    if hint_index is not None and 0 <= hint_index < n:
        starts.add(int(hint_index))
    windows = [
        w for s in sorted(starts) if (w := _evaluate(y, s, period, min_history, sigma)) is not None
    ]

    def adjusted_p(w: _Window) -> float:
        # the window was picked among all n start positions: Bonferroni over all of them
        return min(1.0, w.p_value * n)

    def significant(w: _Window) -> bool:
        need = _MIN_SPIKE_SIGMAS if w.stop - w.start <= 2 else _MIN_SHIFT_SIGMAS
        return adjusted_p(w) < _ALPHA_DETECT and w.shift_sigmas >= need

    # a window starting within a period after another one ended is its aftermath: its
    # baseline was learned on the incident itself
    # a deviation growing steadily from a baseline that learned no trend (too short a history)
    # is the trend itself: a change of slope is the bend's to show (below)
    found = [
        w
        for w in windows
        if significant(w) and (w.fit.sxx > 0 or _window_kind(x, w, log) != "drift")
    ]
    sig = [w for w in found if not any(v.stop <= w.start < v.stop + period for v in found)]
    bend, bend_log = _bend(x, y, log, period, min_history)
    # a bend explains a lasting departure better than any step (it beat them in its window);
    # a bounded incident more significant than the bend is reported instead
    if bend is not None and all(adjusted_p(w) > bend.p_value for w in sig if w.stop < n):
        return _drift(x, bend, bend_log, period)
    if not sig:
        p_adj = min((adjusted_p(w) for w in windows), default=None)
        amp = float(np.ptp(y - d)) if period > 1 else 0.0
        why = _quiet_reason(y, log, period, sigma, amp, slope)
        return _none(_from_model(_fit(y, n, period).expected, log), why, p_adj)

    chosen = max(sig, key=lambda w: (w.score, -w.start))
    if hint_index is not None:
        # a window starting at the hint, else one covering it, else one starting near it
        near = [w for w in sig if abs(w.start - hint_index) <= 1]
        near = near or [w for w in sig if w.start < hint_index < w.stop]
        near = near or [w for w in sig if abs(w.start - hint_index) <= period // 2]
        if near:
            chosen = max(near, key=lambda w: (w.score, -w.start))
    first = _onset(y, chosen.start, chosen.sign, period, min_history, sigma)
    if first < chosen.start:
        earlier = _evaluate(y, first, period, min_history, sigma)
        if earlier is not None and earlier.sign == chosen.sign and significant(earlier):
            chosen = earlier
    base = _from_model(chosen.fit.expected, log)
    kind = _window_kind(x, chosen, log)
    end_index = None if chosen.stop >= n else chosen.stop - 1
    change_pct, magnitude = window_change(x, base, chosen.start, end_index)
    direction: Direction = "drop" if chosen.sign < 0 else "spike"
    p_adj = adjusted_p(chosen)
    what = {"step": "sustained", "drift": "gradual", "spike": "short", "none": ""}[kind]
    word = "drop" if direction == "drop" else "rise"
    pct = f" of {abs(change_pct):.1f}%" if change_pct is not None else ""
    # The window is in start_index/end_index; callers say it in dates.
    reason = (
        f"{what} {word}{pct} against the seasonal baseline, "
        f"{chosen.shift_sigmas:.1f}× the usual noise (p={p_adj:.2g})"
    )
    return AnomalyResult(
        detected=True,
        direction=direction,
        kind=kind,
        start_index=chosen.start,
        end_index=end_index,
        change_pct=change_pct,
        magnitude=magnitude,
        p_value=_finite(p_adj),
        baseline=[float(v) for v in np.nan_to_num(base)],
        reason=reason,
    )


def _bend(
    x: np.ndarray, y: np.ndarray, log: bool, period: int, min_history: int
) -> tuple[_Break | None, bool]:
    """The change of slope the data show (None if none holds) and whether it is on the log
    scale.

    The series' scale is chosen by how well one steady line fits it, which a bend itself
    disturbs: a strong multiplicative decline read on the raw scale curves after its bend and
    is dated days early. A bend found on the raw scale of a strictly positive series is dated
    on the log scale instead when the bent line fits better there (mean absolute residual
    relative to the level) and holds there too; whether there is a bend at all is decided on
    the series' own scale, so trying both finds no more drifts.
    """
    bend = _trend_break(y, period, min_history, log)
    if bend is None or not _holds(bend):
        return None, log
    if log or not bool(np.all(x > 0)):
        return bend, log
    other = _trend_break(np.log(x), period, min_history, True)
    if other is not None and _holds(other) and other.misfit < bend.misfit:
        return other, True
    return bend, log


def _holds(bend: _Break) -> bool:
    """A bend beats every step, is significant and moves the level by a noise s.d."""
    return (
        bend.beats_step and bend.p_value < _ALPHA_BREAK and bend.shift_sigmas >= _MIN_SHIFT_SIGMAS
    )


def _drift(x: np.ndarray, bend: _Break, log: bool, period: int) -> AnomalyResult:
    """A change of slope as a detection: ongoing from the bend, against the line before it;
    ``end_change_pct`` is the last period's mean deviation (whole weeks: the weekday mix
    cancels), how far the drift has gone by the end."""
    base = _from_model(bend.expected, log)
    change_pct, magnitude = window_change(x, base, bend.start, None)
    last = max(bend.start, len(x) - period)
    end_pct, _ = window_change(x, base, last, None)
    direction: Direction = "drop" if bend.bend < 0 else "spike"
    word = "drop" if direction == "drop" else "rise"
    mean = f" of {abs(change_pct):.1f}% on average" if change_pct is not None else ""
    by_end = f" ({end_pct:+.1f}% by the end)" if end_pct is not None else ""
    reason = (
        f"gradual {word}{mean}{by_end}: the trend bent away from its earlier line, "
        f"{bend.shift_sigmas:.1f}× the usual noise (p={bend.p_value:.2g})"
    )
    return AnomalyResult(
        detected=True,
        direction=direction,
        kind="drift",
        start_index=bend.start,
        end_index=None,
        change_pct=change_pct,
        magnitude=magnitude,
        p_value=_finite(bend.p_value),
        baseline=[float(v) for v in np.nan_to_num(base)],
        reason=reason,
        end_change_pct=end_pct,
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
    p = pvalues.welch_p(a, b)
    return p if math.isfinite(p) else 1.0


def _mannwhitney_p(a: np.ndarray, b: np.ndarray) -> float:
    if np.ptp(np.concatenate([a, b])) == 0:
        return 1.0
    p = pvalues.mannwhitney_p(a, b)
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
    q = pvalues.norm_ppf(1 - alpha / 2)
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
