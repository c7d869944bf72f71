"""Properties and targeted checks of core.rca."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rca_cubes import DIMS, finite, grid, plant

from metric_anomaly_investigator.core.rca import LocalizationResult, localize


def cube(seed: int, sizes: tuple[int, int, int] = (4, 5, 6), noise: float = 0.03) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = grid(DIMS, sizes)
    df["expected"] = rng.uniform(50, 150, len(df))
    df["actual"] = df["expected"] * (1 + rng.normal(0, noise, len(df)))
    return df


def to_ratio(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = df[DIMS].copy()
    den = rng.integers(100, 1000, len(df)).astype(float)
    out["expected_den"] = den
    out["actual_den"] = den
    out["expected_num"] = den * 0.95
    out["actual_num"] = den * 0.95 * (df["actual"] / df["expected"]).clip(0, 1.05)
    return out


def predicted(result: LocalizationResult) -> list[dict[str, str]]:
    return [e.filters for e in result.elements]


planted = st.tuples(
    st.integers(0, 10_000),
    st.sampled_from([{"a": "a1"}, {"b": "b2"}, {"a": "a0", "c": "c3"}, {"a": "a3", "b": "b1"}]),
    st.sampled_from([0.3, 0.5, 1.8]),
)


@settings(max_examples=20, deadline=None, derandomize=True)
@given(planted)
def test_planted_element_is_recovered(case: tuple[int, dict[str, str], float]) -> None:
    seed, filters, factor = case
    result = localize(plant(cube(seed), filters, factor), DIMS)
    assert predicted(result) == [filters]
    top = result.elements[0]
    assert top.layer == len(filters)
    assert top.share_of_change == pytest.approx(
        (top.actual - top.expected) / (result.total_actual - result.total_expected)
    )


@settings(max_examples=10, deadline=None, derandomize=True)
@given(planted)
def test_planted_ratio_element_is_recovered(case: tuple[int, dict[str, str], float]) -> None:
    seed, filters, factor = case
    if factor > 1:
        factor = 1 / factor
    leaves = to_ratio(plant(cube(seed, noise=0.01), filters, factor), seed)
    assert predicted(localize(leaves, DIMS)) == [filters]


def test_two_planted_elements() -> None:
    df = plant(plant(cube(3), {"a": "a1"}, 0.4), {"b": "b3", "c": "c0"}, 0.3)
    assert sorted(map(str, predicted(localize(df, DIMS)))) == sorted(
        map(str, [{"a": "a1"}, {"b": "b3", "c": "c0"}])
    )


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([0.3, 2.0]))
def test_segment_changes_add_up_to_total(seed: int, factor: float) -> None:
    df = plant(cube(seed), {"b": "b1"}, factor)
    total = df["actual"].sum() - df["expected"].sum()
    for dim in DIMS:
        by = df.groupby(dim)[["actual", "expected"]].sum()
        assert (by["actual"] - by["expected"]).sum() == pytest.approx(total)
    result = localize(df, DIMS)
    # shares of the change of one dimension's values add up to 1
    shares = []
    for value in sorted(df["b"].unique()):
        sub = df[df["b"] == value]
        shares.append((sub["actual"].sum() - sub["expected"].sum()) / total)
    assert sum(shares) == pytest.approx(1.0)
    assert result.elements[0].share_of_change == pytest.approx(shares[1])


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.randoms(use_true_random=False))
def test_invariant_to_row_order_and_value_names(seed: int, rnd: object) -> None:
    df = plant(plant(cube(seed), {"a": "a2"}, 0.5), {"b": "b0", "c": "c1"}, 1.9)
    base = localize(df, DIMS)
    shuffled = df.sample(frac=1.0, random_state=seed % 1000).reset_index(drop=True)
    assert localize(shuffled, DIMS) == base
    renamed = df.copy()
    maps = {
        d: {v: f"z{hash((d, v, seed)) % 10_000}_{v[::-1]}" for v in df[d].unique()} for d in DIMS
    }
    for d in DIMS:
        renamed[d] = renamed[d].map(maps[d])
    back = {d: {new: old for old, new in maps[d].items()} for d in DIMS}
    res = localize(renamed, DIMS)
    assert [{k: back[k][v] for k, v in e.filters.items()} for e in res.elements] == predicted(base)
    assert [e.score for e in res.elements] == [e.score for e in base.elements]


@settings(max_examples=15, deadline=None, derandomize=True)
@given(st.integers(0, 10_000), st.permutations(DIMS), st.booleans())
def test_invariant_to_dimension_order(seed: int, order: list[str], ratio: bool) -> None:
    df = plant(plant(cube(seed), {"a": "a2"}, 0.5), {"b": "b0", "c": "c1"}, 1.9)
    leaves = to_ratio(df, seed) if ratio else df
    base, permuted = localize(leaves, DIMS), localize(leaves[[*order, *leaves.columns[3:]]], order)
    assert predicted(permuted) == predicted(base) != []
    assert [e.score for e in permuted.elements] == pytest.approx([e.score for e in base.elements])


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    st.lists(st.floats(0, 1e6), min_size=1, max_size=120),
    st.integers(0, 10_000),
    st.booleans(),
)
def test_no_cause_on_an_unchanged_cube(values: list[float], seed: int, ratio: bool) -> None:
    """Every leaf exactly at its expected value (numerator and denominator for a ratio)."""
    df = grid().iloc[: len(values)].copy()
    if ratio:
        den = np.random.default_rng(seed).integers(0, 1000, len(values)).astype(float)
        df["expected_num"] = df["actual_num"] = np.minimum(values, den)
        df["expected_den"] = df["actual_den"] = den
    else:
        df["expected"] = df["actual"] = values
    result = localize(df, DIMS)
    assert predicted(result) == [] and result.explained_share == 0.0


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([1e-3, 7.0, 1e5]))
def test_scaling_scales_magnitudes_keeps_ranking(seed: int, scale: float) -> None:
    df = plant(cube(seed), {"c": "c2"}, 0.4)
    scaled = df.copy()
    scaled[["expected", "actual"]] *= scale
    a, b = localize(df, DIMS), localize(scaled, DIMS)
    assert predicted(a) == predicted(b)
    for x, y in zip(a.elements, b.elements, strict=True):
        assert y.expected == pytest.approx(x.expected * scale)
        assert y.score == pytest.approx(x.score)
        assert y.share_of_change == pytest.approx(x.share_of_change)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["p", "q", "r"]),
            st.sampled_from(["u", "v"]),
            st.floats(0, 1e6),
            st.floats(0, 1e6),
        ),
        max_size=12,
    )
)
def test_never_raises_or_returns_nan(rows: list[tuple[str, str, float, float]]) -> None:
    df = pd.DataFrame(rows, columns=["x", "y", "expected", "actual"])
    assert finite(localize(df, ["x", "y"]))


PRODUCT_DIMS = ["platform", "country", "version", "channel"]
PRODUCT_SIZES = (3, 10, 6, 4)  # a drill-down of the product's own size: 720 leaves


def product_cube(seed: int, noise: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = grid(PRODUCT_DIMS, PRODUCT_SIZES)
    df["expected"] = rng.uniform(50, 150, len(df))
    df["actual"] = df["expected"] * (1 + rng.normal(0, noise, len(df)))
    return df


small_cube_cases = st.tuples(
    st.integers(0, 10_000),
    st.sampled_from(
        [
            {
                "platform": "platform1",
                "country": "country3",
                "version": "version2",
                "channel": "channel0",
            },
            {
                "platform": "platform2",
                "country": "country7",
                "version": "version5",
                "channel": "channel3",
            },
            {"platform": "platform0", "country": "country4", "version": "version1"},
            {"country": "country9", "version": "version0", "channel": "channel2"},
        ]
    ),
    st.sampled_from([0.2, 0.5, 1.8, 3.0]),
    st.sampled_from([0.01, 0.03]),
)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(small_cube_cases)
def test_single_leaf_or_layer3_element_in_small_cube(
    case: tuple[int, dict[str, str], float, float],
) -> None:
    """One abnormal leaf among 720 is neither dropped as an outlier nor drowned by its size."""
    seed, filters, factor, noise = case
    result = localize(plant(product_cube(seed, noise), filters, factor), PRODUCT_DIMS)
    assert predicted(result) == [filters]
    assert result.elements[0].layer == len(filters)


@settings(max_examples=10, deadline=None, derandomize=True)
@given(st.integers(0, 10_000), st.sampled_from([{"a": "a1"}, {"b": "b2"}]))
def test_element_inside_leaf_noise_found_as_a_whole(seed: int, filters: dict[str, str]) -> None:
    """A wide element shifted by less than the per-leaf noise band is still found: its leaves'
    deviations add up to a significant shift of the element."""
    base = cube(seed, sizes=(6, 8, 10), noise=0.1)
    result = localize(plant(base, filters, 1.25), DIMS)
    assert predicted(result) == [filters]


@settings(max_examples=10, deadline=None, derandomize=True)
@given(st.integers(0, 10_000))
def test_two_planted_ratio_elements(seed: int) -> None:
    """Two ratio elements that together hold most of the traffic are both reported."""
    base = cube(seed, sizes=(4, 5, 6), noise=0.005)
    df = to_ratio(plant(plant(base, {"a": "a1"}, 0.7), {"a": "a2"}, 0.8), seed)
    result = localize(df, DIMS)
    assert sorted(map(str, predicted(result))) == sorted(map(str, [{"a": "a1"}, {"a": "a2"}]))


@settings(max_examples=10, deadline=None, derandomize=True)
@given(planted, st.sampled_from([1e-3, 0.37, 250.0]))
def test_ratio_scaling_numerator_and_denominator_together_changes_nothing(
    case: tuple[int, dict[str, str], float], scale: float
) -> None:
    seed, filters, factor = case
    leaves = to_ratio(plant(cube(seed, noise=0.01), filters, min(factor, 1 / factor)), seed)
    scaled = leaves.copy()
    scaled[["expected_num", "actual_num", "expected_den", "actual_den"]] *= scale
    a, b = localize(leaves, DIMS), localize(scaled, DIMS)
    assert predicted(b) == predicted(a) == [filters]
    assert b.total_actual == pytest.approx(a.total_actual)
    for x, y in zip(a.elements, b.elements, strict=True):
        assert y.score == pytest.approx(x.score)
        assert y.share_of_change == pytest.approx(x.share_of_change)


def test_elements_ranked_by_share_of_change() -> None:
    """A layer-1 cause carrying a third of the change is found first (layers are searched in
    order) but listed after the layer-2 cause carrying two thirds."""
    df = cube(11, noise=0.0)
    df["expected"] = 100.0
    df["actual"] = 100.0
    small, large = {"a": "a0"}, {"a": "a3", "b": "b1"}
    df.loc[df["a"] == "a0", "actual"] = 91.0  # 30 leaves × -9 = -270
    df.loc[(df["a"] == "a3") & (df["b"] == "b1"), "actual"] = 10.0  # 6 leaves × -90 = -540
    result = localize(df, DIMS)
    assert predicted(result) == [large, small]
    assert [round(e.share_of_change, 3) for e in result.elements] == [0.667, 0.333]
    assert [e.layer for e in result.elements] == [2, 1]


def uneven_ratio_cube(seed: int) -> pd.DataFrame:
    """A conversion rate over 4 × 5 × 6 leaves whose traffic spans three orders of magnitude:
    binomial numerators around a per-leaf rate, 5 % forecast noise on the rate."""
    rng = np.random.default_rng(seed)
    out = grid()
    traffic = np.round(np.exp(rng.normal(6.0, 1.5, len(out)))) + 5
    rate = np.clip(0.3 * np.exp(rng.normal(0.0, 0.3, len(out))), 0.01, 0.9)
    out["expected_den"] = traffic
    out["expected_num"] = traffic * rate
    out["actual_den"] = rng.poisson(traffic).astype(float)
    noisy = np.clip(rate * (1 + rng.normal(0.0, 0.05, len(out))), 0.0, 1.0)
    out["actual_num"] = rng.binomial(out["actual_den"].astype(int), noisy).astype(float)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6, 7, 8])
def test_noisy_ratio_cube_with_uneven_traffic(seed: int) -> None:
    """The rate of {b: b2, c: c4} (about 1 % of the traffic) falls by 40 %: that element is
    found, not its parent or one of its leaves, although noise on the big leaves can move the
    total the other way."""
    df = uneven_ratio_cube(seed)
    mask = (df["b"] == "b2") & (df["c"] == "c4")
    rng = np.random.default_rng(seed + 100)
    rate = df.loc[mask, "expected_num"] / df.loc[mask, "expected_den"] * 0.6
    df.loc[mask, "actual_num"] = rng.binomial(df.loc[mask, "actual_den"].astype(int), rate)
    result = localize(df, DIMS)
    assert predicted(result) == [{"b": "b2", "c": "c4"}]
    top = result.elements[0]
    assert top.actual < top.expected


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ratio_cause_moving_the_denominator(seed: int) -> None:
    """Traffic that never converts doubles the denominator of {a: a1}: the rate falls there."""
    df = uneven_ratio_cube(seed)
    mask = df["a"] == "a1"
    df.loc[mask, "actual_den"] = df.loc[mask, "actual_den"] * 2
    assert predicted(localize(df, DIMS)) == [{"a": "a1"}]


@pytest.mark.parametrize("seed", [1, 2, 4])
def test_ratio_traffic_shift_alone_is_no_cause(seed: int) -> None:
    """The traffic of {a: a2} triples and converts at its usual rate: the rate's total moves
    (a mix shift) but no element's rate does, so there is no cause."""
    df = uneven_ratio_cube(seed)
    mask = df["a"] == "a2"
    rng = np.random.default_rng(seed)
    df.loc[mask, "actual_den"] = rng.poisson(df.loc[mask, "actual_den"] * 3).astype(float)
    rate = df.loc[mask, "expected_num"] / df.loc[mask, "expected_den"]
    df.loc[mask, "actual_num"] = rng.binomial(df.loc[mask, "actual_den"].astype(int), rate)
    result = localize(df, DIMS)
    assert result.total_actual != pytest.approx(result.total_expected, rel=1e-3)
    assert predicted(result) == []
