"""From a baseline-vs-anomaly breakdown to minimal, exact root-cause segments.

The segments are ``rca.localize``'s elements — the localizer ``benchmarks/rca_benchmark.py``
measures — over the leaf table of the stable dimensions, its baseline rescaled by what most of
the data did (growth, season). A *migrating* dimension (app versions rolling out) is not
searched: it only adds to a segment the value that replaced the others in it during the anomaly.
Elements moving against the anomaly's direction are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from ..warehouse.types import Breakdown
from .rca import localize

REPLACE_SHARE = 0.7  # a value holding this much of an element's traffic after the change …
REPLACE_GROWTH = 2.0
NEW_VALUE_SHARE = 0.01  # … having grown at least this much relative to before, replaced the others
MISSING_SHARE = 0.5  # a value missing this much of an element's lost traffic …
MISSING_DEPARTURE = 0.2  # … departing this much from its expected traffic, twice the rest's


@dataclass(frozen=True)
class Segment:
    filters: dict[str, str]
    change_pct: float | None
    share_of_change: float | None
    score: float


@dataclass(frozen=True)
class Localization:
    elements: list[Segment]
    explained_share: float
    rest_change_pct: float | None


def dimension_concentration(bd: Breakdown, *, ratio: bool) -> float:
    """Total-variation distance between where the change went and where the traffic was.

    0 when every value moved in proportion to its size; near 1 when one small value holds all
    of the change.
    """
    if not bd.rows:
        return 0.0
    contrib = np.array([r.contribution for r in bd.rows], dtype=float)
    size = np.array([r.before_den if ratio else r.before for r in bd.rows], dtype=float)
    size = np.clip(size, 0.0, None)
    total = float(contrib.sum())
    if total == 0 or size.sum() <= 0:
        return 0.0
    share = contrib / total
    base = size / size.sum()
    return float(min(1.0, 0.5 * np.abs(share - base).sum()))


def migration(bd: Breakdown, *, ratio: bool) -> float:
    """Share of the traffic that moved from some values to others between the two windows.

    High for a dimension whose values replace each other over time (app versions rolling out),
    near zero for stable attributes even when one of their values drops or spikes.
    """
    before = np.array([r.before_den if ratio else r.before for r in bd.rows], dtype=float)
    after = np.array([r.after_den if ratio else r.after for r in bd.rows], dtype=float)
    total = float(before.sum())
    if total <= 0:
        return 0.0
    g = _weighted_median(
        np.where(before > 0, after / np.where(before > 0, before, 1), np.nan), before
    )
    delta = after - g * before
    moved = min(float(delta[delta > 0].sum()), float(-delta[delta < 0].sum())) / total
    # a value that barely existed before and now carries real traffic (a new version)
    new = (before <= NEW_VALUE_SHARE * total) & (after >= 2 * NEW_VALUE_SHARE * float(after.sum()))
    return max(moved, 1.0 if new.any() else 0.0)


def _leaves(bd: Breakdown, dims: list[str]) -> pd.DataFrame:
    rows = []
    for r in bd.rows:
        rows.append(
            {
                **{d: r.segment[d] for d in dims},
                "expected": r.before,
                "actual": r.after,
                "expected_num": r.before_num,
                "actual_num": r.after_num,
                "expected_den": r.before_den,
                "actual_den": r.after_den,
                "contribution": r.contribution,
            }
        )
    return pd.DataFrame(rows)


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    ok = np.isfinite(values) & (weights > 0)
    if not ok.any():
        return 1.0
    v, w = values[ok], weights[ok]
    order = np.argsort(v)
    cum = np.cumsum(w[order])
    return float(v[order][np.searchsorted(cum, cum[-1] / 2.0)])


def _without_drift(df: pd.DataFrame, ratio: bool, dims: list[str]) -> pd.DataFrame:
    """Rescale the baseline by the typical segment's own change (growth, season), so that only
    departures from what most of the data did count as change. Segments are the combinations
    of the stable ``dims`` (migrating dimensions would blur the typical change)."""
    out = df.copy()
    agg = df.groupby(dims)[
        ["expected", "actual", "expected_num", "actual_num", "expected_den", "actual_den"]
    ].sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        if ratio:
            rb = agg["expected_num"] / agg["expected_den"]
            ra = agg["actual_num"] / agg["actual_den"]
            g = _weighted_median((ra / rb).to_numpy(dtype=float), agg["actual_den"].to_numpy(float))
            out["expected_num"] = out["expected_num"] * g
            # each leaf is held to its stable segment's expected ratio (a leaf that did not
            # exist before, like a new app version, inherits it)
            grp = (rb * g).rename("_r").reset_index()
            exp_ratio = out[dims].merge(grp, on=dims, how="left")["_r"].to_numpy(dtype=float)
            exp_ratio = np.where(np.isfinite(exp_ratio), exp_ratio, 0.0)
            total_den = float(out["actual_den"].sum()) or 1.0
            out["contribution"] = (out["actual_num"] - exp_ratio * out["actual_den"]) / total_den
        else:
            g = _weighted_median(
                (agg["actual"] / agg["expected"]).to_numpy(dtype=float),
                agg["expected"].to_numpy(dtype=float),
            )
            out["expected"] = out["expected"] * g
            out["expected_num"] = out["expected"]
            out["contribution"] = out["actual"] - out["expected"]
    return out


class _Leaves:
    """Aggregates of the leaf table over partial assignments."""

    def __init__(self, df: pd.DataFrame, ratio: bool, dims: list[str]) -> None:
        self.df = _without_drift(df, ratio, dims)
        self.ratio = ratio
        self.dims = dims
        self.total = float(self.df["contribution"].sum()) if len(df) else 0.0

    def directional_total(self, direction: str | None) -> float:
        """The change in the anomaly's direction (the drop of the segments that dropped…),
        over the stable dimensions' segments."""
        c = self.df.groupby(self.dims)["contribution"].sum()
        sign = {"drop": -1.0, "spike": 1.0}.get(direction or "", float(np.sign(self.total)) or 1.0)
        return float(c[np.sign(c) == sign].sum())

    def mask(self, filters: dict[str, str]) -> np.ndarray:
        m = np.ones(len(self.df), dtype=bool)
        for k, v in filters.items():
            m &= (self.df[k] == v).to_numpy()
        return m

    def stats(self, m: np.ndarray) -> tuple[float, float, float]:
        """(size before, relative change, contribution) of the leaves in ``m``."""
        part = self.df[m]
        contrib = float(part["contribution"].sum())
        if self.ratio:
            en, ed = part["expected_num"].sum(), part["expected_den"].sum()
            an, ad = part["actual_num"].sum(), part["actual_den"].sum()
            before = en / ed if ed else 0.0
            after = an / ad if ad else 0.0
            size = float(ed)
        else:
            before, after = float(part["expected"].sum()), float(part["actual"].sum())
            size = before
        rel = (after / before - 1.0) if before else (np.inf if after else 0.0)
        return size, float(rel), contrib

    def size_column(self) -> np.ndarray:
        """Each leaf's size before the change (its denominator for a ratio)."""
        col = "expected_den" if self.ratio else "expected"
        return np.clip(self.df[col].to_numpy(dtype=float), 0.0, None)

    def traffic(self, m: np.ndarray) -> tuple[float, float]:
        part = self.df[m]
        if self.ratio:
            return float(part["expected_den"].sum()), float(part["actual_den"].sum())
        return float(part["expected"].sum()), float(part["actual"].sum())


