"""core.rca: the result's order and the ratio-measure path, stated as expected values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from rca_cubes import DIMS, finite, grid, plant

from metric_anomaly_investigator.core import rca
from metric_anomaly_investigator.core.rca import localize


def additive_cube(seed: int, noise: float = 0.01) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = grid()
    df["expected"] = 100.0
    df["actual"] = df["expected"] * (1 + rng.normal(0, noise, len(df)))
    return df


@pytest.mark.parametrize("seed", range(3))
def test_elements_ranked_by_share_of_change(seed: int) -> None:
    """A drop twice as large (67 % of the change) is listed before the 33 % one."""
    df = plant(plant(additive_cube(seed), {"a": "a1"}, 0.4), {"a": "a2"}, 0.7)
    result = localize(df, DIMS)
    assert [e.filters for e in result.elements[:2]] == [{"a": "a1"}, {"a": "a2"}]
    assert result.elements[0].share_of_change == pytest.approx(2 / 3, abs=0.03)
    assert result.elements[1].share_of_change == pytest.approx(1 / 3, abs=0.03)
    assert result.elements[0].change_pct == pytest.approx(-60.0, abs=1.5)


def noisy_ratio_cube(seed: int, filters: dict[str, str], drop: float) -> pd.DataFrame:
    """Conversion-like cube: uneven traffic (a few big leaves, many tiny ones), binomial noise,
    and the planted element's rate cut by ``drop``."""
    rng = np.random.default_rng(seed)
    df = grid()
    den = np.round(rng.lognormal(mean=5.0, sigma=1.5, size=len(df))) + 5
    rate = rng.uniform(0.05, 0.3, len(df))
    mask = np.logical_and.reduce([df[k] == v for k, v in filters.items()])
    df["expected_den"] = den
    df["actual_den"] = den
    df["expected_num"] = den * rate
    df["actual_num"] = rng.binomial(
        den.astype(int), np.where(mask, rate * (1 - drop), rate)
    ).astype(float)
    return df


def test_noisy_ratio_cubes_find_the_planted_cause() -> None:
    """On noisy ratio cubes with uneven traffic the planted element is the top answer in most
    cases (leaf-by-leaf search on tiny denominators would chase noise instead)."""
    plants = [{"a": "a1"}, {"b": "b3"}, {"c": "c2"}]
    hits = 0
    cases = 0
    for seed in range(20):
        for filters in plants:
            cases += 1
            result = localize(noisy_ratio_cube(seed, filters, 0.4), DIMS)
            hits += bool(result.elements) and result.elements[0].filters == filters
    assert hits >= 0.6 * cases, f"{hits}/{cases}"


@pytest.mark.parametrize(
    ("frame", "elements", "totals", "explained"),
    [
        (pd.DataFrame({"a": [], "expected": [], "actual": []}), [], (0.0, 0.0), 0.0),
        (
            pd.DataFrame({"a": ["x"], "expected": [1.0], "actual": [2.0]}),
            [{"a": "x"}],
            (1.0, 2.0),
            1.0,
        ),
        (
            pd.DataFrame({"a": ["x", "y"], "expected": [0.0] * 2, "actual": [0.0] * 2}),
            [],
            (0.0, 0.0),
            0.0,
        ),
        (
            pd.DataFrame({"a": ["x", "y", "z"], "expected": [5.0] * 3, "actual": [5.0] * 3}),
            [],
            (15.0, 15.0),
            0.0,
        ),
        (  # non-finite numbers count as 0
            pd.DataFrame(
                {
                    "a": ["x", "y", None],
                    "expected": [np.nan, 1.0, 2.0],
                    "actual": [1.0, np.inf, 2.0],
                }
            ),
            [],
            (3.0, 3.0),
            0.0,
        ),
        (  # ratio totals: 1/2 expected, 0/0 read as 0
            pd.DataFrame(
                {
                    "a": ["x", "y"],
                    "expected_num": [0.0, 1.0],
                    "actual_num": [0.0, 0.0],
                    "expected_den": [0.0, 2.0],
                    "actual_den": [0.0, 0.0],
                }
            ),
            [],
            (0.5, 0.0),
            0.0,
        ),
        (
            pd.DataFrame(
                {"a": ["x", "y", "z", "w"], "expected": [100.0] * 4, "actual": [100.0] * 3 + [10.0]}
            ),
            [{"a": "w"}],
            (400.0, 310.0),
            1.0,
        ),
    ],
)
def test_degenerate_inputs_give_these_answers(
    frame: pd.DataFrame,
    elements: list[dict[str, str]],
    totals: tuple[float, float],
    explained: float,
) -> None:
    result = localize(frame, ["a"])
    assert finite(result)
    assert [e.filters for e in result.elements] == elements
    assert (result.total_expected, result.total_actual) == pytest.approx(totals)
    assert result.explained_share == pytest.approx(explained)


