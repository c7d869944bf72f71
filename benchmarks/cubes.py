"""Seeded cube families for root-cause localization, with a tuning and a held-out split each.

A *family* fixes the ranges a case is drawn from: the dimensions and their cardinalities, the
forecast noise, how many leaves are empty, the number, layer, severity and direction of the
causes, and the measure — additive (``expected``/``actual``) or a ratio num/den whose causes
move the numerator, the denominator or both. Each case is a contract-4 leaf table plus its
labelled root-cause elements; ``case(family, split, i)`` is a pure function of its arguments.

Seeds: the tuning split of every family uses case indices 0…, the held-out split the same
indices offset by ``HELD_OUT_OFFSET`` — thresholds are calibrated on the first only.

A cause is labelled at its simplest form: when a sub-element (fewer dimensions fixed) covers
exactly the same non-empty leaves, that sub-element is the label (e.g. ``{version: 2.3}`` rather
than ``{platform: android, version: 2.3}`` when 2.3 exists only on android).
"""

from __future__ import annotations

import itertools
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

HELD_OUT_OFFSET = 100_000
SPLITS = ("tuning", "held-out")

Element = dict[str, str]


@dataclass(frozen=True)
class Family:
    """Ranges one family's cases are drawn from (each ``(lo, hi)`` is inclusive)."""

    name: str
    cardinalities: tuple[tuple[int, int], ...]  # per dimension: range of its number of values
    noise: tuple[float, float]  # relative forecast error of normal leaves (std)
    n_causes: tuple[int, int]
    layers: tuple[int, int]
    severity: tuple[float, float]  # relative change of a cause's leaves
    empty_rate: tuple[float, float] = (0.0, 0.0)  # share of leaves with no traffic at all
    measure: str = "additive"  # additive | ratio-num | ratio-den | ratio-both
    directions: tuple[int, ...] = (-1, 1)  # signs a case's causes may take (one per case)
    same_cuboid: bool = False  # B0-style: all causes of a case share one cuboid
    value_sigma: float = 1.0  # spread of leaf sizes (log-normal sigma)
    nested: float = 0.0  # chance that a dimension's values each live under one parent value


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "b0-like",
            ((6, 6), (30, 36), (10, 10), (10, 10)),
            (0.0, 0.02),
            (1, 3),
            (1, 3),
            (0.2, 0.95),
            empty_rate=(0.3, 0.4),
            directions=(-1,),
            same_cuboid=True,
            value_sigma=2.5,
        ),
        Family(
            "wide",
            ((6, 12),) * 4,
            (0.0, 0.15),
            (1, 3),
            (1, 3),
            (0.25, 0.9),
            empty_rate=(0.2, 0.2),
        ),
        Family(
            "deep",
            ((4, 7),) * 5,
            (0.02, 0.20),
            (1, 3),
            (1, 3),
            (0.25, 0.8),
            empty_rate=(0.0, 0.1),
        ),
        *(
            Family(
                f"ratio-{moved}",
                ((3, 8),) * 4,
                (0.0, 0.05),
                (1, 2),
                (1, 2),
                severity,
                empty_rate=(0.0, 0.1),
                measure=measure,
                nested=0.3,
            )
            for moved, measure, severity in (
                ("numerator", "ratio-num", (0.15, 0.6)),
                ("denominator", "ratio-den", (0.3, 1.0)),
                ("both", "ratio-both", (0.2, 0.6)),
            )
        ),
        Family(
            "mixed-3-6",
            ((3, 9), (3, 9), (3, 9), (0, 9), (0, 6), (0, 5)),
            (0.0, 0.12),
            (1, 3),
            (1, 3),
            (0.3, 0.9),
            empty_rate=(0.0, 0.25),
        ),
    )
}


@dataclass(frozen=True)
class Case:
    case_id: str
    leaves: pd.DataFrame
    dimensions: list[str]
    root_causes: list[Element]
    ratio: bool