def _replacing_value(
    lv: _Leaves, filters: dict[str, str], dims: list[str]
) -> tuple[str, str] | None:
    """A value that took over the element's traffic during the anomaly (e.g. a new version)."""
    m = lv.mask(filters)
    before, after = lv.traffic(m)
    if before <= 0 or after <= 0:
        return None
    best: tuple[float, str, str] | None = None
    for d in dims:
        if d in filters:
            continue
        for v in lv.df.loc[m, d].unique():
            b, a = lv.traffic(m & (lv.df[d] == v).to_numpy())
            share_after, share_before = a / after, b / before
            replaced = share_after >= REPLACE_SHARE and share_after >= REPLACE_GROWTH * share_before
            if replaced and (best is None or share_after > best[0]):
                best = (share_after, d, str(v))
    return None if best is None else (best[1], best[2])


def localize_segments(
    bd: Breakdown,
    dims: list[str],
    *,
    ratio: bool,
    direction: str | None = None,
    migrating: list[str] | None = None,
) -> Localization:
    """Minimal, exact root-cause segments of the change in ``bd`` (most explanatory first).

    ``dims`` are searched; ``migrating`` dimensions (also in ``bd``) are only used to refine a
    segment with the value that replaced the others in it (e.g. the app version rolled out).
    """
    moving = [d for d in (migrating or []) if d not in dims]
    all_dims = [*dims, *moving]
    df = _leaves(bd, all_dims)
    if df.empty or not dims:
        return Localization([], 0.0, None)
    lv = _Leaves(df, ratio, dims)
    nums = (
        ["expected_num", "actual_num", "expected_den", "actual_den"]
        if ratio
        else ["expected", "actual"]
    )
    total = lv.directional_total(direction)
    # the segments are rca.localize's elements over the stable dimensions (the localizer the
    # benchmark measures); a migrating dimension only names the value that replaced the others
    search = lv.df.groupby(dims, as_index=False)[nums].sum()
    found: list[tuple[dict[str, str], dict[str, str]]] = []  # (segment, its stable part)
    for element in localize(search, dims, ratio=ratio).elements:
        stable = dict(element.filters)
        f = dict(stable)
        for _ in range(len(moving)):
            extra = _replacing_value(lv, f, moving)
            if extra is None:
                break
            f = {**f, extra[0]: extra[1]}
        found.append(({d: f[d] for d in all_dims if d in f}, stable))
    elements: list[Segment] = []
    covered = np.zeros(len(df), dtype=bool)
    for f, stable in found:
        # a replacing value's own leaves only grew into place: measure on the stable part
        m = lv.mask(stable)
        _, rel, contrib = lv.stats(m)
        share = min(1.0, contrib / total) if total else 0.0
        if direction in ("drop", "spike") and np.sign(contrib) != (
            -1 if direction == "drop" else 1
        ):
            continue
        covered |= m
        score = float(min(1.0, max(0.0, share)))
        elements.append(Segment(f, None if not np.isfinite(rel) else 100 * rel, share, score))
    explained = float(min(1.0, lv.df.loc[covered, "contribution"].sum() / total)) if total else 0.0
    rest = ~covered
    rest_rel = lv.stats(rest)[1] if rest.any() else None
    return Localization(
        elements,
        explained,
        None if rest_rel is None or not np.isfinite(rest_rel) else 100 * rest_rel,
    )


