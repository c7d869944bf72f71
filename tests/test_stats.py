"""Properties and targeted checks of core.stats."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metric_anomaly_investigator.core.stats import (
    AnomalyResult,
    Comparison,
    adjust_pvalues,
    compare_periods,
    compare_samples,
    detect_anomaly,
    seasonal_baseline,
)


def weekly_series(n: int, seed: int, noise: float = 3.0, level: float = 100.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return level + np.where(t % 7 >= 5, -0.2 * level, 0.0) + rng.normal(0, noise, n)


def product_series(
    n: int, seed: int, growth: float, multiplicative: bool, noise: float = 0.02
) -> np.ndarray:
    """A product metric: level 1000 growing ``growth`` per day (relative), weekend dip, noise.

    Multiplicative: weekly factor and noise scale with the level; additive: a fixed dip and a
    fixed noise s.d. on a linear trend.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    weekend = (t + seed) % 7 >= 5
    if multiplicative:
        level = 1000.0 * np.exp(growth * t)
        return level * np.where(weekend, 0.75, 1.0) * (1 + rng.normal(0, noise, n))
    return (
        1000.0 * (1 + growth * t) - np.where(weekend, 250.0, 0.0) + rng.normal(0, 1000 * noise, n)
    )


growths = st.sampled_from([-0.004, -0.002, 0.0, 0.003, 0.006, 0.01])


def all_floats_finite(obj: AnomalyResult | Comparison) -> bool:
    for value in vars(obj).values():
        items = value if isinstance(value, list) else [value]
        for v in items:
            if isinstance(v, float) and not math.isfinite(v):
                return False
    return True


# ---------------------------------------------------------------- detect_anomaly


# statistical properties hold with overwhelming, not certain, probability: derandomize so the
# suite is reproducible
@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10_000),
    at=st.integers(21, 80),
    effect=st.sampled_from([-0.3, -0.2, 0.2, 0.3]),
)
def test_planted_step_found_within_one_day(seed: int, at: int, effect: float) -> None:
    x = weekly_series(90, seed)
    x[at:] += effect * 100
    r = detect_anomaly(x)
    assert r.detected
    assert r.start_index is not None and abs(r.start_index - at) <= 1
    assert r.direction == ("drop" if effect < 0 else "spike")
    assert r.change_pct is not None and np.sign(r.change_pct) == np.sign(effect)
    assert len(r.baseline) == 90


@settings(max_examples=40, deadline=None, derandomize=True)
@given(seed=st.integers(0, 100_000), n=st.integers(30, 120))
def test_pure_weekly_pattern_is_not_an_anomaly(seed: int, n: int) -> None:
    r = detect_anomaly(weekly_series(n, seed, noise=2.0))
    assert not r.detected
    assert r.direction == "none" and r.kind == "none"


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 100_000),
    n=st.integers(35, 120),
    growth=growths,
    multiplicative=st.booleans(),
)
def test_trend_with_weekly_pattern_is_not_an_anomaly(
    seed: int, n: int, growth: float, multiplicative: bool
) -> None:
    r = detect_anomaly(product_series(n, seed, growth, multiplicative))
    assert not r.detected, r.reason
    assert len(r.baseline) == n


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10_000),
    at=st.integers(21, 80),
    growth=growths,
    effect=st.sampled_from([-0.3, -0.2, 0.2, 0.3]),
    multiplicative=st.booleans(),
)
def test_step_on_trend_and_season_found_within_one_day(
    seed: int, at: int, growth: float, effect: float, multiplicative: bool
) -> None:
    x = product_series(90, seed, growth, multiplicative)
    x[at:] *= 1 + effect
    r = detect_anomaly(x)
    assert r.detected and r.start_index is not None
    assert abs(r.start_index - at) <= 1
    assert r.direction == ("drop" if effect < 0 else "spike")


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10_000),
    at=st.integers(28, 70),
    length=st.integers(3, 10),
    growth=growths,
    effect=st.sampled_from([-0.4, -0.25, 0.25]),
    multiplicative=st.booleans(),
)
def test_bounded_incident_start_and_end_within_one_day(
    seed: int, at: int, length: int, growth: float, effect: float, multiplicative: bool
) -> None:
    x = product_series(90, seed, growth, multiplicative)
    x[at : at + length] *= 1 + effect
    r = detect_anomaly(x)
    assert r.detected and r.start_index is not None and r.end_index is not None
    assert abs(r.start_index - at) <= 1
    assert abs(r.end_index - (at + length - 1)) <= 1


def test_quiet_reason_names_the_growth() -> None:
    r = detect_anomaly(product_series(84, 4, 0.006, multiplicative=True, noise=0.01))
    assert not r.detected and "growth" in r.reason and "weekly" in r.reason


