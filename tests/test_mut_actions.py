"""core.actions: writing helpers, chart builders, and each action's numbers on the demo story."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import duckdb
import numpy as np
import pytest
from scipy import stats as sps

from metric_anomaly_investigator.core.actions import retention as retention_action
from metric_anomaly_investigator.core.actions.anomaly import _record
from metric_anomaly_investigator.core.actions.anomaly import run as detect_run
from metric_anomaly_investigator.core.actions.charts import bars, days_axis, line
from metric_anomaly_investigator.core.actions.deployments import _findings, _scored
from metric_anomaly_investigator.core.actions.drilldown import sharpen_start
from metric_anomaly_investigator.core.actions.formatting import (
    fmt,
    no_window_note,
    pct,
    plural,
    share_text,
)
from metric_anomaly_investigator.core.actions.hidden import scan_segments
from metric_anomaly_investigator.core.actions.retention import (
    _bad_run,
    _edge,
    _verdict,
    scan_cohorts,
    weighted,
)
from metric_anomaly_investigator.core.actions.workbench import Workbench, values_replace_each_other
from metric_anomaly_investigator.core.context import Anomaly, EventFinding, SegmentFinding
from metric_anomaly_investigator.core.models import (
    Action,
    AnalyzeRetention,
    ChartSeries,
    CheckDeployments,
    DetectAnomaly,
    DrillDown,
    QueryMetric,
    SegmentByDimension,
    StatisticalTest,
    StepResult,
)
from metric_anomaly_investigator.core.tools import ToolExecutor
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.types import CohortRetention as Cohort
from metric_anomaly_investigator.warehouse.types import (
    DimensionInfo,
    MetricSeries,
    Retention,
    SeriesPoint,
    WarehouseSchema,
)
from metric_anomaly_investigator.warehouse.warehouse import Warehouse

ANDROID_IN = {"platform": "android", "country": "IN"}


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [
        (None, 3, "n/a"),
        (float("nan"), 3, "n/a"),
        (float("inf"), 3, "n/a"),
        (999.4, 3, "999"),
        (1000.0, 3, "1,000"),
        (-1234.6, 3, "-1,235"),
        (0.012345, 3, "0.0123"),
        (0.012345, 2, "0.012"),
        (12.0, 3, "12"),
    ],
)
def test_fmt(value: float | None, digits: int, text: str) -> None:
    assert fmt(value, digits) == text


def test_writing_helpers() -> None:
    assert (pct(None), pct(12.34), pct(-0.05), pct(0.0)) == ("n/a", "+12.3%", "-0.1%", "+0.0%")
    assert [plural(n, "usable day") for n in (0, 1, 2)] == [
        "0 usable days",
        "1 usable day",
        "2 usable days",
    ]
    assert (share_text(0.4237), share_text(None), share_text(1.0, 2)) == ("42.4", "0", "1e+02")
    assert no_window_note(
        (date(2026, 1, 1), date(2026, 1, 21)), (date(2026, 1, 22), date(2026, 1, 28))
    ) == ("No anomaly window yet: compared 2026-01-22..2026-01-28 with 2026-01-01..2026-01-21.")


def test_chart_builders() -> None:
    assert days_axis([date(2026, 1, 1), date(2026, 1, 2)]) == ["2026-01-01", "2026-01-02"]
    s = ChartSeries(label="dau", x=["2026-01-01"], y=[1.0], style="actual")
    chart = line("DAU", [s], "users", highlight=("2026-01-01", "2026-01-01"))
    assert (chart.title, chart.kind, chart.x_label, chart.y_label) == (
        "DAU",
        "line",
        "day",
        "users",
    )
    assert chart.series == [s] and chart.highlight == ("2026-01-01", "2026-01-01")
    chart = bars("By country", ["IN", "US"], {"before": ([2.0, None], "baseline")}, "c", "v")
    assert (chart.kind, chart.x_label, chart.y_label) == ("bar", "c", "v")
    assert [(x.label, x.x, x.y, x.style) for x in chart.series] == [
        ("before", ["IN", "US"], [2.0, None], "baseline")
    ]


# -- the actions on the demo story (android 2.3.0 in India drops from 2026-01-28) ---------------


def run_on_demo(wh: Warehouse, *actions: Action) -> list[StepResult]:
    """The actions in order on one fresh executor (run inside each test, not in a shared
    fixture, so that a mutation tool sees which test exercises which action)."""
    ex = ToolExecutor(wh)
    return [ex.run(a) for a in actions]


DETECT = DetectAnomaly(metric="dau", hint_date=date(2026, 1, 28))


def test_detect_anomaly_data(small_wh: Warehouse) -> None:
    (detect,) = run_on_demo(small_wh, DETECT)
    d = detect.data
    assert (d["detected"], d["direction"], d["kind"], d["metric"]) == (True, "drop", "step", "dau")
    assert d["start"] in ("2026-01-28", "2026-01-29")
    assert d["change_pct"] == pytest.approx(-16, abs=3)
    assert d["p_value"] < 1e-6
    assert d["actual_mean"] < d["expected_mean"]
    assert detect.findings[0].startswith("dau (all traffic) dropped -")


def test_segment_by_dimension_data(small_wh: Warehouse) -> None:
    _, result = run_on_demo(small_wh, DETECT, SegmentByDimension(metric="dau", dimension="country"))
    rows = result.data["rows"]
    assert rows[0]["value"] == "IN"
    assert rows[0]["change_pct"] < -30 and rows[0]["after"] < rows[0]["before"]
    assert rows[0]["share_of_change"] > 1  # the other countries grew
    assert result.data["concentration"] > 0.9
    assert result.findings[0].startswith("By country, IN moved most: ")
    assert result.findings[-1].startswith("Concentration along country: ")


def test_drill_down_names_the_exact_segment(small_wh: Warehouse) -> None:
    ex = ToolExecutor(small_wh)
    ex.run(DETECT)
    result = ex.run(DrillDown(metric="dau"))
    elements = result.data["elements"]
    assert elements[0]["filters"] == {**ANDROID_IN, "app_version": "2.3.0"}
    assert result.data["explained_share"] == pytest.approx(0.9, abs=0.08)
    assert result.findings[0].startswith(
        "Root cause: platform=android, country=IN, app_version=2.3.0 changed -"
    )
    ctx = ex.context
    assert ctx.anomaly is not None and ctx.anomaly.start == date(2026, 1, 28)  # sharpened
    assert ctx.segments[0].filters == {**ANDROID_IN, "app_version": "2.3.0"}


def test_statistical_test_data(small_wh: Warehouse) -> None:
    *_, test = run_on_demo(
        small_wh, DETECT, DrillDown(metric="dau"), StatisticalTest(metric="dau", segment=ANDROID_IN)
    )
    d = test.data
    assert d["significant"] is True and d["segment"] == ANDROID_IN
    assert d["rel_diff"] == pytest.approx(-0.63, abs=0.08)
    assert d["p_value"] < 1e-10 and d["ci_low"] < d["diff"] < d["ci_high"] < 0
    assert d["effect_size"] < -2
    assert (d["n_a"], d["n_b"]) == (28, 15)  # four weeks before, the window after
    assert "significant (Welch p=" in test.findings[0]
    assert f"({fmt(d['mean_a'])} → {fmt(d['mean_b'])}/day)" in test.findings[0]


def test_retention_data(small_wh: Warehouse) -> None:
    (retention,) = run_on_demo(
        small_wh, AnalyzeRetention(filters={"acquisition_channel": "organic"})
    )
    d = retention.data
    assert d["filters"] == {"acquisition_channel": "organic"}
    assert 0 < d["d1_recent"] < d["d1_earlier"] < 1
    assert d["d1_change_pct"] == pytest.approx(100 * (d["d1_recent"] / d["d1_earlier"] - 1))
    assert retention.findings[0].startswith("Retention fell for recent cohorts")
    assert retention.findings[1].startswith("Weekly signups: ")
    assert d["cohort_size_change_pct"] == pytest.approx(-10.4, abs=0.1)


# -- the actions without a detected anomaly: the last week against the four before --------------


def test_segment_by_dimension_without_an_anomaly_window(small_wh: Warehouse) -> None:
    (result,) = run_on_demo(small_wh, SegmentByDimension(metric="dau", dimension="platform"))
    assert result.findings[-1] == (
        "No anomaly window yet: compared 2026-02-05..2026-02-11 with 2026-01-08..2026-02-04."
    )
    assert (result.data["baseline"], result.data["current"]) == (
        ["2026-01-08", "2026-02-04"],
        ["2026-02-05", "2026-02-11"],
    )
    rows = result.data["rows"]
    chart = result.chart
    assert chart is not None and chart.title == "dau by platform: baseline vs anomaly"
    assert (chart.x_label, chart.y_label) == ("platform", "dau")
    assert [(s.label, s.style) for s in chart.series] == [
        ("baseline", "baseline"),
        ("anomaly window", "actual"),
    ]
    assert chart.series[0].x == [r["value"] for r in rows] == ["android", "ios", "web"]
    assert chart.series[0].y == [r["before"] for r in rows]
    assert chart.series[1].y == [r["after"] for r in rows]


def test_check_deployments_without_an_anomaly_centres_on_the_last_week(
    small_wh: Warehouse,
) -> None:
    (result,) = run_on_demo(small_wh, CheckDeployments())
    assert result.data["around"] == "2026-02-05"
    assert result.data["window"] == ["2026-01-29", "2026-02-07"]
    assert result.findings[0] == (
        "No deployment explains it: none near 2026-02-05 overlaps the whole metric."
    )
    chart = result.chart
    assert chart is not None and chart.title == "Changes near the anomaly (score)"
    assert (chart.x_label, chart.y_label) == ("deployment / annotation", "score")
    assert [(s.label, s.x) for s in chart.series] == [("score", ["deploy_004"])]


def test_query_metric_by_group_sorted_by_mean(small_wh: Warehouse) -> None:
    (result,) = run_on_demo(small_wh, QueryMetric(metric="dau", group_by="country"))
    groups = result.data["groups"]
    means = [g["mean"] for g in groups]
    assert means == sorted(means, reverse=True) and len(groups) > 2
    assert set(groups[0]) == {"group", "mean", "first", "last", "min", "max"}
    assert all(g["min"] <= g["mean"] <= g["max"] for g in groups)
    chart = result.chart
    assert chart is not None and chart.title == "dau (all traffic)"
    labels = [f"country={g['group']['country']}" for g in groups]
    assert [s.label for s in chart.series] == labels[:8]
    assert result.findings[0].startswith(
        f"dau for all traffic from 2025-12-11 to 2026-02-11: {labels[0]} mean "
    )


def test_query_metric_of_a_segment(small_wh: Warehouse) -> None:
    (result,) = run_on_demo(
        small_wh, QueryMetric(metric="dau", filters={"country": "in"}, group_by="platform")
    )
    assert result.data["filters"] == {"country": "IN"}
    assert result.findings[0].startswith(
        "dau for country=IN from 2025-12-11 to 2026-02-11: platform=android mean 144 "
        "(first 157, last 65); platform=ios mean "
    )
    android = result.data["groups"][0]
    assert (android["min"], android["max"]) == (45.0, 210.0)


def test_retention_of_cohorts_all_before_the_window(small_wh: Warehouse) -> None:
    start = small_wh.schema.start_date
    (result,) = run_on_demo(
        small_wh, AnalyzeRetention(cohort_start=start, cohort_end=start + timedelta(days=20))
    )
    assert result.success, result.error
    assert result.findings == ["Not enough signup cohorts for all traffic to compare retention."]
    d = result.data
    assert (d["cohort_start"], d["cohort_end"]) == ("2025-12-11", "2025-12-31")
    assert d["d1_recent"] is None and d["d1_earlier"] == pytest.approx(0.664)
    assert "cohort_size_change_pct" not in d and "d1_change_pct" not in d


# -- helpers on hand-made inputs (no warehouse: fast, one function under test each) -------------

SCHEMA = WarehouseSchema(
    metrics=["dau"],
    dimensions=[
        DimensionInfo(name="platform", level="event", values=["android", "ios"], cardinality=2),
        DimensionInfo(name="country", level="user", values=["IN", "US", "BR"], cardinality=3),
    ],
    start_date=date(2026, 1, 1),
    end_date=date(2026, 2, 28),
    event_types=["app_open"],
    has_users=True,
    has_deployments=True,
    has_annotations=False,
    row_count=1_000,
)
DAY0 = date(2026, 1, 1)


def bench() -> Workbench:
    """A workbench over a stand-in warehouse (only its schema is read by these helpers)."""
    return Workbench(SimpleNamespace(schema=SCHEMA))  # type: ignore[arg-type]


def anomaly(direction: str, filters: dict[str, str] | None = None, metric: str = "dau") -> Anomaly:
    start = date(2026, 2, 10) if direction != "none" else None
    end = date(2026, 2, 20) if direction != "none" else None
    return Anomaly(metric, filters or {}, direction, "step", start, end, -10.0, 0.001, "why")


def test_windows_without_an_anomaly_are_the_last_week_and_four_weeks_before() -> None:
    base, cur, from_anomaly = bench().windows()
    assert cur == (date(2026, 2, 22), date(2026, 2, 28))
    assert base == (date(2026, 1, 25), date(2026, 2, 21))
    assert from_anomaly is False


def test_windows_follow_the_anomaly_and_are_cut_at_the_data_start() -> None:
    b = bench()
    b.set_anomaly(anomaly("drop"))
    assert b.windows() == (
        (date(2026, 1, 13), date(2026, 2, 9)),
        (date(2026, 2, 10), date(2026, 2, 20)),
        True,
    )
    assert b.baseline_before(date(2026, 1, 5)) == (DAY0, date(2026, 1, 4))
    b.set_anomaly(anomaly("none"))
    assert b.context.window is None and b.context.baseline is None
    assert b.windows()[2] is False


def test_a_check_becomes_the_anomaly_unless_a_broader_one_is_known() -> None:
    b = bench()
    drop, quiet = anomaly("drop"), anomaly("none")
    _record(b, quiet)
    assert b.context.anomaly is quiet  # nothing known yet
    _record(b, drop)
    assert b.context.anomaly is drop  # a break beats no break
    _record(b, anomaly("none", metric="events"))
    assert b.context.anomaly is drop  # another metric's quiet check does not replace it
    recheck = anomaly("drop")
    _record(b, recheck)
    assert b.context.anomaly is recheck  # the same metric and filters, checked again
    _record(b, anomaly("drop", {"platform": "ios"}))
    assert b.context.anomaly is recheck  # a segment's break is narrower than the total's
    assert set(b.context.checked) == {"dau|all traffic", "events|all traffic", "dau|platform=ios"}


def test_a_segment_s_check_replaces_only_that_segment_s_anomaly() -> None:
    b = bench()
    ios = anomaly("drop", {"platform": "ios"})
    _record(b, ios)
    assert b.context.anomaly is ios
    android = anomaly("none", {"platform": "android"})
    _record(b, android)
    assert b.context.anomaly is ios  # same metric, other filters, no break
    again = anomaly("none", {"platform": "ios"})
    _record(b, again)
    assert b.context.anomaly is again


def series(groups: dict[str, list[float]]) -> MetricSeries:
    points = [
        SeriesPoint(
            day=DAY0 + timedelta(days=i),
            group={"app_version": g},
            value=v,
            numerator=v,
            denominator=1,
        )
        for g, values in groups.items()
        for i, v in enumerate(values)
    ]
    n = max(len(v) for v in groups.values())
    return MetricSeries(
        metric="dau",
        filters={},
        group_by=["app_version"],
        start=DAY0,
        end=DAY0 + timedelta(days=n - 1),
        points=points,
    )


def test_values_that_replace_each_other() -> None:
    steady = [10.0] * 56
    assert not values_replace_each_other(series({"a": steady, "b": steady}))
    rollout = [0.0] * 28 + [10.0] * 28
    assert values_replace_each_other(series({"a": steady, "b": rollout}))
    assert values_replace_each_other(series({"b": rollout[::-1], "a": steady}))  # one vanishes
    assert not values_replace_each_other(series({"a": steady, "b": [2.6] * 28 + [10.0] * 28}))
    assert not values_replace_each_other(series({"a": [10.0] * 27, "b": rollout[:27]}))  # short
    two_weeks = series({"b": [0.0] * 14 + [10.0] * 14})
    assert values_replace_each_other(two_weeks, weeks=2)
    assert not values_replace_each_other(two_weeks)  # shorter than four weeks: not judged


def cohort(day: int, size: int, d7: float | None) -> Cohort:
    return Cohort(cohort=DAY0 + timedelta(days=day), size=size, retention={7: d7})


def test_pooled_retention_weighs_cohorts_by_size() -> None:
    cohorts = [cohort(0, 100, 0.5), cohort(7, 300, 0.3), cohort(14, 50, None)]
    assert weighted(cohorts, 7) == pytest.approx((50 + 90) / 400)
    assert weighted(cohorts, 1) is None and weighted([], 7) is None


def test_a_run_of_cohorts_retaining_far_below_normal() -> None:
    rates = [0.5, 0.5, 0.5, 0.2, 0.2, 0.5, 0.5, 0.25]
    weekly = [cohort(7 * i, 400, r) for i, r in enumerate(rates)]
    found = _bad_run(weekly)
    assert found is not None
    strength, (good, bad) = found
    assert [c.cohort for c in bad] == [DAY0 + timedelta(days=21), DAY0 + timedelta(days=28)]
    assert [c.retention[7] for c in good] == [0.5] * 5
    z = 0.3 / math.sqrt(0.25 / 400)
    assert strength == pytest.approx(2 * z)  # the longer run, not the lone 0.25 at the end


def test_no_bad_run_in_small_few_or_steady_cohorts() -> None:
    assert _bad_run([cohort(7 * i, 400, 0.5) for i in range(8)]) is None
    assert _bad_run([cohort(7 * i, 400, r) for i, r in enumerate([0.5, 0.5, 0.5, 0.2])]) is None
    tiny = [cohort(7 * i, 9, r) for i, r in enumerate([0.5, 0.5, 0.5, 0.0, 0.0, 0.5])]
    assert _bad_run(tiny) is None  # cohorts under 10 signups are not rated
    assert _bad_run([cohort(7 * i, 400, 0.0) for i in range(6)]) is None  # no normal to compare


def test_the_edge_is_the_day_retention_falls_most_sharply() -> None:
    daily = [cohort(i, 50, 0.5 if i < 20 else 0.2) for i in range(40)]
    assert _edge(daily, DAY0 + timedelta(days=17), falling=True) == DAY0 + timedelta(days=20)
    assert _edge(daily, DAY0 + timedelta(days=23), falling=True) == DAY0 + timedelta(days=20)
    recovers = [cohort(i, 50, 0.2 if i < 20 else 0.5) for i in range(40)]
    assert _edge(recovers, DAY0 + timedelta(days=22), falling=False) == DAY0 + timedelta(days=20)
    # no cohorts around it: the day asked about
    assert _edge(daily, DAY0 + timedelta(days=90), falling=True) == DAY0 + timedelta(days=90)


def scored(segments: list[dict[str, str]], fields: list[str], days_after: int) -> EventFinding:
    at = datetime(2026, 2, 10, 9) + timedelta(days=days_after)
    return _scored(
        SCHEMA, segments, ("deployment", "d1", at), "a release", fields, {}, date(2026, 2, 10)
    )


def test_a_change_is_scored_against_the_segment_it_overlaps_best() -> None:
    e = scored([{"country": "US"}, {"platform": "android", "country": "IN"}], ["android", "IN"], 0)
    assert (e.overlap, e.proximity, e.score, e.explains) == (1.0, 1.0, 1.0, True)
    assert e.segment == {"platform": "android", "country": "IN"}
    assert (e.kind, e.id, e.at, e.description) == (
        "deployment",
        "d1",
        "2026-02-10T09:00:00",
        "a release",
    )
    late = scored([{"platform": "android"}], ["android"], 1)
    assert (late.score, late.explains) == (0.75, True)
    later = scored([{"platform": "android"}], ["android"], 2)
    assert (later.score, later.explains) == (0.125, False)  # two days after: not a cause
    half = scored([{"platform": "android", "country": "IN"}], ["android"], 0)
    assert (half.overlap, half.explains) == (pytest.approx(0.7), True)
    weak = scored([{"country": "IN"}], [], 0)  # a global change, one segment
    assert (weak.overlap, weak.explains) == (0.5, True)
    unscoped = scored([], ["android"], 0)  # no segment known: a scoped change overlaps 0.3
    assert (unscoped.overlap, unscoped.explains, unscoped.segment) == (0.3, False, {})
    everywhere = scored([], [], 0)
    assert (everywhere.overlap, everywhere.explains) == (1.0, True)


def event(ident: str, score: float, explains: bool, kind: str = "deployment") -> EventFinding:
    return EventFinding(
        kind, ident, "2026-02-09T10:00:00", f"{ident} notes", 1.0, score, score, explains
    )


def test_findings_name_the_explaining_change_and_the_ones_ruled_out() -> None:
    segs = [{"platform": "android"}, {"country": "IN"}]
    around = date(2026, 2, 10)
    top = event("d1", 1.0, True)
    top.segment = {"platform": "android"}
    findings = _findings([top, event("d2", 0.6, True), event("d3", 0.2, False)], segs, around)
    assert findings == [
        "deployment d1 at 2026-02-09T10:00:00 explains it: d1 notes — matches platform=android, "
        "1 day before the anomaly start 2026-02-10.",
        "Also plausible: deployment d2 (d2 notes).",
        "Checked and ruled out: deployment d3 (d3 notes, score 0.20).",
    ]
    partial = event("d1", 0.7, True)
    assert _findings([partial], segs, around)[0].endswith(
        "overlaps platform=android; country=IN, 1 day before the anomaly start 2026-02-10."
    )
    assert _findings([event("holiday", 1.0, True, "holiday")], segs, around)[1] == (
        "No deployment explains it: none near 2026-02-10 overlaps platform=android; country=IN."
    )
    assert _findings([], [], around) == [
        "No deployment explains it: none near 2026-02-10 overlaps the whole metric."
    ]


# -- a break hidden in one segment: a stand-in workbench whose series are written by hand ---------

HIDDEN_DAYS = 70
BREAK_DAY = 56  # the small segment changes here, to the end of the data


def hidden_bench(small: float, after: float) -> tuple[Workbench, list[float]]:
    """A noisy big segment (phone, ~200/day) and a steady small one (tablet) that moves to
    ``after`` from ``BREAK_DAY``; the total's own series is too noisy to show it."""
    rng = np.random.default_rng(7)
    phone = [float(round(200 + rng.normal(0, 40))) for _ in range(HIDDEN_DAYS)]
    tablet = [
        (small if i < BREAK_DAY else after) + round(rng.normal(0, 1)) for i in range(HIDDEN_DAYS)
    ]
    total = [p + t for p, t in zip(phone, tablet, strict=True)]
    schema = SCHEMA.model_copy(
        update={
            "dimensions": [
                DimensionInfo(
                    name="platform", level="event", values=["phone", "tablet"], cardinality=2
                )
            ],
            "end_date": DAY0 + timedelta(days=HIDDEN_DAYS - 1),
        }
    )
    b = Workbench(SimpleNamespace(schema=schema))  # type: ignore[arg-type]
    b._cache[("series", "dau", ())] = daily({"": total}, "platform")
    b._cache[("grouped", "dau", "platform")] = daily({"phone": phone, "tablet": tablet}, "platform")
    return b, total