@dataclass(frozen=True)
class MissingValue:
    """A migrating dimension's value whose traffic alone went missing (or came in excess)."""

    value: str
    expected: float  # its traffic over the window expected from its rollout
    observed: float


@dataclass(frozen=True)
class _Rollout:
    """A segment's traffic per value over an anomaly window, and what its rollout gave each."""

    names: list[str]
    expected: np.ndarray  # value x window day
    observed: np.ndarray
    gaining: np.ndarray  # values whose share grew from the day before to the day after
    moved: float  # the segment's traffic over the window less the same weekdays before it


def _rollout(
    days: list[date], by_value: dict[str, list[float]], window: tuple[date, date]
) -> _Rollout | None:
    """Each value's expected traffic on a window day: its share of the segment on the last day
    before the window carried linearly to its share on the first day after it, applied to the
    segment's traffic on the same weekday before the window. None without a day on either side
    of the window (a rollout's pace is then not known)."""
    names = sorted(by_value)
    if not names:
        return None
    x = np.array([by_value[v] for v in names], dtype=float)
    total = x.sum(axis=0)
    idx = np.arange(len(days))
    inside = np.array([window[0] <= d <= window[1] for d in days], dtype=bool)
    if not inside.any():
        return None
    w0, w1 = int(idx[inside][0]), int(idx[inside][-1])
    pre = [i for i in range(w0) if total[i] > 0]
    post = [i for i in range(w1 + 1, len(days)) if total[i] > 0]
    if not pre or not post:
        return None
    p, q = pre[-1], post[0]
    win = idx[inside]
    week = np.array([next((total[j] for j in range(i - 7, -1, -7) if j < w0), np.nan) for i in win])
    if not np.isfinite(week).all():
        return None
    s_pre, s_post = x[:, p] / total[p], x[:, q] / total[q]
    frac = (win - p) / (q - p)
    expected = (s_pre[:, None] + (s_post - s_pre)[:, None] * frac[None, :]) * week[None, :]
    return _Rollout(names, expected, x[:, win], s_post > s_pre, float((total[win] - week).sum()))


