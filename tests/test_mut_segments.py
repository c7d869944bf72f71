"""core.segments: concentration, migration and exact root-cause segments on small breakdowns."""

from __future__ import annotations

import itertools
from datetime import date

import numpy as np
import pandas as pd
import pytest

from metric_anomaly_investigator.core import segments
from metric_anomaly_investigator.core.models import DetectAnomaly, DrillDown
from metric_anomaly_investigator.core.rca import LocalizationResult, RootCauseElement, localize
from metric_anomaly_investigator.core.segments import (
    Localization,
    _weighted_median,
    dimension_concentration,
    localize_segments,
    migration,
)
from metric_anomaly_investigator.core.tools import ToolExecutor
from metric_anomaly_investigator.warehouse.types import Breakdown, BreakdownRow
from metric_anomaly_investigator.warehouse.warehouse import Warehouse

PLATFORMS = ("android", "ios", "web")
COUNTRIES = ("US", "IN", "BR", "DE")


def row(segment: dict[str, str], before: float, after: float, *, den: float = 1.0) -> BreakdownRow:
    return BreakdownRow(
        segment=segment,
        before=before,
        after=after,
        abs_change=after - before,
        rel_change=(after / before - 1) if before else None,
        contribution=after - before,
        share_of_change=None,
        before_num=before * den,
        before_den=den,
        after_num=after * den,
        after_den=den,
        n_before=7,
        n_after=7,
    )


def breakdown(rows: list[BreakdownRow]) -> Breakdown:
    dims = sorted({k for r in rows for k in r.segment})
    return Breakdown(
        metric="dau",
        dimensions=dims,
        filters={},
        baseline=(date(2026, 1, 1), date(2026, 1, 21)),
        current=(date(2026, 1, 22), date(2026, 1, 28)),
        total_before=sum(r.before for r in rows),
        total_after=sum(r.after for r in rows),
        rows=rows,
    )


def cube(factor: dict[tuple[str, str], float], growth: float = 1.0) -> Breakdown:
    """platform x country, 100 per leaf before (400 for US), scaled by ``factor`` after."""
    rows = []
    for p, c in itertools.product(PLATFORMS, COUNTRIES):
        before = 400.0 if c == "US" else 100.0
        after = before * growth * factor.get((p, c), factor.get((p, "*"), factor.get(("*", c), 1)))
        rows.append(row({"platform": p, "country": c}, before, after))
    return breakdown(rows)


def test_dimension_concentration() -> None:
    one = breakdown([row({"p": "a"}, 50, 50), row({"p": "b"}, 50, 40)])
    assert dimension_concentration(one, ratio=False) == pytest.approx(0.5)
    small = breakdown([row({"p": "a"}, 80, 80), row({"p": "b"}, 10, 10), row({"p": "c"}, 10, 0)])
    assert dimension_concentration(small, ratio=False) == pytest.approx(0.9)
    even = breakdown([row({"p": "a"}, 80, 40), row({"p": "b"}, 20, 10)])
    assert dimension_concentration(even, ratio=False) == pytest.approx(0.0)
    assert dimension_concentration(breakdown([]), ratio=False) == 0.0
    flat = breakdown([row({"p": "a"}, 80, 80), row({"p": "b"}, 20, 20)])
    assert dimension_concentration(flat, ratio=False) == 0.0
    # ratio measures weigh values by their denominator
    ratio = breakdown([row({"p": "a"}, 0.5, 0.5, den=300), row({"p": "b"}, 0.5, 0.4, den=100)])
    assert dimension_concentration(ratio, ratio=True) == pytest.approx(0.75)


def test_migration() -> None:
    stable = breakdown([row({"v": "a"}, 100, 100), row({"v": "b"}, 100, 50)])
    assert migration(stable, ratio=False) == 0.0
    moved = breakdown(
        [row({"v": "a"}, 100, 100), row({"v": "b"}, 100, 50), row({"v": "c"}, 100, 150)]
    )
    assert migration(moved, ratio=False) == pytest.approx(50 / 300)
    new_version = breakdown([row({"v": "2.2.0"}, 100, 10), row({"v": "2.3.0"}, 0, 90)])
    assert migration(new_version, ratio=False) == 1.0
    assert migration(breakdown([row({"v": "a"}, 0, 5)]), ratio=False) == 0.0


