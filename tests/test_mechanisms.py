"""How each cause moved its metric, for every kind of metric and both directions.

The checks on their own numbers (:class:`RateProfile` for a rate or a mean, :class:`AccountProfile`
for an activity metric), then small generated worlds — other dates, countries and seeds than the
scenarios — each check where it must fire and a near miss where it must not.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import duckdb
import pytest
from test_analyst_checks import profile
from test_autopilot import investigate

from metric_anomaly_investigator.core.mechanisms import RatePart, RateProfile
from metric_anomaly_investigator.core.models import Report
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.generator import Effect, WorldSpec, generate_world
from metric_anomaly_investigator.warehouse.warehouse import Warehouse

BREAK = date(2025, 6, 10)

# -- a rate or a mean ------------------------------------------------------------------------------


def rate(**kw: object) -> RateProfile:
    base: dict[str, object] = dict(
        metric="error rate",
        bad="spike",
        kind="step",
        start=BREAK,
        before=0.01,
        after=0.12,
        den_before=1000.0,
        den_after=1030.0,
        den_label="events",
        parts=(
            RatePart("platform", "tablet", 0.010, 0.118, 0.5),
            RatePart("platform", "phone", 0.011, 0.125, 0.5),
        ),
    )
    base.update(kw)
    return RateProfile(**base)  # type: ignore[arg-type]


def test_a_rate_stepping_the_bad_way_with_its_denominator_held_everywhere_is_an_outage() -> None:
    found = rate().mechanism()
    assert found is not None
    kind, evidence = found
    assert kind == "outage"
    assert "0.01 → 0.12" in evidence and "events held" in evidence and "+3.0%" in evidence
    assert "each of its 2 parts by platform moved with it" in evidence
    # a latency (a mean) likewise; a conversion breaks downwards
    assert rate(metric="latency", before=160.0, after=410.0).mechanism() is not None
    conversion = rate(metric="conversion", bad="drop", before=0.3, after=0.05, parts=())
    assert conversion.mechanism() is not None


@pytest.mark.parametrize(
    ("why", "kw"),
    [
        ("the good way", {"before": 0.12, "after": 0.01}),
        ("a drift, not a step", {"kind": "drift"}),
        ("moved by less than half again", {"after": 0.013}),
        ("the requests moved too", {"den_after": 1600.0}),
        (
            "one part of the segment carries it (a client, not the segment)",
            {
                "parts": (
                    RatePart("platform", "tablet", 0.010, 0.23, 0.5),
                    RatePart("platform", "phone", 0.011, 0.011, 0.5),
                )
            },
        ),
    ],
)
def test_a_rate_that_did_not_break_has_no_mechanism(why: str, kw: dict[str, object]) -> None:
    assert rate(**kw).mechanism() is None, why


def test_a_part_too_small_to_judge_does_not_veto() -> None:
    parts = (
        RatePart("platform", "tablet", 0.010, 0.118, 0.97),
        RatePart("platform", "tv", 0.010, 0.010, 0.03),
    )
    assert rate(parts=parts).mechanism() is not None


# -- an activity metric: rises and drifts ---------------------------------------------------------


def test_a_rise_carried_by_the_accounts_seen_before_is_behaviour() -> None:
    rise = profile(
        users_after=1500.0,
        events_after=7450.0,
        new_accounts=40,
        new_events_per_day=200.0,
        new_users_per_day=40.0,
        new_events_per_account_day=5.0,
        existing_events_after=7250.0,
        adjusted_change=0.45,
    )
    kind, evidence = rise.mechanism()  # type: ignore[misc]
    assert kind == "behaviour"
    assert "users +50.0%" in evidence and "carried by the accounts seen before" in evidence
    assert "new accounts 8% of the increase" in evidence


def test_a_rise_of_new_accounts_or_of_activity_per_user_is_not_read_as_behaviour() -> None:
    # new accounts carry it: a signup wave (or worse), not the same people coming more
    wave = profile(
        users_after=1500.0,
        events_after=7500.0,
        new_accounts=500,
        new_events_per_day=2400.0,
        new_users_per_day=480.0,
        new_events_per_account_day=5.0,
        existing_events_after=5100.0,
        adjusted_change=0.45,
    )
    assert wave.mechanism() is None
    # the users rose, and each did a third more: not the same use (e.g. people defined by an
    # event they had, like errors)
    other_use = profile(
        users_after=3000.0,
        events_after=20_000.0,
        existing_events_after=20_000.0,
        adjusted_change=2.0,
    )
    assert other_use.mechanism() is None
    # the users rose a little, the segment's metric (sessions per user, say) much more: more
    # people is not why it moved
    aside = profile(
        users_after=1060.0, events_after=5400.0, existing_events_after=5400.0, adjusted_change=0.3
    )
    assert aside.mechanism() is None
    assert replace(aside, adjusted_change=0.08).mechanism()[0] == "behaviour"  # type: ignore[index]


def test_a_gradual_decline_of_users_is_behaviour_a_step_is_an_outage() -> None:
    numbers = dict(users_after=800.0, events_after=3950.0, adjusted_change=-0.2)
    kind, evidence = profile(gradual=True, **numbers).mechanism()  # type: ignore[misc]
    assert kind == "behaviour" and evidence.startswith("a gradual drift, no day broke")
    assert "users -20.0%" in evidence and "less active" in evidence
    assert profile(gradual=False, **numbers).mechanism()[0] == "outage"  # type: ignore[index]
    # a drift whose segment did not move against its trend says nothing
    assert profile(gradual=True, users_after=990.0, adjusted_change=-0.01).mechanism() is None


# -- small worlds ---------------------------------------------------------------------------------


def spec(seed: int, *effects: Effect) -> WorldSpec:
    return WorldSpec(
        start=date(2025, 4, 1),
        end=date(2025, 6, 24),
        users=3_000,
        seed=seed,
        countries={"FR": 0.4, "MX": 0.35, "KE": 0.25},
        platforms={"tablet": 0.5, "phone": 0.5},
        platform_by_country={},
        initial_versions={"tablet": "5.0", "phone": "5.0"},
        deployments=(),
        effects=effects,
    )


ROLL = "(user_id * 31 + epoch(event_timestamp)::BIGINT) % 100"
ERRORS_TOML = (
    '[metrics.error_rate]\nnumerator = {status = "error"}\ndenominator = {}\nbad = "spike"\n'
)


def requests_world(tmp: Path, degraded_pct: int) -> Warehouse:
    """Every event is a request with a status: 2 in 100 fail, and from ``BREAK`` in MX
    ``degraded_pct`` in 100 on every platform."""
    path = tmp / "requests.duckdb"
    generate_world(spec(23), path)
    degraded = f"country = 'MX' AND event_timestamp >= TIMESTAMP '{BREAK} 06:00:00'"
    with duckdb.connect(str(path)) as con:
        con.execute("ALTER TABLE events ADD COLUMN status VARCHAR")
        con.execute(
            f"UPDATE events SET status = CASE WHEN {ROLL} < (CASE WHEN {degraded} THEN "
            f"{degraded_pct} ELSE 2 END) THEN 'error' ELSE 'ok' END"
        )
    toml = tmp / "mai.toml"
    toml.write_text(ERRORS_TOML)
    return open_warehouse(path, config=toml)


def top(report: Report) -> tuple[dict[str, str], str | None]:
    s = report.affected_segments[0]
    return s.filters, s.mechanism


def test_a_region_failing_its_requests_is_an_outage(tmp_path: Path) -> None:
    wh = requests_world(tmp_path, degraded_pct=15)
    try:
        _, record = investigate(wh, "Why did the error rate go up?")
    finally:
        wh.close()
    assert record.status == "completed" and record.report is not None, record.error
    (step,) = [s for s in record.steps if s.action == "profile_accounts"]
    assert step.data is not None and step.data["rate"] is not None
    filters, mechanism = top(record.report)
    assert filters == {"country": "MX"} and mechanism == "outage"
    assert any("while its events held" in f for f in step.findings)


def test_a_region_failing_less_is_no_outage(tmp_path: Path) -> None:
    """The near miss: the same region's errors fall (the good way) — nothing broke."""
    wh = requests_world(tmp_path, degraded_pct=0)
    try:
        _, record = investigate(wh, "What happened to the error rate?")
    finally:
        wh.close()
    assert record.status == "completed" and record.report is not None, record.error
    assert all(s.mechanism != "outage" for s in record.report.affected_segments)
    assert not [s for s in record.steps if s.action == "profile_accounts"]


