"""core.actions.deployments: scope overlap (platform, version, regions) and time proximity."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import pytest

from metric_anomaly_investigator.core.actions.deployments import overlap, proximity
from metric_anomaly_investigator.core.models import CheckDeployments, StepResult
from metric_anomaly_investigator.core.tools import ToolExecutor
from metric_anomaly_investigator.warehouse.warehouse import Warehouse

START = date(2026, 1, 28)
DEPLOY_003 = ["android", "2.3.0", "IN", "BR"]  # platform, version, regions of the demo deploy


def at(days_after_start: int) -> datetime:
    return datetime(2026, 1, 28, 10) + timedelta(days=days_after_start)


@pytest.mark.parametrize(
    ("days_after_start", "expected"),
    [
        (0, 1.0),  # on the start day
        (-1, 1.0),  # the day before
        (1, 0.75),  # the day after: a daily start is only known to within a day
        (2, 0.125),  # two days after: 0.5**2 * 0.5
        (3, 0.0625),
        (-2, math.exp(-1 / 3)),
        (-4, math.exp(-1)),
        (-10, math.exp(-3)),
    ],
)
def test_proximity(days_after_start: int, expected: float) -> None:
    assert proximity(at(days_after_start), START) == pytest.approx(expected)


def test_a_change_after_the_start_weighs_less_than_one_before() -> None:
    assert proximity(at(2), START) < 0.5 < proximity(at(-2), START)


@pytest.mark.parametrize(
    ("fields", "scope", "segment", "expected"),
    [
        (DEPLOY_003, {}, {"platform": "android", "country": "IN"}, 1.0),
        (DEPLOY_003, {}, {"platform": "android", "country": "BR"}, 1.0),
        (DEPLOY_003, {}, {"platform": "android", "country": "US"}, 0.0),  # other region
        (DEPLOY_003, {}, {"country": "US"}, 0.0),
        (DEPLOY_003, {}, {"platform": "ios"}, 0.0),  # other platform
        (DEPLOY_003, {}, {"app_version": "2.2.0"}, 0.0),  # other version
        (DEPLOY_003, {}, {"platform": "android"}, 1.0),
        (["android"], {}, {"platform": "android", "country": "IN"}, 0.7),  # half the segment
        (["android"], {}, {"acquisition_channel": "referral"}, 0.1),  # nothing in common
        (DEPLOY_003, {}, {}, 0.3),  # scoped change, whole metric
        ([], {}, {}, 1.0),  # global change, whole metric
        ([], {}, {"platform": "android"}, 0.5),  # global change, one segment
        ([], {"country": "br"}, {"country": "BR"}, 1.0),  # annotation scope, any case
        ([], {"country": "IN"}, {"country": "BR"}, 0.0),
    ],
)
def test_overlap(
    small_wh: Warehouse,
    fields: list[str],
    scope: dict[str, str],
    segment: dict[str, str],
    expected: float,
) -> None:
    assert overlap(small_wh.schema, fields, scope, segment) == pytest.approx(expected)


def check(small_wh: Warehouse, segment: dict[str, str]) -> StepResult:
    return ToolExecutor(small_wh).run(CheckDeployments(around=START, segment=segment))


def test_a_deploy_to_other_regions_does_not_explain_a_drop_elsewhere(small_wh: Warehouse) -> None:
    """deploy_003 shipped to India and Brazil: it cannot explain an Android drop in the US."""
    result = check(small_wh, {"platform": "android", "country": "US"})
    by_id = {e["id"]: e for e in result.data["events"]}
    assert by_id["deploy_003"]["overlap"] == 0.0 and not by_id["deploy_003"]["explains"]
    assert result.findings[0].startswith("No deployment explains it")


def test_the_deploy_explains_the_drop_where_it_shipped(small_wh: Warehouse) -> None:
    result = check(small_wh, {"platform": "android", "country": "IN"})
    by_id = {e["id"]: e for e in result.data["events"]}
    assert by_id["deploy_003"].pop("at").startswith("2026-01-28T10:00:00")
    assert by_id["deploy_003"] == {
        "kind": "deployment",
        "id": "deploy_003",
        "description": (
            "android, 2.3.0, IN, BR: Android 2.3.0: new onboarding flow and media player"
        ),
        "proximity": 1.0,
        "overlap": 1.0,
        "score": 1.0,
        "explains": True,
    }
    assert result.data["events"][0]["id"] == "deploy_003"
    assert by_id["deploy_004"]["overlap"] == 0.0  # iOS
    assert by_id["deploy_004"]["proximity"] == 0.125  # two days after the start
    assert result.data["window"] == ["2026-01-21", "2026-01-30"]
    assert result.findings[0].startswith("deployment deploy_003 at 2026-01-28T10:00:00")
    assert "explains it: android, 2.3.0, IN, BR: Android 2.3.0" in result.findings[0]
    assert (
        "matches platform=android, country=IN, on the day of the anomaly start"
        in (result.findings[0])
    )