def test_one_leaf_drop_is_the_segment() -> None:
    loc = localize_segments(cube({("android", "IN"): 0.5}), ["platform", "country"], ratio=False)
    assert [s.filters for s in loc.elements] == [{"platform": "android", "country": "IN"}]
    seg = loc.elements[0]
    assert seg.change_pct == pytest.approx(-50.0)
    assert seg.share_of_change == pytest.approx(1.0) and seg.score == pytest.approx(1.0)
    assert loc.explained_share == pytest.approx(1.0)
    assert loc.rest_change_pct == pytest.approx(0.0)


def test_a_whole_country_is_not_narrowed_to_one_platform() -> None:
    loc = localize_segments(cube({("*", "BR"): 0.6}), ["platform", "country"], ratio=False)
    assert [s.filters for s in loc.elements] == [{"country": "BR"}]
    assert loc.elements[0].change_pct == pytest.approx(-40.0)


def test_growth_everywhere_is_not_a_change() -> None:
    """Everything grew 10%; android/IN stayed flat: a drop relative to what the rest did."""
    loc = localize_segments(
        cube({("android", "IN"): 1 / 1.1}, growth=1.1), ["platform", "country"], ratio=False
    )
    assert [s.filters for s in loc.elements] == [{"platform": "android", "country": "IN"}]
    assert loc.elements[0].change_pct == pytest.approx(-100 / 11, abs=0.01)
    assert loc.rest_change_pct == pytest.approx(0.0, abs=1e-9)


def test_two_segments_most_explanatory_first() -> None:
    loc = localize_segments(
        cube({("ios", "US"): 0.9, ("android", "DE"): 0.2}), ["platform", "country"], ratio=False
    )
    assert [s.filters for s in loc.elements] == [
        {"platform": "android", "country": "DE"},
        {"platform": "ios", "country": "US"},
    ]
    assert [s.share_of_change for s in loc.elements] == [
        pytest.approx(80 / 120),
        pytest.approx(40 / 120),
    ]
    assert [s.change_pct for s in loc.elements] == [pytest.approx(-80.0), pytest.approx(-10.0)]
    assert [s.score for s in loc.elements] == [pytest.approx(80 / 120), pytest.approx(40 / 120)]
    assert loc.explained_share == pytest.approx(1.0)


def test_the_wrong_direction_is_no_segment() -> None:
    loc = localize_segments(
        cube({("android", "IN"): 0.5}), ["platform", "country"], ratio=False, direction="spike"
    )
    assert loc.elements == []


def test_a_rise_is_no_segment_of_a_drop() -> None:
    loc = localize_segments(
        cube({("android", "IN"): 1.5}), ["platform", "country"], ratio=False, direction="drop"
    )
    assert loc.elements == []


def test_shares_are_of_the_change_in_the_anomalys_direction() -> None:
    """android/IN loses 50 while ios/US gains 80 (the total rises by 30): of the drop asked
    about, android/IN holds all."""
    loc = localize_segments(
        cube({("android", "IN"): 0.5, ("ios", "US"): 1.2}),
        ["platform", "country"],
        ratio=False,
        direction="drop",
    )
    assert [s.filters for s in loc.elements] == [{"platform": "android", "country": "IN"}]
    assert loc.elements[0].share_of_change == pytest.approx(1.0)
    assert loc.explained_share == pytest.approx(1.0)


def test_empty_breakdown_or_no_dimension() -> None:
    assert localize_segments(breakdown([]), ["platform"], ratio=False) == Localization(
        [], 0.0, None
    )
    assert localize_segments(cube({("android", "IN"): 0.5}), [], ratio=False) == Localization(
        [], 0.0, None
    )


def test_weighted_median_without_usable_values_is_no_change() -> None:
    assert _weighted_median(np.array([np.nan, np.inf]), np.array([1.0, 1.0])) == 1.0
    assert _weighted_median(np.array([0.5, 2.0]), np.array([0.0, 0.0])) == 1.0
    assert _weighted_median(np.array([0.5, 2.0, 3.0]), np.array([1.0, 3.0, 1.0])) == 2.0


