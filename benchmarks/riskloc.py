"""RiskLoc (Kalander 2022, "RiskLoc: Localization of Multi-dimensional Root Causes by Weighted
Risk"), implemented from the paper as the benchmark's reference baseline, with its default
parameters (risk threshold 0.5, explanatory-power threshold 2 %, five outliers removed on each
side when the cutoff is set, element pruning on layer 1).

Steps, as the paper describes them:

1. Deviation score of each leaf, d = 2 (f − a) / (f + a). The cutoff is minus the smaller (in
   absolute value) of the two extremes of the distinct scores once the 5 most extreme of each
   side are dropped; leaves beyond it (on the side away from 0) form the abnormal partition.
2. Weights: abnormal leaves weigh |d|, normal ones |cutoff − d| (0 when a = f = 0), capped at 1.
3. Explanatory power ep = (a − f) / (A − F) (derived measures: the ratio form of the paper),
   negated if the abnormal partition's sum is negative; elements need ep above 2 % of it.
4. Layer by layer, the element with the highest ep whose risk = high-risk − low-risk ≥ 0.5 is
   the next root cause: high-risk = abnormal weight / (abnormal weight + normal weight + 1);
   low-risk = mean |d| after rescaling the element's forecasts by its actual/forecast ratio,
   over its mean |d| (ripple consistency). Its leaves are removed and the search repeats
   while the abnormal partition keeps enough explanatory power.

Same call as ``core.rca.localize`` so the benchmark runs both side by side. Vectorised with
``np.bincount`` over every cuboid.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from metric_anomaly_investigator.core.rca import LocalizationResult, RootCauseElement

RISK_THRESHOLD = 0.5
PEP_THRESHOLD = 0.02
N_REMOVE = 5
RATIO_COLUMNS = ("expected_num", "actual_num", "expected_den", "actual_den")


def _num(col: pd.Series) -> np.ndarray:
    arr = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
    return np.where(np.isfinite(arr), arr, 0.0)


def _measures(leaves: pd.DataFrame, ratio: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Forecast, actual (the values the deviation is read on) and explanatory power."""
    if not ratio:
        f, a = _num(leaves["expected"]), _num(leaves["actual"])
        change = a.sum() - f.sum()
        ep = (a - f) / change if change != 0 else np.zeros_like(a)
        return f, a, ep
    fa, aa = _num(leaves["expected_num"]), _num(leaves["actual_num"])
    fb, ab = _num(leaves["expected_den"]), _num(leaves["actual_den"])
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(fb != 0, fa / np.where(fb != 0, fb, 1.0), 0.0)
        a = np.where(ab != 0, aa / np.where(ab != 0, ab, 1.0), 0.0)
    big_fa, big_fb = fa.sum(), fb.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        ep = ((aa - fa) * big_fb - (ab - fb) * big_fa) / (big_fb * (big_fb + ab - fb))
    ep = np.where(np.isfinite(ep), ep, 0.0)
    total = ep.sum()
    return f, a, (ep / total if total != 0 else np.zeros_like(ep))


def _cutoff(dev: np.ndarray) -> float:
    distinct = np.unique(dev)
    k = min(N_REMOVE, len(distinct) - 1)
    low, high = float(distinct[k]), float(distinct[len(distinct) - 1 - k])
    return -min(low, high, key=abs)


def _keys(codes: np.ndarray, cols: tuple[int, ...], sizes: list[int]) -> np.ndarray:
    key = np.zeros(len(codes), dtype=np.int64)
    for c in cols:
        key = key * sizes[c] + codes[:, c]
    return key


