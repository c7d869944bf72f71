"""Multi-dimensional root-cause localization.

Given leaves (one row per combination of dimension values) with an expected and an actual value
— or numerator/denominator pairs for a ratio measure — find the smallest set of elements
(partial assignments such as ``{platform: android, country: IN}``) that explains the change.

Method (a weighted-risk search in the spirit of RiskLoc, with ripple-consistency and
significance terms, vectorised over every cuboid with ``np.bincount``; each cuboid's grouping
is computed once per cube):

1. Every leaf gets a deviation score ``2 (a - f) / (|a| + |f|)``. The anomaly side is the tail
   that is clearly heavier (its extreme at least twice the other's). The noise band is the
   extreme of the other tail (a few outliers dropped on big cubes only, counted over all leaves
   so ties and small cubes are handled); leaves beyond it on the anomaly side form the abnormal
   partition, weighted by how far beyond the band they lie (full weight 0.75 band widths past
   its edge). When the tails are alike the anomaly hides in the noise: both directions are
   searched and the one whose elements explain more of the change wins.
2. Layer by layer (1 dimension fixed, then 2, …), every element of every cuboid is scored:
   *purity* = abnormal weight / (abnormal + normal weight + 1) minus *ripple inconsistency*
   (how badly rescaling the element's forecast by its own actual/forecast ratio fits its
   leaves, relative to their raw deviation: a true root cause moves its leaves together).
   The first layer that has elements with purity - inconsistency ≥ 0.5 and a positive share of
   the change yields its most explanatory one. An element must also carry 2 % of the abnormal
   partition's change (RiskLoc's explanatory-power floor) unless the evidence is plain without
   it: several leaves far out (score ≥ 0.75), or a leaf at least 2× off its forecast and 2.75
   noise bands out. A single noise leaf just past the band, common when forecast errors are
   relative and the lower tail is long, is not a cause.
3. The pick is widened to a parent while the parent's other live leaves are abnormal as well
   (purity ≥ 0.5, at least half of them abnormal, moving at least a quarter as much relative
   to their forecast): a cause is reported at the level where it acts, not through one of its
   children — and two sibling causes are not merged into their parent.
4. The element's leaves are removed and the search repeats until no abnormal change is left.
5. When no element stands out leaf by leaf, elements are tested as a whole (``_Scan``): the
   z-score of an element's residual, Σ (a - f) / sqrt(φ Σ v), with a robust noise scale φ (read
   at the lower quartile of the leaves' squared standardized residuals, so that it holds when
   most leaves move) and a variance unit v per leaf (count-like, as for ratio measures below:
   forecast error relative to the leaf plus sampling noise that dominates on leaves of a few
   users). Many leaves that each stay inside the noise band add up; normal leaves dilute the
   score, so a homogeneous shift scores highest where it acts. The yardstick is the strongest
   element of the same layer moving the other way (one far-off leaf does not mask a whole
   dimension value); an element must exceed it by half (the strongest of many noise elements
   exceeds it half the time).

Ratio measures (num/den) use the scan alone, in numerator units: the forecast of a leaf is its
expected ratio applied to its actual denominator (a traffic shift that keeps a segment's rate
is no cause; extra traffic that does not convert is). Leaves are count-like, so the variance
unit is f + f² / (t · median f): sampling noise plus forecast error growing with the leaf, t
chosen so that small and large leaves have alike standardized residuals. The anomaly's
direction is the side holding the most significant element (noise on big leaves can move the
total the other way). An element must carry a tenth of the change (Adtributor's per-element
explanatory power), exceed the yardstick by a quarter, and is widened to a parent whose other
live leaves are significantly abnormal and move alike; after the first element, the leaves left
must still move as a whole. An element 2.5 yardsticks out stands on its own: 7 % of the change
is enough and the stop rule is waived (a small second cause next to a big one).
Elements are listed by share of the change, largest first.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

_RATIO_COLUMNS = ("expected_num", "actual_num", "expected_den", "actual_den")
_N_REMOVE = 5  # outliers dropped on each side of the noise band (cubes ≥ 5,000 leaves)
_LEAVES_PER_REMOVED = 1000  # one outlier dropped per this many leaves (none below 1,000)
_TAIL_RATIO = 2.0  # a tail whose extreme is this many times the other's holds the anomaly
_FULL_WEIGHT_BANDS = 0.75  # band widths beyond the band where an abnormal leaf weighs 1
_RISK_THRESHOLD = 0.5
_RISK_TOL = 1e-9  # float slack: a single leaf at full weight scores exactly the threshold
_N_CANDIDATES = 5
_DENSE_KEYS_PER_LEAF = 8  # cuboids with at most this many possible keys per leaf skip sorting
_NOISE_QUANTILE = 0.25  # the scan's noise scale is read at this quantile of squared residuals
_CHI2_QUANTILE = 0.1015310  # ...and divided by chi-square(1)'s: robust when most leaves move
_NOISELESS = 1e-6  # the noise scale is at least this share of the mean squared residual
_MIN_ELEMENT_SHARE = 0.1  # share of the change a scanned element must carry (Adtributor's TEEP)
_Z_SIGNIFICANT = 3.0  # floor of the scan's noise yardstick
_SCAN_MARGIN = 1.5  # additive fallback scan: an element's z must be this many noise yardsticks
_RATIO_MARGIN = 1.25  # ratio scan: the same, with the noise yardstick of count-like leaves
_RATIO_ALIVE = 0.3  # ratio scan: the live leaves as a whole must still reach this many
_PLAIN_BANDS = 2.5  # ratio scan: an element this many yardsticks out needs no share floor...
_PLAIN_SHARE = 0.07  # ...beyond this share of the change (set on the tuning splits)
_MIN_PART_SHARE = 0.02  # share of the abnormal partition's change an element carries (RiskLoc)...
_SMALL_RISK = 0.75  # ...unless it is this pure (several leaves far out)...
_FAR_DEV = 2 / 3  # ...or holds a leaf this far out (actual ≥ 2× or ≤ 1/2 of its forecast)
_FAR_BANDS = 2.75  # ...and this many noise bands out
_SIB_REL = 0.25  # widening: siblings' relative change vs the pick's, at least
_SIB_FRAC = 0.5  # widening: share of the siblings' live leaves that are abnormal, at least


@dataclass(frozen=True)
class RootCauseElement:
    """One element of the root-cause set: a partial assignment of dimension values."""

    filters: dict[str, str]
    expected: float
    actual: float
    change_pct: float | None  # (actual - expected) / |expected| in %, None if that overflows
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
    cuboids: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def _is_ratio(leaves: pd.DataFrame, ratio: bool | None) -> bool:
    if ratio is not None:
        return ratio
    return all(c in leaves.columns for c in _RATIO_COLUMNS)


def _numbers(column: pd.Series) -> np.ndarray:
    """A measure column as floats (text that is no number reads as NaN)."""
    if pd.api.types.is_numeric_dtype(column):
        return column.to_numpy(dtype=float, na_value=np.nan)
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)


def _build_cube(
    columns: list[pd.Series], order: np.ndarray, nums: dict[str, np.ndarray], ratio: bool
) -> _Cube:
    """The cube of the leaves taken in ``order`` (the measures in ``nums`` already are)."""
    if ratio:
        en, an = nums["expected_num"], nums["actual_num"]
        ed, ad = nums["expected_den"], nums["actual_den"]
        total_ratio = en.sum() / ed.sum() if ed.sum() != 0 else 0.0
        # forecast: the expected ratio applied to the actual traffic, in numerator units (as
        # en · ad/ed, exactly en where the traffic did not move)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            f = np.where(ed != 0, en * (ad / np.where(ed != 0, ed, 1.0)), total_ratio * ad)
        a = an
    else:
        f, a = nums["expected"], nums["actual"]
    codes = np.empty((len(f), len(columns)), dtype=np.int64)
    levels: list[np.ndarray] = []
    for j, column in enumerate(columns):
        # codes in the sorted order of the values' text (missing values read as "")
        inv, uniq = pd.factorize(column, use_na_sentinel=False)
        text = np.array(["" if pd.isna(v) else str(v) for v in uniq], dtype=str)
        names, remap = np.unique(text, return_inverse=True)
        codes[:, j] = remap[inv[order]]
        levels.append(names)
    return _Cube(codes, levels, f, a, a - f, f, a)


def _deviation(f: np.ndarray, a: np.ndarray) -> np.ndarray:
    den = np.abs(f) + np.abs(a)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, 2.0 * (a - f) / np.where(den > 0, den, 1.0), 0.0)


def _cutoffs(dev: np.ndarray) -> tuple[float, float, bool | None]:
    """Signed edges of the noise band for an upward and for a downward anomaly, and the
    anomaly's direction when one tail is clearly heavier (None when the tails are alike).

    Extremes are read from all sorted deviations (not distinct values: many leaves can share
    one, e.g. every emptied leaf sits at -2), dropping a few outliers on big cubes only, so a
    single abnormal leaf of a small cube is never discarded as an outlier.
    """
    srt = np.sort(dev)
    if len(srt) == 0:
        return 0.0, 0.0, None
    k = min(_N_REMOVE, len(srt) // _LEAVES_PER_REMOVED)
    low, high = float(srt[k]), float(srt[len(srt) - 1 - k])
    small, large = sorted((abs(low), abs(high)))
    heavier = large >= _TAIL_RATIO * small and large > 0
    return max(-low, 0.0), min(-high, 0.0), (abs(high) > abs(low)) if heavier else None


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


def _cuboid(cube: _Cube, cols: tuple[int, ...], sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Element keys of a cuboid and each leaf's element index, computed once per cube."""
    if cols not in cube.cuboids:
        key = _group_keys(cube.codes, cols, sizes)
        space = int(np.prod([sizes[c] for c in cols]))
        if space <= _DENSE_KEYS_PER_LEAF * len(key):
            # dense key space: index it directly instead of sorting
            present = np.zeros(space, dtype=bool)
            present[key] = True
            uniq = np.flatnonzero(present)
            index = np.cumsum(present) - 1
            cube.cuboids[cols] = (uniq, index[key])
        else:
            cube.cuboids[cols] = np.unique(key, return_inverse=True)
    return cube.cuboids[cols]