def test_a_new_version_that_replaced_the_old_one_refines_the_segment() -> None:
    rows = []
    for p, c in itertools.product(PLATFORMS, COUNTRIES):
        if (p, c) == ("android", "IN"):
            rows.append(row({"platform": p, "country": c, "app_version": "2.2.0"}, 100, 5))
            rows.append(row({"platform": p, "country": c, "app_version": "2.3.0"}, 0, 45))
        else:
            rows.append(row({"platform": p, "country": c, "app_version": "2.2.0"}, 100, 100))
    loc = localize_segments(
        breakdown(rows), ["platform", "country"], ratio=False, migrating=["app_version"]
    )
    assert [s.filters for s in loc.elements] == [
        {"platform": "android", "country": "IN", "app_version": "2.3.0"}
    ]
    assert loc.elements[0].change_pct == pytest.approx(-50.0)


def ratio_cube(factor: dict[tuple[str, str], float]) -> Breakdown:
    """A conversion rate of 0.5 everywhere before (traffic 400 in the US, 100 elsewhere)."""
    rows = []
    for p, c in itertools.product(PLATFORMS, COUNTRIES):
        den = 400.0 if c == "US" else 100.0
        rows.append(row({"platform": p, "country": c}, 0.5, 0.5 * factor.get((p, c), 1.0), den=den))
    return breakdown(rows)


def test_a_ratio_drop_in_one_leaf() -> None:
    loc = localize_segments(
        ratio_cube({("android", "IN"): 0.5}), ["platform", "country"], ratio=True
    )
    assert [s.filters for s in loc.elements] == [{"platform": "android", "country": "IN"}]
    assert loc.elements[0].change_pct == pytest.approx(-50.0)
    assert loc.elements[0].share_of_change == pytest.approx(1.0)
    assert loc.explained_share == pytest.approx(1.0)
    assert loc.rest_change_pct == pytest.approx(0.0)


def test_ratio_shares_weigh_each_leaf_by_its_traffic() -> None:
    """The rate halves on android/US (400 visits) and ios/IN (100 visits): four fifths of the
    lost conversions are android/US's, not half (as the rates' own changes would say)."""
    loc = localize_segments(
        ratio_cube({("android", "US"): 0.5, ("ios", "IN"): 0.5}),
        ["platform", "country"],
        ratio=True,
    )
    assert [s.filters for s in loc.elements] == [
        {"platform": "android", "country": "US"},
        {"platform": "ios", "country": "IN"},
    ]
    assert [s.share_of_change for s in loc.elements] == [pytest.approx(0.8), pytest.approx(0.2)]
    assert loc.explained_share == pytest.approx(1.0)


def test_a_ratio_drop_on_a_new_version_inherits_the_segment_rate() -> None:
    rows = []
    for p, c in itertools.product(PLATFORMS, COUNTRIES):
        seg = {"platform": p, "country": c}
        if (p, c) == ("android", "IN"):
            rows.append(row({**seg, "app_version": "2.2.0"}, 0.5, 0.5, den=100))
            old = row({**seg, "app_version": "2.2.0"}, 0.5, 0.5, den=100)
            rows[-1] = old.model_copy(update={"after_den": 10.0, "after_num": 5.0})
            new = row({**seg, "app_version": "2.3.0"}, 0.0, 0.25, den=90)
            rows.append(new.model_copy(update={"before_den": 0.0, "before_num": 0.0}))
        else:
            rows.append(row({**seg, "app_version": "2.2.0"}, 0.5, 0.5, den=100))
    loc = localize_segments(
        breakdown(rows), ["platform", "country"], ratio=True, migrating=["app_version"]
    )
    assert [s.filters for s in loc.elements] == [
        {"platform": "android", "country": "IN", "app_version": "2.3.0"}
    ]
    # measured on the stable part (android in India): 0.5 -> (5 + 22.5) / 100
    assert loc.elements[0].change_pct == pytest.approx(-45.0)