def test_baseline_extrapolates_trend_and_weekly_pattern() -> None:
    for multiplicative in (True, False):
        x = product_series(84, 1, 0.005, multiplicative, noise=0.0)
        assert np.allclose(seasonal_baseline(x, train_end=56), x, rtol=1e-6)


def test_step_on_steady_growth_is_dated_exactly() -> None:
    x = product_series(84, 2, 0.008, multiplicative=True, noise=0.01)
    x[50:] *= 0.8
    r = detect_anomaly(x)
    assert r.detected and r.start_index == 50 and r.kind == "step"


def test_weekly_pattern_reason_mentions_weekly() -> None:
    r = detect_anomaly(weekly_series(90, 3, noise=1.0))
    assert not r.detected and "weekly" in r.reason


def test_spike_and_drift_kinds() -> None:
    x = weekly_series(90, 5)
    x[70] += 50
    spike = detect_anomaly(x)
    assert spike.detected and spike.kind == "spike" and spike.start_index == 70
    assert spike.end_index == 70 and spike.direction == "spike"
    y = weekly_series(90, 6)
    y[50:] -= 1.5 * np.arange(40)
    drift = detect_anomaly(y)
    assert drift.detected and drift.kind == "drift" and drift.direction == "drop"
    assert drift.end_index is None


def test_gradual_drift_is_dated_at_its_bend() -> None:
    # from day 49 the metric loses 1.5% a day, compounded: no single day breaks, the slope does
    at, lags = 49, []
    for seed in range(20):
        for multiplicative in (True, False):
            x = product_series(91, seed, 0.003, multiplicative)
            x[at:] *= 0.985 ** np.arange(91 - at)
            r = detect_anomaly(x)
            assert r.detected and r.direction == "drop" and r.kind == "drift"
            assert r.start_index is not None and r.end_index is None
            assert r.end_change_pct is not None and r.end_change_pct < r.change_pct < 0
            lags.append(r.start_index - at)
    assert max(np.abs(lags)) <= 4 and np.mean(np.abs(lags) <= 2) >= 0.8, lags


def test_hint_guides_but_does_not_force() -> None:
    x = weekly_series(90, 7)
    x[30:35] -= 30  # an earlier, shorter incident
    x[60:] -= 40  # the big one
    assert detect_anomaly(x).start_index == 60
    guided = detect_anomaly(x, hint_index=30)
    assert guided.detected and guided.start_index == 30
    quiet = detect_anomaly(weekly_series(90, 8, noise=1.0), hint_index=45)
    assert not quiet.detected


@settings(max_examples=20, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), scale=st.sampled_from([1e-3, 0.5, 7.0, 1e4]))
def test_scaling_scales_magnitude_keeps_window_and_p(seed: int, scale: float) -> None:
    x = product_series(80, seed, 0.004, multiplicative=seed % 2 == 0)
    x[55:] *= 0.75
    a, b = detect_anomaly(x), detect_anomaly(x * scale)
    assert (a.detected, a.start_index, a.end_index, a.kind) == (
        b.detected,
        b.start_index,
        b.end_index,
        b.kind,
    )
    assert a.magnitude is not None and b.magnitude is not None
    assert b.magnitude == pytest.approx(a.magnitude * scale, rel=1e-6)
    assert a.p_value is not None and b.p_value is not None
    assert b.p_value == pytest.approx(a.p_value, rel=1e-6, abs=1e-300)


@pytest.mark.parametrize(
    "values",
    [
        [],
        [1.0],
        [0.0] * 40,
        [5.0] * 40,
        [math.nan] * 40,
        [1.0, math.nan, 3.0] * 12,
        [math.inf] * 20,
    ],
)
def test_detect_degenerate_inputs(values: list[float]) -> None:
    r = detect_anomaly(values)
    assert not r.detected and r.reason
    assert len(r.baseline) == len(values)
    assert all_floats_finite(r)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32)), max_size=60))
def test_detect_never_raises_or_returns_nan(values: list[float]) -> None:
    r = detect_anomaly(values)
    assert all_floats_finite(r)
    assert r.p_value is None or 0.0 <= r.p_value <= 1.0


def test_nan_inside_series_is_tolerated() -> None:
    x = weekly_series(90, 11)
    x[60:] -= 40
    x[[10, 40, 75]] = np.nan
    r = detect_anomaly(x)
    assert r.detected and r.start_index is not None and abs(r.start_index - 60) <= 1
    assert all_floats_finite(r)


