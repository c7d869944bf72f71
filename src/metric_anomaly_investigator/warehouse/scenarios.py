"""The scenario library: synthetic worlds with planted anomalies, ground truth and questions.

Ground truth is for tests and evals only; the investigating agent never reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from .generator import AnnotationSpec, DeploymentSpec, Effect, WorldSpec, generate_world
from .types import WarehouseError, show_name

__all__ = [
    "SCENARIOS",
    "GroundTruth",
    "Scenario",
    "generate_scenario",
    "get_scenario",
    "list_scenarios",
]

QuestionStyle = Literal["clear", "vague", "misleading"]


@dataclass(frozen=True)
class FollowUp:
    """A follow-up question asked after the first report, with the answer it must get."""

    question: str
    answer: Literal["yes", "no"]  # a "no" answer paragraph opens with "No"
    names: tuple[str, ...] = ()  # values the answer paragraph must mention (e.g. "BR")


@dataclass(frozen=True)
class GroundTruth:
    metric: str
    direction: Literal["drop", "spike", "none"]
    start: date | None
    end: date | None = None
    root_cause: list[dict[str, str]] = field(default_factory=list)
    deployment_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    # how the root cause moves the metric: one of core.models.Mechanism, or None when any is fine
    mechanism: str | None = None
    # questions whose premise is false (their answer opens with "No")
    wrong_premise: tuple[str, ...] = ()
    follow_ups: tuple[FollowUp, ...] = ()


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    description: str
    world: WorldSpec
    truth: GroundTruth
    questions: dict[QuestionStyle, list[str]]
    # SQL run on the generated DuckDB file (extra columns such as amount), in order
    finish_sql: tuple[str, ...] = ()
    # the world's own metrics, written as the mai.toml beside its file
    metrics_toml: str = ""


SCENARIO_USERS = 12_000
_START, _END = date(2025, 11, 17), date(2026, 2, 11)


def _at(day: str, hour: int = 10) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time()).replace(hour=hour)


def _d(day: str) -> date:
    return date.fromisoformat(day)


_BASE_DEPLOYS = (
    DeploymentSpec(
        "deploy_001", _at("2025-11-18"), "ios", "2.2.0", description="iOS 2.2.0: new home feed"
    ),
    DeploymentSpec(
        "deploy_002",
        _at("2025-12-09"),
        "android",
        "2.2.0",
        description="Android 2.2.0: new home feed",
    ),
)


def _world(seed: int, **kw: object) -> WorldSpec:
    base = WorldSpec(
        start=_START, end=_END, users=SCENARIO_USERS, seed=seed, deployments=_BASE_DEPLOYS
    )
    return replace(base, **kw)  # type: ignore[arg-type]


_SEED = Scenario(
    name="seed_android_india",
    title="Android users in India drop after deploy_003",
    description=(
        "The default demo. Android 2.3.0 (deploy_003, 2026-01-28) rolled out to India and Brazil; "
        "Android users in India on 2.3.0 become much less active, Brazil is unaffected. An iOS "
        "release two days later is a decoy."
    ),
    world=WorldSpec(
        start=date(2025, 11, 1),
        end=date(2026, 2, 11),
        users=50_000,
        seed=2026,
        deployments=(
            *_BASE_DEPLOYS,
            DeploymentSpec(
                "deploy_003",
                _at("2026-01-28"),
                "android",
                "2.3.0",
                regions=("IN", "BR"),
                description="Android 2.3.0: new onboarding flow and media player",
                adoption_days=0.7,
            ),
            DeploymentSpec(
                "deploy_004",
                _at("2026-01-30", 16),
                "ios",
                "2.3.0",
                description="iOS 2.3.0: performance improvements",
            ),
        ),
        annotations=(
            AnnotationSpec(
                "Year-end campaign", "campaign", _at("2025-12-15", 0), _at("2025-12-31", 23)
            ),
        ),
        effects=(
            Effect(
                "users_leave",
                _d("2026-01-28"),
                segment={"platform": "android", "country": "IN", "app_version": "2.3.0"},
                factor=0.3,
            ),
        ),
    ),
    truth=GroundTruth(
        metric="dau",
        direction="drop",
        start=_d("2026-01-28"),
        root_cause=[{"platform": "android", "country": "IN"}],
        deployment_id="deploy_003",
        extra={"app_version": "2.3.0", "unaffected": "BR"},
    ),
    questions={
        "clear": [
            "DAU dropped significantly after January 28th. What's causing it?",
            "Is there a problem with the Android app after the recent deployment?",
        ],
        "vague": [
            "Android engagement seems down this week. Can you investigate?",
            "Something seems off with our metrics lately",
        ],
        "misleading": ["iOS users are complaining about crashes. Please investigate the DAU drop"],
    },
)

_ENGAGEMENT = Scenario(
    name="engagement_drop_ios_version",
    title="Events per user fall on iOS 2.4.0, DAU unchanged",
    description=(
        "iOS 2.4.0 (deploy_ios_240) breaks a core flow: users still open the app but do less."
    ),
    world=_world(
        11,
        deployments=(
            *_BASE_DEPLOYS,
            DeploymentSpec(
                "deploy_ios_240",
                _at("2026-01-27"),
                "ios",
                "2.4.0",
                description="iOS 2.4.0: redesigned feed",
                adoption_days=1.0,
            ),
        ),
        effects=(
            Effect(
                "events_per_user_fall",
                _d("2026-01-27"),
                segment={"platform": "ios", "app_version": "2.4.0"},
                factor=0.4,
            ),
        ),
    ),
    truth=GroundTruth(
        metric="events_per_user",
        direction="drop",
        start=_d("2026-01-27"),
        root_cause=[{"platform": "ios", "app_version": "2.4.0"}],
        deployment_id="deploy_ios_240",
        extra={"dau_changed": "no"},
    ),
    questions={
        "clear": ["Events per user dropped since January 27th. What's causing it?"],
        "vague": ["Engagement feels lower this week. Can you look into it?"],
        "misleading": [
            "DAU dropped after the iOS release, right? Please investigate the DAU drop."
        ],
    },
)

_OUTAGE = Scenario(
    name="regional_outage_brazil",
    title="Regional outage in Brazil, no deployment (decoy deployment elsewhere)",
    description=(
        "A network outage in Brazil from 2026-01-27 to 2026-01-29 cuts activity on every platform. "
        "The same day Android 2.4.0 ships to Germany only: a decoy."
    ),
    world=_world(
        12,
        deployments=(
            *_BASE_DEPLOYS,
            DeploymentSpec(
                "deploy_de_240",
                _at("2026-01-27", 9),
                "android",
                "2.4.0",
                regions=("DE",),
                description="Android 2.4.0: German localisation fixes",
            ),
        ),
        effects=(
            Effect(
                "users_leave",
                _d("2026-01-27"),
                _d("2026-01-29"),
                segment={"country": "BR"},
                factor=0.15,
            ),
        ),
    ),
    truth=GroundTruth(
        metric="dau",
        direction="drop",
        start=_d("2026-01-27"),
        end=_d("2026-01-29"),
        root_cause=[{"country": "BR"}],
        deployment_id=None,
        extra={"decoy_deployment": "deploy_de_240"},
    ),
    questions={
        "clear": ["DAU dipped from January 27th to 29th. What caused it?"],
        "vague": ["Did something happen at the end of January?"],
        "misleading": [
            "The Android 2.4.0 release on January 27th broke something. How bad is the DAU drop?"
        ],
    },
)

_INSTRUMENTATION = Scenario(
    name="instrumentation_bug_ios_screen_view",
    title="screen_view stops being logged on iOS 2.4.0",
    description=(
        "iOS 2.4.0 ships with a logging bug: screen_view events are no longer recorded. "
        "Event counts "
        "fall, DAU does not: an instrumentation problem, not a behaviour change."
    ),
    world=_world(
        13,
        deployments=(
            *_BASE_DEPLOYS,
            DeploymentSpec(
                "deploy_ios_240",
                _at("2026-01-28", 8),
                "ios",
                "2.4.0",
                description="iOS 2.4.0: analytics SDK upgrade",
                adoption_days=0.8,
            ),
        ),
        effects=(
            Effect(
                "event_type_stops_logging",
                _d("2026-01-28"),
                segment={"platform": "ios", "app_version": "2.4.0"},
                event_type="screen_view",
            ),
        ),
    ),
    truth=GroundTruth(
        metric="events",
        direction="drop",
        start=_d("2026-01-28"),
        root_cause=[{"platform": "ios", "event_type": "screen_view"}],
        deployment_id="deploy_ios_240",
        extra={"event_type": "screen_view", "dau_changed": "no", "kind": "instrumentation"},
    ),
    questions={
        "clear": ["Total events dropped after January 28th. Is it real or a tracking problem?"],
        "vague": ["Our event volume looks weird lately."],
        "misleading": [
            "iOS users stopped using the app after the 2.4.0 release. How many did we lose?"
        ],
    },
)

_BOTS = Scenario(
    name="bot_spike_us_web",
    title="Bot traffic inflates events on US web",
    description=(
        "From 2026-01-29, 120 bot accounts on web in the US each fire hundreds of events a day."
    ),
    world=_world(
        14,
        effects=(
            Effect(
                "bots_appear",
                _d("2026-01-29"),
                segment={"platform": "web", "country": "US"},
                bots=120,
                bot_events=400,
            ),
        ),
    ),
    truth=GroundTruth(
        metric="events",
        direction="spike",
        start=_d("2026-01-29"),
        root_cause=[{"platform": "web", "country": "US"}],
        deployment_id=None,
        extra={"kind": "bots", "bots": "120"},
    ),
    questions={
        "clear": ["Events jumped on January 29th. Where is the extra traffic coming from?"],
        "vague": ["Engagement looks amazing this week, is it real?"],
        "misleading": [
            "Our new marketing push worked: events are up. Which country adopted the app?"
        ],
    },
)

_CHANNEL = Scenario(
    name="paid_search_users_leave",
    title="Users acquired through paid search leave",
    description=(
        "A user-level attribute drives the drop: users acquired through paid search lose their "
        "promotional access on 2026-01-26 and become much less active, on every platform."
    ),
    world=_world(
        15,
        effects=(
            Effect(
                "users_leave",
                _d("2026-01-26"),
                segment={"acquisition_channel": "paid_search"},
                factor=0.35,
            ),
        ),
    ),
    truth=GroundTruth(
        metric="dau",
        direction="drop",
        start=_d("2026-01-26"),
        root_cause=[{"acquisition_channel": "paid_search"}],
        deployment_id=None,
    ),
    questions={
        "clear": ["DAU fell from January 26th. Which users are we losing?"],
        "vague": ["Are we losing people recently?"],
        "misleading": [
            "Did the December Android release cause the DAU drop at the end of January?"
        ],
    },
)

_HOLIDAY = Scenario(
    name="holiday_japan_new_year",
    title="New Year holidays in Japan",
    description="Activity in Japan dips over the New Year holidays (annotated), as every year.",
    world=_world(
        16,
        countries={
            "IN": 0.22,
            "US": 0.22,
            "BR": 0.12,
            "GB": 0.08,
            "DE": 0.08,
            "ID": 0.08,
            "JP": 0.20,
        },
        annotations=(
            AnnotationSpec(
                "Shogatsu (New Year holidays)",
                "holiday",
                _at("2025-12-29", 0),
                _at("2026-01-03", 23),
                scope={"country": "JP"},
            ),
        ),
        effects=(
            Effect(
                "holiday",
                _d("2025-12-29"),
                _d("2026-01-03"),
                segment={"country": "JP"},
                factor=0.35,
            ),
        ),
    ),
    truth=GroundTruth(
        metric="dau",
        direction="drop",
        start=_d("2025-12-29"),
        end=_d("2026-01-03"),
        root_cause=[{"country": "JP"}],
        deployment_id=None,
        extra={"annotation": "Shogatsu (New Year holidays)", "kind": "holiday"},
    ),
    questions={
        "clear": ["DAU dropped between December 29th and January 3rd. Why?"],
        "vague": ["The start of January looked slow. Anything to worry about?"],
        "misleading": ["Japanese users are churning since late December. What broke?"],
    },
)

_SEASONALITY = Scenario(
    name="weekend_seasonality_only",
    title="Only the usual weekend dip",
    description="Nothing happened: DAU dips every weekend. The right answer is 'no anomaly'.",
    world=_world(17, weekend_factor=0.72),
    truth=GroundTruth(metric="dau", direction="none", start=None),
    questions={
        "clear": ["DAU was lower on Saturday February 7th than on Friday. Is that an anomaly?"],
        "vague": ["Did anything happen last weekend?"],
        "misleading": ["DAU crashed last weekend! What broke on Saturday February 7th?"],
    },
)

_TWO = Scenario(
    name="two_concurrent_causes",
    title="Two causes at once: Android in Indonesia and all of Great Britain",
    description=(
        "On 2026-01-28 Android 2.4.0 ships to Indonesia and its users leave; "
        "the same day a payment "
        "outage hits Great Britain on every platform. Both explain part of the drop."
    ),
    world=_world(
        18,
        countries={
            "IN": 0.22,
            "US": 0.20,
            "BR": 0.12,
            "GB": 0.14,
            "DE": 0.08,
            "ID": 0.18,
            "JP": 0.06,
        },
        deployments=(
            *_BASE_DEPLOYS,
            DeploymentSpec(
                "deploy_id_240",
                _at("2026-01-28", 7),
                "android",
                "2.4.0",
                regions=("ID",),
                description="Android 2.4.0: local payments for Indonesia",
                adoption_days=0.7,
            ),
        ),
        effects=(
            Effect(
                "users_leave",
                _d("2026-01-28"),
                segment={"platform": "android", "country": "ID", "app_version": "2.4.0"},
                factor=0.3,
            ),
            Effect("users_leave", _d("2026-01-28"), segment={"country": "GB"}, factor=0.35),
        ),
    ),
    truth=GroundTruth(
        metric="dau",
        direction="drop",
        start=_d("2026-01-28"),
        root_cause=[{"platform": "android", "country": "ID"}, {"country": "GB"}],
        deployment_id="deploy_id_240",
    ),
    questions={
        "clear": ["DAU dropped after January 28th. What are all the causes?"],
        "vague": ["Numbers look down this week. Why?"],
        "misleading": ["The Indonesia release explains the whole DAU drop, right?"],
    },
)

_COHORT = Scenario(
    name="new_cohort_retention_decay",
    title="A new cohort from social ads does not retain",
    description=(
        "Users who signed up from 2026-01-05 to 2026-01-18 through social ads retain "
        "far worse than "
        "earlier cohorts: their activity halves every week."
    ),
    world=_world(
        19,
        new_user_share=0.45,
        effects=(
            Effect(
                "retention_decay",
                _d("2026-01-05"),
                _d("2026-01-18"),
                segment={"acquisition_channel": "social"},
                factor=0.35,
            ),
        ),
    ),
    truth=GroundTruth(
        metric="retention",
        direction="drop",
        start=_d("2026-01-05"),
        end=_d("2026-01-18"),
        root_cause=[{"acquisition_channel": "social"}],
        deployment_id=None,
        extra={"cohort_start": "2026-01-05", "cohort_end": "2026-01-18"},
    ),
    questions={
        "clear": ["Retention of users who signed up in January is worse. Which cohort and why?"],
        "vague": ["Are new users sticking around?"],
        "misleading": ["Did the iOS release in November hurt retention of January signups?"],
    },
)

_RENAMED = Scenario(
    name="renamed_dims_os_region",
    title="Other dimension names: Android in LATAM drops (os, region, source, plan)",
    description=(
        "Same story as the demo with other names: column os instead of platform, region instead "
        "of country, source instead of acquisition_channel. Android 2.4.0 to LATAM loses users."
    ),
    world=_world(
        20,
        platform_col="os",
        country_col="region",
        channel_col="source",
        plan_col="plan",
        countries={"NA": 0.30, "EU": 0.25, "LATAM": 0.22, "APAC": 0.15, "MEA": 0.08},
        platform_by_country={},
        deployments=(
            *_BASE_DEPLOYS,
            DeploymentSpec(
                "rel_2_4_0_latam",
                _at("2026-01-26"),
                "android",
                "2.4.0",
                regions=("LATAM",),
                description="Android 2.4.0 for LATAM",
                adoption_days=0.8,
            ),
        ),
        effects=(
            Effect(
                "users_leave",
                _d("2026-01-26"),
                segment={"os": "android", "region": "LATAM", "app_version": "2.4.0"},
                factor=0.25,
            ),
        ),
    ),
    truth=GroundTruth(
        metric="dau",
        direction="drop",
        start=_d("2026-01-26"),
        root_cause=[{"os": "android", "region": "LATAM"}],
        deployment_id="rel_2_4_0_latam",
        extra={"app_version": "2.4.0"},
    ),
    questions={
        "clear": ["DAU dropped after January 26th. What's causing it?"],
        "vague": ["Something is off in one of our regions."],
        "misleading": ["Web users in Europe seem unhappy. Please investigate the DAU drop."],
    },
)

# payments: every purchase has an amount (10..99, a deterministic function of user and time);
# from the failure on, 70% of Brazil's purchases fail and record 0
_AMOUNT = "10 + (user_id * 7919 + epoch(event_timestamp)::BIGINT) % 90"
_FAILED = (
    "country = 'BR' AND event_timestamp >= TIMESTAMP '2026-01-28 00:00:00' "
    "AND (user_id + epoch(event_timestamp)::BIGINT) % 10 < 7"
)
_REVENUE = Scenario(
    name="payment_provider_failure_br",
    title="Revenue falls in Brazil when a payment provider fails",
    description=(
        "From 2026-01-28 most card payments in Brazil fail (recorded with amount 0): revenue "
        "(the sum of amount) drops there while users and events stay as they were."
    ),
    world=_world(23),
    truth=GroundTruth(
        metric="revenue",
        direction="drop",
        start=_d("2026-01-28"),
        root_cause=[{"country": "BR"}],
    ),
    questions={
        "clear": ["Revenue dropped after January 28th. What's causing it?"],
        "vague": ["Sales feel soft lately. Anything going on?"],
        "misleading": [
            "DAU looks normal but revenue fell. Is the new iOS release to blame for the drop?"
        ],
    },
    finish_sql=(
        "ALTER TABLE events ADD COLUMN amount DOUBLE",
        f"UPDATE events SET amount = CASE WHEN {_FAILED} THEN 0 ELSE {_AMOUNT} END "
        "WHERE event_type = 'purchase'",
    ),
    metrics_toml='[metrics.revenue]\nsum = "amount"\nsynonyms = ["sales"]\n',
)

# checkout: a web-heavy product; web users browse with one browser each (chrome 60% of them);
# from the web release on, 90% of chrome's purchases never happen (the checkout breaks); the
# stored rollups are dropped (the events changed), so the world is read like anyone's data
_BROWSER = (
    "CASE WHEN platform <> 'web' THEN NULL WHEN user_id % 5 < 3 THEN 'chrome' "
    "WHEN user_id % 5 = 3 THEN 'safari' ELSE 'firefox' END"
)
_BROKEN = (
    "event_type = 'purchase' AND browser = 'chrome' "
    "AND event_timestamp >= TIMESTAMP '2026-01-27 14:00:00' "
    "AND (user_id + epoch(event_timestamp)::BIGINT) % 10 < 9"
)
_CHECKOUT = Scenario(
    name="checkout_broken_chrome_web",
    title="Checkout conversion falls on Chrome after a web release",
    description=(
        "Web 2.3.0 ships on 2026-01-27 at 14:00 and breaks the checkout on Chrome: 90% of "
        "Chrome purchases no longer happen. Other browsers and the apps are unaffected."
    ),
    world=_world(
        29,
        platforms={"android": 0.3, "ios": 0.2, "web": 0.5},
        platform_by_country={},
        deployments=(
            *_BASE_DEPLOYS,
            DeploymentSpec(
                "deploy_web_230",
                _at("2026-01-27", 14),
                "web",
                "2.3.0",
                description="Web 2.3.0: new checkout page",
            ),
        ),
    ),
    truth=GroundTruth(
        metric="checkout_conversion",
        direction="drop",
        start=_d("2026-01-27"),
        root_cause=[{"browser": "chrome"}],
        deployment_id="deploy_web_230",
    ),
    questions={
        "clear": ["Checkout conversion dropped after January 27th. Why?"],
        "vague": ["Fewer people seem to finish buying lately. What happened?"],
        "misleading": [
            "Events look normal but conversion fell. Did the Android release break checkout?"
        ],
    },
    finish_sql=(
        "DROP TABLE IF EXISTS _mai_user_day",
        "DROP TABLE IF EXISTS _mai_user_day_type",
        "DROP TABLE IF EXISTS _mai_meta",
        "ALTER TABLE events ADD COLUMN browser VARCHAR",
        f"UPDATE events SET browser = {_BROWSER}",
        f"DELETE FROM events WHERE {_BROKEN}",
    ),
    metrics_toml=(
        "[metrics.checkout_conversion]\n"
        'numerator = {event_type = "purchase"}\n'
        'denominator = {event_type = "add_to_cart"}\n'
        'per = "user"\n'
        'synonyms = ["finish buying"]\n'
    ),
)

# requests: every event is a request with a status and a latency (deterministic functions of
# user and time: 1% errors, 120..199 ms); from 2026-02-02 09:00 a degraded region (DE) fails
# 12% of its requests and answers 250 ms slower
_DEGRADED = "country = 'DE' AND event_timestamp >= TIMESTAMP '2026-02-02 09:00:00'"
_ROLL = "(user_id * 31 + epoch(event_timestamp)::BIGINT) % 100"
_ERRORS = Scenario(
    name="errors_latency_de",
    title="Error rate and latency rise in one region",
    description=(
        "From 2026-02-02 09:00 the servers for Germany degrade: 12% of requests fail (1% "
        "elsewhere) and latency rises by 250 ms; the other regions are unaffected."
    ),
    world=_world(31),
    truth=GroundTruth(
        metric="error_rate",
        direction="spike",
        start=_d("2026-02-02"),
        root_cause=[{"country": "DE"}],
    ),
    questions={
        "clear": ["The error rate spiked on February 2nd. Where is it coming from?"],
        "vague": ["The app feels flaky this week. Is something failing?"],
        "misleading": [
            "DAU is stable, but the error rate went up. Is the iOS release crashing in the US?"
        ],
    },
    finish_sql=(
        "ALTER TABLE events ADD COLUMN status VARCHAR",
        "ALTER TABLE events ADD COLUMN latency_ms INTEGER",
        f"UPDATE events SET status = CASE WHEN {_ROLL} < (CASE WHEN {_DEGRADED} THEN 12 ELSE 1 "
        "END) THEN 'error' ELSE 'ok' END, "
        f"latency_ms = 120 + {_ROLL} % 80 + CASE WHEN {_DEGRADED} THEN 250 ELSE 0 END",
    ),
    metrics_toml=(
        "[metrics.error_rate]\n"
        'numerator = {status = "error"}\n'
        "denominator = {}\n"
        'bad = "spike"\n'
        'synonyms = ["failing", "failures"]\n'
        "[metrics.latency]\n"
        'mean = "latency_ms"\n'
        'bad = "spike"\n'
        'unit = "ms"\n'
    ),
)

# a daily metrics table only: the events are summed per day, country, platform and app
# version, then dropped (with the users and the rollups); before that, from 2026-01-29 90% of
# Indonesia's purchases fail (never recorded). Only sums of the measures can be asked about.
_ORDERS_LOST = (
    "event_type = 'purchase' AND country = 'ID' "
    "AND event_timestamp >= TIMESTAMP '2026-01-29 00:00:00' "
    "AND (user_id + epoch(event_timestamp)::BIGINT) % 10 < 9"
)
_KPIS = Scenario(
    name="daily_kpis_orders_drop_id",
    title="Orders fall in Indonesia, seen in a pre-aggregated daily metrics table",
    description=(
        "The warehouse holds no events, only daily_kpis (orders, carts, revenue and actions per "
        "day, country, platform and app version). From 2026-01-29 most purchases in Indonesia "
        "fail: orders drop there while carts stay as they were."
    ),
    world=_world(37),
    truth=GroundTruth(
        metric="orders",
        direction="drop",
        start=_d("2026-01-29"),
        root_cause=[{"country": "ID"}],
    ),
    questions={
        "clear": ["Orders dropped after January 29th. What's causing it?"],
        "vague": ["Purchases feel soft lately. Anything going on?"],
        "misleading": ["DAU looks fine but orders fell. Did the iOS release break checkout?"],
    },
    finish_sql=(
        f"DELETE FROM events WHERE {_ORDERS_LOST}",
        "CREATE TABLE daily_kpis AS SELECT CAST(event_timestamp AS DATE) AS day, country, "
        "platform, app_version, "
        "count(*) FILTER (WHERE event_type = 'purchase') AS orders, "
        "count(*) FILTER (WHERE event_type = 'add_to_cart') AS carts, "
        f"CAST(coalesce(sum({_AMOUNT}) FILTER (WHERE event_type = 'purchase'), 0) AS DOUBLE) "
        "AS revenue, count(*) AS actions FROM events GROUP BY ALL ORDER BY ALL",
        "DROP TABLE events",
        "DROP TABLE users",
        "DROP TABLE IF EXISTS _mai_user_day",
        "DROP TABLE IF EXISTS _mai_user_day_type",
        "DROP TABLE IF EXISTS _mai_meta",
    ),
    metrics_toml=(
        "[aggregates]\n"
        'table = "daily_kpis"\n'
        'date = "day"\n'
        "[metrics.orders]\n"
        'sum = "orders"\n'
        'synonyms = ["purchases"]\n'
        "[metrics.cart_conversion]\n"
        'numerator = "orders"\n'
        'denominator = "carts"\n'
        'synonyms = ["conversion"]\n'
    ),
)

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        _SEED,
        _ENGAGEMENT,
        _OUTAGE,
        _INSTRUMENTATION,
        _BOTS,
        _CHANNEL,
        _HOLIDAY,
        _SEASONALITY,
        _TWO,
        _COHORT,
        _RENAMED,
        _REVENUE,
        _CHECKOUT,
        _ERRORS,
        _KPIS,
    )
}


def list_scenarios() -> list[Scenario]:
    return list(SCENARIOS.values())


def get_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise WarehouseError(
            f"Unknown scenario {show_name(name)}. Valid scenarios: {', '.join(SCENARIOS)}."
        ) from None


def generate_scenario(
    name: str,
    out: str | Path,
    *,
    users: int | None = None,
    days: int | None = None,
    seed: int | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> Path:
    """Write scenario ``name``'s world to the DuckDB file ``out`` (for ``mai data generate``)."""
    scenario = get_scenario(name)
    if users is not None and users < 1:
        raise WarehouseError("--users must be at least 1.")
    if days is not None and days < 1:
        raise WarehouseError("--days must be at least 1.")
    if seed is not None and seed < 0:
        raise WarehouseError("--seed must be 0 or more.")
    return build_world(scenario, out, users=users, days=days, seed=seed, progress=progress)


def build_world(
    scenario: Scenario,
    out: str | Path,
    *,
    users: int | None = None,
    days: int | None = None,
    seed: int | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> Path:
    """Generate the scenario's world into ``out``, run its finishing SQL and write its metrics
    as the ``mai.toml`` beside it (never over an existing one)."""
    import duckdb

    toml = Path(out).parent / "mai.toml"
    if scenario.metrics_toml and toml.exists() and toml.read_text() != scenario.metrics_toml:
        raise WarehouseError(
            f"{toml} already exists: write {scenario.name} into a directory of its own "
            "(its metrics go in a mai.toml beside it)."
        )
    path = generate_world(scenario.world, out, users=users, days=days, seed=seed, progress=progress)
    if scenario.finish_sql:
        con = duckdb.connect(str(path))
        try:
            for sql in scenario.finish_sql:
                con.execute(sql)
        finally:
            con.close()
    if scenario.metrics_toml:
        toml.write_text(scenario.metrics_toml)
    return path
