"""core.stats: two-sample comparisons, p-value adjustment and detection, as exact values.

The references are the textbook definitions (scipy's tests, Hedges' g, the normal CI)
computed here independently of the module.
"""

from __future__ import annotations

import dataclasses
import math
import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats as sps

from metric_anomaly_investigator.core.stats import (
    MIN_HISTORY,
    _fit,
    _global_line,
    _kind,
    _measure,
    _onset,
    _outliers,
    _robust_sigma,
    _seasonal_profile,
    _step_scores,
    _trend_break,
    _window_se,
    adjust_pvalues,
    compare_samples,
    detect_anomaly,
    seasonal_baseline,
    window_change,
)

A = [10.0, 12.0, 11.0, 13.0, 9.0, 12.5, 10.5]
B = [14.0, 15.5, 13.0, 16.0, 14.5, 15.0]


def hedges_g(a: list[float], b: list[float]) -> float:
    na, nb = len(a), len(b)
    pooled = math.sqrt(
        ((na - 1) * np.var(a, ddof=1) + (nb - 1) * np.var(b, ddof=1)) / (na + nb - 2)
    )
    return (1 - 3 / (4 * (na + nb) - 9)) * (np.mean(b) - np.mean(a)) / pooled


def test_compare_samples_matches_the_definitions() -> None:
    c = compare_samples(A, B)
    assert (c.n_a, c.n_b, c.sufficient) == (7, 6, True)
    assert c.mean_a == pytest.approx(np.mean(A)) and c.mean_b == pytest.approx(np.mean(B))
    assert c.diff == pytest.approx(np.mean(B) - np.mean(A))
    assert c.rel_diff == pytest.approx((np.mean(B) - np.mean(A)) / np.mean(A))
    assert c.welch_p == pytest.approx(sps.ttest_ind(B, A, equal_var=False).pvalue)
    assert c.mannwhitney_p == pytest.approx(sps.mannwhitneyu(B, A).pvalue)
    assert c.effect_size == pytest.approx(hedges_g(A, B))
    assert c.ci_low is not None and c.ci_high is not None
    assert c.ci_low < c.diff < c.ci_high
    assert c.message.startswith(f"B differs from A by {c.diff:+.4g} ({100 * c.rel_diff:+.1f}%)")
    assert c.message.endswith(f"Welch p={c.welch_p:.2g}")


def test_compare_samples_swapped_flips_the_signs() -> None:
    ab, ba = compare_samples(A, B), compare_samples(B, A)
    assert ba.diff == pytest.approx(-ab.diff)
    assert ba.effect_size == pytest.approx(-ab.effect_size)
    assert ba.welch_p == pytest.approx(ab.welch_p)
    assert ba.rel_diff == pytest.approx(-ab.diff / np.mean(B))


def test_large_samples_use_the_normal_interval() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(10, 2, 40), rng.normal(11, 3, 50)
    c = compare_samples(a, b, alpha=0.1)
    se = math.sqrt(np.var(a, ddof=1) / 40 + np.var(b, ddof=1) / 50)
    q = sps.norm.ppf(0.95)
    diff = np.mean(b) - np.mean(a)
    assert (c.ci_low, c.ci_high) == (pytest.approx(diff - q * se), pytest.approx(diff + q * se))


def test_small_samples_use_a_seeded_bootstrap_interval() -> None:
    c = compare_samples(A, B, n_boot=4000, seed=7)
    assert c == compare_samples(A, B, n_boot=4000, seed=7)
    rng = np.random.default_rng(7)
    a, b = np.array(A), np.array(B)
    ia = rng.integers(0, len(a), size=(4000, len(a)))
    ib = rng.integers(0, len(b), size=(4000, len(b)))
    lo, hi = np.quantile(b[ib].mean(axis=1) - a[ia].mean(axis=1), [0.025, 0.975])
    assert (c.ci_low, c.ci_high) == (pytest.approx(lo), pytest.approx(hi))