def test_element_numbers_are_sums_over_its_leaves() -> None:
    df = plant(additive_cube(5), {"b": "b2"}, 0.5)
    result = localize(df, DIMS)
    element = result.elements[0]
    assert element.filters == {"b": "b2"} and element.layer == 1
    leaves = df[df["b"] == "b2"]
    assert element.expected == pytest.approx(leaves["expected"].sum())
    assert element.actual == pytest.approx(leaves["actual"].sum())
    assert element.change_pct == pytest.approx(
        100 * (leaves["actual"].sum() / leaves["expected"].sum() - 1)
    )
    total_change = df["actual"].sum() - df["expected"].sum()
    change = leaves["actual"].sum() - leaves["expected"].sum()
    assert element.share_of_change == pytest.approx(change / total_change)
    assert (result.total_expected, result.total_actual) == pytest.approx(
        (df["expected"].sum(), df["actual"].sum())
    )
    assert 0.5 <= element.score <= 1.0


def test_runners_up_are_kept_as_candidates() -> None:
    df = plant(plant(additive_cube(0), {"a": "a1"}, 0.4), {"a": "a2"}, 0.7)
    result = localize(df, DIMS)
    assert [e.filters for e in result.candidates] == [{"a": "a2"}]
    assert result.explained_share == pytest.approx(1.0, abs=0.01)


def test_changes_that_cancel_out_have_no_share() -> None:
    """a1 halves and a2 grows by half: the total does not move, so no share can be computed."""
    df = plant(plant(additive_cube(0, noise=0.0), {"a": "a1"}, 0.5), {"a": "a2"}, 1.5)
    result = localize(df, DIMS)
    assert (result.total_expected, result.total_actual) == pytest.approx((12000.0, 12000.0))
    assert [e.filters for e in result.elements] == [{"a": "a1"}]
    assert result.elements[0].share_of_change == 0.0
    assert result.elements[0].change_pct == pytest.approx(-50.0)
    assert result.explained_share == 0.0


def two_cause_ratio_cube() -> pd.DataFrame:
    """A 20 % rate everywhere on even traffic; a1 halves it, b2 (outside a1) cuts it by 40 %."""
    df = grid()
    den = np.full(len(df), 1000.0)
    in_a1, in_b2 = (df["a"] == "a1").to_numpy(), (df["b"] == "b2").to_numpy()
    df["expected_den"] = den
    df["actual_den"] = den
    df["expected_num"] = den * 0.2
    df["actual_num"] = den * 0.2 * np.where(in_a1, 0.5, 1.0) * np.where(in_b2 & ~in_a1, 0.6, 1.0)
    return df


def test_two_ratio_causes_are_both_reported_and_explain_the_change() -> None:
    result = localize(two_cause_ratio_cube(), DIMS)
    assert [e.filters for e in result.elements] == [{"a": "a1"}, {"b": "b2"}]
    assert result.elements[0].share_of_change == pytest.approx(25 / 37)  # 150 of 222 lost
    assert result.elements[0].change_pct == pytest.approx(-50.0)
    assert result.explained_share == pytest.approx(1.0)


def test_max_elements_caps_the_ratio_answer() -> None:
    result = localize(two_cause_ratio_cube(), DIMS, max_elements=1)
    assert [e.filters for e in result.elements] == [{"a": "a1"}]
    assert result.explained_share == pytest.approx(25 / 37)


def ratio_cube_with_small_second_cause(seed: int) -> pd.DataFrame:
    """10,000 visits per leaf at a 20 % rate (binomial noise): a1's rate halves and {a2, b2}'s
    falls by a quarter — under a tenth of the change, yet about 25 noise units out."""
    rng = np.random.default_rng(seed)
    df = grid()
    den = np.full(len(df), 10_000.0)
    in_a1 = (df["a"] == "a1").to_numpy()
    second = ((df["a"] == "a2") & (df["b"] == "b2")).to_numpy()
    rate = 0.2 * np.where(in_a1, 0.5, 1.0) * np.where(second, 0.75, 1.0)
    df["expected_den"] = den
    df["actual_den"] = den
    df["expected_num"] = den * 0.2
    df["actual_num"] = rng.binomial(den.astype(int), rate).astype(float)
    return df


@pytest.mark.parametrize("seed", range(3))
def test_a_small_ratio_cause_far_out_is_reported_next_to_a_big_one(seed: int) -> None:
    df = ratio_cube_with_small_second_cause(seed)
    result = localize(df, DIMS)
    assert [e.filters for e in result.elements] == [{"a": "a1"}, {"a": "a2", "b": "b2"}]
    second = (df["a"] == "a2") & (df["b"] == "b2")
    change = df["actual_num"] - df["expected_num"]
    share = change[second].sum() / change.sum()
    assert result.elements[1].share_of_change == pytest.approx(share)
    assert share < 0.1  # under the share a scanned element needs unless it is far out
    assert result.elements[1].change_pct == pytest.approx(-25.0, abs=1.5)