def daily(groups: dict[str, list[float]], dim: str) -> MetricSeries:
    points = [
        SeriesPoint(
            day=DAY0 + timedelta(days=i),
            group={dim: g} if g else {},
            value=v,
            numerator=v,
            denominator=1,
        )
        for g, values in groups.items()
        for i, v in enumerate(values)
    ]
    n = max(len(v) for v in groups.values())
    return MetricSeries(
        metric="dau",
        filters={},
        group_by=[dim] if any(groups) else [],
        start=DAY0,
        end=DAY0 + timedelta(days=n - 1),
        points=points,
    )


def test_a_drop_hidden_in_a_small_segment_is_found_and_told_on_the_total() -> None:
    b, total = hidden_bench(30.0, 0.0)
    result = detect_run(b, DetectAnomaly(metric="dau"))
    assert result.findings[0].startswith(
        "The total alone shows no significant break, but platform=tablet broke on 2026-02-26: "
        "sustained drop of "
    )
    assert result.findings[1].startswith(
        "dau (all traffic) dropped -1"  # about 30 of ~230 a day: -10..-19%
    ) and result.findings[1].endswith(", step).")
    assert (
        "vs its seasonal baseline from 2026-02-26 to the end of the data (p=" in result.findings[1]
    )
    d = result.data
    assert (d["detected"], d["direction"], d["start"], d["end"], d["ongoing"]) == (
        True,
        "drop",
        "2026-02-26",
        "2026-03-11",
        True,
    )
    assert d["change_pct"] == pytest.approx(-15.1, abs=1)
    assert d["actual_mean"] == pytest.approx(float(np.mean(total[BREAK_DAY:])))
    anomaly = b.context.anomaly
    assert anomaly is not None and anomaly.direction == "drop"
    assert anomaly.start == DAY0 + timedelta(days=BREAK_DAY)


