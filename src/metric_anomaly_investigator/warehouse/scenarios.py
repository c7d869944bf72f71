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
    "FollowUp",
    "GroundTruth",
    "QuestionStyle",
    "Scenario",
    "generate_scenario",
    "get_scenario",
    "list_scenarios",
]

# clear: a well-posed question; vague: no metric or date named; misleading: blames the wrong
# segment, release or cause; terse: a one-liner; typos: as typed in a hurry; colleague: a
# Slack-style message with context around the ask
QuestionStyle = Literal["clear", "vague", "misleading", "terse", "typos", "colleague"]


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
        mechanism="deployment",
        wrong_premise=(
            "Did the iOS 2.3.0 release on January 30th cause the drop in daily users?",
            "Brazil usage collapsed after the Android update, right?",
        ),
        follow_ups=(
            FollowUp("Is Brazil affected too?", "no", ("BR",)),
            FollowUp("Is it only on Android?", "yes", ("android",)),
            FollowUp("Did the iOS release cause it?", "no", ("deploy_003",)),
        ),
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
        "misleading": [
            "iOS users are complaining about crashes. Please investigate the DAU drop",
            "Did the iOS 2.3.0 release on January 30th cause the drop in daily users?",
            "Brazil usage collapsed after the Android update, right?",
        ],
        "terse": ["dau down?", "android IN drop since 1/28 - cause?"],
        "typos": [
            "why did daily actives drop after jan 28? andriod maybe?",
            "is the new andorid build killing usage in india",
        ],
        "colleague": [
            "hey, the Bangalore team says engagement tanked over the past two weeks. can you "
            "dig in before standup?",
            "Quick one: did deploy_003 do something bad? numbers look off since it went out",
        ],
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
        mechanism="deployment",
        wrong_premise=(
            "DAU dropped after the iOS release, right? Please investigate the DAU drop.",
            "We're losing iOS users since the 2.4.0 update. How many?",
            "Android engagement fell off in late January, any idea why?",
        ),
        follow_ups=(
            FollowUp("Did the number of daily active users change too?", "no"),
            FollowUp("Is it only on iOS 2.4.0?", "yes", ("2.4.0",)),
            FollowUp("Is Android affected as well?", "no", ("android",)),
        ),
    ),
    questions={
        "clear": [
            "Events per user dropped since January 27th. What's causing it?",
            "How much did activity per user fall on iOS after 2.4.0 shipped, and is that version "
            "the cause?",
        ],
        "vague": ["Engagement feels lower this week. Can you look into it?"],
        "misleading": [
            "DAU dropped after the iOS release, right? Please investigate the DAU drop.",
            "We're losing iOS users since the 2.4.0 update. How many?",
            "Android engagement fell off in late January, any idea why?",
        ],
        "terse": ["events/user down since 27th?", "ios engagement drop — cause?"],
        "typos": ["ppl seem to do way less per sesion on iphone since the 27th, whats going on"],
        "colleague": [
            "Hey, the feed team says people open the app as often as ever but barely do "
            "anything once they're in. Started around Tuesday the 27th. Can you check?",
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
        mechanism="outage",
        wrong_premise=(
            "The Android 2.4.0 release on January 27th broke something. How bad is the DAU drop?",
            "Did the German localisation release knock out our Android users?",
        ),
        follow_ups=(
            FollowUp("Is Germany affected?", "no", ("DE",)),
            FollowUp("Did it hit every platform?", "yes", ("BR",)),
            FollowUp("Is it still going on?", "no"),
        ),
    ),
    questions={
        "clear": [
            "DAU dipped from January 27th to 29th. What caused it?",
            "Which market caused the three-day dip in daily active users at the end of January?",
        ],
        "vague": ["Did something happen at the end of January?"],
        "misleading": [
            "The Android 2.4.0 release on January 27th broke something. How bad is the DAU drop?",
            "Did the German localisation release knock out our Android users?",
        ],
        "terse": ["dau dip 27-29 jan??", "what happened jan 27"],
        "typos": ["we had a weird dip in actve users end of janaury, was it an outage?"],
        "colleague": [
            "Support got a flood of 'app won't load' tickets around the 27th, mostly in "
            "Portuguese. Did that show up in the numbers?",
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
        mechanism="instrumentation",
        wrong_premise=(
            "iOS users stopped using the app after the 2.4.0 release. How many did we lose?",
            "Did iOS DAU crash after 2.4.0?",
            "Android users are generating fewer events since late January. Why?",
        ),
        follow_ups=(
            FollowUp("Did one event type stop being recorded?", "yes", ("screen_view",)),
            FollowUp("Did the number of active users drop too?", "no"),
            FollowUp("Is it only on iOS?", "yes", ("ios",)),
        ),
    ),
    questions={
        "clear": [
            "Total events dropped after January 28th. Is it real or a tracking problem?",
            "Event counts on iOS have been down since the 28th. Which event types are missing?",
        ],
        "vague": ["Our event volume looks weird lately."],
        "misleading": [
            "iOS users stopped using the app after the 2.4.0 release. How many did we lose?",
            "Did iOS DAU crash after 2.4.0?",
            "Android users are generating fewer events since late January. Why?",
        ],
        "terse": ["events down since 1/28 why", "tracking broken on ios?"],
        "typos": ["total evnets fell off after the 28th, is the sdk upgrade to blame?"],
        "colleague": [
            "Heads up: the growth dashboard shows event volume down since Wednesday two weeks "
            "ago, but the iOS team swears nothing changed for users. Real or tracking?",
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
        mechanism="automated_traffic",
        wrong_premise=(
            "Engagement looks amazing this week, is it real?",
            "Our new marketing push worked: events are up. Which country adopted the app?",
            "Did the iOS app go viral in the US at the end of January?",
            "web traffic up - real?",
            "fyi the web events graph went vertical at the end of Jan and infra wants to know "
            "whether to scale up. Is that real users?",
        ),
        follow_ups=(
            FollowUp("Is the extra traffic from real users?", "no"),
            FollowUp("Is it only on web?", "yes", ("web",)),
            FollowUp("Did a deployment cause it?", "no"),
        ),
    ),
    questions={
        "clear": [
            "Events jumped on January 29th. Where is the extra traffic coming from?",
            "Why did event volume on the website jump at the end of January?",
        ],
        "vague": ["Engagement looks amazing this week, is it real?"],
        "misleading": [
            "Our new marketing push worked: events are up. Which country adopted the app?",
            "Did the iOS app go viral in the US at the end of January?",
        ],
        "terse": ["events spike 29th??", "web traffic up - real?"],
        "typos": [
            "huge jump in evnts on the website since thursday the 29th, where is it comming from"
        ],
        "colleague": [
            "fyi the web events graph went vertical at the end of Jan and infra wants to know "
            "whether to scale up. Is that real users?",
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
        # None: from the data, people who stop coming (behaviour) and a segment that stops
        # working (outage) are both honest readings
        mechanism=None,
        wrong_premise=(
            "Did the December Android release cause the DAU drop at the end of January?",
            "Is the drop in daily users only on Android?",
            "Why are Indian users leaving since January 26th?",
        ),
        follow_ups=(
            FollowUp("Is it only on one platform?", "no", ("paid_search",)),
            FollowUp("Are organic users affected?", "no", ("organic",)),
            FollowUp("Did a deployment cause it?", "no"),
        ),
    ),
    questions={
        "clear": [
            "DAU fell from January 26th. Which users are we losing?",
            "Daily actives have been lower since Monday January 26th. Which acquisition channel "
            "is behind it?",
        ],
        "vague": ["Are we losing people recently?"],
        "misleading": [
            "Did the December Android release cause the DAU drop at the end of January?",
            "Is the drop in daily users only on Android?",
            "Why are Indian users leaving since January 26th?",
        ],
        "terse": ["dau down since 26th", "who are we losing"],
        "typos": ["feels like we're loosing users since late jan, can you check which segmnet"],
        "colleague": [
            "Marketing just ended the paid search promo and now everyone's asking if that's why "
            "user numbers sagged. Can you confirm or kill that theory?",
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
        mechanism="calendar",
        wrong_premise=(
            "Japanese users are churning since late December. What broke?",
            "Did the Android 2.2.0 release break the app in Japan at the end of December?",
        ),
        follow_ups=(
            FollowUp("Did it recover after the holidays?", "yes", ("JP",)),
            FollowUp("Were other countries affected?", "no", ("JP",)),
            FollowUp("Did a deployment cause it?", "no"),
        ),
    ),
    questions={
        "clear": [
            "DAU dropped between December 29th and January 3rd. Why?",
            "Was the dip in Japanese activity around New Year just the holidays?",
        ],
        "vague": ["The start of January looked slow. Anything to worry about?"],
        "misleading": [
            "Japanese users are churning since late December. What broke?",
            "Did the Android 2.2.0 release break the app in Japan at the end of December?",
        ],
        "terse": ["jp dau dip new year?", "early jan slump - holiday?"],
        "typos": [
            "japan numbers were really low at the start of janurary, is that seasonal or a bug"
        ],
        "colleague": [
            "The Tokyo office asked why their actives sank over New Year. Anything we should "
            "worry about, or is it the usual Shogatsu thing?",
        ],
    },
)

_SEASONALITY = Scenario(
    name="weekend_seasonality_only",
    title="Only the usual weekend dip",
    description="Nothing happened: DAU dips every weekend. The right answer is 'no anomaly'.",
    world=_world(17, weekend_factor=0.72),
    truth=GroundTruth(
        metric="dau",
        direction="none",
        start=None,
        wrong_premise=(
            "DAU was lower on Saturday February 7th than on Friday. Is that an anomaly?",
            "Is there any real anomaly in daily active users over the last two weeks?",
            "Did anything happen last weekend?",
            "DAU crashed last weekend! What broke on Saturday February 7th?",
            "Did the iOS release break DAU last weekend?",
            "sat dau dip — anomaly?",
        ),
        follow_ups=(
            FollowUp("Is this weekend's dip unusual compared with earlier weekends?", "no"),
            FollowUp("Did any country drop?", "no"),
        ),
    ),
    questions={
        "clear": [
            "DAU was lower on Saturday February 7th than on Friday. Is that an anomaly?",
            "Is there any real anomaly in daily active users over the last two weeks?",
        ],
        "vague": ["Did anything happen last weekend?"],
        "misleading": [
            "DAU crashed last weekend! What broke on Saturday February 7th?",
            "Did the iOS release break DAU last weekend?",
        ],
        "terse": ["sat dau dip — anomaly?", "weekend drop??"],
        "typos": ["saw activ users dip on the weekend agian, should i be worried"],
        "colleague": [
            "someone in #growth posted a screenshot of DAU sagging on Saturday and people are "
            "panicking. Is anything actually wrong?",
        ],
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
        # None: two causes, a release in Indonesia and an outage in Great Britain
        mechanism=None,
        wrong_premise=(
            "The Indonesia release explains the whole DAU drop, right?",
            "Is the drop only in Great Britain?",
        ),
        follow_ups=(
            FollowUp("Is Great Britain affected?", "yes", ("GB",)),
            FollowUp("Is the drop in Great Britain only on Android?", "no", ("GB",)),
            FollowUp("Did the Indonesia release cause part of it?", "yes", ("deploy_id_240",)),
        ),
    ),
    questions={
        "clear": [
            "DAU dropped after January 28th. What are all the causes?",
            "What is behind the fall in daily active users since January 28th, and is there more "
            "than one cause?",
        ],
        "vague": ["Numbers look down this week. Why?"],
        "misleading": [
            "The Indonesia release explains the whole DAU drop, right?",
            "Is the drop only in Great Britain?",
        ],
        "terse": ["dau drop 28th - all causes", "why dau down"],
        "typos": ["dau dropped after the 28th, is it just indonesia or sth else too?"],
        "colleague": [
            "Payments says the UK card processor has been flaky since the 28th, and the Android "
            "folks shipped to Indonesia the same day. Which one is hurting us?",
        ],
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
        mechanism="cohort",
        wrong_premise=(
            "Did the iOS release in November hurt retention of January signups?",
            "Is retention worse for January signups from paid search?",
            # they are not: the right answer opens "No"
            "Are new users sticking around?",
        ),
        follow_ups=(
            FollowUp("Is it users from social ads?", "yes", ("social",)),
            FollowUp("Are organic signups affected?", "no", ("organic",)),
            FollowUp("Did a deployment cause it?", "no"),
        ),
    ),
    questions={
        "clear": [
            "Retention of users who signed up in January is worse. Which cohort and why?",
            "Which signup channel's users from early January stop coming back?",
        ],
        "vague": ["Are new users sticking around?"],
        "misleading": [
            "Did the iOS release in November hurt retention of January signups?",
            "Is retention worse for January signups from paid search?",
        ],
        "terse": ["jan signups retention bad?", "retention down - which cohort"],
        "typos": [
            "new users from the january social campain dont seem to come back, can u confirm"
        ],
        "colleague": [
            "Growth is worried the early-January signup wave was low quality: those folks seem "
            "to vanish after a week or two. Can you check retention by channel?",
        ],
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
        mechanism="deployment",
        wrong_premise=(
            "Did EU web usage fall after January 26th?",
            "Is the drop on iOS?",
        ),
        follow_ups=(
            FollowUp("Is EU affected?", "no", ("EU",)),
            FollowUp("Is it only on Android?", "yes", ("android",)),
            FollowUp("Did the LATAM release cause it?", "yes", ("rel_2_4_0_latam",)),
        ),
    ),
    questions={
        "clear": [
            "DAU dropped after January 26th. What's causing it?",
            "Which region and OS are driving the DAU drop since January 26th?",
        ],
        "vague": ["Something is off in one of our regions."],
        "misleading": [
            "Web users in Europe seem unhappy. Please investigate the DAU drop.",
            "Did EU web usage fall after January 26th?",
            "Is the drop on iOS?",
        ],
        "terse": ["latam dau?", "dau down since 26 jan"],
        "typos": ["dau fell since monday the 26th, andriod in latam maybe?"],
        "colleague": [
            "The LatAm country manager says usage collapsed after the last Android rollout. Can "
            "you confirm what's going on?",
        ],
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
        # None: failed payments are an outage of the provider, and to the data people who
        # stopped paying; both are honest readings
        mechanism=None,
        wrong_premise=(
            "DAU looks normal but revenue fell. Is the new iOS release to blame for the drop?",
            "Did fewer people use the app after January 28th?",
        ),
        follow_ups=(
            FollowUp("Did the number of users change?", "no"),
            FollowUp("Is it only Brazil?", "yes", ("BR",)),
            FollowUp("Did a deployment cause it?", "no"),
        ),
    ),
    questions={
        "clear": [
            "Revenue dropped after January 28th. What's causing it?",
            "Which country is responsible for the revenue decline since January 28th?",
        ],
        "vague": ["Sales feel soft lately. Anything going on?"],
        "misleading": [
            "DAU looks normal but revenue fell. Is the new iOS release to blame for the drop?",
            "Did fewer people use the app after January 28th?",
        ],
        "terse": ["revenue down why", "rev drop since 28th"],
        "typos": ["revnue has been soft since the 28th, are payments failing somewhere?"],
        "colleague": [
            "Finance flagged that sales are down two weeks straight but traffic looks fine. Can "
            "you find where the money went?",
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
        mechanism="deployment",
        wrong_premise=(
            "Events look normal but conversion fell. Did the Android release break checkout?",
            "Did checkout conversion drop on Safari?",
        ),
        follow_ups=(
            FollowUp("Is Safari affected?", "no", ("safari",)),
            FollowUp("Did the web release cause it?", "yes", ("deploy_web_230",)),
            FollowUp("Is it only on Chrome?", "yes", ("chrome",)),
        ),
    ),
    questions={
        "clear": [
            "Checkout conversion dropped after January 27th. Why?",
            "Which browser is behind the checkout conversion drop after the web 2.3.0 release?",
        ],
        "vague": ["Fewer people seem to finish buying lately. What happened?"],
        "misleading": [
            "Events look normal but conversion fell. Did the Android release break checkout?",
            "Did checkout conversion drop on Safari?",
        ],
        "terse": ["checkout conv down since 27th", "conversion broken?"],
        "typos": ["checkout convertion dropped on the 27th, is it the new checkout page?"],
        "colleague": [
            "CS says a bunch of people on the website can't get past the payment step since "
            "Tuesday's release. Can you check conversion?",
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
        mechanism="outage",
        wrong_premise=(
            "DAU is stable, but the error rate went up. Is the iOS release crashing in the US?",
            "Is the error rate increase coming from Brazil?",
        ),
        follow_ups=(
            FollowUp("Is it only Germany?", "yes", ("DE",)),
            FollowUp("Did latency rise too?", "yes", ("DE",)),
            FollowUp("Did a deployment cause it?", "no"),
        ),
    ),
    questions={
        "clear": [
            "The error rate spiked on February 2nd. Where is it coming from?",
            "Where did the rise in the error rate since Monday February 2nd come from?",
        ],
        "vague": ["The app feels flaky this week. Is something failing?"],
        "misleading": [
            "DAU is stable, but the error rate went up. Is the iOS release crashing in the US?",
            "Is the error rate increase coming from Brazil?",
        ],
        "terse": ["error rate up?", "errors up since feb 2"],
        "typos": ["lots of erors and slow responses since feb 2nd, which region?"],
        "colleague": [
            "On-call here: seeing more failed requests and higher latency since Monday last "
            "week. Is this one region or everywhere?",
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
        # None: as for revenue, failed purchases read as an outage or as people buying less
        mechanism=None,
        wrong_premise=(
            "DAU looks fine but orders fell. Did the iOS release break checkout?",
            "Did orders drop in Brazil after January 29th?",
        ),
        follow_ups=(
            FollowUp("Did carts drop too?", "no"),
            FollowUp("Is it only Indonesia?", "yes", ("ID",)),
            FollowUp("Is Brazil affected?", "no", ("BR",)),
        ),
    ),
    questions={
        "clear": [
            "Orders dropped after January 29th. What's causing it?",
            "Which country drove the decline in orders from January 29th?",
        ],
        "vague": ["Purchases feel soft lately. Anything going on?"],
        "misleading": [
            "DAU looks fine but orders fell. Did the iOS release break checkout?",
            "Did orders drop in Brazil after January 29th?",
        ],
        "terse": ["orders down since 29th", "why fewer orders"],
        "typos": ["orders tanked end of jan, is it indonesia? purchses look low there"],
        "colleague": [
            "Commercial says order volume has been off for about two weeks but carts look "
            "normal. Can you figure out where?",
        ],
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

# a signup wave: 360 brand-new accounts in Indonesia (ordinary events per account, every day)
# on every platform, channel and plan, so the country is all they share; from two days after
# a release that went to every Android user in every region
_WAVE = (
    ("android", "organic", "free", 90),
    ("android", "social", "free", 50),
    ("android", "paid_search", "plus", 40),
    ("android", "referral", "free", 30),
    ("ios", "organic", "free", 50),
    ("ios", "referral", "plus", 30),
    ("ios", "paid_search", "free", 30),
    ("web", "social", "pro", 20),
    ("web", "organic", "free", 20),
)
_CONFOUNDER = Scenario(
    name="rollout_confounder_signups_id",
    title="New accounts in Indonesia lift DAU two days after an unrelated Android release",
    description=(
        "Android 2.5.0 (deploy_android_250) rolls out to every Android user on 2026-01-26. From "
        "2026-01-28, 360 brand-new accounts in Indonesia (on every platform, channel and plan, "
        "with ordinary events per account) come every day and DAU jumps. The new version is "
        "everywhere by then, so it looks involved; the cause is the Indonesian signups, not the "
        "release."
    ),
    world=_world(
        41,
        deployments=(
            *_BASE_DEPLOYS,
            DeploymentSpec(
                "deploy_android_250",
                _at("2026-01-26"),
                "android",
                "2.5.0",
                description="Android 2.5.0: faster startup",
                adoption_days=1.5,
            ),
        ),
        effects=tuple(
            Effect(
                "bots_appear",
                _d("2026-01-28"),
                segment={
                    "country": "ID",
                    "platform": platform,
                    "acquisition_channel": channel,
                    "plan": plan,
                },
                bots=n,
                bot_events=6,
            )
            for platform, channel, plan, n in _WAVE
        ),
    ),
    truth=GroundTruth(
        metric="dau",
        direction="spike",
        start=_d("2026-01-28"),
        root_cause=[{"country": "ID"}],
        deployment_id=None,
        extra={"decoy_deployment": "deploy_android_250", "new_accounts": "360"},
        # None: a wave of signups (behaviour) or accounts made in bulk (automated traffic, though
        # with ordinary activity per account) are both honest readings
        mechanism=None,
        wrong_premise=(
            "Did the Android 2.5.0 rollout on January 26th drive the DAU increase?",
            "The 2.5.0 update is bringing users back. How much did DAU grow on the new version?",
            "dau jumped after the andriod 2.5 release, did the update bring ppl back?",
            "Hey, Android shipped 2.5.0 on Monday the 26th and two days later actives shot up. "
            "Marketing wants to credit the release in the newsletter, can you double-check "
            "before they send it?",
        ),
        follow_ups=(
            FollowUp("Did the Android 2.5.0 release cause it?", "no", ("ID",)),
            FollowUp("Are the extra users new accounts?", "yes", ("ID",)),
            FollowUp("Is it only on Android?", "no", ("ID",)),
        ),
    ),
    questions={
        "clear": [
            "Daily active users jumped from January 28th. Where are the extra users coming from?",
            "What caused the increase in DAU at the end of January?",
        ],
        "vague": [
            "Usage looks unusually high lately. Is something going on?",
            "Why do our numbers look so good these past two weeks?",
        ],
        "misleading": [
            "Did the Android 2.5.0 rollout on January 26th drive the DAU increase?",
            "The 2.5.0 update is bringing users back. How much did DAU grow on the new version?",
        ],
        "terse": ["dau up since 28th?", "where's the dau spike from"],
        "typos": ["dau jumped after the andriod 2.5 release, did the update bring ppl back?"],
        "colleague": [
            "Hey, Android shipped 2.5.0 on Monday the 26th and two days later actives shot up. "
            "Marketing wants to credit the release in the newsletter, can you double-check "
            "before they send it?",
        ],
    },
)

_BOTS_RELEASE = Scenario(
    name="bots_after_release_android_br",
    title="Bots on Android in Brazil the day after an Android release",
    description=(
        "Android 2.5.0 (deploy_android_250) ships to every region on 2026-01-27. From "
        "2026-01-28, 150 new accounts on Android in Brazil fire about 350 events each a day: "
        "automated traffic. They run the new version, so the release looks guilty; it is not."
    ),
    world=_world(
        43,
        deployments=(
            *_BASE_DEPLOYS,
            DeploymentSpec(
                "deploy_android_250",
                _at("2026-01-27"),
                "android",
                "2.5.0",
                description="Android 2.5.0: offline mode",
                adoption_days=1.0,
            ),
        ),
        effects=(
            Effect(
                "bots_appear",
                _d("2026-01-28"),
                segment={"platform": "android", "country": "BR"},
                bots=150,
                bot_events=350,
            ),
        ),
    ),
    truth=GroundTruth(
        metric="events",
        direction="spike",
        start=_d("2026-01-28"),
        root_cause=[{"platform": "android", "country": "BR"}],
        deployment_id=None,
        extra={"decoy_deployment": "deploy_android_250", "bots": "150"},
        mechanism="automated_traffic",
        wrong_premise=(
            "Is the jump in events since January 28th coming from real users?",
            "Activity is through the roof this week. Good news?",
            "The Android 2.5.0 release boosted engagement. Which countries love it most?",
            "did the new andriod release make people use the app way more? evnts are up a lot",
        ),
        follow_ups=(
            FollowUp("Did the Android 2.5.0 release cause it?", "no"),
            FollowUp("Is it only in Brazil?", "yes", ("BR",)),
            FollowUp("Are these real users?", "no"),
        ),
    ),
    questions={
        "clear": [
            "Event volume spiked from January 28th. What's generating it?",
            "Is the jump in events since January 28th coming from real users?",
        ],
        "vague": [
            "Activity is through the roof this week. Good news?",
            "Something weird is happening with our traffic.",
        ],
        "misleading": [
            "The Android 2.5.0 release boosted engagement. Which countries love it most?",
        ],
        "terse": ["events spike after 2.5.0?", "events way up since 28 jan"],
        "typos": [
            "did the new andriod release make people use the app way more? evnts are up a lot",
        ],
        "colleague": [
            "The Android team is celebrating: event counts shot up right after 2.5.0 went out on "
            "the 27th. Before they take credit, can you check where it's coming from?",
        ],
    },
)

_VERSION_OUTAGE = Scenario(
    name="version_outage_ios_250",
    title="iOS 2.5.0 crashes on launch for three days until a hotfix",
    description=(
        "iOS 2.5.0 (deploy_ios_250, 2026-01-29) crashes on launch: users who updated to it all "
        "but vanish until the hotfix 2.5.1 (deploy_ios_251, 2026-02-01) replaces it; users still "
        "on 2.5.0 from then on are fine again. iOS users who had not updated yet, Android and "
        "web are unaffected."
    ),
    world=_world(
        44,
        deployments=(
            *_BASE_DEPLOYS,
            DeploymentSpec(
                "deploy_ios_250",
                _at("2026-01-29", 9),
                "ios",
                "2.5.0",
                description="iOS 2.5.0: new onboarding",
                adoption_days=3.0,
            ),
            DeploymentSpec(
                "deploy_ios_251",
                _at("2026-02-01", 8),
                "ios",
                "2.5.1",
                description="iOS 2.5.1: hotfix for a crash on launch",
                adoption_days=0.5,
            ),
        ),
        effects=(
            Effect(
                "users_leave",
                _d("2026-01-29"),
                _d("2026-01-31"),
                segment={"platform": "ios", "app_version": "2.5.0"},
                factor=0.05,
            ),
        ),
    ),
    truth=GroundTruth(
        metric="dau",
        direction="drop",
        start=_d("2026-01-29"),
        end=_d("2026-01-31"),
        root_cause=[{"platform": "ios", "app_version": "2.5.0"}],
        deployment_id="deploy_ios_250",
        extra={"fix": "deploy_ios_251"},
        mechanism="outage",
        wrong_premise=(
            "Android users couldn't log in from January 29th to 31st. How bad was it?",
            "Did the iOS 2.5.1 hotfix cause the DAU drop?",
        ),
        follow_ups=(
            FollowUp("Is it over?", "yes"),
            FollowUp("Was Android affected?", "no", ("android",)),
            FollowUp("Was it only users on 2.5.0?", "yes", ("2.5.0",)),
        ),
    ),
    questions={
        "clear": [
            "DAU dropped on January 29th and recovered a few days later. What happened?",
            "Did iOS 2.5.0 cause the dip in daily active users at the end of January?",
        ],
        "vague": ["Did something go wrong at the end of January?"],
        "misleading": [
            "Android users couldn't log in from January 29th to 31st. How bad was it?",
            "Did the iOS 2.5.1 hotfix cause the DAU drop?",
        ],
        "terse": ["dau dip 29-31 jan", "ios down?"],
        "typos": ["iphone users dissapeared for a few days end of jan, crash?"],
        "colleague": [
            "App Store reviews were full of 'crashes on launch' after Thursday's iOS update, then "
            "the hotfix went out. Did it actually cost us users, and is it over?",
        ],
    },
)

_DRIFT = Scenario(
    name="gradual_drift_us",
    title="US activity slides a few percent a week from early January",
    description=(
        "From 2026-01-05 users in the US come a little less every week (7% a week, compounded "
        "day by day): no single day breaks, the decline builds up. Other countries are "
        "unaffected; no release or event explains it."
    ),
    world=_world(
        45,
        effects=(Effect("drift", _d("2026-01-05"), segment={"country": "US"}, factor=0.93),),
    ),
    truth=GroundTruth(
        metric="dau",
        direction="drop",
        start=_d("2026-01-05"),
        root_cause=[{"country": "US"}],
        deployment_id=None,
        extra={"kind": "gradual", "weekly_factor": "0.93"},
        mechanism="behaviour",
        wrong_premise=(
            "DAU fell off a cliff last week. What broke?",
            "Is the slow decline coming from Android users in India?",
        ),
        follow_ups=(
            FollowUp("Was there a sudden drop on a single day?", "no"),
            FollowUp("Is it only the US?", "yes", ("US",)),
            FollowUp("Did a deployment cause it?", "no"),
        ),
    ),
    questions={
        "clear": [
            "Has daily active usage in the US been declining since early January?",
            "DAU has been sliding for weeks. Which market is behind it?",
        ],
        "vague": ["Things feel like they're slowly getting worse. Are they?"],
        "misleading": [
            "DAU fell off a cliff last week. What broke?",
            "Is the slow decline coming from Android users in India?",
        ],
        "terse": ["dau trending down?", "slow dau decline - where"],
        "typos": ["is it just me or has dau been slowy going down every week since new year"],
        "colleague": [
            "Not urgent, but our actives chart looks like it's been leaking a little every week "
            "since the start of January. Is that real, and where?",
        ],
    },
)

_ROSE = Scenario(
    name="metric_rose_brazil_promo",
    title="DAU rose in Brazil with a promotion, while people ask why it fell",
    description=(
        "From 2026-01-26 a promotion in Brazil (annotated as a campaign) makes users there half "
        "again as active: DAU rises. Most questions say it fell: their premise is false and the "
        "answer opens with No."
    ),
    world=_world(
        46,
        annotations=(
            AnnotationSpec(
                "Brazil summer promo",
                "campaign",
                _at("2026-01-26", 0),
                _at("2026-02-11", 23),
                scope={"country": "BR"},
            ),
        ),
        effects=(
            Effect("activity_change", _d("2026-01-26"), segment={"country": "BR"}, factor=1.5),
        ),
    ),
    truth=GroundTruth(
        metric="dau",
        direction="spike",
        start=_d("2026-01-26"),
        root_cause=[{"country": "BR"}],
        deployment_id=None,
        extra={"annotation": "Brazil summer promo"},
        mechanism="behaviour",
        wrong_premise=(
            "Why did DAU drop after January 26th?",
            "Usage has been disappointing lately. What's wrong?",
            "dau drop since 26th?",
            "brazil dau down?",
            "why did brazilian actve users fall after the promo started",
            "Quick sanity check: someone said DAU has been falling since the Brazil promo "
            "launched on Monday the 26th. Is that right?",
            "The Brazil campaign backfired and users left. How many did we lose?",
            "Did the Android 2.2.0 release cause the late-January decline?",
        ),
        follow_ups=(
            FollowUp("Did DAU actually rise?", "yes", ("BR",)),
            FollowUp("Did other countries change?", "no", ("BR",)),
            FollowUp("Was there a campaign at the time?", "yes", ("BR",)),
        ),
    ),
    questions={
        "clear": [
            "How did daily active users change after January 26th, and where?",
            "Why did DAU drop after January 26th?",
        ],
        "vague": ["Usage has been disappointing lately. What's wrong?"],
        "misleading": [
            "The Brazil campaign backfired and users left. How many did we lose?",
            "Did the Android 2.2.0 release cause the late-January decline?",
        ],
        "terse": ["dau drop since 26th?", "brazil dau down?"],
        "typos": ["why did brazilian actve users fall after the promo started"],
        "colleague": [
            "Quick sanity check: someone said DAU has been falling since the Brazil promo "
            "launched on Monday the 26th. Is that right?",
        ],
    },
)

# data freshness: the pipeline is behind. The last day (2026-02-11) holds only its events up to
# 07:00 (an incomplete edge day by its time of day); the day before holds 40% of its rows,
# spread over the whole day (late-arriving rows, invisible in the time of day). The stored
# rollups are dropped (the events changed).
_LATE = (
    "(event_timestamp >= TIMESTAMP '2026-02-11 07:00:00') OR "
    "(event_timestamp >= TIMESTAMP '2026-02-10 00:00:00' "
    "AND event_timestamp < TIMESTAMP '2026-02-11 00:00:00' "
    "AND (user_id * 7919 + epoch(event_timestamp)::BIGINT) % 10 >= 4)"
)
_FRESHNESS = Scenario(
    name="data_freshness_late_load",
    title="The latest days are only partly loaded",
    description=(
        "Nothing happened to the product: the warehouse is behind. 2026-02-11 holds only its "
        "first hours and 2026-02-10 only 40% of its rows, on every platform, country and event "
        "type alike. The right answer is 'no real anomaly: the last days are incomplete'."
    ),
    world=_world(47),
    truth=GroundTruth(
        metric="events",
        direction="none",
        start=None,
        root_cause=[],
        deployment_id=None,
        extra={"incomplete_from": "2026-02-10", "loaded_share": "0.4"},
        mechanism="data_freshness",
        wrong_premise=(
            "Events dropped sharply on February 10th. Is that real?",
            "Did we lose users on February 10th?",
            "events crashed yesterday??",
            "dau down yesterday?",
            "evnets fell off a cliff on tuesday, did something brake?",
            "The iOS release broke tracking on February 10th, right?",
            "Why did so many of our users leave on February 10th?",
        ),
        follow_ups=(
            FollowUp("Is the drop real?", "no"),
            FollowUp("Is one country or platform behind it?", "no"),
            FollowUp("Will the numbers fill in once loading catches up?", "yes"),
        ),
    ),
    questions={
        "clear": [
            "Events dropped sharply on February 10th. Is that real?",
            "Did we lose users on February 10th?",
        ],
        "vague": ["The latest numbers look terrible. What happened?"],
        "misleading": [
            "The iOS release broke tracking on February 10th, right?",
            "Why did so many of our users leave on February 10th?",
        ],
        "terse": ["events crashed yesterday??", "dau down yesterday?"],
        "typos": ["evnets fell off a cliff on tuesday, did something brake?"],
        "colleague": [
            "The exec dashboard shows yesterday at less than half of normal and the CEO is "
            "asking. Do we have an incident or is it a data thing?",
        ],
    },
    finish_sql=(
        "DROP TABLE IF EXISTS _mai_user_day",
        "DROP TABLE IF EXISTS _mai_user_day_type",
        "DROP TABLE IF EXISTS _mai_meta",
        f"DELETE FROM events WHERE {_LATE}",
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
        _CONFOUNDER,
        _BOTS_RELEASE,
        _VERSION_OUTAGE,
        _DRIFT,
        _ROSE,
        _FRESHNESS,
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