def _rng(family: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([zlib.crc32(family.encode()), seed])


def case(family: Family, split: str, index: int) -> Case:
    """Case ``index`` of ``split`` ("tuning" or "held-out") of ``family``."""
    seed = index + (HELD_OUT_OFFSET if split == "held-out" else 0)
    rng = _rng(family.name, seed)
    sizes = [int(rng.integers(lo, hi, endpoint=True)) for lo, hi in family.cardinalities]
    sizes = [s for s in sizes if s > 0]
    dims = [chr(ord("a") + i) for i in range(len(sizes))]
    values = [[f"{d}{v}" for v in range(1, s + 1)] for d, s in zip(dims, sizes, strict=True)]
    codes = np.array(list(itertools.product(*[range(s) for s in sizes])), dtype=np.int64)
    present = _nested_mask(rng, codes, sizes, family.nested)
    codes = codes[present]
    n = len(codes)
    empty = rng.uniform(size=n) < rng.uniform(*family.empty_rate)
    size = np.exp(rng.normal(0.0, family.value_sigma, n)) * 100.0 * ~empty
    live = size > 0
    noise = rng.uniform(*family.noise)
    direction = int(rng.choice(family.directions))
    n_causes = int(rng.integers(*family.n_causes, endpoint=True))
    distract = family.measure == "ratio-both" and rng.uniform() < 0.5
    causes = _pick_causes(rng, family, codes, sizes, live, n_causes + distract)
    distractor = _mask(codes, causes.pop()) if distract and len(causes) > n_causes else None
    frame = pd.DataFrame(
        {d: np.array(v)[codes[:, j]] for j, (d, v) in enumerate(zip(dims, values, strict=True))}
    )
    cause_masks = [_mask(codes, c) for c in causes]
    severities = [rng.uniform(*family.severity) for _ in causes]
    ratio = family.measure != "additive"
    if ratio:
        _fill_ratio(frame, rng, family, size, noise, direction, cause_masks, severities, distractor)
    else:
        expected = size
        actual = expected * (1.0 + rng.normal(0.0, noise, n))
        for m, s in zip(cause_masks, severities, strict=True):
            jitter = 1.0 + rng.normal(0.0, 0.02, int(m.sum()))
            actual[m] = expected[m] * (1.0 + direction * s) * jitter
        frame["expected"] = expected
        frame["actual"] = np.maximum(actual, 0.0)
    labels = [_simplest(codes, live, c, dims, values) for c in causes]
    case_id = f"{family.name}/{split}/{index}"
    frame.insert(0, "case_id", case_id)
    return Case(case_id, frame, dims, labels, ratio)


def cases(family: Family, split: str, n: int) -> list[Case]:
    return [case(family, split, i) for i in range(n)]


def _nested_mask(
    rng: np.random.Generator, codes: np.ndarray, sizes: list[int], chance: float
) -> np.ndarray:
    """Leaves that exist: with probability ``chance`` a dimension's values each live under a
    single value of another dimension (like app versions that exist on one platform only)."""
    present = np.ones(len(codes), dtype=bool)
    if len(sizes) < 2 or rng.uniform() >= chance:
        return present
    child, parent = (int(x) for x in rng.choice(len(sizes), size=2, replace=False))
    owner = rng.integers(0, sizes[parent], sizes[child])
    return present & (codes[:, parent] == owner[codes[:, child]])


def _mask(codes: np.ndarray, element: dict[int, int]) -> np.ndarray:
    m = np.ones(len(codes), dtype=bool)
    for c, v in element.items():
        m &= codes[:, c] == v
    return m


def _pick_causes(
    rng: np.random.Generator,
    family: Family,
    codes: np.ndarray,
    sizes: list[int],
    live: np.ndarray,
    n_causes: int,
) -> list[dict[int, int]]:
    """Disjoint causes, each covering at least one live leaf and at most half of them."""
    cuboid = _draw_cuboid(rng, family, len(sizes))
    taken = np.zeros(len(codes), dtype=bool)
    causes: list[dict[int, int]] = []
    for _ in range(2000):
        if len(causes) == n_causes:
            break
        if not family.same_cuboid:
            cuboid = _draw_cuboid(rng, family, len(sizes))
        element = {c: int(rng.integers(0, sizes[c])) for c in cuboid}
        m = _mask(codes, element) & live
        if not m.any() or (m & taken).any() or m.sum() > live.sum() / 2:
            continue
        if _ambiguous(codes, live, element, sizes):
            continue
        causes.append(element)
        taken |= _mask(codes, element)
    return causes


def _draw_cuboid(rng: np.random.Generator, family: Family, n_dims: int) -> list[int]:
    """A cuboid of the family's layer range: that many distinct dimensions, sorted."""
    layer = int(rng.integers(family.layers[0], min(family.layers[1], n_dims), endpoint=True))
    return sorted(int(c) for c in rng.choice(n_dims, size=layer, replace=False))


def _ambiguous(
    codes: np.ndarray, live: np.ndarray, element: dict[int, int], sizes: list[int]
) -> bool:
    """Whether an element of no more dimensions, not one of ``element``'s own sub-elements,
    covers exactly the same live leaves (then no method could tell the two apart)."""
    target = _mask(codes, element) & live
    inside = codes[target]
    for k in range(1, len(element) + 1):
        for cols in itertools.combinations(range(len(sizes)), k):
            if set(cols) <= set(element):
                continue
            first = inside[0, list(cols)]
            if not (inside[:, list(cols)] == first).all():
                continue
            other = _mask(codes, dict(zip(cols, (int(v) for v in first), strict=True))) & live
            if np.array_equal(other, target):
                return True
    return False


def _simplest(
    codes: np.ndarray,
    live: np.ndarray,
    element: dict[int, int],
    dims: list[str],
    values: list[list[str]],
) -> Element:
    target = _mask(codes, element) & live
    cols = sorted(element)
    for k in range(1, len(cols) + 1):
        for sub in itertools.combinations(cols, k):
            part = {c: element[c] for c in sub}
            if np.array_equal(_mask(codes, part) & live, target):
                return {dims[c]: values[c][v] for c, v in part.items()}
    return {dims[c]: values[c][v] for c, v in element.items()}


def _fill_ratio(
    frame: pd.DataFrame,
    rng: np.random.Generator,
    family: Family,
    traffic: np.ndarray,
    noise: float,
    direction: int,
    cause_masks: list[np.ndarray],
    severities: list[float],
    distractor: np.ndarray | None,
) -> None:
    """A conversion-like rate: den = traffic (uneven, Poisson around its forecast), num =
    binomial successes at a per-leaf rate with forecast noise. Causes move the numerator
    (the rate), the denominator (traffic that does not convert like the rest), or both."""
    n = len(traffic)
    base = rng.uniform(0.1, 0.8)
    rate = np.clip(base * np.exp(rng.normal(0.0, 0.3, n)), 0.01, 0.95)
    exp_den = traffic * 10.0
    act_den = rng.poisson(exp_den * (1.0 + rng.normal(0.0, noise, n)).clip(0.0)).astype(float)
    act_rate = np.clip(rate * (1.0 + rng.normal(0.0, noise, n)), 0.0, 1.0)
    den_factor = np.ones(n)
    for m, s in zip(cause_masks, severities, strict=True):
        if family.measure == "ratio-num":
            act_rate[m] = np.clip(rate[m] * (1.0 + direction * s), 0.0, 1.0)
        elif family.measure == "ratio-den":
            # traffic that does not convert arrives (rate falls) or leaves (rate rises)
            den_factor[m] = (1.0 + s) if direction < 0 else 1.0 / (1.0 + s)
        else:
            num_factor, traffic_factor = 1.0 + direction * s, 1.0 - direction * s / 2
            act_den[m] = np.round(act_den[m] * traffic_factor)
            act_rate[m] = np.clip(rate[m] * num_factor / traffic_factor, 0.0, 1.0)
    if distractor is not None:
        # a traffic shift that leaves the element's rate alone: not a cause of the rate's move
        act_den[distractor] = np.round(act_den[distractor] * rng.uniform(1.5, 3.0))
    act_num = rng.binomial(act_den.astype(np.int64), act_rate).astype(float)
    frame["expected_num"] = exp_den * rate
    frame["actual_num"] = act_num
    frame["expected_den"] = exp_den
    frame["actual_den"] = np.round(act_den * den_factor)