def test_not_significant_is_said() -> None:
    c = compare_samples([1.0, 2.0, 3.0, 4.0], [1.5, 2.5, 3.5, 2.0])
    assert c.welch_p is not None and c.welch_p > 0.05
    assert c.message.endswith(": not significant at α=0.05")


def test_constant_samples() -> None:
    same = compare_samples([5.0, 5.0, 5.0], [5.0, 5.0, 5.0])
    assert (same.welch_p, same.mannwhitney_p, same.effect_size) == (1.0, 1.0, 0.0)
    assert same.rel_diff == 0.0
    moved = compare_samples([5.0, 5.0, 5.0], [7.0, 7.0, 7.0])
    assert (moved.welch_p, moved.effect_size) == (0.0, None)
    assert moved.mannwhitney_p == pytest.approx(sps.mannwhitneyu([7.0] * 3, [5.0] * 3).pvalue)
    assert moved.rel_diff == pytest.approx(0.4)


def test_one_constant_side_still_tests() -> None:
    c = compare_samples([5.0, 5.0, 5.0, 5.0], [6.0, 7.0, 8.0, 7.0])
    assert c.welch_p == pytest.approx(sps.ttest_ind([6, 7, 8, 7], [5] * 4, equal_var=False).pvalue)
    assert c.effect_size == pytest.approx(hedges_g([5.0] * 4, [6.0, 7.0, 8.0, 7.0]))


def test_a_zero_mean_has_no_relative_change() -> None:
    c = compare_samples([-1.0, 0.0, 1.0], [2.0, 3.0, 4.0])
    assert c.mean_a == 0.0 and c.rel_diff is None and c.diff == 3.0
    assert "(" not in c.message.split("Welch")[0]


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        ([1.0, 2.0], [1.0, 2.0, 3.0], "not enough data: 2 values in segment A (need ≥ 3)"),
        ([1.0, 2.0, 3.0], [4.0], "not enough data: 1 value in segment B (need ≥ 3)"),
        (
            [],
            [float("nan")],
            "not enough data: 0 values in segment A (need ≥ 3); 0 values in segment B (need ≥ 3)",
        ),
    ],
)
def test_short_samples_are_insufficient(a: list[float], b: list[float], message: str) -> None:
    c = compare_samples(a, b)
    assert not c.sufficient and c.message == message
    assert c.welch_p is None and c.effect_size is None and c.ci_low is None


def test_short_samples_still_report_means() -> None:
    c = compare_samples([2.0, 4.0], [5.0, float("inf"), 7.0, float("nan")])
    assert (c.n_a, c.n_b, c.mean_a, c.mean_b, c.diff, c.rel_diff) == (2, 2, 3.0, 6.0, 3.0, 1.0)