@pytest.mark.parametrize("seed", range(3))
def test_two_of_three_values_moving_are_both_causes(seed: int) -> None:
    """The rate falls 30 % on a0 and a1, two thirds of the leaves: the noise scale is read from
    the leaves that did not move, so both stand out."""
    rng = np.random.default_rng(seed)
    df = grid(DIMS, (3, 4, 5))
    den = np.full(len(df), 1000.0)
    moved = df["a"].isin(["a0", "a1"]).to_numpy()
    df["expected_den"] = den
    df["actual_den"] = den
    df["expected_num"] = den * 0.2
    df["actual_num"] = rng.binomial(1000, np.where(moved, 0.14, 0.2)).astype(float)
    result = localize(df, DIMS)
    assert sorted(str(e.filters) for e in result.elements) == ["{'a': 'a0'}", "{'a': 'a1'}"]
    change = df["actual_num"] - df["expected_num"]
    assert sum(e.share_of_change for e in result.elements) == pytest.approx(
        change[moved].sum() / change.sum()
    )


def test_a_percentage_that_overflows_is_none() -> None:
    """From a subnormal expected value to 1: the change in % is not a number, the rest is."""
    df = pd.DataFrame({"a": ["x", "y"], "expected": [5e-324, 0.0], "actual": [1.0, 0.0]})
    result = localize(df, ["a"])
    assert finite(result)
    assert [(e.filters, e.change_pct, e.share_of_change) for e in result.elements] == [
        ({"a": "x"}, None, 1.0)
    ]


def test_two_sibling_causes_are_not_merged_into_their_parent() -> None:
    """{a1, b1} halves and eight scattered leaves of a1 lose 90 %: a1's other leaves are mostly
    normal (8 of 24 moved), so a1 as a whole is no cause, although they are pure enough."""
    scattered = [("b2", "c0"), ("b2", "c3"), ("b3", "c1"), ("b3", "c4")]
    scattered += [("b4", "c2"), ("b4", "c5"), ("b0", "c0"), ("b0", "c4")]
    df = plant(additive_cube(0), {"a": "a1", "b": "b1"}, 0.5)
    for b, c in scattered:
        df = plant(df, {"a": "a1", "b": b, "c": c}, 0.1)
    result = localize(df, DIMS)
    assert result.elements[0].filters == {"a": "a1", "b": "b1"}
    assert sorted(tuple(sorted(e.filters.items())) for e in result.elements[1:]) == sorted(
        (("a", "a1"), ("b", b), ("c", c)) for b, c in scattered
    )


def test_a_ratio_element_widened_to_its_parent_scores_as_the_parent() -> None:
    """a1's rate falls 20 % and {a1, b2}'s 76 %: the scan's strongest element is the child, but
    a1's other leaves moved alike, so a1 is the cause — scored by its own z."""
    rng = np.random.default_rng(0)
    df = grid()
    den = np.full(len(df), 10_000.0)
    a1, b2 = (df["a"] == "a1").to_numpy(), (df["b"] == "b2").to_numpy()
    df["expected_den"] = den
    df["actual_den"] = den
    df["expected_num"] = den * 0.2
    rate = 0.2 * np.where(a1, 0.8, 1.0) * np.where(a1 & b2, 0.3, 1.0)
    df["actual_num"] = rng.binomial(10_000, rate).astype(float)
    result = localize(df, DIMS)
    assert [e.filters for e in result.elements] == [{"a": "a1"}]
    nums = {c: df[c].to_numpy(dtype=float) for c in rca._RATIO_COLUMNS}
    cube = rca._build_cube([df[d] for d in DIMS], np.arange(len(df)), nums, ratio=True)
    x = -cube.ep  # a drop
    scan = rca._Scan(cube, x, rca._count_variance(cube.f, x), [4, 5, 6])
    assert scan.zscore(a1 & b2) > scan.zscore(a1)
    assert result.elements[0].score == pytest.approx(scan.zscore(a1))


def test_measures_given_as_text_are_read_as_numbers() -> None:
    """Text that is no number counts as 0; the rest is read as the numbers it spells."""
    df = pd.DataFrame(
        {
            "a": ["x", "y", "z", "w"],
            "expected": ["100", "100", "n/a", "100"],
            "actual": ["100", "100", "100", "10"],
        }
    )
    result = localize(df, ["a"])
    assert (result.total_expected, result.total_actual) == (300.0, 310.0)
    assert result.elements[0].filters == {"a": "w"}
    assert result.elements[0].change_pct == pytest.approx(-90.0)