def _search_layer(
    cube: _Cube,
    alive: np.ndarray,
    part: np.ndarray,
    weight: np.ndarray,
    dev: np.ndarray,
    ep_signed: np.ndarray,
    layer: int,
    sizes: list[int],
    min_ep: float,
    far_dev: float,
) -> list[_Found]:
    """All elements of one layer passing the risk threshold, best (highest share) first."""
    f, a = cube.f, cube.a
    p = part & alive
    e = np.where(alive, ep_signed, 0.0)
    anom = np.where(p, weight, 0.0)
    norm = np.where(alive & ~part, weight, 0.0)
    far = (p & (np.abs(dev) >= far_dev)).astype(float)
    nonzero = alive & (f != 0) & (a != 0)
    fz_leaf, az_leaf = np.where(nonzero, f, 0.0), np.where(nonzero, a, 0.0)
    raw = np.where(nonzero, np.abs(dev), 0.0)
    found: list[_Found] = []
    for cols in itertools.combinations(range(cube.codes.shape[1]), layer):
        uniq, g = _cuboid(cube, cols, sizes)
        m = len(uniq)
        ep_g = np.bincount(g, weights=e, minlength=m)
        n_anom = np.bincount(g, weights=p, minlength=m)
        ok = (n_anom > 0) & (ep_g > 0)
        if not ok.any():
            continue
        anom_w = np.bincount(g, weights=anom, minlength=m)
        norm_w = np.bincount(g, weights=norm, minlength=m)
        high = anom_w / (anom_w + norm_w + 1.0)
        # ripple consistency: rescale forecasts by the element's own actual/forecast ratio
        fz = np.bincount(g, weights=fz_leaf, minlength=m)
        az = np.bincount(g, weights=az_leaf, minlength=m)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            scale = np.where(fz != 0, az / np.where(fz != 0, fz, 1.0), 1.0)
        resid = np.where(nonzero, np.abs(_deviation(f * scale[g], a)), 0.0)
        w1 = np.bincount(g, weights=resid, minlength=m)
        w2 = np.bincount(g, weights=raw, minlength=m)
        with np.errstate(divide="ignore", invalid="ignore"):
            low = np.where(w2 > 0, w1 / np.where(w2 > 0, w2, 1.0), 0.0)
        risk = high - low
        # a small element must be clearly pure (several leaves far out) or hold a leaf far
        # out: a single noise leaf just past the band scores at most the threshold
        n_far = np.bincount(g, weights=far, minlength=m)
        enough = (ep_g > min_ep) | (risk >= _SMALL_RISK) | (n_far > 0)
        good = np.flatnonzero(ok & enough & (risk >= _RISK_THRESHOLD - _RISK_TOL))
        for i in good:
            found.append(
                _Found(
                    cols, tuple(_decode(int(uniq[i]), cols, sizes)), float(risk[i]), float(ep_g[i])
                )
            )
    found.sort(key=lambda x: (-x.ep, -x.risk))
    return found