def test_a_rise_hidden_in_a_small_segment_is_a_spike() -> None:
    b, _ = hidden_bench(30.0, 60.0)
    result = detect_run(b, DetectAnomaly(metric="dau"))
    assert result.findings[1].startswith("dau (all traffic) spiked +")
    assert result.data["direction"] == "spike" and result.data["start"] == "2026-02-26"


def test_no_hidden_break_in_a_segment_too_small_to_move_the_total() -> None:
    b, total = hidden_bench(4.0, 0.0)
    days = [DAY0 + timedelta(days=i) for i in range(HIDDEN_DAYS)]
    assert scan_segments(b, "dau", days, total, None) is None
    result = detect_run(b, DetectAnomaly(metric="dau"))
    assert result.data["detected"] is False and result.data["filters"] == {}
    assert result.findings[0].startswith("No anomaly in dau (all traffic): ")


def test_a_sustained_break_in_a_small_segment_outweighs_one_odd_day_of_a_large_one() -> None:
    # a steady large segment (watch, ~150/day) with one odd day at -60%: the larger share of
    # the total on that day, but far less of the metric moved than by tablet's lasting drop
    b, total = hidden_bench(30.0, 0.0)
    rng = np.random.default_rng(11)
    watch = [150.0 + round(rng.normal(0, 2)) for _ in range(HIDDEN_DAYS)]
    watch[HIDDEN_DAYS - 4] = 60.0
    grouped = b._cache[("grouped", "dau", "platform")]
    by = {g: [p.value for p in grouped.for_group({"platform": g})] for g in ("phone", "tablet")}
    b._cache[("grouped", "dau", "platform")] = daily({**by, "watch": watch}, "platform")
    total = [t + w for t, w in zip(total, watch, strict=True)]
    b._cache[("series", "dau", ())] = daily({"": total}, "platform")
    days = [DAY0 + timedelta(days=i) for i in range(HIDDEN_DAYS)]
    found = scan_segments(b, "dau", days, total, None)
    assert found is not None
    assert found[1].startswith(
        "The total alone shows no significant break, but platform=tablet broke on 2026-02-26"
    )


