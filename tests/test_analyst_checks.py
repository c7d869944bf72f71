"""The autopilot's senior-analyst checks: how a change happened (logging, automated traffic,
outage, behaviour), a release rolling out anyway compared like with like, follow-ups that plan
their own steps, and the question naming the metric that moved.

Small generated worlds with other dates, dimension values and seeds than the scenarios: each
check where it must fire and where it must not.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from pathlib import Path

import pytest
from test_autopilot import investigate

from metric_anomaly_investigator.core.actions.accounts import (
    AccountProfile,
    event_type_mechanism,
)
from metric_anomaly_investigator.core.context import MechanismFinding
from metric_anomaly_investigator.core.models import Investigation, Step
from metric_anomaly_investigator.core.orchestrator import Orchestrator
from metric_anomaly_investigator.core.outcomes import DimensionSplit, SplitRow
from metric_anomaly_investigator.core.question import parse_question
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.generator import (
    DeploymentSpec,
    Effect,
    WorldSpec,
    generate_world,
)
from metric_anomaly_investigator.warehouse.warehouse import Warehouse

BREAK = date(2025, 6, 10)
RELEASE = datetime(2025, 6, 9, 9)


def world(tmp: Path, name: str, *effects: Effect, release: str = "tablet") -> Warehouse:
    spec = WorldSpec(
        start=date(2025, 4, 1),
        end=date(2025, 6, 24),
        users=3_000,
        seed=11,
        countries={"FR": 0.4, "MX": 0.35, "KE": 0.25},
        platforms={"tablet": 0.5, "phone": 0.5},
        platform_by_country={},
        initial_versions={"tablet": "5.0", "phone": "5.0"},
        deployments=(DeploymentSpec("rel_51", RELEASE, release, "5.1", adoption_days=0.7),),
        effects=effects,
    )
    path = tmp / f"{name}.duckdb"
    generate_world(spec, path)
    return open_warehouse(path)


def mechanisms(orch: Orchestrator) -> list[MechanismFinding]:
    return orch.executor.context.mechanisms  # type: ignore[attr-defined,no-any-return]


def steps_of(record: Investigation, action: str) -> list[Step]:
    return [s for s in record.steps if s.action == action]


# -- the checks on their own numbers -------------------------------------------------------------


def profile(**kw: object) -> AccountProfile:
    base: dict[str, object] = dict(
        segment={},
        tested={},
        users_before=1000.0,
        users_after=1000.0,
        events_before=5000.0,
        events_after=5000.0,
        new_accounts=0,
        existing_accounts=3000,
        new_events_per_day=0.0,
        new_users_per_day=0.0,
        existing_events_before=5000.0,
        existing_events_after=5000.0,
        new_events_per_account_day=None,
        typical_events_per_account_day=4.0,
        extreme_events_per_account_day=14.0,
        first_seen=None,
    )
    base.update(kw)
    return AccountProfile(**base)  # type: ignore[arg-type]


def test_the_profile_reads_outage_behaviour_and_automated_traffic() -> None:
    outage = profile(users_after=400.0, events_after=1900.0)
    assert outage.mechanism() is not None and outage.mechanism()[0] == "outage"  # type: ignore[index]
    fewer_each = profile(users_after=1010.0, events_after=3500.0)
    assert fewer_each.users_flat() and fewer_each.mechanism()[0] == "behaviour"  # type: ignore[index]
    bots = profile(
        users_after=1100.0,
        events_after=45_000.0,
        new_accounts=100,
        new_events_per_day=39_000.0,
        new_users_per_day=100.0,
        new_events_per_account_day=390.0,
    )
    kind, evidence = bots.mechanism()  # type: ignore[misc]
    assert kind == "automated_traffic" and "100 new accounts" in evidence and "390" in evidence
    # new accounts as active as everyone else are a signup wave, not automated traffic
    wave = profile(
        users_after=1600.0,
        events_after=8000.0,
        new_accounts=600,
        new_events_per_day=3000.0,
        new_users_per_day=600.0,
        new_events_per_account_day=5.0,
    )
    assert not wave.automated() and wave.mechanism() is None
    assert profile().mechanism() is None  # nothing moved


def _split(rows: list[tuple[str, float, float, float]], after: float) -> DimensionSplit:
    """A split by event type of 5,000 events a day before: (value, before, after, share)."""
    return DimensionSplit(
        metric="events",
        dimension="event_type",
        filters={},
        baseline=["2026-01-01", "2026-01-27"],
        current=["2026-01-28", "2026-02-10"],
        total_before=5000.0,
        total_after=after,
        concentration=0.5,
        rows=[
            SplitRow(value=v, before=b, after=a, change_pct=None, share_of_change=share)
            for v, b, a, share in rows
        ],
    )


def test_one_event_type_vanishing_is_logging_every_type_falling_is_behaviour() -> None:
    logging = _split([("view", 3000.0, 100.0, 1.2), ("tap", 2000.0, 2150.0, -0.1)], 2250.0)
    kind, evidence = event_type_mechanism(logging)  # type: ignore[misc]
    assert kind == "instrumentation" and evidence.startswith("view events -96.7%")
    together = _split([("view", 3000.0, 1500.0, 0.6), ("tap", 2000.0, 1000.0, 0.4)], 2500.0)
    assert event_type_mechanism(together)[0] == "behaviour"  # type: ignore[index]
    still = _split([("view", 3000.0, 2990.0, 1.0), ("tap", 2000.0, 2000.0, 0.0)], 4990.0)
    assert event_type_mechanism(still) is None  # no type moved


# -- end to end on small worlds ------------------------------------------------------------------


@pytest.fixture(scope="module")
def logging_wh(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """Tablet 5.1 stops logging screen_view: events fall, the users stay."""
    stop = Effect(
        "event_type_stops_logging",
        BREAK,
        segment={"platform": "tablet", "app_version": "5.1"},
        event_type="screen_view",
    )
    wh = world(tmp_path_factory.mktemp("logging"), "logging", stop)
    yield wh
    wh.close()


@pytest.fixture(scope="module")
def fewer_actions_wh(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """Tablet 5.1 users do less of everything: behaviour, not logging."""
    fall = Effect(
        "events_per_user_fall",
        BREAK,
        segment={"platform": "tablet", "app_version": "5.1"},
        factor=0.4,
    )
    wh = world(tmp_path_factory.mktemp("fewer"), "fewer", fall)
    yield wh
    wh.close()


@pytest.fixture(scope="module")
def bots_wh(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """Phone 5.1 ships everywhere; a day later 60 new phone accounts in KE fire ~300 events/day."""
    bots = Effect("bots_appear", BREAK, segment={"platform": "phone", "country": "KE"}, bots=60)
    wh = world(tmp_path_factory.mktemp("bots"), "bots", bots, release="phone")
    yield wh
    wh.close()


def test_events_falling_without_their_users_is_split_by_event_type(logging_wh: Warehouse) -> None:
    orch, record = investigate(logging_wh, "Why is engagement down?")
    assert record.status == "completed", record.error
    (profiled,) = steps_of(record, "profile_accounts")
    assert profiled.data is not None and profiled.data["users_flat"] is True
    splits = [s for s in record.steps if s.parameters.get("dimension") == "event_type"]
    assert splits and splits[-1].parameters["metric"] == "events"
    found = {m.mechanism: m for m in mechanisms(orch)}
    assert "instrumentation" in found, mechanisms(orch)
    evidence = found["instrumentation"].evidence
    assert evidence.startswith("screen_view events -") and "while users" in evidence
    assert found["instrumentation"].filters.get("platform", "tablet") == "tablet"


def test_everyone_doing_less_is_not_read_as_logging(fewer_actions_wh: Warehouse) -> None:
    orch, record = investigate(fewer_actions_wh, "Why is engagement down?")
    assert record.status == "completed", record.error
    kinds = {m.mechanism for m in mechanisms(orch)}
    assert "instrumentation" not in kinds and kinds & {"behaviour", "deployment"}, kinds


def test_new_accounts_with_extreme_activity_are_automated_traffic(bots_wh: Warehouse) -> None:
    orch, record = investigate(bots_wh, "Why did events spike?")
    assert record.status == "completed", record.error
    (profiled,) = steps_of(record, "profile_accounts")
    data = profiled.data
    assert data is not None and data["mechanism"] == "automated_traffic"
    assert data["new_accounts"] >= 50
    assert data["new_events_per_account_day"] > 10 * data["typical_events_per_account_day"]
    (found,) = [m for m in mechanisms(orch) if m.mechanism == "automated_traffic"]
    assert found.filters.get("country") == "KE" and "new accounts" in found.evidence
    # the release rolling out anyway: the accounts seen before did not move with it
    assert data["deployments_ruled_out"] in ([], ["rel_51"])
    deploys = [e for e in orch.executor.context.events if e.id == "rel_51"]  # type: ignore[attr-defined]
    if data["deployments_ruled_out"]:
        assert deploys and not deploys[0].explains


def test_users_leaving_are_no_automated_traffic(logging_wh: Warehouse) -> None:
    orch, record = investigate(logging_wh, "Why did events drop?")
    assert all(m.mechanism != "automated_traffic" for m in mechanisms(orch))
    for s in steps_of(record, "profile_accounts"):
        assert s.data is not None and s.data["deployments_ruled_out"] == []


def test_users_and_events_vanishing_for_a_while_is_an_outage(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    down = Effect(
        "users_leave", BREAK, end=date(2025, 6, 13), segment={"country": "MX"}, factor=0.1
    )
    wh = world(tmp_path_factory.mktemp("outage"), "outage", down)
    orch, record = investigate(wh, "Why did DAU drop?")
    wh.close()
    assert record.status == "completed", record.error
    found = [m for m in mechanisms(orch) if m.mechanism == "outage"]
    assert found and found[0].filters.get("country") == "MX", mechanisms(orch)
    assert "users -" in found[0].evidence and "events -" in found[0].evidence


def test_users_leaving_after_a_release_for_good_is_no_outage(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    leave = Effect(
        "users_leave", BREAK, segment={"platform": "tablet", "app_version": "5.1"}, factor=0.3
    )
    wh = world(tmp_path_factory.mktemp("leave"), "leave", leave)
    orch, record = investigate(wh, "Why did DAU drop?")
    wh.close()
    assert record.status == "completed", record.error
    assert all(m.mechanism != "outage" for m in mechanisms(orch)), mechanisms(orch)


# -- follow-ups ----------------------------------------------------------------------------------


def follow(orch: Orchestrator, question: str) -> Investigation:
    async def go() -> None:
        async for _event in orch.follow_up(question):
            pass

    asyncio.run(go())
    assert orch.record is not None
    return orch.record.follow_ups[-1]


def test_follow_ups_plan_targeted_steps_and_repeat_none(bots_wh: Warehouse) -> None:
    orch, record = investigate(bots_wh, "Why did DAU go up?")
    seen = {(s.action, repr(s.parameters)) for s in record.steps}
    asked = {
        "Which event type moved?": lambda f: any(
            s.parameters.get("dimension") == "event_type" for s in f.steps
        ),
        "Is Mexico affected?": lambda f: any(
            s.action == "statistical_test" and s.parameters["segment"].get("country") == "MX"
            for s in f.steps
        ),
        "How many accounts are behind it?": lambda f: any(
            s.action == "profile_accounts" for s in record.steps + f.steps
        ),
    }
    for question, planned in asked.items():
        f = follow(orch, question)
        assert f.status == "completed", f.error
        assert planned(f), (question, [(s.action, s.parameters) for s in f.steps])
        for s in f.steps:
            key = (s.action, repr(s.parameters))
            assert key not in seen, (question, key)
            seen.add(key)
        assert not any(s.action == "detect_anomaly" for s in f.steps)


def test_a_reopened_record_s_follow_up_keeps_the_earlier_findings(bots_wh: Warehouse) -> None:
    _, record = investigate(bots_wh, "Why did events spike?")
    reopened = Orchestrator(bots_wh, model="autopilot")
    reopened.resume(Investigation.model_validate(record.model_dump(mode="json")))
    f = follow(reopened, "Is Mexico affected?")
    assert f.status == "completed", f.error
    assert [s.action for s in f.steps][:1] == ["statistical_test"]
    earlier = {(s.action, repr(s.parameters)) for s in record.steps}
    assert not any((s.action, repr(s.parameters)) in earlier for s in f.steps)


# -- the question: the metric said to move, not the one said to look normal ----------------------


@pytest.mark.parametrize(
    ("question", "metric"),
    [
        ("DAU dropped after January 28th while total events look normal. Why?", "dau"),
        ("Despite normal event volume, DAU dropped. Why?", "dau"),
        ("Events are unchanged, so why is DAU down?", "dau"),
        ("DAU fell but events did not", "dau"),
        ("Why did DAU drop when events stayed the same?", "dau"),
        ("With events flat, why did daily active users drop?", "dau"),
        ("Why did events fall while DAU is flat?", "events"),
        ("Why did events drop even though active users are fine?", "events"),
        ("Traffic is down but users look healthy", "events"),
    ],
)
def test_the_metric_said_to_move_is_the_one_asked(
    logging_wh: Warehouse, question: str, metric: str
) -> None:
    assert parse_question(question, logging_wh.schema).metric == metric


@pytest.mark.parametrize(
    ("question", "missing"),
    [
        ("Why is revenue down?", "revenue"),
        ("Sales fell last week, why?", "revenue"),
        ("Why did conversion drop?", "checkout_conversion"),
        ("p95 latency went up on Tuesday", "latency"),
        ("Why is the error rate up?", "error_rate"),
    ],
)
def test_a_metric_the_warehouse_lacks_is_named_not_replaced(
    logging_wh: Warehouse, question: str, missing: str
) -> None:
    parsed = parse_question(question, logging_wh.schema)
    assert (parsed.metric, parsed.missing_metric) == (None, missing)


@pytest.mark.parametrize(
    ("question", "unknown"),
    [
        ("Why did our NPS drop this month?", "nps"),
        ("Average order value fell last week", "average order value"),
        ("Why did support tickets spike on Monday?", "support tickets"),
        ("Is the crash rate on phones getting worse?", "crash rate"),
    ],
)
def test_a_metric_outside_the_catalogue_is_named_and_not_investigated(
    logging_wh: Warehouse, question: str, unknown: str
) -> None:
    parsed = parse_question(question, logging_wh.schema)
    assert (parsed.metric, parsed.missing_metric, parsed.unknown_metric) == (None, None, unknown)


def test_a_question_about_an_unknown_metric_takes_no_step(logging_wh: Warehouse) -> None:
    _, record = investigate(logging_wh, "Why did our NPS drop this month?")
    assert record.status == "completed" and record.steps == []
    report = record.report
    assert report is not None and report.confidence == 0.0 and not report.affected_segments
    assert report.anomaly.direction == "none" and report.anomaly.metric == "NPS"  # as written
    have = ", ".join(logging_wh.schema.metrics)
    assert report.answer.startswith("Not answerable from this data: this warehouse has no ")
    assert f"metric (its metrics: {have})" in report.answer
    assert "nps" in report.summary.lower() and "dau" not in report.root_cause


@pytest.mark.parametrize(
    ("question", "metric"),
    [
        ("Why did engagement drop?", "events_per_user"),
        ("Why is traffic down?", "events"),
        ("Why did active users fall?", "dau"),
    ],
)
def test_a_known_metric_s_synonym_is_not_flagged(
    logging_wh: Warehouse, question: str, metric: str
) -> None:
    parsed = parse_question(question, logging_wh.schema)
    assert (parsed.metric, parsed.missing_metric, parsed.unknown_metric) == (metric, None, None)


def test_follow_up_words_name_dimensions_and_accounts(logging_wh: Warehouse) -> None:
    schema = logging_wh.schema
    assert parse_question("Which event type dropped?", schema).dimensions == ("event_type",)
    assert parse_question("Split it by countries and platform", schema).dimensions == (
        "country",
        "platform",
    )
    only_new = parse_question("Is it only new users?", schema)
    assert only_new.about_accounts and only_new.metric is None  # "users" here names no metric
    assert parse_question("How many accounts are behind it?", schema).about_accounts
    assert not parse_question("Why did DAU drop?", schema).about_accounts