class _Scan:
    """Expectation-based scan over every element: an element's evidence is the z-score of its
    residual, z = Σ x / sqrt(φ Σ v) (x: change in the anomaly's direction, v: each leaf's
    variance unit, φ: a robust noise scale). Normal leaves dilute z, abnormal ones add to it,
    so a homogeneous shift scores highest at the element where it acts, and many leaves that
    each stay inside the noise add up. The noise yardstick (``band``) is the strongest element
    moving against the anomaly's direction; an element is held to its own layer's (``bands``).
    """

    def __init__(
        self,
        cube: _Cube,
        x: np.ndarray,
        var_unit: np.ndarray,
        sizes: list[int],
        alive_gamma: float = 0.0,
        margin: float = 1.0,
        plain: float = np.inf,
    ):
        self.cube, self.x, self.v = cube, x, var_unit
        self.alive_gamma, self.margin, self.plain = alive_gamma, margin, plain
        use = var_unit > 0
        with np.errstate(over="ignore"):  # subnormal variances overflow: those leaves are skipped
            ratios = x[use] ** 2 / var_unit[use]
        ratios = ratios[np.isfinite(ratios)]
        if ratios.size == 0:
            ratios = np.zeros(1)
        phi = float(np.quantile(ratios, _NOISE_QUANTILE)) / _CHI2_QUANTILE
        # noise-free leaves (most exactly on forecast): any residual is far out, to scale
        self.phi = max(phi, _NOISELESS * float(np.mean(ratios))) or 1.0
        # every element of every cuboid, one group each: a single bincount sums them all
        n_dims = cube.codes.shape[1]
        self.cols: list[tuple[int, ...]] = []
        keys, groups, owner = [], [], []
        n_groups = 0
        for layer in range(1, n_dims + 1):
            for cols in itertools.combinations(range(n_dims), layer):
                uniq, g = _cuboid(cube, cols, sizes)
                keys.append(uniq)
                groups.append(g + n_groups)
                owner.append(np.full(len(uniq), len(self.cols)))
                self.cols.append(cols)
                n_groups += len(uniq)
        self.keys, self.owner = np.concatenate(keys), np.concatenate(owner)
        self.groups, self.n_groups = np.concatenate(groups), n_groups
        self.leaf = np.tile(np.arange(len(x)), len(self.cols))
        self.sizes = sizes
        # strongest element with the anomaly (peak) and against it (the yardstick), overall and
        # per layer: the more elements a layer has, the stronger its strongest noise element
        # (groups are in layer order, so each layer is one slice)
        self.layer = np.array([len(c) for c in self.cols])[self.owner]
        starts = np.searchsorted(self.layer, np.arange(1, n_dims + 1))
        z = self._z(x, var_unit)
        finite = np.isfinite(z)
        self.peaks = np.maximum.reduceat(np.where(finite, z, -np.inf), starts)
        self.opposites = np.maximum.reduceat(np.where(finite, -z, -np.inf), starts)
        self._set_bands()

    def _set_bands(self) -> None:
        self.peak, self.opposite_max = float(self.peaks.max()), float(self.opposites.max())
        self.band = max(_Z_SIGNIFICANT, self.opposite_max)
        self.bands = np.maximum(_Z_SIGNIFICANT, self.opposites)[self.layer - 1]

    def flipped(self) -> _Scan:
        """The same scan for an anomaly in the other direction."""
        other = copy.copy(self)
        other.x = -self.x
        other.peaks, other.opposites = self.opposites, self.peaks
        other._set_bands()
        return other

    def _sums(self, per_leaf: np.ndarray) -> np.ndarray:
        """Sums of a per-leaf quantity over every element."""
        return np.bincount(self.groups, weights=per_leaf[self.leaf], minlength=self.n_groups)

    def _z(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """z-scores of every element for leaf changes ``x`` and variance units ``v``."""
        xs, vs = self._sums(x), self._sums(v)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return np.where(vs > 0, xs / np.sqrt(self.phi * np.where(vs > 0, vs, 1.0)), -np.inf)

    def zscore(self, mask: np.ndarray) -> float:
        n = float(self.v[mask].sum())
        return float(self.x[mask].sum()) / np.sqrt(self.phi * n) if n > 0 else 0.0

    def pick(
        self, alive: np.ndarray, min_change: float, plain_change: float = 0.0, first: bool = True
    ) -> _Found | None:
        """The live element with the highest significant z carrying at least ``min_change``,
        widened to a parent whose other live leaves are significantly abnormal too."""
        # a stopping rule: after the first element, what is left must still move as a whole
        # (an element ``plain`` yardsticks out needs neither, only ``plain_change``)
        moves = first or self.zscore(alive) >= self.alive_gamma * self.band
        xa = np.where(alive, self.x, 0.0)
        xs = self._sums(xa)
        z = self._z(xa, np.where(alive, self.v, 0.0))
        usual = (xs >= min_change) if moves else np.zeros(len(xs), dtype=bool)
        plain = (z >= self.plain * self.bands) & (xs >= plain_change)
        z[~(usual | plain) | (z < self.margin * self.bands)] = -np.inf
        top = float(z.max())
        if not np.isfinite(top):
            return None
        # ties (to float rounding) go to the earliest element: the lowest layer
        i = int(np.argmax(z >= top / (1 + 1e-9)))
        cols = self.cols[int(self.owner[i])]
        best = _Found(cols, tuple(_decode(int(self.keys[i]), cols, self.sizes)), top, float(xs[i]))
        while len(best.cols) > 1:
            own = _element_mask(self.cube, best.cols, best.codes)
            parent: tuple[float, tuple[int, ...], tuple[int, ...]] | None = None
            own_rel = _relative(self.cube, own & alive, self.x)
            for drop in range(len(best.cols)):
                cols = best.cols[:drop] + best.cols[drop + 1 :]
                codes = best.codes[:drop] + best.codes[drop + 1 :]
                sib = _element_mask(self.cube, cols, codes) & alive & ~own
                zs = self.zscore(sib)
                # the siblings must move like the pick (not merely hold another cause)
                alike = _relative(self.cube, sib, self.x) >= _SIB_REL * own_rel
                if zs >= self.band and alike and (parent is None or zs > parent[0]):
                    parent = (zs, cols, codes)
            if parent is None:
                break
            pm = _element_mask(self.cube, parent[1], parent[2]) & alive
            best = _Found(parent[1], parent[2], self.zscore(pm), float(self.x[pm].sum()))
        return best


_OVERDISPERSION_GRID = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, np.inf)