@pytest.mark.parametrize(
    ("days_late", "sharpened"),
    [(3, True), (4, False)],  # a step's start moves back by at most half a week
)
def test_the_start_is_sharpened_on_the_segment_within_half_a_week(
    days_late: int, sharpened: bool
) -> None:
    b, _ = hidden_bench(30.0, 0.0)
    tablet = b.grouped("dau", "platform").for_group({"platform": "tablet"})
    b._cache[("series", "dau", (("platform", "tablet"),))] = daily(
        {"tablet": [p.value for p in tablet]}, "platform"
    )
    found = DAY0 + timedelta(days=BREAK_DAY + days_late)  # where the total placed it
    b.set_anomaly(
        Anomaly("dau", {}, "drop", "step", found, b.schema.end_date, -15.0, 1e-9, "a step")
    )
    moved = sharpen_start(b, "dau", {"platform": "tablet"})
    start = DAY0 + timedelta(days=BREAK_DAY)
    if sharpened:
        assert moved == (
            f"The break is sharper in platform=tablet: it starts on {start}, not {found}; "
            "the anomaly window now starts there."
        )
        assert b.context.window == (start, b.schema.end_date)
        assert b.context.baseline == b.baseline_before(start)
    else:
        assert moved is None and b.context.window == (found, b.schema.end_date)