def test_seasonal_baseline_learns_only_from_training_part() -> None:
    x = weekly_series(70, 12, noise=0.0)
    y = x.copy()
    y[42:] += 1000
    assert np.allclose(seasonal_baseline(x, train_end=42), seasonal_baseline(y, train_end=42))
    assert np.allclose(seasonal_baseline(x, train_end=42), x, atol=1e-9)


# ---------------------------------------------------------------- comparisons

samples = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=0, max_size=40)


@settings(max_examples=60, deadline=None)
@given(a=samples, b=samples)
def test_compare_samples_pvalues_in_unit_interval_and_no_nan(
    a: list[float], b: list[float]
) -> None:
    c = compare_samples(a, b, n_boot=200)
    assert all_floats_finite(c)
    for p in (c.welch_p, c.mannwhitney_p):
        assert p is None or 0.0 <= p <= 1.0
    assert c.sufficient == (len(a) >= 3 and len(b) >= 3)
    if c.sufficient and c.ci_low is not None and c.ci_high is not None:
        assert c.ci_low <= c.ci_high


@settings(max_examples=30, deadline=None)
@given(
    a=st.lists(st.floats(-100, 100, allow_subnormal=False), min_size=3, max_size=30),
    b=st.lists(st.floats(-100, 100, allow_subnormal=False), min_size=3, max_size=30),
    scale=st.sampled_from([0.25, 3.0, 1000.0]),
)
def test_compare_samples_scale_invariance(a: list[float], b: list[float], scale: float) -> None:
    c1 = compare_samples(a, b, n_boot=200)
    c2 = compare_samples(np.array(a) * scale, np.array(b) * scale, n_boot=200)
    assert c1.diff is not None and c2.diff is not None
    assert c2.diff == pytest.approx(c1.diff * scale, rel=1e-6, abs=1e-6)
    assert c2.welch_p == pytest.approx(c1.welch_p, rel=1e-6, abs=1e-9)
    assert c2.mannwhitney_p == pytest.approx(c1.mannwhitney_p, rel=1e-9)


def test_compare_samples_tiny_and_degenerate() -> None:
    c = compare_samples([1.0, 2.0, 3.0], [4.0, 5.0])
    assert not c.sufficient
    assert c.message == "not enough data: 2 values in segment B (need ≥ 3)"
    assert c.welch_p is None and c.mean_b == pytest.approx(4.5)
    assert compare_samples([], []).mean_a is None
    z = compare_samples([0.0] * 5, [0.0] * 5)
    assert z.sufficient and z.welch_p == 1.0 and z.rel_diff is None and z.effect_size == 0.0
    const = compare_samples([1.0] * 5, [2.0] * 5)
    assert const.welch_p == 0.0 and const.effect_size is None
    nan = compare_samples([1.0, math.nan, 2.0, 3.0, math.inf], [4.0, 5.0, 6.0])
    assert nan.n_a == 3 and nan.sufficient


def test_compare_samples_detects_clear_difference() -> None:
    rng = np.random.default_rng(0)
    c = compare_samples(rng.normal(10, 1, 50), rng.normal(12, 1, 50))
    assert c.welch_p is not None and c.welch_p < 1e-6
    assert c.ci_low is not None and c.ci_high is not None and c.ci_low < 2.0 < c.ci_high
    assert c.effect_size is not None and 1.5 < c.effect_size < 2.5


def test_compare_periods_removes_weekday_mix() -> None:
    x = weekly_series(63, 2, noise=1.0)
    c = compare_periods(x, 40)
    assert c.welch_p is not None and c.welch_p > 0.01
    x[40:] *= 0.7
    assert (compare_periods(x, 40).welch_p or 1.0) < 1e-6


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.floats(0, 1), st.just(math.nan)), max_size=30))
def test_adjust_pvalues_properties(p: list[float]) -> None:
    for method in ("holm", "fdr_bh"):
        adj = adjust_pvalues(p, method)  # type: ignore[arg-type]
        assert len(adj) == len(p)
        assert all(0.0 <= v <= 1.0 for v in adj)
        for raw, a in zip(p, adj, strict=True):
            if not math.isnan(raw):
                assert a >= raw - 1e-12
    holm, bh = adjust_pvalues(p, "holm"), adjust_pvalues(p, "fdr_bh")
    assert all(b <= h + 1e-12 for b, h in zip(bh, holm, strict=True))


def test_adjust_pvalues_known_values() -> None:
    assert adjust_pvalues([0.01, 0.04, 0.03, 0.5], "holm") == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert adjust_pvalues([0.01, 0.04, 0.03, 0.5], "fdr_bh") == pytest.approx(
        [0.04, 0.16 / 3, 0.16 / 3, 0.5]
    )
