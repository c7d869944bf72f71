"""The analyst's own tests and change points agree with scipy.stats and ruptures (the oracles)."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys

import numpy as np
import pytest
import ruptures as rpt
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from metric_anomaly_investigator.core import pvalues as pv
from metric_anomaly_investigator.core.changepoints import change_points

values = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
# rounded to halves: ties are common, as in daily counts
samples = st.lists(values.map(lambda v: round(v * 2) / 2), min_size=3, max_size=30)


def _close(ours: float, theirs: float) -> bool:
    if math.isnan(theirs):
        return math.isnan(ours)
    return math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-12)


@settings(max_examples=300, deadline=None)
@given(samples, samples)
def test_welch_as_scipy(a: list[float], b: list[float]) -> None:
    xa, xb = np.array(a), np.array(b)
    if np.var(xa) + np.var(xb) == 0:
        assert math.isnan(pv.welch_p(xa, xb))
        return
    expected = float(sps.ttest_ind(xb, xa, equal_var=False).pvalue)
    assert _close(pv.welch_p(xa, xb), expected)


@settings(max_examples=300, deadline=None)
@given(samples, samples)
def test_mann_whitney_as_scipy(a: list[float], b: list[float]) -> None:
    xa, xb = np.array(a), np.array(b)
    if np.ptp(np.concatenate([xa, xb])) == 0:
        return  # the analyst never asks (stats._mannwhitney_p answers 1)
    expected = float(sps.mannwhitneyu(xb, xa, alternative="two-sided").pvalue)
    assert _close(pv.mannwhitney_p(xa, xb), expected)


@pytest.mark.parametrize(("m", "n"), [(1, 1), (2, 3), (3, 5), (8, 8), (4, 12)])
def test_exact_mann_whitney_without_ties(m: int, n: int) -> None:
    # every split of 1..m+n into the two samples: the exact p-values scipy gives
    pool = np.arange(1.0, m + n + 1)
    for first in itertools.islice(itertools.combinations(range(m + n), m), 60):
        a = pool[list(first)]
        b = np.delete(pool, list(first))
        expected = float(sps.mannwhitneyu(b, a, alternative="two-sided", method="exact").pvalue)
        assert _close(pv.mannwhitney_p(a, b), expected)


@settings(max_examples=300, deadline=None)
@given(st.lists(values, min_size=2, max_size=40), st.floats(-5, 5))
def test_line_fit_as_scipy(ys: list[float], slope: float) -> None:
    t = np.arange(len(ys), dtype=float)
    y = np.array(ys) + slope * t
    ours, theirs = pv.linregress(t, y), sps.linregress(t, y)
    assert _close(ours.slope, float(theirs.slope))
    assert _close(ours.rvalue, float(theirs.rvalue))
    assert _close(ours.pvalue, float(theirs.pvalue))


def test_a_constant_series_has_no_correlation() -> None:
    fit = pv.linregress(np.arange(6.0), np.full(6, 3.0))
    assert fit.slope == 0.0 and math.isnan(fit.rvalue)


@settings(max_examples=200, deadline=None)
@given(st.floats(-40, 40), st.floats(0.5, 200), st.floats(1e-6, 1 - 1e-6))
def test_tails_and_quantiles_as_scipy(x: float, df: float, q: float) -> None:
    assert _close(pv.t_sf(x, df), float(sps.t.sf(x, df)))
    assert _close(pv.norm_sf(x), float(sps.norm.sf(x)))
    assert _close(pv.norm_ppf(q), float(sps.norm.ppf(q)))


def _cost(x: np.ndarray, breaks: list[int], pen: float) -> float:
    edges = [0, *breaks, len(x)]
    return pen * len(breaks) + sum(
        float(np.sum((x[a:b] - np.mean(x[a:b])) ** 2)) for a, b in itertools.pairwise(edges)
    )


def _ruptures(x: np.ndarray, pen: float) -> list[int]:
    algo = rpt.KernelCPD(kernel="linear", min_size=2).fit(x.reshape(-1, 1))
    return [int(b) for b in algo.predict(pen=pen) if 0 < int(b) < len(x)]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-10, 10, allow_nan=False), min_size=4, max_size=60),
    st.floats(0.1, 50),
)
def test_change_points_are_optimal(xs: list[float], pen: float) -> None:
    x = np.array(xs)
    ours = change_points(x, pen)
    edges = [0, *ours, len(x)]
    assert all(b - a >= 2 for a, b in itertools.pairwise(edges))  # every segment has 2 points
    # never costlier than ruptures' answer (its pruned search can stop short of the optimum)
    assert _cost(x, ours, pen) <= _cost(x, _ruptures(x, pen), pen) + 1e-9 * (1 + pen)


def test_change_points_as_ruptures_on_noisy_steps() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(20, 90))
        x = rng.normal(size=n)
        for start in rng.integers(2, n - 2, size=int(rng.integers(0, 3))):
            x[start:] += rng.normal(0, 4)
        pen = 3.0 * math.log(n)
        assert change_points(x, pen) == _ruptures(x, pen)


def test_a_step_is_found_where_it_starts() -> None:
    x = np.r_[np.zeros(20), np.full(15, 5.0)] + np.tile([0.1, -0.1], 18)[:35]
    assert change_points(x, pen=3.0 * math.log(35)) == [20]
    assert change_points(x[:3], pen=1.0) == []  # too short for two segments of two


def test_the_analyst_does_not_import_scipy_stats() -> None:
    code = (
        "import sys; import metric_anomaly_investigator.core.tools; "
        "print(sorted(m for m in sys.modules if m.startswith(('scipy.stats', 'ruptures'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("a", "b"),
    [([0.0, 1.0], [1.0, 1.0]), ([2.0, 2.0, 3.0], [2.0, 3.0]), ([1.0], [1.0, 2.0, 2.0])],
)
def test_mann_whitney_on_tiny_tied_samples(a: list[float], b: list[float]) -> None:
    # the normal approximation's spread is at most 1 here: still a finite z, as scipy has it
    expected = float(sps.mannwhitneyu(b, a, alternative="two-sided").pvalue)
    assert _close(pv.mannwhitney_p(np.array(a), np.array(b)), expected)


def _best_split(x: np.ndarray, pen: float, min_size: int) -> float:
    """The least penalised cost over every segmentation (brute force, short series)."""
    n = len(x)
    cuts = range(min_size, n - min_size + 1)
    best = _cost(x, [], pen)  # one segment, however short
    for k in range(1, n // min_size):
        for breaks in itertools.combinations(cuts, k):
            edges = [0, *breaks, n]
            if all(b - a >= min_size for a, b in itertools.pairwise(edges)):
                best = min(best, _cost(x, list(breaks), pen))
    return best


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(-10, 10, allow_nan=False), min_size=2, max_size=9),
    st.floats(0.05, 20),
    st.sampled_from([1, 2, 3]),
)
def test_change_points_match_a_brute_force_search(
    xs: list[float], pen: float, min_size: int
) -> None:
    x = np.array(xs)
    ours = change_points(x, pen, min_size=min_size)
    edges = [0, *ours, len(x)]
    assert not ours or all(b - a >= min_size for a, b in itertools.pairwise(edges))
    assert math.isclose(_cost(x, ours, pen), _best_split(x, pen, min_size), abs_tol=1e-9)


def test_a_one_point_segment_at_the_start() -> None:
    assert change_points(np.array([9.0, 0.0, 0.0, 0.0]), pen=1.0, min_size=1) == [1]