def test_drill_down_on_flat_data_names_the_dimensions_it_searched(tmp_path: Path) -> None:
    """Five weeks of the same 30 users a day: nothing can stand out, whatever the localizer."""
    path = tmp_path / "flat.duckdb"
    con = duckdb.connect(str(path))
    try:
        con.execute(
            "CREATE TABLE events (user_id BIGINT, event_timestamp TIMESTAMP, event_type VARCHAR, "
            "device VARCHAR, market VARCHAR)"
        )
        rows = [
            (
                u,
                datetime(2025, 5, 1, 9) + timedelta(days=d),
                "open",
                "phone" if u % 2 else "desktop",
                "north" if u % 3 else "south",
            )
            for d in range(35)
            for u in range(1, 31)
        ]
        con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", rows)
    finally:
        con.close()
    wh = open_warehouse(path)
    try:
        (result,) = run_on_demo(wh, DrillDown(metric="dau", dimensions=["device", "market"]))
    finally:
        wh.close()
    assert result.findings == [
        "No segment stands out across device, market: the change is spread evenly.",
        "No anomaly window yet: compared 2025-05-29..2025-06-04 with 2025-05-01..2025-05-28.",
    ]
    assert result.data == {
        "metric": "dau",
        "dimensions": ["device", "market"],
        "migrating": [],
        "filters": {},
        "elements": [],
        "explained_share": 0.0,
        "rest_change_pct": 0.0,
        "dimension_scores": {"device": 0.0, "market": 0.0},
    }
    assert result.chart is None