def _count_variance(f: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Variance unit of count-like leaves: f (sampling) plus f² / (t · median f) (forecast
    error that grows with the leaf). t is the grid value under which the standardized squared
    residuals of small and large leaves have the same median; it is a multiple of the median
    leaf, so scaling every count by c leaves the choice unchanged."""
    af = np.abs(f)
    pos = af > 0
    if pos.sum() < 8:
        return af
    mid = float(np.median(af[pos]))
    small, large = pos & (af <= mid), pos & (af > mid)
    if not small.any() or not large.any():
        return af
    grid = np.array(_OVERDISPERSION_GRID)[:, None]
    v = af * (1.0 + af / (grid * mid))  # one row per grid value
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        u = x**2 / v
    lo, hi = np.median(u[:, small], axis=1), np.median(u[:, large], axis=1)
    valid = (lo > 0) & (hi > 0)
    if not valid.any():
        return af
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.where(valid, np.abs(np.log(lo / np.where(valid, hi, 1.0))), np.inf)
    return v[int(np.argmin(gap))]


def _scan_search(cube: _Cube, sizes: list[int], max_elements: int) -> list[_Found]:
    """Ratio measures: greedy scan with count-like variance units (leaf ratios on small
    denominators are too noisy for a per-leaf partition)."""
    total = float(cube.ep.sum())
    v = _count_variance(cube.f, cube.ep)
    scan = _Scan(cube, cube.ep, v, sizes, _RATIO_ALIVE, _RATIO_MARGIN, _PLAIN_BANDS)
    # the anomaly's direction is the side holding the most significant element (the total
    # can move the other way when noise on big leaves outweighs a cause on small ones)
    if (scan.peak, total >= 0) < (scan.opposite_max, total < 0):
        scan = scan.flipped()
    alive = np.ones(len(cube.f), dtype=bool)
    chosen: list[_Found] = []
    while len(chosen) < max_elements and alive.any():
        best = scan.pick(
            alive, _MIN_ELEMENT_SHARE * abs(total), _PLAIN_SHARE * abs(total), first=not chosen
        )
        if best is None:
            break
        chosen.append(best)
        alive &= ~_element_mask(cube, best.cols, best.codes)
    return chosen


def _purity(mask: np.ndarray, part: np.ndarray, weight: np.ndarray) -> float:
    """Abnormal weight / (abnormal + normal weight + 1) of the leaves in ``mask``."""
    anomalous = float(weight[mask & part].sum())
    normal = float(weight[mask & ~part].sum())
    return anomalous / (anomalous + normal + 1.0)


def _widen(
    cube: _Cube,
    pick: _Found,
    alive: np.ndarray,
    part: np.ndarray,
    weight: np.ndarray,
    ep_signed: np.ndarray,
) -> _Found:
    """Replace ``pick`` by a parent while the parent's other live leaves are abnormal too."""
    while len(pick.cols) > 1:
        own = _element_mask(cube, pick.cols, pick.codes)
        best: tuple[float, tuple[int, ...], tuple[int, ...]] | None = None
        for drop in range(len(pick.cols)):
            cols = pick.cols[:drop] + pick.cols[drop + 1 :]
            codes = pick.codes[:drop] + pick.codes[drop + 1 :]
            siblings = _element_mask(cube, cols, codes) & alive & ~own
            if not siblings.any() or float(ep_signed[siblings].sum()) <= 0:
                continue
            purity = _purity(siblings, part, weight)
            if _relative(cube, siblings, ep_signed) < _SIB_REL * _relative(
                cube, own & alive, ep_signed
            ):
                continue  # the siblings do not move like the pick: another cause, or noise
            live = siblings & ((cube.f != 0) | (cube.a != 0))
            frac = float((live & part).sum()) / max(int(live.sum()), 1)
            if (
                purity >= _RISK_THRESHOLD
                and frac >= _SIB_FRAC
                and (best is None or purity > best[0])
            ):
                best = (purity, cols, codes)
        if best is None:
            break
        mask = _element_mask(cube, best[1], best[2]) & alive
        pick = _Found(best[1], best[2], _purity(mask, part, weight), float(ep_signed[mask].sum()))
    return pick


def _relative(cube: _Cube, mask: np.ndarray, x: np.ndarray) -> float:
    """The leaves' change ``x`` relative to their forecast."""
    f = float(np.abs(cube.f[mask]).sum())
    return float(x[mask].sum()) / f if f > 0 else 0.0


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
    raw = [_numbers(leaves[c]) for c in measures]
    order = np.lexsort(raw[::-1])
    nums = {c: np.where(np.isfinite(r), r, 0.0)[order] for c, r in zip(measures, raw, strict=True)}
    columns = [leaves[d] for d in dims]
    if is_ratio:
        den_e, den_a = float(nums["expected_den"].sum()), float(nums["actual_den"].sum())
        total_expected = float(nums["expected_num"].sum()) / den_e if den_e else 0.0
        total_actual = float(nums["actual_num"].sum()) / den_a if den_a else 0.0
    else:
        total_expected, total_actual = float(nums["expected"].sum()), float(nums["actual"].sum())
    if len(leaves) == 0 or not dims:
        return LocalizationResult([], total_expected, total_actual, 0.0, [])
    cube = _build_cube(columns, order, nums, is_ratio)
    sizes = [len(lv) for lv in cube.levels]
    if is_ratio:
        picked = _scan_search(cube, sizes, max_elements)
        covered = np.zeros(len(cube.f), dtype=bool)
        for fd in picked:
            covered |= _element_mask(cube, fd.cols, fd.codes)
        return _result(cube, dims, picked, [], ~covered, total_expected, total_actual)
    dev = _deviation(cube.f, cube.a)
    cut_up, cut_down, clear = _cutoffs(dev)
    total_up = float(np.sum(cube.ep)) >= 0
    # tails alike: the anomaly hides in the noise; both directions are searched and the one
    # whose elements explain more of the change wins (ties: the total change's sign)
    directions = [clear] if clear is not None else [total_up, not total_up]
    best: _LeafSearch | None = None
    for up in directions:
        run = _leaf_search(cube, dev, cut_up if up else cut_down, up, sizes, max_elements)
        if best is None or run.explained > best.explained:
            best = run
    assert best is not None
    return _result(cube, dims, best.chosen, best.runners, best.alive, total_expected, total_actual)


@dataclass
class _LeafSearch:
    chosen: list[_Found]
    runners: list[_Found]
    alive: np.ndarray
    explained: float  # change covered by the chosen elements, in the search's direction


def _leaf_search(
    cube: _Cube, dev: np.ndarray, cutoff: float, up: bool, sizes: list[int], max_elements: int
) -> _LeafSearch:
    """Greedy search with the abnormal partition beyond ``cutoff`` on the ``up`` side."""
    part = (dev > cutoff) if up else (dev < cutoff)
    band = abs(cutoff)
    weight = np.abs(cutoff - dev)
    weight[(cube.f == 0) & (cube.a == 0)] = 0.0
    beyond = (np.abs(dev) - band) / (_FULL_WEIGHT_BANDS * band) if band > 0 else np.ones_like(dev)
    weight = np.minimum(np.where(part, beyond, weight), 1.0)
    ep_signed = cube.ep if up else -cube.ep
    n_dims = cube.codes.shape[1]

    min_ep = _MIN_PART_SHARE * max(float(ep_signed[part].sum()), 0.0)
    far_dev = max(_FAR_DEV, _FAR_BANDS * band)
    alive = np.ones(len(cube.f), dtype=bool)
    chosen: list[_Found] = []
    runners: list[_Found] = []
    scan: _Scan | None = None
    while len(chosen) < max_elements:
        pick = None
        for layer in range(1, n_dims + 1 if float(ep_signed[alive & part].sum()) > 0 else 1):
            found = _search_layer(
                cube, alive, part, weight, dev, ep_signed, layer, sizes, min_ep, far_dev
            )
            if found:
                pick = found[0]
                if not chosen:
                    runners = found[1 : 1 + _N_CANDIDATES]
                break
        if pick is None:
            # no element stands out leaf by leaf: test elements as a whole (many leaves each
            # inside the noise band can still add up to a significant shift)
            if scan is None:
                v = _count_variance(cube.f, ep_signed)
                scan = _Scan(cube, ep_signed, v, sizes, 0.0, _SCAN_MARGIN)
            pick = scan.pick(alive, _MIN_ELEMENT_SHARE * abs(float(ep_signed.sum())))
            if pick is None:
                break
            chosen.append(pick)
            alive &= ~_element_mask(cube, pick.cols, pick.codes)
            continue
        pick = _widen(cube, pick, alive, part, weight, ep_signed)
        chosen.append(pick)
        alive &= ~_element_mask(cube, pick.cols, pick.codes)
    return _LeafSearch(chosen, runners, alive, float(ep_signed[~alive].sum()))


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
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            pct = 100.0 * (act_v - exp_v) / abs(exp_v) if exp_v != 0 else np.nan
        return RootCauseElement(
            filters={
                dims[c]: str(cube.levels[c][v]) for c, v in zip(fd.cols, fd.codes, strict=True)
            },
            expected=exp_v,
            actual=act_v,
            change_pct=float(pct) if np.isfinite(pct) else None,  # None: no expected value
            share_of_change=change / total_change if total_change != 0 else 0.0,
            score=fd.risk,
            layer=len(fd.cols),
        )

    explained = float(cube.ep[~alive].sum()) / total_change if total_change != 0 else 0.0
    # most explanatory first, whatever the order the search found them in
    ranked = sorted((element(fd) for fd in chosen), key=lambda e: -e.share_of_change)
    return LocalizationResult(
        ranked,
        total_expected,
        total_actual,
        explained,
        [element(fd) for fd in runners],
    )