def test_a_value_is_not_added_when_the_rest_of_the_element_moved_too() -> None:
    """Android exists in India (-50%) and Brazil (-30%) only: the cause is android as a whole."""
    rows = []
    android = {"IN": (100.0, 0.5), "BR": (20.0, 0.7)}
    for p, c in itertools.product(PLATFORMS, COUNTRIES):
        if p == "android":
            before, factor = android.get(c, (0.0, 1.0))
        else:
            before, factor = (400.0 if c == "US" else 100.0), 1.0
        rows.append(row({"platform": p, "country": c}, before, before * factor))
    loc = localize_segments(breakdown(rows), ["platform", "country"], ratio=False)
    assert [s.filters for s in loc.elements] == [{"platform": "android"}]
    assert loc.elements[0].change_pct == pytest.approx(-140 / 3)  # (50 + 6) of 120


# -- one path to the segment: the drill-down names rca.localize's elements ---------------------


class _Spy:
    """Stands in for ``segments.localize``: records each call and answers with ``answer``
    (or with the real localizer's result when ``answer`` is None)."""

    def __init__(self, answer: LocalizationResult | None = None) -> None:
        self.answer = answer
        self.calls: list[tuple[pd.DataFrame, list[str], bool | None]] = []
        self.results: list[LocalizationResult] = []

    def __call__(
        self, leaves: pd.DataFrame, dims: list[str], *, ratio: bool | None = None
    ) -> LocalizationResult:
        self.calls.append((leaves, list(dims), ratio))
        result = self.answer or localize(leaves, dims, ratio=ratio)
        self.results.append(result)
        return result


def _element(filters: dict[str, str]) -> RootCauseElement:
    return RootCauseElement(filters, 100.0, 50.0, -50.0, 1.0, 1.0, len(filters))


def test_the_segments_are_the_localizers_elements(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever rca.localize answers is the segment (here not what the data says: android/IN)."""
    spy = _Spy(LocalizationResult([_element({"country": "DE"})], 0.0, 0.0, 1.0))
    monkeypatch.setattr(segments, "localize", spy)
    loc = localize_segments(cube({("android", "IN"): 0.5}), ["platform", "country"], ratio=False)
    assert [s.filters for s in loc.elements] == [{"country": "DE"}]
    ((leaves, dims, ratio),) = spy.calls
    assert (dims, ratio, len(leaves)) == (["platform", "country"], False, 12)


def test_the_drill_down_names_the_localizers_elements(
    small_wh: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the demo story the drill-down's segments are rca.localize's elements over the stable
    dimensions, refined only by the app version that replaced the others."""
    spy = _Spy()
    monkeypatch.setattr(segments, "localize", spy)
    ex = ToolExecutor(small_wh)
    ex.run(DetectAnomaly(metric="dau", hint_date=date(2026, 1, 28)))
    result = ex.run(DrillDown(metric="dau"))
    (found,) = spy.results
    assert [e.filters for e in found.elements][:1] == [{"platform": "android", "country": "IN"}]
    stable = [
        {k: v for k, v in e["filters"].items() if k not in result.data["migrating"]}
        for e in result.data["elements"]
    ]
    assert stable == [e.filters for e in found.elements]
    assert result.data["elements"][0]["filters"]["app_version"] == "2.3.0"
    assert spy.calls[0][2] is False


def test_a_rate_metrics_segment_comes_from_the_localizer(
    small_wh: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ratio metric reaches rca.localize as numerator/denominator leaves, ratio=True, and the
    element it names is the drill-down's root cause."""
    spy = _Spy(LocalizationResult([_element({"country": "BR"})], 0.0, 0.0, 1.0))
    monkeypatch.setattr(segments, "localize", spy)
    result = ToolExecutor(small_wh).run(DrillDown(metric="events_per_user"))
    ((leaves, dims, ratio),) = spy.calls
    assert ratio is True and "country" in dims
    assert {"expected_num", "actual_num", "expected_den", "actual_den"} <= set(leaves.columns)
    moving = result.data["migrating"]
    assert [
        {k: v for k, v in e["filters"].items() if k not in moving} for e in result.data["elements"]
    ] == [{"country": "BR"}]
    assert result.findings[0].startswith("Root cause: country=BR")
