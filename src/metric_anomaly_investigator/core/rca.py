"""Multi-dimensional root-cause localization.

Given leaves (one row per combination of dimension values) with an expected and an actual value
— or numerator/denominator pairs for a ratio measure — find the smallest set of elements
(partial assignments such as ``{platform: android, country: IN}``) that explains the change.

Method (a weighted-risk search in the spirit of RiskLoc, with ripple-consistency and
significance terms, vectorised over every cuboid with ``np.bincount``):

1. Every leaf gets a deviation score ``2 (a - f) / (|a| + |f|)``; for a ratio measure the
   forecast is the expected ratio applied to the actual denominator, so the deviation is the
   ratio's. The noise band is read from the side of the distribution opposite to the anomaly
   (its extreme after dropping a few outliers); leaves beyond it on the anomaly side form the
   abnormal partition, weighted by how far they are from the band.
2. Layer by layer (1 dimension fixed, then 2, …), every element of every cuboid is scored:
   *purity* = abnormal weight / (abnormal + normal weight + 1) minus *ripple inconsistency*
   (how badly rescaling the element's forecast by its own actual/forecast ratio fits its
   leaves, relative to their raw deviation: a true root cause moves its leaves together).
   The first layer that has elements with purity - inconsistency ≥ 0.5 and a share of the
   change above the floor yields its most explanatory one.
3. The element's leaves are removed and the search repeats until the abnormal part that is
   left explains less than a small share of the anomaly.

Ratio measures (num/den) use the same greedy element search with an aggregate score instead of
the per-leaf partition (leaf ratios on small denominators are too noisy): an element's share
of the remaining change minus its share of the remaining traffic (see
``_concentration_search``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

_RATIO_COLUMNS = ("expected_num", "actual_num", "expected_den", "actual_den")
_N_REMOVE = 5  # outliers dropped on each side when reading the noise band
_RISK_THRESHOLD = 0.5
_SHARE_FLOOR = 0.02  # an element must explain ≥ 2 % of the anomaly
_N_CANDIDATES = 5
_RATIO_STOP_SHARE = 0.5  # ratio search stops once less than half of the change is unexplained
_RATIO_MIN_SCORE = 0.3  # change share - traffic share an element needs


@dataclass(frozen=True)
class RootCauseElement:
    """One element of the root-cause set: a partial assignment of dimension values."""

    filters: dict[str, str]
    expected: float
    actual: float
    change_pct: float | None  # (actual - expected) / |expected| in %, None if expected == 0
    share_of_change: float  # this element's share of the total change
    score: float  # higher = more confident (risk score, ≤ 1)
    layer: int


@dataclass(frozen=True)
class LocalizationResult:
    """Ranked root-cause set (most explanatory first) and runners-up."""

    elements: list[RootCauseElement]
    total_expected: float
    total_actual: float
    explained_share: float
    candidates: list[RootCauseElement] = field(default_factory=list)


@dataclass
class _Cube:
    """Leaves as integer codes per dimension plus the per-leaf numbers the search needs."""

    codes: np.ndarray  # (n_leaves, n_dims) int64
    levels: list[np.ndarray]  # per dimension: code -> original value (str)
    f: np.ndarray  # forecast in the units the deviation is measured in
    a: np.ndarray  # actual
    ep: np.ndarray  # contribution to the total change (sums to the total change)
    exp_report: np.ndarray  # expected value for display (ratio: expected num at actual den)
    act_report: np.ndarray
    size: np.ndarray  # traffic (ratio: actual denominator; additive: expected value)


def _is_ratio(leaves: pd.DataFrame, ratio: bool | None) -> bool:
    if ratio is not None:
        return ratio
    return all(c in leaves.columns for c in _RATIO_COLUMNS)


def _clean(col: pd.Series) -> np.ndarray:
    arr = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
    return np.where(np.isfinite(arr), arr, 0.0)


def _build_cube(leaves: pd.DataFrame, dims: list[str], ratio: bool) -> _Cube:
    if ratio:
        en, an = _clean(leaves["expected_num"]), _clean(leaves["actual_num"])
        ed, ad = _clean(leaves["expected_den"]), _clean(leaves["actual_den"])
        total_ratio = en.sum() / ed.sum() if ed.sum() != 0 else 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            leaf_ratio = np.where(ed != 0, en / ed, total_ratio)
        # forecast: the expected ratio applied to the actual traffic, in numerator units
        f, a = leaf_ratio * ad, an
        size = ad
    else:
        f, a = _clean(leaves["expected"]), _clean(leaves["actual"])
        size = np.abs(f)
    codes = np.empty((len(leaves), len(dims)), dtype=np.int64)
    levels: list[np.ndarray] = []
    for j, dim in enumerate(dims):
        values = leaves[dim].astype(object).where(leaves[dim].notna(), "").astype(str)
        uniq, inv = np.unique(values.to_numpy(dtype=str), return_inverse=True)
        codes[:, j] = inv
        levels.append(uniq)
    return _Cube(codes, levels, f, a, a - f, f, a, size)


def _deviation(f: np.ndarray, a: np.ndarray) -> np.ndarray:
    den = np.abs(f) + np.abs(a)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, 2.0 * (a - f) / np.where(den > 0, den, 1.0), 0.0)


def _cutoff(dev: np.ndarray) -> float:
    """Signed edge of the noise band on the anomaly side (RiskLoc's robust extreme rule)."""
    uniq = np.unique(dev)
    if len(uniq) == 0:
        return 0.0
    k = min(_N_REMOVE, len(uniq) - 1)
    low, high = uniq[k], uniq[len(uniq) - 1 - k]
    # the side whose extreme is smaller in magnitude is noise; anomalies lie on the other side
    return -low if abs(low) < abs(high) else -high


def _group_keys(codes: np.ndarray, cols: tuple[int, ...], sizes: list[int]) -> np.ndarray:
    key = np.zeros(len(codes), dtype=np.int64)
    for c in cols:
        key = key * sizes[c] + codes[:, c]
    return key


def _decode(key: int, cols: tuple[int, ...], sizes: list[int]) -> list[int]:
    out = []
    for c in reversed(cols):
        out.append(key % sizes[c])
        key //= sizes[c]
    return out[::-1]


@dataclass(frozen=True)
class _Found:
    cols: tuple[int, ...]
    codes: tuple[int, ...]
    risk: float
    ep: float


def _search_layer(
    cube: _Cube,
    alive: np.ndarray,
    part: np.ndarray,
    weight: np.ndarray,
    dev: np.ndarray,
    ep_signed: np.ndarray,
    layer: int,
    ep_floor: float,
    sizes: list[int],
) -> list[_Found]:
    """All elements of one layer passing the risk threshold, best (highest share) first."""
    idx = np.flatnonzero(alive)
    codes = cube.codes[idx]
    f, a = cube.f[idx], cube.a[idx]
    w, p, d, e = weight[idx], part[idx], dev[idx], ep_signed[idx]
    nonzero = (f != 0) & (a != 0)
    found: list[_Found] = []
    for cols in itertools.combinations(range(codes.shape[1]), layer):
        key = _group_keys(codes, cols, sizes)
        uniq, g = np.unique(key, return_inverse=True)
        m = len(uniq)
        ep_g = np.bincount(g, weights=e, minlength=m)
        anom_w = np.bincount(g, weights=w * p, minlength=m)
        n_anom = np.bincount(g, weights=p.astype(float), minlength=m)
        ok = (n_anom > 0) & (ep_g > ep_floor)
        if not ok.any():
            continue
        norm_w = np.bincount(g, weights=w * (1 - p), minlength=m)
        high = anom_w / (anom_w + norm_w + 1.0)
        # ripple consistency: rescale forecasts by the element's own actual/forecast ratio
        fz = np.bincount(g, weights=np.where(nonzero, f, 0.0), minlength=m)
        az = np.bincount(g, weights=np.where(nonzero, a, 0.0), minlength=m)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            scale = np.where(fz != 0, az / np.where(fz != 0, fz, 1.0), 1.0)
        adj = f * scale[g]
        resid = np.where(nonzero, np.abs(_deviation(adj, a)), 0.0)
        raw = np.where(nonzero, np.abs(d), 0.0)
        w1 = np.bincount(g, weights=resid, minlength=m)
        w2 = np.bincount(g, weights=raw, minlength=m)
        with np.errstate(divide="ignore", invalid="ignore"):
            low = np.where(w2 > 0, w1 / np.where(w2 > 0, w2, 1.0), 0.0)
        risk = high - low
        good = np.flatnonzero(ok & (risk >= _RISK_THRESHOLD))
        for i in good:
            found.append(
                _Found(
                    cols, tuple(_decode(int(uniq[i]), cols, sizes)), float(risk[i]), float(ep_g[i])
                )
            )
    found.sort(key=lambda x: (-x.ep, -x.risk))
    return found


def _concentration_search(
    cube: _Cube, size: np.ndarray, sizes: list[int], max_elements: int
) -> list[_Found]:
    """Ratio measures: greedily pick the element whose share of the (remaining) change most
    exceeds its share of the (remaining) traffic, Σ_leaves (change share - traffic share).

    Leaf-level ratios are too noisy on small denominators for a per-leaf partition; this
    aggregate score favours the most concentrated element that still carries the change: a
    parent dilutes it with normal traffic, a child misses part of it.
    """
    x = cube.ep if cube.ep.sum() >= 0 else -cube.ep
    total = float(x.sum())
    n_dims = cube.codes.shape[1]
    cuboids = [
        cols
        for layer in range(1, n_dims + 1)
        for cols in itertools.combinations(range(n_dims), layer)
    ]
    inverse = []
    for cols in cuboids:
        uniq, g = np.unique(_group_keys(cube.codes, cols, sizes), return_inverse=True)
        inverse.append((cols, uniq, g))
    alive = np.ones(len(x), dtype=bool)
    chosen: list[_Found] = []
    while len(chosen) < max_elements and total > 0:
        rem_x, rem_n = float(x[alive].sum()), float(size[alive].sum())
        if rem_x <= _RATIO_STOP_SHARE * total or rem_n <= 0:
            break
        best: _Found | None = None
        for cols, uniq, g in inverse:
            xs = np.bincount(g, weights=np.where(alive, x, 0.0), minlength=len(uniq))
            ns = np.bincount(g, weights=np.where(alive, size, 0.0), minlength=len(uniq))
            score = xs / rem_x - ns / rem_n
            score[np.bincount(g, weights=alive.astype(float), minlength=len(uniq)) == 0] = -np.inf
            i = int(np.argmax(score))
            # strictly better only: earlier (lower-layer) cuboids win ties
            if best is None or score[i] > best.risk + 1e-12:
                best = _Found(
                    cols, tuple(_decode(int(uniq[i]), cols, sizes)), float(score[i]), xs[i]
                )
        if best is None or best.risk < _RATIO_MIN_SCORE:
            break
        chosen.append(best)
        alive &= ~_element_mask(cube, best.cols, best.codes)
    return chosen


def _element_mask(cube: _Cube, cols: tuple[int, ...], codes: tuple[int, ...]) -> np.ndarray:
    mask = np.ones(len(cube.f), dtype=bool)
    for c, v in zip(cols, codes, strict=True):
        mask &= cube.codes[:, c] == v
    return mask


def localize(
    leaves: pd.DataFrame,
    dimensions: Sequence[str],
    *,
    ratio: bool | None = None,
    max_elements: int = 10,
) -> LocalizationResult:
    """Find the ranked set of root-cause elements that explains the change of the total.

    ``leaves`` has one row per combination of ``dimensions`` with ``expected`` and ``actual``
    columns, or — for a ratio measure num/den, auto-detected from the column names unless
    ``ratio`` is given — ``expected_num, actual_num, expected_den, actual_den``. Deterministic
    and independent of row order.
    """
    dims = [d for d in dimensions if d in leaves.columns]
    is_ratio = _is_ratio(leaves, ratio)
    # canonical row order from the numbers only, so results (down to float rounding) depend
    # neither on the input order nor on the names of the dimension values
    measures = list(_RATIO_COLUMNS) if is_ratio else ["expected", "actual"]
    leaves = leaves.sort_values(measures, kind="stable", ignore_index=True)
    if is_ratio:
        tot_exp = float(_clean(leaves["expected_num"]).sum()) if len(leaves) else 0.0
        den_e = float(_clean(leaves["expected_den"]).sum()) if len(leaves) else 0.0
        tot_act = float(_clean(leaves["actual_num"]).sum()) if len(leaves) else 0.0
        den_a = float(_clean(leaves["actual_den"]).sum()) if len(leaves) else 0.0
        total_expected = tot_exp / den_e if den_e else 0.0
        total_actual = tot_act / den_a if den_a else 0.0
    else:
        total_expected = float(_clean(leaves["expected"]).sum()) if len(leaves) else 0.0
        total_actual = float(_clean(leaves["actual"]).sum()) if len(leaves) else 0.0
    if len(leaves) == 0 or not dims:
        return LocalizationResult([], total_expected, total_actual, 0.0, [])
    cube = _build_cube(leaves, dims, is_ratio)
    sizes = [len(lv) for lv in cube.levels]
    if is_ratio:
        picked = _concentration_search(cube, cube.size, sizes, max_elements)
        covered = np.zeros(len(cube.f), dtype=bool)
        for fd in picked:
            covered |= _element_mask(cube, fd.cols, fd.codes)
        return _result(cube, dims, picked, [], ~covered, total_expected, total_actual)
    dev = _deviation(cube.f, cube.a)
    cutoff = _cutoff(dev)
    anomaly_up = cutoff > 0 or (cutoff == 0 and np.sum(cube.ep) >= 0)
    part = (dev > cutoff) if anomaly_up else (dev < cutoff)
    weight = np.abs(cutoff - dev)
    weight[(cube.f == 0) & (cube.a == 0)] = 0.0
    weight = np.where(part, np.abs(dev), weight)
    weight = np.minimum(weight, 1.0)
    ep_signed = cube.ep if anomaly_up else -cube.ep
    anomaly_total = float(ep_signed[part].sum())
    if anomaly_total <= 0:
        return LocalizationResult([], total_expected, total_actual, 0.0, [])
    ep_floor = _SHARE_FLOOR * anomaly_total

    alive = np.ones(len(cube.f), dtype=bool)
    chosen: list[_Found] = []
    runners: list[_Found] = []
    while len(chosen) < max_elements:
        if float(ep_signed[alive & part].sum()) < ep_floor:
            break
        pick = None
        for layer in range(1, len(dims) + 1):
            found = _search_layer(cube, alive, part, weight, dev, ep_signed, layer, ep_floor, sizes)
            if found:
                pick = found[0]
                if not chosen:
                    runners = found[1 : 1 + _N_CANDIDATES]
                break
        if pick is None:
            break
        chosen.append(pick)
        alive &= ~_element_mask(cube, pick.cols, pick.codes)

    return _result(cube, dims, chosen, runners, alive, total_expected, total_actual)


def _result(
    cube: _Cube,
    dims: list[str],
    chosen: list[_Found],
    runners: list[_Found],
    alive: np.ndarray,
    total_expected: float,
    total_actual: float,
) -> LocalizationResult:
    total_change = float(cube.ep.sum())

    def element(fd: _Found) -> RootCauseElement:
        mask = _element_mask(cube, fd.cols, fd.codes)
        exp_v = float(cube.exp_report[mask].sum())
        act_v = float(cube.act_report[mask].sum())
        change = float(cube.ep[mask].sum())
        return RootCauseElement(
            filters={
                dims[c]: str(cube.levels[c][v]) for c, v in zip(fd.cols, fd.codes, strict=True)
            },
            expected=exp_v,
            actual=act_v,
            change_pct=100.0 * (act_v - exp_v) / abs(exp_v) if exp_v != 0 else None,
            share_of_change=change / total_change if total_change != 0 else 0.0,
            score=fd.risk,
            layer=len(fd.cols),
        )

    explained = float(cube.ep[~alive].sum()) / total_change if total_change != 0 else 0.0
    return LocalizationResult(
        [element(fd) for fd in chosen],
        total_expected,
        total_actual,
        explained,
        [element(fd) for fd in runners],
    )