@pytest.fixture(scope="module")
def activity_worlds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Warehouse]]:
    tmp = tmp_path_factory.mktemp("activity")
    effects = {
        "rise": Effect("activity_change", BREAK, segment={"country": "KE"}, factor=1.6),
        "drift": Effect("drift", date(2025, 5, 12), segment={"country": "FR"}, factor=0.9),
        "leave": Effect("users_leave", BREAK, segment={"country": "FR"}, factor=0.5),
    }
    worlds: dict[str, Warehouse] = {}
    for name, effect in effects.items():
        path = tmp / f"{name}.duckdb"
        generate_world(spec(31, effect), path)
        worlds[name] = open_warehouse(path)
    yield worlds
    for wh in worlds.values():
        wh.close()


def test_people_coming_more_in_one_country_is_behaviour(
    activity_worlds: dict[str, Warehouse],
) -> None:
    _, record = investigate(activity_worlds["rise"], "Why did DAU go up?")
    assert record.report is not None, record.error
    assert top(record.report) == ({"country": "KE"}, "behaviour")


def test_a_slow_decline_in_one_country_is_behaviour(
    activity_worlds: dict[str, Warehouse],
) -> None:
    _, record = investigate(activity_worlds["drift"], "Is DAU slowly declining?")
    assert record.report is not None, record.error
    assert record.report.affected_segments, record.report.summary
    filters, mechanism = top(record.report)
    assert filters == {"country": "FR"} and mechanism == "behaviour"


def test_users_vanishing_in_a_step_is_no_behaviour(activity_worlds: dict[str, Warehouse]) -> None:
    """The near miss of the drift: the same country losing half its users at once."""
    _, record = investigate(activity_worlds["leave"], "Why did DAU drop?")
    assert record.report is not None, record.error
    filters, mechanism = top(record.report)
    assert filters == {"country": "FR"} and mechanism != "behaviour"
