"""The autopilot on worlds, questions and data it was never tuned on.

Each world differs from the scenario library in its dimension names, dates, size and planted
effect (a campaign spike, a drop in a nine-valued user dimension, an incident that recovers, a
gradual drift, no deployments table, no users table). Every question must come back with the
right direction, a start within one day, the root-cause segment (row-equivalent to the truth)
and the causal deployment or annotation — or rightly none. Odd warehouses (an all-null column,
a single day of data, days with no events) must give clear findings, never an exception.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from test_autopilot import investigate, load_evals

from metric_anomaly_investigator.core.models import (
    Action,
    AnalyzeRetention,
    CheckDeployments,
    DetectAnomaly,
    DrillDown,
    QueryMetric,
    Report,
    SegmentByDimension,
    StatisticalTest,
)
from metric_anomaly_investigator.core.tools import ToolExecutor
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.generator import (
    AnnotationSpec,
    DeploymentSpec,
    Effect,
    WorldSpec,
    generate_world,
)
from metric_anomaly_investigator.warehouse.warehouse import Warehouse

EVALS = load_evals()


@dataclass(frozen=True)
class Truth:
    direction: str
    start: date
    end: date | None
    root_cause: list[dict[str, str]]
    cause: str | None = None  # the deployment (or annotation) id that explains it
    cause_kind: str = "deployment"


@dataclass(frozen=True)
class World:
    spec: WorldSpec
    truth: Truth
    questions: tuple[str, ...]
    drop_tables: tuple[str, ...] = ()


def _at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, datetime.min.time()).replace(hour=hour)


def _drift(start: date, segment: dict[str, str], steps: int, every: int) -> tuple[Effect, ...]:
    """A gradual decline: the same segment loses ~9% more activity every ``every`` days."""
    return tuple(
        Effect("users_leave", start + timedelta(days=every * k), segment=segment, factor=0.91)
        for k in range(steps)
    )


WORLDS: dict[str, World] = {
    # a campaign annotation lifts one market for a week; a web release nearby is not involved
    "campaign_spike": World(
        WorldSpec(
            start=date(2024, 3, 4),
            end=date(2024, 5, 12),
            users=4_000,
            seed=11,
            platform_col="device",
            country_col="market",
            channel_col="browser",
            plan_col="tier",
            countries={"north": 0.3, "south": 0.25, "east": 0.2, "west": 0.15, "central": 0.1},
            platforms={"phone": 0.6, "tablet": 0.25, "desktop": 0.15},
            platform_by_country={},
            channels={"chrome": 0.5, "safari": 0.3, "firefox": 0.2},
            plans={"free": 0.7, "gold": 0.3},
            initial_versions={"phone": "7.0", "tablet": "7.0", "desktop": "7.0"},
            deployments=(DeploymentSpec("web_7_1", _at(date(2024, 4, 16)), "desktop", "7.1"),),
            annotations=(
                AnnotationSpec(
                    "spring_promo_south",
                    "campaign",
                    _at(date(2024, 4, 18), 0),
                    _at(date(2024, 4, 24), 23),
                    scope={"market": "south"},
                ),
            ),
            effects=(
                Effect(
                    "holiday",
                    date(2024, 4, 18),
                    date(2024, 4, 24),
                    segment={"market": "south"},
                    factor=2.0,
                ),
            ),
        ),
        Truth(
            "spike",
            date(2024, 4, 18),
            date(2024, 4, 24),
            [{"market": "south"}],
            cause="spring_promo_south",
            cause_kind="campaign",
        ),
        ("Why did active users jump?", "Was the bump in late April a tracking bug?"),
    ),
    # one of nine acquisition sources stops coming back mid-week; an iOS release the day
    # before touches other users
    "source_drop_nine_values": World(
        WorldSpec(
            start=date(2025, 6, 2),
            end=date(2025, 8, 10),
            users=5_000,
            seed=23,
            platform_col="os_name",
            country_col="region_code",
            channel_col="campaign_source",
            plan_col="tier",
            countries={"nordics": 0.3, "dach": 0.25, "iberia": 0.2, "benelux": 0.15, "uk": 0.1},
            platform_by_country={},
            channels={
                "organic": 0.22,
                "google": 0.13,
                "meta": 0.12,
                "tiktok": 0.14,
                "newsletter": 0.09,
                "partner_a": 0.08,
                "partner_b": 0.08,
                "affiliate": 0.07,
                "podcast": 0.07,
            },
            deployments=(DeploymentSpec("ios_4_2", _at(date(2025, 7, 15)), "ios", "4.2.0"),),
            effects=(
                Effect(
                    "users_leave",
                    date(2025, 7, 16),
                    segment={"campaign_source": "tiktok"},
                    factor=0.25,
                ),
            ),
        ),
        Truth("drop", date(2025, 7, 16), None, [{"campaign_source": "tiktok"}]),
        ("Are fewer people using the app?", "Did the iOS users drop off in July?"),
    ),
    # a tablet release breaks the app for four days, a hotfix restores it
    "bounded_incident": World(
        WorldSpec(
            start=date(2025, 9, 1),
            end=date(2025, 11, 9),
            users=5_000,
            seed=31,
            platform_col="device",
            country_col="market",
            channel_col="signup_source",
            plan_col="tier",
            countries={"mx": 0.35, "co": 0.25, "ar": 0.2, "cl": 0.2},
            platforms={"phone": 0.5, "tablet": 0.3, "desktop": 0.2},
            platform_by_country={},
            plans={"basic": 0.6, "premium": 0.3, "enterprise": 0.1},
            initial_versions={"phone": "5.1.0", "tablet": "5.1.0", "desktop": "5.1.0"},
            deployments=(
                DeploymentSpec(
                    "rel_tablet_520",
                    _at(date(2025, 10, 14), 6),
                    "tablet",
                    "5.2.0",
                    description="tablet 5.2.0: new sync engine",
                    adoption_days=0.3,
                ),
                DeploymentSpec(
                    "rel_tablet_521",
                    _at(date(2025, 10, 18), 6),
                    "tablet",
                    "5.2.1",
                    description="tablet 5.2.1: hotfix",
                    adoption_days=0.3,
                ),
            ),
            effects=(
                Effect(
                    "users_leave",
                    date(2025, 10, 14),
                    date(2025, 10, 17),
                    segment={"device": "tablet"},
                    factor=0.2,
                ),
            ),
        ),
        Truth(
            "drop",
            date(2025, 10, 14),
            date(2025, 10, 17),
            [{"device": "tablet"}],
            cause="rel_tablet_520",
        ),
        (
            "What happened to sessions per user in mid October?",
            "Why did usage dip on 2025-10-25?",
        ),
    ),
    # one geography slowly loses users over three weeks; a small world
    "gradual_drift_small": World(
        WorldSpec(
            start=date(2026, 4, 6),
            end=date(2026, 6, 14),
            users=2_500,
            seed=47,
            platform_col="os",
            country_col="geo",
            countries={"apac": 0.4, "emea": 0.35, "amer": 0.25},
            platform_by_country={},
            effects=_drift(date(2026, 5, 13), {"geo": "apac"}, steps=6, every=4),
        ),
        Truth("drop", date(2026, 5, 13), None, [{"geo": "apac"}]),
        ("Is the audience shrinking?", "Why are active users down since May?"),
    ),
    # no deployments or annotations tables; the question dates the change relative to the data
    "no_deployments_table": World(
        WorldSpec(
            start=date(2025, 1, 6),
            end=date(2025, 3, 14),
            users=4_000,
            seed=53,
            platform_col="browser",
            country_col="country",
            countries={"FR": 0.3, "DE": 0.25, "ES": 0.2, "IT": 0.15, "NL": 0.1},
            platforms={"chrome": 0.6, "safari": 0.25, "firefox": 0.15},
            platform_by_country={},
            initial_versions={"chrome": "1.0", "safari": "1.0", "firefox": "1.0"},
            effects=(
                Effect(
                    "users_leave", date(2025, 3, 11), segment={"browser": "safari"}, factor=0.15
                ),
            ),
        ),
        Truth("drop", date(2025, 3, 11), None, [{"browser": "safari"}]),
        ("Why are daily users down since last Tuesday?", "Did chrome break?"),
        drop_tables=("deployments", "annotations"),
    ),
    # no users table; a web release halves events per user on the web client
    "no_users_table": World(
        WorldSpec(
            start=date(2025, 10, 20),
            end=date(2026, 1, 4),
            users=4_000,
            seed=61,
            platform_col="client",
            country_col="locale",
            countries={"en": 0.5, "es": 0.3, "pt": 0.2},
            platforms={"ios_app": 0.35, "android_app": 0.35, "web_app": 0.3},
            platform_by_country={},
            initial_versions={"ios_app": "8.0", "android_app": "8.0", "web_app": "8.0"},
            deployments=(
                DeploymentSpec(
                    "web_9_0",
                    _at(date(2025, 12, 10), 7),
                    "web_app",
                    "9.0",
                    description="web 9.0: redesigned feed",
                    adoption_days=0.2,
                ),
            ),
            effects=(
                Effect(
                    "events_per_user_fall",
                    date(2025, 12, 10),
                    segment={"client": "web_app"},
                    factor=0.45,
                ),
            ),
        ),
        Truth("drop", date(2025, 12, 10), None, [{"client": "web_app"}], cause="web_9_0"),
        ("Why did engagement fall in December?", "events per user looks low, why?"),
        drop_tables=("users",),
    ),
}

# Known failure (a limit of the trend-break detector, to fix, not to tune away): a decline in
# stairs (-9% every four days, each stair 1.1 noise s.d. on the total) is dated at the bend of
# the line that fits it best, five days before its first stair (a line through the stairs'
# middles starts half a stair early; noise does the rest), and the drill-down then localizes a
# small combination. A level that may also jump at the onset dates these stairs right but, with
# no penalty, dates pure bends one to three days late (tests/test_drift.py); the jump is never
# significant here (about 1 noise variance of squared error), so any penalty loses the stairs.
KNOWN_FAILURES = {"gradual_drift_small"}
CASES = [
    pytest.param(
        name,
        q,
        marks=[pytest.mark.xfail(reason="a decline in stairs is dated at its bend", strict=True)]
        if name in KNOWN_FAILURES
        else [],
    )
    for name, w in WORLDS.items()
    for q in w.questions
]


def _build(world: World, path: Path) -> Path:
    generate_world(world.spec, path)
    if world.drop_tables:
        con = duckdb.connect(str(path))
        try:
            for table in world.drop_tables:
                con.execute(f'DROP TABLE "{table}"')
        finally:
            con.close()
    return path


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Warehouse]]:
    """Every unseen world, generated once for the module (opened lazily)."""
    root = tmp_path_factory.mktemp("unseen_worlds")
    opened: dict[str, Warehouse] = {}

    class Lazy(dict[str, Warehouse]):
        def __missing__(self, name: str) -> Warehouse:
            wh = open_warehouse(_build(WORLDS[name], root / f"{name}.duckdb"))
            opened[name] = wh
            self[name] = wh
            return wh

    yield Lazy()
    for wh in opened.values():
        wh.close()


def _investigate(wh: Warehouse, question: str) -> Report:
    _, record = investigate(wh, question)
    assert record.status == "completed" and record.report is not None, record.error
    return record.report


def _verdict(wh: Warehouse, report: Report, truth: Truth) -> list[str]:
    """What the report gets wrong against the truth (empty = right)."""
    wrong: list[str] = []
    a = report.anomaly
    if a.direction != truth.direction:
        wrong.append(f"direction {a.direction}, want {truth.direction}")
    if a.start is None or abs((a.start - truth.start).days) > 1:
        wrong.append(f"start {a.start}, want {truth.start}")
    segs = [s.filters for s in report.affected_segments if s.confidence >= EVALS.CLAIM]
    window = (truth.start, truth.end or wh.schema.end_date)
    ok, why = EVALS.segments_equivalent(wh, segs, truth.root_cause, window)
    if not ok:
        wrong.append(f"segments: {why}")
    deploys = {
        e.id
        for e in report.correlated_events
        if e.kind == "deployment" and e.confidence >= EVALS.CLAIM
    }
    want = {truth.cause} if truth.cause and truth.cause_kind == "deployment" else set()
    if deploys != want:
        wrong.append(f"deployments {deploys or 'none'}, want {want or 'none'}")
    if truth.cause and truth.cause_kind != "deployment":
        named = {e.id for e in report.correlated_events if e.confidence >= EVALS.CLAIM}
        if truth.cause not in named:
            wrong.append(f"events {named or 'none'}, want {truth.cause}")
    return wrong


@pytest.mark.parametrize(("world", "question"), CASES)
def test_unseen_world(warehouses: dict[str, Warehouse], world: str, question: str) -> None:
    wh = warehouses[world]
    report = _investigate(wh, question)
    assert _verdict(wh, report, WORLDS[world].truth) == [], report.summary


def test_missing_tables_are_reported_in_the_schema(warehouses: dict[str, Warehouse]) -> None:
    no_deploys = ToolExecutor(warehouses["no_deployments_table"])
    assert not no_deploys.schema.has_deployments and not no_deploys.schema.has_annotations
    no_users = ToolExecutor(warehouses["no_users_table"])
    assert not no_users.schema.has_users
    result = no_users.run(AnalyzeRetention())
    assert not result.success and "users table" in (result.error or "")


# -- bad input names the valid options ------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (DetectAnomaly(metric="revenue"), ["Unknown metric 'revenue'", "dau", "events_per_user"]),
        (
            SegmentByDimension(metric="dau", dimension="country"),
            ["Unknown dimension 'country'", "device", "market", "tier"],
        ),
        (
            DrillDown(metric="dau", filters={"market": "atlantis"}),
            ["'atlantis' is not a value of 'market'", "north", "south"],
        ),
        (
            StatisticalTest(metric="dau", segment={"device": "phablet"}),
            ["not a value of 'device'", "phone", "Did you mean"],
        ),
        (
            QueryMetric(metric="dau", start=date(2023, 1, 1), end=date(2024, 3, 10)),
            ["start 2023-01-01 is outside the data", "2024-03-04 .. 2024-05-12"],
        ),
        (
            QueryMetric(metric="dau", start=date(2024, 4, 10), end=date(2024, 4, 1)),
            ["start 2024-04-10 is after end 2024-04-01"],
        ),
        (CheckDeployments(around=date(2025, 1, 1)), ["around 2025-01-01 is outside the data"]),
    ],
)
def test_bad_actions_name_the_valid_options(
    warehouses: dict[str, Warehouse], action: Action, expected: list[str]
) -> None:
    ex = ToolExecutor(warehouses["campaign_spike"])
    result = ex.run(action)
    assert not result.success
    for text in expected:
        assert text in (result.error or ""), result.error


# -- odd data --------------------------------------------------------------------------------------


@dataclass
class OddWorld:
    """A hand-written events table: a ``device`` dimension and an all-null ``partner`` column."""

    days: list[date]
    users_per_day: int = 40


def _odd_warehouse(path: Path, world: OddWorld) -> Warehouse:
    con = duckdb.connect(str(path))
    try:
        rows = [
            (
                u,
                _at(day, 8 + u % 10),
                "open" if u % 3 else "click",
                "phone" if u % 4 else "desktop",
                None,
            )
            for day in world.days
            for u in range(1, world.users_per_day + 1)
        ]
        con.execute(
            "CREATE TABLE events (user_id BIGINT, event_timestamp TIMESTAMP, event_type VARCHAR, "
            "device VARCHAR, partner VARCHAR)"
        )
        con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", rows)
    finally:
        con.close()
    return open_warehouse(path)


ODD_ACTIONS: list[Action] = [
    DetectAnomaly(metric="dau"),
    DetectAnomaly(metric="events_per_user", filters={"device": "desktop"}),
    SegmentByDimension(metric="dau", dimension="device"),
    DrillDown(metric="dau"),
    StatisticalTest(metric="dau", segment={"device": "phone"}),
    CheckDeployments(),
    QueryMetric(metric="events", group_by="device"),
]


def _run_all(wh: Warehouse) -> list[str]:
    """Every odd action succeeds; the findings of each, joined."""
    ex = ToolExecutor(wh)
    out = []
    for action in ODD_ACTIONS:
        result = ex.run(action)
        assert result.success, f"{action.action}: {result.error}"
        out.append(" ".join(result.findings))
    return out


def _assert_said(texts: list[str], expected: list[list[str]]) -> None:
    assert len(texts) == len(expected)
    for text, parts in zip(texts, expected, strict=True):
        for part in parts:
            assert part in text, text


def test_a_single_day_of_data(tmp_path: Path) -> None:
    with _odd_warehouse(tmp_path / "one.duckdb", OddWorld([date(2025, 5, 5)])) as wh:
        texts = _run_all(wh)
    _assert_said(
        texts,
        [
            ["No anomaly in dau (all traffic): not enough data: 1 usable points (need ≥ 15)"],
            ["No anomaly in events_per_user (device=desktop): not enough data"],
            ["By device, phone moved most: 30 → 30/day (+0.0%)", "desktop +0.0%"],
            ["No segment stands out across device", "No anomaly window yet"],
            ["Not enough data to test device=phone", "1 value in segment A (need ≥ 3)"],
            ["No deployment explains it", "No deployments or annotations between"],
            ["device=phone mean 30", "device=desktop mean 10"],
        ],
    )


def test_an_all_null_column_is_not_a_dimension(tmp_path: Path) -> None:
    days = [date(2025, 5, 1) + timedelta(days=i) for i in range(35)]
    with _odd_warehouse(tmp_path / "null.duckdb", OddWorld(days)) as wh:
        assert "partner" not in wh.schema.dimension_names
        result = ToolExecutor(wh).run(SegmentByDimension(metric="dau", dimension="partner"))
        assert not result.success and "Valid dimensions: " in (result.error or "")
        assert "device" in (result.error or "")
        texts = _run_all(wh)
    _assert_said(
        texts,
        [
            ["No anomaly in dau (all traffic): the series is constant"],
            ["No anomaly in events_per_user (device=desktop): the series is constant"],
            ["phone moved most: 30 → 30/day (+0.0%)"],
            ["No segment stands out across device"],
            ["device=phone changed +0.0% (30 → 30/day), not significant"],
            ["No deployment explains it"],
            ["from 2025-05-01 to 2025-06-04", "device=phone mean 30", "device=desktop mean 10"],
        ],
    )


def test_no_events_in_the_window(tmp_path: Path) -> None:
    # five weeks of data, then nothing for ten days, then one more week
    days = [date(2025, 5, 1) + timedelta(days=i) for i in range(35)] + [
        date(2025, 6, 15) + timedelta(days=i) for i in range(7)
    ]
    with _odd_warehouse(tmp_path / "gap.duckdb", OddWorld(days)) as wh:
        ex = ToolExecutor(wh)
        gap = ex.run(QueryMetric(metric="dau", start=date(2025, 6, 7), end=date(2025, 6, 12)))
        assert gap.success, gap.error
        assert gap.findings == [
            "dau for all traffic from 2025-06-07 to 2025-06-12: overall mean 0 (first 0, last 0)"
        ]  # the empty days read 0, not "no events"
        assert gap.data["groups"] == [
            {"group": {}, "mean": 0.0, "first": 0.0, "last": 0.0, "min": 0.0, "max": 0.0}
        ]
        texts = _run_all(wh)
    _assert_said(
        texts,
        [
            ["dau (all traffic) dropped -100.0% vs its seasonal baseline from 2025-06-05"],
            ["events_per_user (device=desktop) dropped -100.0%"],
            ["phone moved most: 30 → 0/day (-100.0%)"],
            ["No segment stands out across device"],
            ["device=phone changed -100.0% (30 → 0/day), significant"],
            ["No deployment explains it: none near 2025-06-05"],
            ["device=phone mean 24.2", "device=desktop mean 8.08"],
        ],
    )