# -- the statistical test, the breakdown and the detector's words on the demo story ---------------


def test_the_segment_against_its_own_past(small_wh: Warehouse) -> None:
    ex = ToolExecutor(small_wh)
    ex.run(DETECT)
    ex.context.segments = [SegmentFinding(ANDROID_IN, -60.0, 0.9, 1.0)]
    result = ex.run(StatisticalTest(metric="dau", segment=ANDROID_IN))
    d = result.data
    assert result.findings[0] == (
        f"platform=android, country=IN changed {pct(100 * d['rel_diff'])} "
        f"({fmt(d['mean_a'])} → {fmt(d['mean_b'])}/day), significant "
        f"(Welch p={fmt(d['p_value'], 2)}, effect size g={fmt(d['effect_size'], 2)}, "
        f"95% CI of the difference [{fmt(d['ci_low'])}, {fmt(d['ci_high'])}])."
    )
    window = ex.context.window
    baseline = ex.context.baseline
    assert window is not None and baseline is not None
    assert result.findings[1] == (
        f"Compared platform=android, country=IN: {window[0]}..{window[1]} vs "
        f"{baseline[0]}..{baseline[1]}."
    )
    assert (d["n_a"], d["n_b"]) == (
        (baseline[1] - baseline[0]).days + 1,
        (window[1] - window[0]).days + 1,
    )
    assert ex.context.segments[0].p_value == d["p_value"]  # the report's segment carries it


