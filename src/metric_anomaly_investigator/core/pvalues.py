"""The few tests and fits the analyst needs, on scipy.special, as scipy.stats computes them.

Importing scipy.stats takes about a second of every run's start-up (it rewrites the docstrings
of hundreds of functions on import) for five functions: Student's t and the normal tails,
Welch's t-test, the Mann-Whitney U test and a least-squares line. These follow scipy.stats'
definitions (two-sided tests; Mann-Whitney exact without ties when a sample has at most 8
values, else the normal approximation with tie and continuity corrections); the tests check
them against scipy.stats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy import special

__all__ = [
    "LineFit",
    "linregress",
    "mannwhitney_p",
    "norm_ppf",
    "norm_sf",
    "t_sf",
    "welch_p",
]

_TINY = 1.0e-20
_EXACT_MAX = 8  # Mann-Whitney: exact null distribution when a sample is this small (no ties)


def t_sf(x: float, df: float) -> float:
    """P(T > x) for Student's t with ``df`` degrees of freedom."""
    return float(special.stdtr(df, -x))


def norm_sf(x: float) -> float:
    """P(Z > x) for the standard normal."""
    return float(special.ndtr(-x))


def norm_ppf(q: float) -> float:
    """The standard normal's ``q`` quantile."""
    return float(special.ndtri(q))


@dataclass(frozen=True)
class LineFit:
    """A least-squares line's slope, correlation and the two-sided p-value of its slope."""

    slope: float
    rvalue: float
    pvalue: float


def linregress(x: np.ndarray, y: np.ndarray) -> LineFit:
    """``scipy.stats.linregress`` (two-sided): r is NaN when both sides are constant."""
    n = len(x)
    ssxm, ssxym, _, ssym = np.cov(x, y, bias=True).flat
    if ssxm == 0.0 or ssym == 0.0:
        r = math.nan if ssxym == 0 else 0.0
    else:
        r = float(min(max(ssxym / math.sqrt(ssxm * ssym), -1.0), 1.0))
    slope = float(ssxym / ssxm) if ssxm else math.nan
    if n == 2:
        return LineFit(slope, r, 1.0 if y[0] == y[1] else 0.0)
    df = n - 2
    t = r * math.sqrt(df / ((1.0 - r + _TINY) * (1.0 + r + _TINY)))
    return LineFit(slope, r, 2.0 * t_sf(abs(t), df))


def welch_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided p-value of Welch's t-test of equal means (NaN when both variances are 0)."""
    na, nb = len(a), len(b)
    va, vb = float(np.var(a, ddof=1)) / na, float(np.var(b, ddof=1)) / nb
    se2 = va + vb
    if se2 == 0.0:
        return math.nan
    t = (float(np.mean(b)) - float(np.mean(a))) / math.sqrt(se2)
    df = se2**2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    return min(1.0, 2.0 * t_sf(abs(t), df))


def mannwhitney_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided p-value of the Mann-Whitney U test of ``b`` against ``a``."""
    n1, n2 = len(b), len(a)
    both = np.concatenate([b, a])
    ranks, ties = _average_ranks(both)
    u1 = float(np.sum(ranks[:n1])) - n1 * (n1 + 1) / 2
    u = max(u1, n1 * n2 - u1)
    if min(n1, n2) <= _EXACT_MAX and not np.any(ties > 1):
        p = 2.0 * _exact_sf(int(u), min(n1, n2), max(n1, n2))
    else:
        n = n1 + n2
        tie_term = float(np.sum(ties**3 - ties))
        s = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))))
        z = (u - n1 * n2 / 2 - 0.5) / s if s > 0 else math.inf
        p = 2.0 * norm_sf(z)
    return min(max(p, 0.0), 1.0)


def _average_ranks(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranks from 1, ties sharing their average rank; and the size of each group of ties."""
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    sizes = np.diff(np.r_[starts, len(x)])
    average = starts + (sizes + 1) / 2.0  # 1-based average rank of each group
    ranks = np.empty(len(x))
    ranks[order] = np.repeat(average, sizes)
    return ranks, sizes.astype(float)


def _exact_sf(u: int, m: int, n: int) -> float:
    """P(U >= u) under the null, for samples of ``m`` <= ``n`` values without ties."""
    counts = _u_counts(m, n)
    return float(counts[u:].sum() / counts.sum())


@cache
def _u_counts(m: int, n: int) -> np.ndarray:
    """How many orderings of ``m`` + ``n`` values give each U from 0 to m*n."""
    # f[k][j]: counts of U for k values among k + j, built by adding one value at a time
    f = [[np.ones(1)] * (n + 1)] + [[np.zeros(0)] * (n + 1) for _ in range(m)]
    for k in range(1, m + 1):
        f[k][0] = np.ones(1)
        for j in range(1, n + 1):
            # the largest value is from the first sample (adds j to U) or from the second
            left, right = f[k - 1][j], f[k][j - 1]
            out = np.zeros(k * j + 1)
            out[j : j + len(left)] += left
            out[: len(right)] += right
            f[k][j] = out
    return f[m][n]
