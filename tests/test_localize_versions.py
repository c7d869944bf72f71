"""The drill-down names the right segment when a dimension migrates (app versions rolling out)
and never splits a metric by a dimension that does not split what it counts."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from metric_anomaly_investigator.core.actions.workbench import Workbench
from metric_anomaly_investigator.core.models import (
    DetectAnomaly,
    DrillDown,
    SegmentByDimension,
    StatisticalTest,
)
from metric_anomaly_investigator.core.segments import missing_value
from metric_anomaly_investigator.core.tools import ToolExecutor
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.generator import (
    DeploymentSpec,
    Effect,
    WorldSpec,
    generate_world,
)
from metric_anomaly_investigator.warehouse.scenarios import generate_scenario

# -- missing_value on a segment's daily traffic per version -----------------------------------

START = date(2026, 3, 1)
DAYS = [START + timedelta(days=i) for i in range(42)]
DEPLOY = 28  # the new version ships on this day
WINDOW = (DAYS[DEPLOY], DAYS[DEPLOY + 2])


def rollout(
    *, new_factor: float = 1.0, all_factor: float = 1.0, until: int = DEPLOY + 2
) -> dict[str, list[float]]:
    """1,000 users a day (less at weekends) moving from 1.0 to 2.0 over a few days; during the
    window 2.0's users are scaled by ``new_factor`` and everyone's by ``all_factor``."""
    old, new = [], []
    for i, d in enumerate(DAYS):
        level = 1000.0 * (0.85 if d.weekday() >= 5 else 1.0)
        adopted = 0.0 if i < DEPLOY else 1.0 - np.exp(-(i - DEPLOY + 0.6) / 2.0)
        hit = DEPLOY <= i <= until
        f_new = new_factor * all_factor if hit else 1.0
        f_all = all_factor if hit else 1.0
        old.append(level * (1.0 - adopted) * f_all)
        new.append(level * adopted * f_new)
    return {"1.0": old, "2.0": new}


def test_the_broken_new_version_is_named() -> None:
    found = missing_value(DAYS, rollout(new_factor=0.05), WINDOW, direction="drop")
    assert found is not None and found.value == "2.0"
    assert found.observed < 0.1 * found.expected


def test_a_rollout_without_an_outage_names_nothing() -> None:
    assert missing_value(DAYS, rollout(), WINDOW, direction="drop") is None


def test_an_outage_of_every_version_names_none_of_them() -> None:
    for factor in (0.7, 0.4):
        assert missing_value(DAYS, rollout(all_factor=factor), WINDOW, direction="drop") is None


def test_the_broken_version_is_named_when_a_hotfix_replaces_it_after() -> None:
    traffic = rollout(new_factor=0.05)
    hotfix = [0.0] * len(DAYS)
    for i in range(DEPLOY + 3, len(DAYS)):  # the hotfix takes 2.0's users over
        hotfix[i], traffic["2.0"][i] = 0.9 * traffic["2.0"][i], 0.1 * traffic["2.0"][i]
    found = missing_value(DAYS, {**traffic, "2.1": hotfix}, WINDOW, direction="drop")
    assert found is not None and found.value == "2.0"


def test_without_a_day_after_the_window_the_pace_is_not_known() -> None:
    cut = DEPLOY + 3
    traffic = {v: s[:cut] for v, s in rollout(new_factor=0.05).items()}
    assert missing_value(DAYS[:cut], traffic, WINDOW, direction="drop") is None


def test_a_version_absent_from_the_window_is_not_what_went_missing() -> None:
    traffic = rollout(new_factor=0.0)
    assert missing_value(DAYS, traffic, WINDOW, direction="drop") is None


# -- generated worlds -------------------------------------------------------------------------

WORLD_START, WORLD_END = date(2026, 1, 5), date(2026, 3, 8)
RELEASE = date(2026, 2, 19)


def _release(hour: int = 9) -> datetime:
    return datetime.combine(RELEASE, datetime.min.time()).replace(hour=hour)


def _version_world(tmp_path: Path, name: str, *effects: Effect) -> Path:
    spec = WorldSpec(
        start=WORLD_START,
        end=WORLD_END,
        users=4_000,
        seed=811,
        deployments=(
            DeploymentSpec("rel_old", datetime(2025, 12, 1, 10), "ios", "4.0.0"),
            DeploymentSpec("rel_old_a", datetime(2025, 12, 2, 10), "android", "4.0.0"),
            DeploymentSpec("rel_new", _release(), "ios", "4.1.0", adoption_days=3.0),
            DeploymentSpec(
                "rel_fix", _release() + timedelta(days=3), "ios", "4.1.1", adoption_days=0.5
            ),
        ),
        effects=effects,
    )
    return generate_world(spec, tmp_path / f"{name}.duckdb")


def _drill(path: Path) -> tuple[list[dict[str, str]], list[str]]:
    with open_warehouse(path) as wh:
        ex = ToolExecutor(wh)
        ex.run(DetectAnomaly(metric="dau", hint_date=RELEASE))
        result = ex.run(DrillDown(metric="dau"))
    return [e["filters"] for e in result.data["elements"]], result.findings


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("versions")
    outage = Effect(
        "users_leave",
        RELEASE,
        RELEASE + timedelta(days=2),
        segment={"platform": "ios", "app_version": "4.1.0"},
        factor=0.05,
    )
    whole = replace(outage, segment={"platform": "ios"}, factor=0.55)
    return {
        "outage": _version_world(out, "outage", outage),
        "plain": _version_world(out, "plain"),
        "whole": _version_world(out, "whole", whole),
    }


def test_an_outage_in_the_version_rolling_out_names_that_version(
    worlds: dict[str, Path],
) -> None:
    segments, findings = _drill(worlds["outage"])
    assert segments[0] == {"platform": "ios", "app_version": "4.1.0"}
    assert any(f.startswith("Within platform=ios, app_version=4.1.0 had ") for f in findings)


def test_a_version_that_simply_rolls_out_is_not_named(worlds: dict[str, Path]) -> None:
    segments, _ = _drill(worlds["plain"])
    assert all("app_version" not in s for s in segments)


def test_a_whole_platform_down_during_a_rollout_is_the_platform(worlds: dict[str, Path]) -> None:
    segments, _ = _drill(worlds["whole"])
    assert segments[0] == {"platform": "ios"}


@pytest.fixture(scope="module")
def errors_wh(tmp_path_factory: pytest.TempPathFactory):
    path = generate_scenario(
        "errors_latency_de", tmp_path_factory.mktemp("errors") / "w.duckdb", users=2_000
    )
    with open_warehouse(path) as wh:
        yield wh


def test_a_rate_is_never_split_by_the_column_its_definition_filters(errors_wh) -> None:
    bench = Workbench(errors_wh)
    own = errors_wh.schema.metric("error_rate").filter_columns
    assert own and not own & set(bench.candidate_dimensions("error_rate"))
    dim = sorted(own)[0]
    ex = ToolExecutor(errors_wh)
    split = ex.run(SegmentByDimension(metric="error_rate", dimension=dim))
    assert not split.success and "degenerate" in (split.error or "")
    ex.run(DetectAnomaly(metric="error_rate"))
    drill = ex.run(DrillDown(metric="error_rate", dimensions=[dim, "country"]))
    assert drill.success and dim not in drill.data["dimensions"]
    assert all(dim not in e["filters"] for e in drill.data["elements"])


def test_a_per_user_metric_is_not_split_by_a_dimension_its_users_span(errors_wh) -> None:
    bench = Workbench(errors_wh)
    spanned = [d.name for d in errors_wh.schema.dimensions if bench.spans_users(d.name)]
    assert "event_type" in spanned and len(spanned) == 2  # the event type and the status
    (status,) = [d for d in spanned if d != "event_type"]
    for metric in ("dau", "events_per_user", "sessions_per_user"):
        assert status in bench.candidate_dimensions(metric)
        assert status not in bench.splitting_dimensions(metric)
    assert status in bench.splitting_dimensions("events")  # events do split by it
    assert not any(bench.spans_users(d) for d in ("platform", "country", "app_version"))


def test_no_significance_test_on_a_segment_that_is_no_group_of_the_metrics_users(
    errors_wh,
) -> None:
    bench = Workbench(errors_wh)
    (status,) = [
        d.name
        for d in errors_wh.schema.dimensions
        if d.name != "event_type" and bench.spans_users(d.name)
    ]
    value = errors_wh.schema.dimension(status).values[0]
    ex = ToolExecutor(errors_wh)
    per_user = ex.run(StatisticalTest(metric="sessions_per_user", segment={status: value}))
    assert not per_user.success and "describes events, not users" in (per_user.error or "")
    own = ex.run(StatisticalTest(metric="error_rate", segment={status: value}))
    assert not own.success and "defined by a filter" in (own.error or "")
    assert ex.run(StatisticalTest(metric="events", segment={status: value})).success
    # a breakdown by it would count each user twice, so it is refused like the test
    split = ex.run(SegmentByDimension(metric="dau", dimension=status))
    assert not split.success and "describes events, not users" in (split.error or "")
    assert ex.run(SegmentByDimension(metric="events", dimension=status)).success


def test_a_new_version_is_tested_against_what_its_rollout_gave_it(worlds: dict[str, Path]) -> None:
    with open_warehouse(worlds["outage"]) as wh:
        ex = ToolExecutor(wh)
        ex.run(DetectAnomaly(metric="dau", hint_date=RELEASE))
        users = ex.run(StatisticalTest(metric="dau", segment={"app_version": "4.1.0"}))
        rate = ex.run(StatisticalTest(metric="events_per_user", segment={"app_version": "4.1.0"}))
    assert users.success and users.data is not None
    assert users.data["rel_diff"] < -0.7  # its users all but vanished
    assert "vs what its rollout gave it" in users.findings[1]
    assert "n/a" not in users.findings[0]
    assert rate.success and rate.data is not None and rate.data["rel_diff"] is not None
    assert "vs the other app_version values of all traffic" in rate.findings[1]