def test_the_segment_against_the_rest(small_wh: Warehouse) -> None:
    ex = ToolExecutor(small_wh)
    ex.run(DETECT)
    window = ex.context.window
    assert window is not None
    count = ex.run(StatisticalTest(metric="dau", segment=ANDROID_IN, compare_to="rest"))
    assert count.findings[1] == (
        f"Compared platform=android, country=IN vs the rest during {window[0]}..{window[1]} "
        "(indexed to baseline)."
    )
    assert count.data["mean_a"] == pytest.approx(1.1, abs=0.1)  # the rest grew a little
    assert count.data["mean_b"] == pytest.approx(0.34, abs=0.05)  # the segment lost two thirds
    ratio = ex.run(StatisticalTest(metric="events_per_user", segment=ANDROID_IN, compare_to="rest"))
    assert ratio.data["mean_a"] == pytest.approx(1.0, abs=0.05)  # per-user rates hardly moved
    assert ratio.data["significant"] is False and "not significant" in ratio.findings[0]


def test_the_breakdown_states_the_total_and_the_other_values(small_wh: Warehouse) -> None:
    _, result = run_on_demo(small_wh, DETECT, SegmentByDimension(metric="dau", dimension="country"))
    d = result.data
    total = pct((d["total_after"] / d["total_before"] - 1) * 100)
    assert result.findings[0].endswith(f"of the change (total {total}).")
    others = [
        f"{r['value']} {pct(r['change_pct'])} ({share_text(r['share_of_change'], 2)}%)"
        for r in d["rows"][1:5]
    ]
    assert result.findings[1] == "Others: " + "; ".join(others) + "."
    assert len(others) == 4


def test_a_date_named_away_from_the_break_is_said_to_be(small_wh: Warehouse) -> None:
    (detect,) = run_on_demo(small_wh, DetectAnomaly(metric="dau", hint_date=date(2026, 1, 10)))
    assert detect.findings[-1] == (
        "The date mentioned (2026-01-10) is not where the break is: it starts "
        f"{detect.data['start']}."
    )
    assert detect.data["filters"] == {} and detect.data["detected"] is True


# -- retention: verdicts, and the cohort scan over hand-written cohorts ---------------------------


@pytest.mark.parametrize(
    ("comp", "verdict"),
    [
        ({}, "Not enough signup cohorts for all traffic to compare retention."),
        (
            {"d1_change_pct": -15.0, "d1_earlier": 0.6, "d1_recent": 0.51},
            "Retention fell for recent cohorts (all traffic): day-1 60% → 51% (-15.0%): new "
            "users are churning.",
        ),
        (
            {"d1_change_pct": -14.9, "d7_change_pct": -30.0},
            "Retention of recent cohorts (all traffic) is in line with earlier ones (day-1 "
            "-14.9%, day-7 -30.0%): not a churn problem.",
        ),
        (
            {"d7_change_pct": -20.0, "d1_earlier": None, "d1_recent": None},
            "Retention fell for recent cohorts (all traffic): day-1 0% → 0% (n/a): new users "
            "are churning.",
        ),
    ],
)
def test_retention_verdict(comp: dict[str, float | None], verdict: str) -> None:
    assert _verdict(comp, {}) == verdict


def test_five_rated_cohorts_are_enough_for_a_bad_run() -> None:
    found = _bad_run([cohort(7 * i, 200, r) for i, r in enumerate([0.5, 0.5, 0.5, 0.2, 0.2])])
    assert found is not None and [c.retention[7] for c in found[1][1]] == [0.2, 0.2]


BAD_SIGNUPS = range(21, 35)  # India's signups of these days (from DAY0) retain 0.2, not 0.5
BR_BAD_SIGNUPS = range(42, 49)  # a shorter, milder run in Brazil (0.3), weaker than India's
WEEKLY_SIGNUPS = {"IN": 200, "US": 300, "BR": 300}


def _rate(country: str | None, day: int) -> float:
    if country == "IN":
        return 0.2 if day in BAD_SIGNUPS else 0.5
    if country == "BR":
        return 0.3 if day in BR_BAD_SIGNUPS else 0.5
    if country is None:  # everyone: India's share diluted in the others'
        sizes = WEEKLY_SIGNUPS
        return sum(_rate(c, day) * n for c, n in sizes.items()) / sum(sizes.values())
    return 0.5