def test_holm_and_bh_adjustments() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    assert adjust_pvalues(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert adjust_pvalues(p, "fdr_bh") == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert adjust_pvalues([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert adjust_pvalues([None, float("nan"), 0.01]) == pytest.approx([1.0, 1.0, 0.03])  # type: ignore[list-item]
    assert adjust_pvalues([]) == []
    with pytest.raises(ValueError, match="unknown method 'bonf'"):
        adjust_pvalues(p, "bonf")  # type: ignore[arg-type]


# -- detection ------------------------------------------------------------------------------------


def weekly(n: int, seed: int, level: float = 1000.0, noise: float = 0.01) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return level * np.where(t % 7 >= 5, 0.8, 1.0) * (1 + rng.normal(0, noise, n))


@pytest.mark.parametrize("seed", range(3))
def test_a_step_drop_is_dated_and_sized(seed: int) -> None:
    x = weekly(70, seed)
    x[49:] *= 0.7
    r = detect_anomaly(x)
    assert (r.detected, r.direction, r.kind, r.start_index, r.end_index) == (
        True,
        "drop",
        "step",
        49,
        None,
    )
    assert r.change_pct == pytest.approx(-30.0, abs=1.5)
    assert r.magnitude is not None and 200 < r.magnitude < 300
    assert r.p_value is not None and r.p_value < 1e-6
    assert len(r.baseline) == 70
    assert np.mean(r.baseline[49:]) == pytest.approx(np.mean(weekly(70, seed)[49:]), rel=0.03)


@pytest.mark.parametrize("seed", range(3))
def test_a_recovered_spike_has_an_end(seed: int) -> None:
    x = weekly(70, seed)
    x[50:55] *= 1.5
    r = detect_anomaly(x)
    assert (r.detected, r.direction, r.start_index, r.end_index) == (True, "spike", 50, 54)
    assert r.change_pct == pytest.approx(50.0, abs=3.0)


def test_weekly_pattern_alone_is_no_anomaly() -> None:
    r = detect_anomaly(weekly(70, 1))
    assert (r.detected, r.direction, r.kind, r.start_index, r.change_pct) == (
        False,
        "none",
        "none",
        None,
        None,
    )
    assert r.reason == (
        "the ups and downs match the usual weekly pattern; no break beyond normal noise"
    )


def test_quiet_reasons() -> None:
    assert detect_anomaly([5.0] * 40).reason == "the series is constant: no change"
    assert detect_anomaly(np.ones(0)).reason == "empty series: nothing to analyse"
    flat = 100 + np.random.default_rng(0).normal(0, 1, 60)
    assert detect_anomaly(flat).reason == "no change beyond normal day-to-day variation"
    short = detect_anomaly([1.0, 2.0, 3.0])
    assert not short.detected
    assert short.reason == f"not enough data: 3 usable points (need ≥ {MIN_HISTORY + 1})"
    assert detect_anomaly([1.0] * 10, min_history=5).reason == "the series is constant: no change"


def test_a_noise_free_step_is_certain() -> None:
    r = detect_anomaly([100.0] * 40 + [50.0] * 10)
    assert (r.detected, r.direction, r.kind, r.start_index, r.end_index) == (
        True,
        "drop",
        "step",
        40,
        None,
    )
    assert r.change_pct == pytest.approx(-50.0)
    assert r.magnitude == pytest.approx(50.0)


def test_a_gradual_decline_is_a_drift() -> None:
    rng = np.random.default_rng(0)
    y = 1000 * (1 + rng.normal(0, 0.01, 70))
    y[42:] *= np.linspace(1, 0.6, 28)
    r = detect_anomaly(y)
    assert (r.detected, r.direction, r.kind, r.end_index) == (True, "drop", "drift", None)
    assert r.start_index is not None and 42 <= r.start_index <= 46
    assert r.change_pct == pytest.approx(-22, abs=3)


# -- private helpers, on hand-made inputs ------------------------------------------------------


def test_robust_sigma_from_first_differences() -> None:
    # three points: the MAD of the differences [1, 2] is 0.5, scaled to a s.d. of one point
    assert _robust_sigma(np.array([1.0, 2.0, 4.0])) == pytest.approx(1.4826 * 0.5 / math.sqrt(2))
    # fewer than three: the plain s.d. (one difference has no spread)
    assert _robust_sigma(np.array([1.0, 3.0])) == pytest.approx(1.0)
    assert _robust_sigma(np.array([7.0])) == 0.0
    assert _robust_sigma(np.array([np.nan, 1.0, np.inf, 3.0])) == pytest.approx(1.0)
    assert _robust_sigma(np.array([])) == 0.0


@pytest.mark.parametrize(("after", "sign"), [(3.0, -1.0), (7.0, 1.0)])
def test_a_shift_against_zero_noise_is_infinitely_many_sigmas(after: float, sign: float) -> None:
    y = np.array([5.0] * 14 + [after] * 4)
    w = _measure(y, _fit(y, 14, 7), 14, 18, sign, 0.0, 7)
    assert (w.start, w.stop, w.sign, w.p_value) == (14, 18, sign, 0.0)
    assert w.shift_sigmas == math.inf and w.score == math.inf


def test_no_shift_against_zero_noise_is_zero_sigmas() -> None:
    y = np.array([5.0] * 18)
    w = _measure(y, _fit(y, 14, 7), 14, 18, 1.0, 0.0, 7)
    assert (w.p_value, w.shift_sigmas, w.score) == (1.0, 0.0, 0.0)


def test_a_shift_is_measured_in_noise_units() -> None:
    y = np.array([5.0] * 14 + [3.0] * 4)
    w = _measure(y, _fit(y, 14, 7), 14, 18, -1.0, 0.5, 7)
    # flat weekdays (phase ratio 1): |mean shift| / sd, times sqrt(length) for the score
    assert w.shift_sigmas == pytest.approx(4.0) and w.score == pytest.approx(8.0)


# a window that keeps falling: its last third lies 2.5x as far out as its first third
GROWING = -np.array([1.0, 1.0, 1.0, 1.2, 1.3, 1.4, 2.3, 2.5, 2.7])


@pytest.mark.parametrize(
    ("resid", "kind"),
    [
        (GROWING, "drift"),
        (-GROWING, "drift"),
        (GROWING[::-1], "step"),  # the deviation shrinks: a step that fades, not a drift
        (np.array([-3.0] * 9), "step"),
        (np.array([-1.0, -2.0]), "spike"),
        (np.array([-1.0, -2.0, -3.0, -4.0, -5.0]), "step"),  # too short to tell a trend
        (np.array([-1.0, -2.0, -3.0, -4.0, -5.0, -6.0]), "drift"),
        (np.array([-1.0, -4.0, -1.0, -4.0, -1.0, -4.0, -1.0, -4.0, -1.0]), "step"),  # no trend
    ],
)
def test_kind_of_a_window(resid: np.ndarray, kind: str) -> None:
    assert _kind(resid) == kind


def test_no_history_fits_nothing() -> None:
    f = _fit(np.ones(5), 0, 7)
    assert f.expected.tolist() == [0.0] * 5 and f.phase_ratio.tolist() == [1.0] * 7
    assert (f.sd, f.rho, f.n_level, f.slope, f.t_mean, f.sxx, f.weeks) == (0, 0, 0, 0, 0, 0, 0)


def _pooled(y: np.ndarray, expected: np.ndarray) -> float:
    r = y - expected
    return 1.4826 * float(np.median(np.abs(r - np.median(r))))


def test_the_fit_noise_counts_the_fitted_parameters() -> None:
    """Two whole weeks of history: the residual s.d. is scaled by sqrt(n / (n - params)),
    params = 7 weekday offsets + level (+ slope when one is kept)."""
    t = np.arange(14.0)
    rising = 100 + 3 * t + np.random.default_rng(5).normal(0, 1, 14)
    f = _fit(rising, 14, 7)
    assert f.sxx > 0 and f.weeks == 2
    assert f.sd == pytest.approx(_pooled(rising, f.expected) * math.sqrt(14 / (14 - 9)))
    e = np.random.default_rng(5).normal(0, 1, 7)
    level = 100 + np.r_[e, e[::-1]]  # a palindrome: its Theil-Sen slope is 0, none is kept
    f = _fit(level, 14, 7)
    assert (f.slope, f.sxx, f.weeks) == (0.0, 0.0, 2)
    assert f.sd == pytest.approx(_pooled(level, f.expected) * math.sqrt(14 / (14 - 8)))


@pytest.mark.parametrize("period", [3, 4])
def test_seasonal_profile_follows_a_trend(period: int) -> None:
    pattern = np.arange(float(period))
    x = np.tile(pattern, 3) + 0.25 * np.arange(3 * period)
    # the centred moving mean (2xP for an even period) follows the line exactly
    expected = pattern - pattern.mean()
    assert _seasonal_profile(x, period) == pytest.approx(expected)


# -- invariants (Hypothesis) ---------------------------------------------------------------------

pvalue_lists = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=12)


def _holm_reference(p: list[float]) -> list[float]:
    """Holm step-down by its definition: the k-th smallest p times (m - k), running max."""
    m, order = len(p), sorted(range(len(p)), key=lambda i: p[i])
    out, running = [0.0] * m, 0.0
    for k, i in enumerate(order):
        running = max(running, (m - k) * p[i])
        out[i] = min(running, 1.0)
    return out


def _bh_reference(p: list[float]) -> list[float]:
    """Benjamini-Hochberg by its definition: the min over the larger ones of p * m / rank."""
    m, order = len(p), sorted(range(len(p)), key=lambda i: p[i])
    out = [0.0] * m
    for k, i in enumerate(order):
        out[i] = min(1.0, min(m / (j + 1) * p[order[j]] for j in range(k, m)))
    return out


@given(pvalue_lists)
def test_adjusted_pvalues_follow_their_definitions(p: list[float]) -> None:
    holm, bh = adjust_pvalues(p), adjust_pvalues(p, "fdr_bh")
    assert holm == pytest.approx(_holm_reference(p), abs=1e-12)
    assert bh == pytest.approx(_bh_reference(p), abs=1e-12)
    # never below the raw p-value, and the FDR adjustment never above the FWER one
    assert all(raw <= b + 1e-12 and b <= h + 1e-12 for raw, b, h in zip(p, bh, holm, strict=True))


@given(pvalue_lists, st.randoms(use_true_random=False))
def test_adjusted_pvalues_follow_their_inputs_order(p: list[float], rnd: random.Random) -> None:
    shuffled = list(range(len(p)))
    rnd.shuffle(shuffled)
    for method in ("holm", "fdr_bh"):
        adjusted = adjust_pvalues(p, method)
        again = adjust_pvalues([p[i] for i in shuffled], method)
        assert again == pytest.approx([adjusted[i] for i in shuffled], abs=1e-12)


@given(
    st.lists(st.floats(-1e3, 1e3), min_size=0, max_size=30),
    st.floats(0.01, 100.0),
    st.floats(-1e3, 1e3),
)
def test_robust_sigma_moves_with_the_scale_not_the_level(
    values: list[float], scale: float, shift: float
) -> None:
    r = np.array(values)
    sigma = _robust_sigma(r)
    assert sigma >= 0.0
    assert _robust_sigma(r + shift) == pytest.approx(sigma, rel=1e-6, abs=1e-6)
    assert _robust_sigma(scale * r) == pytest.approx(scale * sigma, rel=1e-6, abs=1e-6)
    assert _robust_sigma(-r) == pytest.approx(sigma, rel=1e-9, abs=1e-9)


# -- more helpers, against their definitions ------------------------------------------------------


def test_one_training_point_is_a_flat_baseline() -> None:
    assert seasonal_baseline([5.0, 6.0, 7.0], train_end=1) == pytest.approx([5.0, 5.0, 5.0])
    assert seasonal_baseline([5.0, 6.0, 7.0], train_end=0).tolist() == [0.0, 0.0, 0.0]


def test_a_quiet_series_still_reports_its_best_p_value() -> None:
    x = weekly(70, 1)
    x[49:] *= 0.99  # a 1% dip: tested, not significant
    r = detect_anomaly(x)
    assert not r.detected
    assert r.p_value is not None and 0.01 <= r.p_value < 1.0


def test_missing_values_given_as_none_are_gaps() -> None:
    # one point missing: the change is measured over the others
    assert window_change([1.0, None, 3.0], [1.0, 1.0, 1.0], 0, None) == (100.0, 1.0)  # type: ignore[list-item]


def test_a_tiny_but_real_spread_is_tested_not_taken_as_constant() -> None:
    a = [1.0, 1.0 + 1e-7, 1.0, 1.0 + 1e-7, 1.0, 1.0 + 1e-7]
    b = [v + 5e-8 for v in a]
    c = compare_samples(a, b)
    assert c.welch_p == pytest.approx(sps.ttest_ind(b, a, equal_var=False).pvalue)
    assert 0.1 < c.welch_p < 1.0


def _reference_step_scores(y: np.ndarray, period: int) -> tuple[list[int], np.ndarray]:
    """At each position, the mean of the next period (as much as is left) minus the mean of
    the previous one, centred on its median, in units of the period-over-period noise."""
    positions = list(range(2 * period, len(y) - 2))
    jumps = np.array(
        [y[i : i + period].mean() - y[i - period : i].mean() for i in positions], dtype=float
    )
    d = np.diff(y[period:] - y[:-period])
    noise = 1.4826 * float(np.median(np.abs(d - np.median(d)))) or 1.0
    return positions, np.abs(jumps - np.median(jumps)) / noise


@pytest.mark.parametrize("seed", range(3))
def test_step_scores_follow_their_definition(seed: int) -> None:
    y = weekly(35, seed)
    y[20:] *= 0.8
    idx, score = _step_scores(y, 7)
    positions, expected = _reference_step_scores(y, 7)
    assert idx.tolist() == positions
    assert score == pytest.approx(expected)
    assert positions[int(np.argmax(score))] in (19, 20, 21)


def test_a_ramp_in_is_dated_from_its_first_day_off_the_baseline() -> None:
    y = 100.0 + np.where(np.arange(60) % 2 == 0, 1.0, -1.0)
    y[42:44] = 80.0  # the change ramps in over two days
    y[44:] = 60.0
    assert _onset(y, 44, -1.0, 7, 14, 1.0) == 42
    assert _onset(-y, 44, 1.0, 7, 14, 1.0) == 42
    assert _onset(y, 44, 1.0, 7, 14, 1.0) == 44  # not a rise


def test_one_noisy_day_before_a_step_does_not_pull_its_onset_early() -> None:
    y = 100.0 + np.where(np.arange(60) % 2 == 0, 1.0, -1.0)
    y[44:] = 60.0
    y[43] = 95.0  # 5 s.d. off, but far nearer the baseline than the new level
    assert _onset(y, 44, -1.0, 7, 14, 1.0) == 44
    y[42:44] = 62.0  # two days already at the new level: it began there
    assert _onset(y, 44, -1.0, 7, 14, 1.0) == 42


def test_window_standard_error_terms() -> None:
    """Noise over k points, the level's and the slope's estimation error (a median's
    efficiency), the weekday profile's error over a partial period."""
    fit = _fit(np.ones(3), 2, 1)
    fit = dataclasses.replace(fit, rho=0.0, n_level=2, t_mean=0.5, sxx=0.5, weeks=0)
    k, mid = 1, 3.0  # the window [3, 4)
    var = 1 / k + (math.pi / 2) / 2 + (math.pi / 2) * (mid - 0.5) ** 2 / 0.5
    assert _window_se(fit, 3, 4, 2.0, 1) == pytest.approx(2.0 * math.sqrt(var))
    weekly_fit = dataclasses.replace(fit, sxx=0.0, weeks=4, n_level=28)
    var = 1 / 3 + (math.pi / 2) / 28 + (math.pi / 2) / 4 * 3 / 3**2
    assert _window_se(weekly_fit, 30, 33, 1.0, 7) == pytest.approx(math.sqrt(var))


@pytest.mark.parametrize("slope", [0.0, 2.0])
def test_window_p_value_is_a_t_test_on_the_fit_degrees_of_freedom(slope: float) -> None:
    t = np.arange(24.0)
    y = 100 + slope * t + np.where(t % 2 == 0, 1.5, -1.5) + np.where(t % 3 == 0, 0.7, 0.0)
    y[21:] -= 10.0
    fit = _fit(y, 21, 7)
    assert (fit.sxx > 0) == (slope > 0)
    w = _measure(y, fit, 21, 22, -1.0, 1.0, 7)
    sd = float(fit.phase_ratio[21 % 7])
    se = _window_se(fit, 21, 22, sd, 7)
    df = fit.n_level - (2 if slope > 0 else 1)
    resid = y[21] - fit.expected[21]
    assert w.p_value == pytest.approx(2 * sps.t.sf(abs(resid) / se, df))
    # the p-value reads the window's head only: what follows the window does not move it
    longer = _measure(y, fit, 21, 23, -1.0, 1.0, 7)
    after = y.copy()
    after[23] += 50.0
    assert _measure(after, fit, 21, 23, -1.0, 1.0, 7).p_value == longer.p_value


def test_a_drift_is_dated_at_the_bend() -> None:
    t = np.arange(70.0)
    y = 100 + np.where(t % 2 == 0, 0.3, -0.3) - 2.0 * np.clip(t - 41, 0, None)  # bends at 41
    bend = _trend_break(y, 7, 14, log=False)
    assert bend is not None and bend.start == 41 and bend.beats_step
    assert bend.bend == pytest.approx(-2.0, abs=0.05) and bend.p_value < 1e-6


def test_a_weekly_pattern_and_a_trend_are_both_named() -> None:
    r = detect_anomaly(weekly(70, 1, noise=0.005) * (1 + 0.005 * np.arange(70)))
    assert not r.detected
    assert r.reason.startswith(
        "the ups and downs match the usual weekly pattern and a steady growth ("
    )


def test_a_rise_is_called_one() -> None:
    x = weekly(70, 0)
    x[50:55] *= 1.5
    assert detect_anomaly(x).reason.startswith("sustained rise of ")


def test_exactly_enough_history_is_analysed() -> None:
    assert detect_anomaly([1.0] * 10, min_history=9).reason == "the series is constant: no change"
    assert detect_anomaly([1.0] * 9, min_history=9).reason.startswith("not enough data: 9 usable")


def test_differences_below_float_resolution_are_no_difference() -> None:
    a = [1.0, 1.0, 1.0, 1.0 + 2**-50, 1.0 + 2**-50, 1.0 + 2**-50]
    b = [v + 1e-15 for v in a]
    assert compare_samples(a, b).welch_p == 1.0


def test_robust_sigma_without_spread_in_most_differences() -> None:
    # the differences' MAD is 0 (four of five are 1): their plain s.d. is used instead
    d = np.array([1.0, 1.0, 1.0, 1.0, 6.0])
    r = np.concatenate([[0.0], np.cumsum(d)])
    assert _robust_sigma(r) == pytest.approx(float(np.std(d)) / math.sqrt(2.0))


def test_period_one_step_scores_and_short_lines() -> None:
    y = np.array([5.0, 5.2, 4.9, 5.1, 8.0, 8.1, 7.9, 8.2, 8.0])
    idx, score = _step_scores(y, 1)
    positions, expected = _reference_step_scores(y, 1)
    assert idx.tolist() == positions and score == pytest.approx(expected)
    d, line, slope = _global_line(np.array([1.0, 3.0]), 7)
    assert slope == 2.0 and line.tolist() == [1.0, 3.0] and d.tolist() == [1.0, 3.0]


def test_whole_weeks_behind_a_fit_are_counted_whole() -> None:
    assert _fit(weekly(15, 0), 15, 7).weeks == 2
    assert _fit(weekly(13, 0), 13, 7).weeks == 0


def test_an_isolated_outlier_is_found() -> None:
    r = np.zeros(20)
    r[10] = 10.0
    assert _outliers(r, 1.0, 5) == [10]
    assert _outliers(r, 0.0, 5) == []
