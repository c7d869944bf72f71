"""core.actions: writing helpers, chart builders, and each action's numbers on the demo story."""

from __future__ import annotations

from datetime import date

import pytest

from metric_anomaly_investigator.core.actions.charts import bars, days_axis, line
from metric_anomaly_investigator.core.actions.formatting import (
    fmt,
    no_window_note,
    pct,
    plural,
    share_text,
)
from metric_anomaly_investigator.core.models import (
    Action,
    AnalyzeRetention,
    ChartSeries,
    DetectAnomaly,
    DrillDown,
    SegmentByDimension,
    StatisticalTest,
    StepResult,
)
from metric_anomaly_investigator.core.tools import ToolExecutor
from metric_anomaly_investigator.warehouse.connect import Warehouse

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


def test_retention_data(small_wh: Warehouse) -> None:
    (retention,) = run_on_demo(
        small_wh, AnalyzeRetention(filters={"acquisition_channel": "organic"})
    )
    d = retention.data
    assert d["filters"] == {"acquisition_channel": "organic"}
    assert 0 < d["d1_recent"] < d["d1_earlier"] < 1
    assert d["d1_change_pct"] == pytest.approx(100 * (d["d1_recent"] / d["d1_earlier"] - 1))
    assert retention.findings[0].startswith("Retention fell for recent cohorts")
