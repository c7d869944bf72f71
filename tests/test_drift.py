"""Gradual drifts: a change of slope is found and dated; a steady trend never is one."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_stats import product_series

from metric_anomaly_investigator.core.stats import detect_anomaly


def bent(n: int, seed: int, growth: float, at: int, bend: float, mult: bool) -> np.ndarray:
    """A product series whose log level (or level) changes slope by ``bend`` a day from ``at``."""
    x = product_series(n, seed, growth, mult)
    after = np.maximum(np.arange(n) - at, 0)
    return x * np.exp(bend * after) if mult else x + 1000.0 * bend * after


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 100_000),
    n=st.integers(42, 120),
    growth=st.sampled_from([-0.005, -0.002, 0.0, 0.005, 0.008]),
    multiplicative=st.booleans(),
)
def test_a_steady_trend_is_never_a_drift(
    seed: int, n: int, growth: float, multiplicative: bool
) -> None:
    # steady growth or decline (+0.5%/day included) with a weekly season and noise
    r = detect_anomaly(product_series(n, seed, growth, multiplicative))
    assert not r.detected, r.reason


# noise is 2% a day: a bend of 1.2%/day or more moves the level by 4+ noise s.d. a week. Growth
# and noise are multiplicative, as in product metrics (a large additive rise read on the log
# scale curves after the bend and is dated up to three days early)
@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 100_000),
    at=st.integers(35, 60),
    growth=st.sampled_from([-0.002, 0.0, 0.003]),
    bend=st.sampled_from([-0.03, -0.012, 0.012, 0.03]),
)
def test_a_slope_change_is_found_and_dated_nearby(
    seed: int, at: int, growth: float, bend: float
) -> None:
    r = detect_anomaly(bent(90, seed, growth, at, bend, True))
    assert r.detected and r.kind == "drift", r.reason
    assert r.direction == ("drop" if bend < 0 else "spike")
    assert r.start_index is not None and abs(r.start_index - at) <= 4
    assert r.end_index is None and r.end_change_pct is not None
    assert np.sign(r.end_change_pct) == np.sign(bend)


def test_most_slope_changes_are_dated_within_two_days() -> None:
    lags = []
    for seed in range(15):
        for bend in (-0.02, -0.012, 0.012, 0.02):
            r = detect_anomaly(bent(90, seed, 0.002, 40 + seed, bend, True))
            assert r.start_index is not None
            lags.append(r.start_index - 40 - seed)
    assert np.mean(np.abs(lags) <= 2) >= 0.85 and np.mean(np.abs(lags) <= 1) >= 0.6, lags


@settings(max_examples=15, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), scale=st.sampled_from([1e-3, 0.5, 7.0, 1e4]))
def test_scaling_does_not_change_a_drift(seed: int, scale: float) -> None:
    x = bent(84, seed, 0.002, 50, -0.015, mult=seed % 2 == 0)
    a, b = detect_anomaly(x), detect_anomaly(x * scale)
    assert (a.detected, a.kind, a.start_index, a.end_index) == (
        b.detected,
        b.kind,
        b.start_index,
        b.end_index,
    )
    assert a.p_value == pytest.approx(b.p_value, rel=1e-6)
    assert a.end_change_pct == pytest.approx(b.end_change_pct, rel=1e-6, abs=1e-9)


def test_a_step_stays_a_step_and_a_short_outage_stays_short() -> None:
    for seed in range(10):
        x = product_series(90, seed, 0.004, True)
        x[60:] *= 0.8
        r = detect_anomaly(x)
        assert r.kind == "step" and r.start_index is not None and abs(r.start_index - 60) <= 1
        y = product_series(90, seed, 0.004, True)
        y[55:58] *= 0.5
        s = detect_anomaly(y)
        assert s.kind in ("step", "spike") and (s.start_index, s.end_index) == (55, 57)


# a hinge planted at day k of a noisy seasonal series (2% noise a day, any weekly phase, growth
# or decline before it) is dated within two days once the slope changes by 0.6 noise s.d. a day
@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 100_000),
    at=st.integers(30, 62),
    growth=st.sampled_from([-0.003, 0.0, 0.002, 0.005]),
    bend=st.sampled_from([-0.03, -0.02, -0.012, 0.012, 0.02, 0.03]),
)
def test_a_hinge_is_dated_within_two_days(seed: int, at: int, growth: float, bend: float) -> None:
    r = detect_anomaly(bent(91, seed, growth, at, bend, True))
    assert r.detected and r.kind == "drift", r.reason
    assert r.start_index is not None and abs(r.start_index - at) <= 2, (r.start_index, at)


# a drift that levels off after three weeks is still dated where it began (and in its own
# direction), not where it bends back
@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 100_000),
    at=st.integers(30, 50),
    bend=st.sampled_from([-0.02, -0.015, 0.015, 0.02]),
)
def test_a_drift_that_levels_off_is_dated_at_its_start(seed: int, at: int, bend: float) -> None:
    x = product_series(91, seed, 0.002, True)
    x *= np.exp(bend * np.clip(np.arange(91) - at, 0, 21))
    r = detect_anomaly(x)
    assert r.detected and r.direction == ("drop" if bend < 0 else "spike"), r.reason
    assert r.start_index is not None and abs(r.start_index - at) <= 2, (r.start_index, at)


# a bend is the rival explanation of a step only when the level keeps moving: a pure step on a
# trend (growth or decline, either scale) is a step, dated at the step
@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 100_000),
    at=st.integers(35, 75),
    growth=st.sampled_from([-0.003, 0.0, 0.004, 0.008]),
    effect=st.sampled_from([-0.3, -0.15, 0.15, 0.3]),
    multiplicative=st.booleans(),
)
def test_a_pure_step_is_not_taken_for_a_drift(
    seed: int, at: int, growth: float, effect: float, multiplicative: bool
) -> None:
    x = product_series(91, seed, growth, multiplicative)
    x[at:] *= 1 + effect
    r = detect_anomaly(x)
    assert r.detected and r.kind == "step", r.reason
    assert r.start_index is not None and abs(r.start_index - at) <= 1, (r.start_index, at)