def fake_retention(
    _wh: object,
    *,
    cohort_start: date,
    cohort_end: date,
    days: list[int],
    filters: dict[str, str] | None,
    cohort_grain: str,
) -> Retention:
    country = (filters or {}).get("country")
    step = 7 if cohort_grain == "week" else 1
    weekly = WEEKLY_SIGNUPS.get(country, 0) if country else sum(WEEKLY_SIGNUPS.values())
    cohorts = []
    day = cohort_start
    while day <= cohort_end:
        first = (day - DAY0).days
        rate = sum(_rate(country, first + k) for k in range(step)) / step
        size = weekly * step // 7
        cohorts.append(Cohort(cohort=day, size=size, retention={n: rate for n in days}))
        day += timedelta(days=step)
    return Retention(cohort_grain=cohort_grain, days=days, filters={}, cohorts=cohorts)


def test_the_cohort_scan_finds_the_segment_and_days_whose_signups_retain_worse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(retention_action.q, "retention", fake_retention)
    found = scan_cohorts(bench())
    assert found is not None
    z = 0.3 / math.sqrt(0.25 / 400)  # 0.5 → 0.2 over the 400 signups of the two bad weeks
    assert found.as_data() == {
        "declined": True,
        "segment": {"country": "IN"},
        "start": "2026-01-22",
        "end": "2026-02-04",
        "d7_before": pytest.approx(0.5),
        "d7_during": pytest.approx(0.2),
        "change_pct": pytest.approx(-60.0),
        "p_value": pytest.approx(2 * sps.norm.sf(z), rel=1e-6, abs=0),
        "score": pytest.approx(2 * 0.3 / math.sqrt(0.25 / 200)),
    }


def test_retention_of_everyone_leads_with_the_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retention_action.q, "retention", fake_retention)
    b = bench()
    result = retention_action.run(b, AnalyzeRetention())
    assert result.findings[0].startswith(
        "Retention fell for country=IN users who signed up from 2026-01-22 to 2026-02-04: "
        "day-7 retention 50% → 20% (-60.0%, p="
    )
    assert result.findings[1].startswith("Retention of recent cohorts (all traffic) is in line")
    assert result.findings[2] == "Weekly signups: 800 before → 800 recently (+0.0%)."
    d = result.data
    assert (d["cohort_start"], d["cohort_end"]) == ("2026-01-03", "2026-02-28")
    assert [c["cohort"] for c in d["cohorts"]] == [  # the last eight of nine weekly cohorts
        "2026-01-10",
        "2026-01-17",
        "2026-01-24",
        "2026-01-31",
        "2026-02-07",
        "2026-02-14",
        "2026-02-21",
        "2026-02-28",
    ]
    chart = result.chart
    assert chart is not None and chart.title == "Retention by weekly cohort (all traffic)"
    assert (chart.kind, chart.x_label, chart.y_label) == (
        "retention",
        "days since signup",
        "% retained",
    )
    assert [s.style for s in chart.series] == ["baseline"] * 5 + ["segment"] * 3
    assert chart.series[0].x == ["D1", "D7", "D14", "D28"]
    assert b.context.retention is not None and b.context.retention.segment == {"country": "IN"}
    # within an anomaly window, recent means from the window's start
    b.set_anomaly(
        Anomaly("dau", {}, "drop", "step", date(2026, 2, 7), date(2026, 2, 28), -5.0, 0.01, "")
    )
    windowed = retention_action.run(b, AnalyzeRetention(filters={"country": "US"}))
    assert windowed.data["cohort_start"] == "2026-01-01"  # six weeks before 02-07, cut at the start
    assert [s.style for s in windowed.chart.series][-4:] == ["segment"] * 4


def test_the_event_type_is_a_dimension_of_event_counts_only() -> None:
    schema = SCHEMA.model_copy(
        update={
            "metrics": ["dau", "events"],
            "dimensions": [
                *SCHEMA.dimensions,
                DimensionInfo(name="event_type", level="event", values=["open"], cardinality=1),
                DimensionInfo(name="user_id", level="user", values=["1"], cardinality=5_000),
            ],
        }
    )
    b = Workbench(SimpleNamespace(schema=schema))  # type: ignore[arg-type]
    assert b.candidate_dimensions("dau") == ["platform", "country"]
    assert b.candidate_dimensions("events") == ["platform", "country", "event_type"]


def test_a_segment_whose_version_changed_hands_is_tested_through_its_users(
    small_wh: Warehouse,
) -> None:
    ex = ToolExecutor(small_wh)
    ex.run(DETECT)
    ex.context.migrating = ["app_version"]
    result = ex.run(StatisticalTest(metric="dau", segment={**ANDROID_IN, "app_version": "2.3.0"}))
    assert result.data["tested"] == ANDROID_IN
    assert result.data["segment"] == {**ANDROID_IN, "app_version": "2.3.0"}
    assert result.findings[2] == (
        "app_version changed hands during the window: tested the users of platform=android, "
        "country=IN before vs during."
    )