def missing_value(
    days: list[date],
    by_value: dict[str, list[float]],
    window: tuple[date, date],
    *,
    direction: str | None,
) -> MissingValue | None:
    """The value of a migrating dimension whose traffic alone went missing from a segment.

    ``by_value`` is the segment's daily traffic per value (e.g. users per app version). During a
    rollout a value's share of the segment moves by itself, so the change is judged against
    like: what the rollout gave each value (see :func:`_rollout`). A value gaining share over
    the window (or all of them together — a release and its hotfix —, named by the one present
    in the window) is returned when it departed from its expected traffic in the anomaly's
    direction at least ``MISSING_DEPARTURE`` and twice as much as the rest of the segment, and
    its missing traffic is at least ``MISSING_SHARE`` of what the segment lost.
    """
    r = _rollout(days, by_value, window)
    if r is None:
        return None
    sign = {"drop": -1.0, "spike": 1.0}.get(direction or "", 1.0 if r.moved > 0 else -1.0)
    lost = sign * r.moved
    if lost <= 0:
        return None
    # only values gaining share can be judged: a rollout's adoption is concave, so the line
    # under-states what a gaining value should have had and over-states a losing one's
    candidates = [np.eye(len(r.names), dtype=bool)[k] for k in np.flatnonzero(r.gaining)]
    if r.gaining.sum() > 1:
        candidates.append(r.gaining)
    best: tuple[float, MissingValue] | None = None
    for group in candidates:
        exp_g, obs_g = float(r.expected[group].sum()), float(r.observed[group].sum())
        exp_r, obs_r = float(r.expected[~group].sum()), float(r.observed[~group].sum())
        if exp_g <= 0 or obs_g <= 0:
            continue  # a value absent from the window is not what went missing in it
        away = sign * (obs_g / exp_g - 1.0)
        rest = sign * (obs_r / exp_r - 1.0) if exp_r > 0 else 0.0
        missing = sign * (obs_g - exp_g)
        if away >= MISSING_DEPARTURE and rest < 0.5 * away and missing >= MISSING_SHARE * lost:
            present = r.observed[group].sum(axis=1)
            name = r.names[int(np.flatnonzero(group)[np.argmax(present)])]
            if best is None or missing > best[0]:
                best = (missing, MissingValue(name, exp_g, obs_g))
    return None if best is None else best[1]


def rollout_expectation(
    days: list[date], by_value: dict[str, list[float]], window: tuple[date, date], value: str
) -> tuple[list[float], list[float]] | None:
    """(expected, observed) daily traffic of ``value`` over the window, the expected from its
    rollout (see :func:`_rollout`): a value that did not exist before has no "before" to compare
    with. A value gaining share with others (a release and its hotfix) is read with them."""
    r = _rollout(days, by_value, window)
    if r is None or value not in r.names:
        return None
    k = r.names.index(value)
    group = r.gaining if r.gaining[k] and r.gaining.sum() > 1 else np.arange(len(r.names)) == k
    return r.expected[group].sum(axis=0).tolist(), r.observed[group].sum(axis=0).tolist()