def localize(
    leaves: pd.DataFrame,
    dimensions: Sequence[str],
    *,
    ratio: bool | None = None,
    max_elements: int = 50,
) -> LocalizationResult:
    """RiskLoc's root-cause set for ``leaves`` (contract 4), highest explanatory power first."""
    dims = [d for d in dimensions if d in leaves.columns]
    is_ratio = all(c in leaves.columns for c in RATIO_COLUMNS) if ratio is None else ratio
    if len(leaves) == 0 or not dims:
        return LocalizationResult([], 0.0, 0.0, 0.0, [])
    f, a, ep = _measures(leaves, is_ratio)
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = np.where(f + a != 0, 2.0 * (f - a) / np.where(f + a != 0, f + a, 1.0), 0.0)
    cutoff = _cutoff(dev)
    right = cutoff > 0 or (cutoff == 0 and math.copysign(1.0, cutoff) > 0)
    part = dev > cutoff if right else dev < cutoff
    weight = np.abs(cutoff - dev)
    weight[(a == 0) & (f == 0)] = 0.0
    weight = np.minimum(np.where(part, np.abs(dev), weight), 1.0)
    if ep[part].sum() < 0:
        ep = -ep
    threshold = float(ep[part].sum()) * PEP_THRESHOLD
    ep_z = np.maximum(ep, 0.0)

    codes = np.empty((len(leaves), len(dims)), dtype=np.int64)
    levels: list[np.ndarray] = []
    for j, d in enumerate(dims):
        uniq, codes[:, j] = np.unique(leaves[d].astype(str).to_numpy(), return_inverse=True)
        levels.append(uniq)
    sizes = [len(lv) for lv in levels]
    nonzero = (a != 0) & (f != 0)
    alive = np.ones(len(f), dtype=bool)
    pruned = [np.zeros(s, dtype=bool) for s in sizes]  # layer-1 elements pruned per dimension
    found: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    while len(found) < max_elements and float(ep[alive & part].sum()) >= threshold:
        best: tuple[float, tuple[int, ...], tuple[int, ...]] | None = None
        for layer in range(1, len(dims) + 1):
            for cols in itertools.combinations(range(len(dims)), layer):
                use = alive.copy()
                for c in cols:
                    use &= ~pruned[c][codes[:, c]]
                idx = np.flatnonzero(use)
                if idx.size == 0:
                    continue
                key = _keys(codes[idx], cols, sizes)
                uniq, g = np.unique(key, return_inverse=True)
                m = len(uniq)
                ep_g = np.bincount(g, weights=ep[idx], minlength=m)
                n_part = np.bincount(g, weights=part[idx].astype(float), minlength=m)
                if layer == 1:
                    epz_g = np.bincount(g, weights=ep_z[idx], minlength=m)
                    drop = (epz_g < threshold) | (n_part == 0)
                    pruned[cols[0]][uniq[drop]] = True
                floor = threshold if best is None else best[0]
                cand = (n_part > 0) & (ep_g > floor)
                if not cand.any():
                    continue
                risk = _risk(g, m, idx, part, weight, dev, f, a, nonzero)
                ok = np.flatnonzero(cand & (risk >= RISK_THRESHOLD))
                if ok.size:
                    i = int(ok[np.argmax(ep_g[ok])])
                    best = (float(ep_g[i]), cols, _decode(int(uniq[i]), cols, sizes))
            if best is not None:
                break
        if best is None:
            break
        _, cols, vals = best
        found.append((cols, vals))
        mask = np.ones(len(f), dtype=bool)
        for c, v in zip(cols, vals, strict=True):
            mask &= codes[:, c] == v
        alive &= ~mask
    elements = [
        RootCauseElement(
            filters={dims[c]: str(levels[c][v]) for c, v in zip(cols, vals, strict=True)},
            expected=0.0,
            actual=0.0,
            change_pct=None,
            share_of_change=0.0,
            score=0.0,
            layer=len(cols),
        )
        for cols, vals in found
    ]
    return LocalizationResult(elements, float(f.sum()), float(a.sum()), 0.0, [])


def _risk(
    g: np.ndarray,
    m: int,
    idx: np.ndarray,
    part: np.ndarray,
    weight: np.ndarray,
    dev: np.ndarray,
    f: np.ndarray,
    a: np.ndarray,
    nonzero: np.ndarray,
) -> np.ndarray:
    p, w = part[idx], weight[idx]
    anomalous = np.bincount(g, weights=w * p, minlength=m)
    normal = np.bincount(g, weights=w * ~p, minlength=m) + 1.0
    high = anomalous / (anomalous + normal)
    nz = nonzero[idx]
    fi, ai = np.where(nz, f[idx], 0.0), np.where(nz, a[idx], 0.0)
    sf, sa = np.bincount(g, weights=fi, minlength=m), np.bincount(g, weights=ai, minlength=m)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(sf != 0, sa / np.where(sf != 0, sf, 1.0), 0.0)
        adj = fi * scale[g]
        d = np.where(nz & (adj + ai != 0), 2.0 * (adj - ai) / (adj + ai), 0.0)
    count = np.bincount(g, weights=nz.astype(float), minlength=m)
    w1 = np.bincount(g, weights=np.abs(d), minlength=m)
    w2 = np.bincount(g, weights=np.where(nz, np.abs(dev[idx]), 0.0), minlength=m)
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where((count > 0) & (w2 != 0), w1 / np.where(w2 != 0, w2, 1.0), 0.0)
    return high - low


def _decode(key: int, cols: tuple[int, ...], sizes: list[int]) -> tuple[int, ...]:
    out = []
    for c in reversed(cols):
        out.append(key % sizes[c])
        key //= sizes[c]
    return tuple(out[::-1])
