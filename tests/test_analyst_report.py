"""The autopilot's report: the answer paragraph, causes tied only to in-scope events, one figure per
segment. Hand-made contexts for each report kind and premise; a small world with two causes."""

from __future__ import annotations

import asyncio
import re
from datetime import date, datetime, time

import pytest
from test_autopilot import investigate
from test_mut_autopilot import (
    ANDROID_IN,
    DEPLOY,
    DROP,
    NONE,
    OK,
    SCHEMA,
    analyst,
    cohort_break,
    failed,
    ios_test_result,
    report,
    thin_detect,
)

from metric_anomaly_investigator.core.context import (
    Anomaly,
    EventFinding,
    MechanismFinding,
    SegmentFinding,
)
from metric_anomaly_investigator.core.grounding import WarehouseFacts, check_report
from metric_anomaly_investigator.core.models import (
    CheckDeployments,
    DetectAnomaly,
    Investigation,
    ProfileAccounts,
    Report,
    SegmentByDimension,
    StatisticalTest,
    StepResult,
)
from metric_anomaly_investigator.core.outcomes import AccountsProfiled, DimensionSplit, SplitRow
from metric_anomaly_investigator.core.premise import read_premise
from metric_anomaly_investigator.core.report_markdown import format_filters
from metric_anomaly_investigator.core.report_text import share_phrase
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.generator import (
    DeploymentSpec,
    Effect,
    WorldSpec,
    generate_world,
)
from metric_anomaly_investigator.warehouse.types import PartialDay
from metric_anomaly_investigator.warehouse.warehouse import Warehouse

SEG = SegmentFinding(ANDROID_IN, -63.2, 0.9, 1.0, p_value=1e-9)
BR = {"country": "BR"}


# -- reading the question's premise -------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "claimed", "yes_no"),
    [
        ("Why did DAU drop after January 28th?", "drop", False),
        ("dau down?", "drop", True),
        ("Why did sessions go up last week?", "spike", False),
        ("What happened to sessions last week?", None, False),
        ("Events went up, why?", "spike", False),
        ("Is Brazil affected too?", None, True),
        ("hey, did anything break after the release?", None, True),
        ("Can you break down DAU by country?", None, False),  # a request, not a yes/no
        ("Why did DAU drop while events rose?", None, False),  # two directions: no claim
    ],
)
def test_the_premise_s_direction_and_form(question: str, claimed: str | None, yes_no: bool) -> None:
    p = read_premise(question, SCHEMA)
    assert (p.claimed, p.yes_no) == (claimed, yes_no)


def test_the_premise_s_release_blame_exclusivity_and_dimensions() -> None:
    assert read_premise("Did the iOS release break DAU?", SCHEMA).blames_release
    assert read_premise("Did the iOS 2.5.1 hotfix cause the drop?", SCHEMA).blames_release
    assert read_premise("dau down or not?", SCHEMA).yes_no
    assert not read_premise("Real or tracking?", SCHEMA).yes_no
    assert not read_premise("Did anything break after the last release?", SCHEMA).blames_release
    assert read_premise("Is the drop only in India?", SCHEMA).exclusive
    assert read_premise("Which countries are affected?", SCHEMA).asked_dimension == "country"
    assert read_premise("Did one platform stop working?", SCHEMA).named_dimension == "platform"
    assert read_premise("Why did DAU drop?", SCHEMA).asked_dimension is None


@pytest.mark.parametrize(
    ("question", "welcomes"),
    [
        ("Activity is through the roof this week. Good news?", True),
        ("Our new marketing push worked: events are up. Which country adopted the app?", True),
        ("did the new release make people use the app way more?", True),
        ("Did the update bring users back?", True),
        ("Android exploded after the update. Should we celebrate?", True),
        ("Web traffic went crazy. Is that the new ad campaign?", True),
        ("Why did the campaign's traffic drop?", False),
        ("Marketing wants to credit the release. Can you double-check?", True),
        ("Why did events go up?", False),
        ("Is checkout working?", False),
    ],
)
def test_the_premise_s_welcome_of_a_change(question: str, welcomes: bool) -> None:
    assert read_premise(question, SCHEMA).welcomes is welcomes


def test_is_it_ok_is_no_when_the_metric_moved_the_bad_way() -> None:
    assert read_premise("Is DAU ok?", SCHEMA).asks_fine
    assert not read_premise("Why is DAU not ok?", SCHEMA).asks_fine  # not yes/no
    assert report(analyst(DROP, (SEG,)), "Is DAU ok?").answer.startswith(
        "No — dau dropped 16.0% vs its seasonal baseline"
    )
    spike = Anomaly("dau", {}, "spike", "step", date(2026, 2, 1), None, 12.0, 1e-4, "")
    assert report(analyst(spike, (SEG,)), "Is DAU doing fine?").answer.startswith("Yes — dau")
    bots = analyst(spike, (SEG,))
    bots.ctx.mechanisms = [MechanismFinding(ANDROID_IN, "automated_traffic", "120 new accounts")]
    assert report(bots, "Is DAU doing fine?").answer.startswith("No — dau spiked")
    assert report(analyst(NONE), "Is DAU ok?").answer.startswith(
        "Yes — dau stayed within its normal range"
    )
    kept = analyst(NONE)
    kept.ctx.retention = cohort_break(BR, change_pct=-25.0)
    assert report(kept, "Are January's signups sticking around?").answer.startswith(
        "No — retention of users who signed up from 2026-01-10 to 2026-01-20 fell -25%"
    )


def test_a_question_about_loading_is_answered_from_the_partly_loaded_days() -> None:
    late = PartialDay(
        day=date(2026, 2, 28),
        edge="end",
        kind="thinned",
        data_from=time(0, 0),
        data_until=time(23, 59),
        events=500,
        usual_events=1000.0,
        loaded_share=0.5,
    )
    schema = SCHEMA.model_copy(update={"partial_days": [late]})
    question = "Will the numbers fill in once loading catches up?"
    assert read_premise(question, SCHEMA).asks_loading
    assert report(analyst(NONE, schema=schema), question).answer.startswith(
        "Yes — 2026-02-28 holds 50 % of the usual events per active user, evenly over the day: "
        "partly loaded, left out of the analysis"
    )
    assert report(analyst(NONE), question).answer.startswith(
        "No — no day in the data looks partly loaded"
    )
    assert not read_premise("Did loads of users leave?", SCHEMA).asks_loading


# -- an answer for every kind of report ---------------------------------------------------------


def test_every_report_kind_has_an_answer() -> None:
    missing = report(analyst(None), "Why did revenue fall?")
    assert missing.answer.startswith("Not answerable from this data: this warehouse has no ")
    broken = report(analyst(None, history=((DetectAnomaly(metric="dau"), failed("boom")),)))
    assert broken.answer == (
        "Not known: the anomaly check of dau failed (boom), so whether dau moved cannot be said "
        "either way."
    )
    thin = report(analyst(NONE, history=(thin_detect(10),)))
    assert thin.answer.startswith("Not known: with only 10 usable days of history")
    quiet = report(analyst(NONE))
    assert quiet.answer == (
        "No — dau stayed within its normal range against the seasonal baseline (no break beyond "
        "noise): nothing broke."
    )
    asked = report(analyst(NONE), "How is DAU doing?")  # no change claimed: no "No"
    assert asked.answer.startswith("dau stayed within its normal range")
    unchecked = report(analyst(None))
    assert unchecked.answer.startswith("Not known: no metric was checked")
    kept = analyst(NONE)
    kept.ctx.retention = cohort_break(BR, change_pct=-25.0)
    retention = report(kept, "Is retention worse for January signups?")
    assert retention.answer.startswith(
        "Yes — retention of users who signed up from 2026-01-10 to 2026-01-20 fell -25% vs "
        "earlier cohorts, concentrated in country=BR"
    )
    assert retention.affected_segments[0].mechanism == "cohort"
    cause = report(kept, "Retention looks worse lately. Is it the paid channels?")
    assert cause.answer.startswith("Retention of users who signed up from 2026-01-10")
    rose = report(kept, "Why did retention rise?")
    assert rose.answer.startswith("No — retention did not rise: ")
    elsewhere = report(kept, "Is retention worse for signups in India?")
    assert elsewhere.answer.startswith("No — country=IN is not where the decline is: ")
    release = report(kept, "Did the iOS release hurt retention?")
    assert release.answer.startswith("No — platform=ios is not where the decline is: ")
    found = report(analyst(DROP, (SEG,), (DEPLOY,), ((CheckDeployments(), OK),)))
    assert found.answer.startswith(
        "dau dropped 16.0% vs its seasonal baseline from 2026-01-28 onwards (p=1e-08). It is "
        "concentrated in platform=android, country=IN (-63.2% vs the weeks before "
        "(trend-adjusted), 90% of the change) — a release in its scope: deploy_003"
    )
    assert found.answer.endswith("Confidence: high (0.88).")


# -- "No — …" when the premise does not hold -----------------------------------------------------


def test_a_wrong_segment_premise_is_answered_no_with_its_numbers() -> None:
    tested = StatisticalTest(metric="dau", segment={"platform": "ios"})
    result = ios_test_result(0.004, 0.7)
    r = report(analyst(DROP, (SEG,), history=((tested, result),)), "Did iOS users drop?")
    assert r.answer.startswith(
        "No — platform=ios moved +0.4% vs the weeks before (p=0.7). Overall, dau dropped 16.0% "
        "vs its seasonal baseline from 2026-01-28 onwards (p=1e-08). It is concentrated in "
        "platform=android, country=IN (-63.2%"
    )
    untested = report(analyst(DROP, (SEG,)), "Why did DAU drop on iOS?")
    assert untested.answer.startswith(
        "No — platform=ios is not where the change is. Overall, dau dropped"
    )
    inside = report(analyst(DROP, (SEG,)), "Is India affected?")
    assert inside.answer.startswith(
        "Yes — the change is within country=IN. Overall, dau dropped 16.0%"
    )


def test_a_part_of_the_data_the_change_sits_in_holds_a_bystander_does_not() -> None:
    android = SegmentFinding({"platform": "android"}, -87.0, 0.97, 1.0)
    us = {"country": "US"}

    def asked(rel: float, p: float, holds: float | None, question: str = "Is the US down?") -> str:
        tested = ios_test_result(rel, p, us, holds_found=holds)
        test = (StatisticalTest(metric="dau", segment=us), tested)
        return report(analyst(DROP, (android,), history=(test,)), question).answer

    assert asked(-0.54, 1e-9, 0.97).startswith(  # the cause's rows lie inside it
        "Yes — country=US moved -54.0% vs the weeks before (p=1e-09). Overall, dau dropped"
    )
    # moving with the change is not enough: the cause must lie inside it
    assert asked(-0.54, 1e-9, 0.4).startswith("No — country=US moved -54.0%")
    assert asked(-0.54, 1e-9, None).startswith("No — country=US moved -54.0%")
    assert asked(-0.02, 0.01, 0.97).startswith("No — country=US moved -2.0%")
    assert asked(0.3, 1e-9, 0.97).startswith("No — country=US moved +30.0%")
    assert asked(-0.54, 1e-9, 0.97, "Is it only the US?").startswith("No — country=US moved")


def test_should_we_roll_back_only_a_release_that_changed_what_people_do() -> None:
    checked = ((CheckDeployments(), OK),)
    undo = report(analyst(DROP, (SEG,), (DEPLOY,), checked), "Should we roll back?")
    assert undo.answer.startswith(
        "Yes — roll back deploy_003 for platform=android, country=IN. Overall, dau dropped"
    )
    logged = analyst(DROP, (SEG,), (DEPLOY,), checked)
    logged.ctx.mechanisms = [MechanismFinding(ANDROID_IN, "instrumentation", "events -31%")]
    assert report(logged, "should we revert it?").answer.startswith(
        "No — deploy_003 changed what is logged, not what people do: fix its instrumentation"
    )
    none = report(analyst(DROP, (SEG,), (), checked), "Should we roll back the release?")
    assert none.answer.startswith("No — no release explains it. Overall, ")


def test_a_claimed_pace_is_answered_from_the_kind_of_change() -> None:
    drift = Anomaly("dau", {}, "drop", "drift", date(2026, 1, 5), None, -9.0, 1e-6, "")
    cliff = report(analyst(drift, (SEG,)), "DAU fell off a cliff last week. What broke?")
    assert cliff.answer.startswith(
        "No — a gradual drift from 2026-01-05, no single day broke. Overall, dau dropped 9.0%"
    )
    sudden = report(analyst(drift, (SEG,)), "Was there a sudden drop on a single day?")
    assert sudden.answer.startswith("No — a gradual drift from 2026-01-05")
    slowly = report(analyst(drift, (SEG,)), "Is DAU slowly declining?")
    assert slowly.answer.startswith("Yes — a gradual drift from 2026-01-05")
    step = report(analyst(DROP, (SEG,)), "Has DAU been slowly declining?")
    assert step.answer.startswith("No — a break on 2026-01-28, not a gradual drift.")
    where = report(analyst(drift, (SEG,)), "Is the slow decline coming from Brazil?")
    assert where.answer.startswith("No — country=BR is not where the change is.")
    slow = report(analyst(DROP, (SEG,)), "January looked slow. Anything to worry about?")
    assert slow.answer.startswith("dau dropped 16.0%")  # slow activity is no pace
    asked = report(analyst(DROP, (SEG,)), "Why did DAU drop suddenly?")  # the right pace
    assert asked.answer.startswith("dau dropped 16.0%")


def test_are_they_related_is_no_for_two_separate_causes() -> None:
    two = (SEG, SegmentFinding(BR, -40.0, 0.1, 0.5))
    r = report(analyst(DROP, two), "Is the Brazil drop related to the India one?")
    assert r.answer.startswith("No — dau dropped 16.0% vs its seasonal baseline")
    assert "It has two separate causes: " in r.answer
    one = report(analyst(DROP, (SEG,)), "Are the two drops related?")
    assert one.answer.startswith("Yes — one cause. Overall, dau dropped")
    assert not read_premise("Is the drop related to the release?", SCHEMA).asks_related
    assert read_premise("Was it a sudden drop on a single day?", SCHEMA).pace == "sudden"
    assert read_premise("DAU fell a day after the release, why?", SCHEMA).pace is None


def test_only_one_of_two_causes_is_not_all_of_it() -> None:
    two = (SEG, SegmentFinding(BR, -40.0, 0.1, 0.5))
    r = report(analyst(DROP, two), "Is the drop only in India?")
    assert r.answer.startswith("No — not only country=IN. Overall, dau dropped")
    assert r.summary.endswith("The question's hypothesis (country=IN) is not all of it.")


def test_a_wrong_direction_premise_is_answered_no() -> None:
    r = report(analyst(DROP, (SEG,)), "Why did DAU spike yesterday?")
    assert r.answer.startswith(
        "No — dau did not rise: it dropped 16.0% vs its seasonal baseline from 2026-01-28 "
        "onwards (p=1e-08). It is concentrated in platform=android, country=IN"
    )
    spike = Anomaly("dau", {}, "spike", "step", date(2026, 2, 1), None, 12.0, 1e-4, "")
    r = report(analyst(spike), "Why did daily users fall?")
    assert r.answer.startswith("No — dau did not fall: it spiked 12.0% vs its seasonal baseline")


def test_a_quiet_metric_asked_about_is_no_when_another_moved() -> None:
    events = Anomaly("events", {}, "drop", "step", date(2026, 1, 28), None, -9.0, 1e-5, "")
    a = analyst(events, (SEG,))
    a.ctx.checked["dau|all traffic"] = NONE
    r = report(a, "Did DAU drop?")
    assert r.answer.startswith(
        "No — dau stayed within its normal range against the seasonal baseline; events dropped "
        "9.0% vs its seasonal baseline"
    )


def test_a_release_named_in_the_question_is_tied_only_where_its_scope_reaches() -> None:
    checked = ((CheckDeployments(), OK),)
    blamed = report(analyst(DROP, (SEG,), (), checked), "Did the latest release break DAU?")
    assert blamed.answer.startswith("No — no deployment explains it. Overall, dau dropped 16.0%")
    named = report(analyst(DROP, (SEG,), (DEPLOY,), checked), "did deploy_003 do this?")
    assert named.answer.startswith(
        "Yes — deploy_003 (android, IN: new onboarding) covers platform=android, country=IN. "
        "Overall, "
    )
    elsewhere = EventFinding(
        "deployment", "rel_us", "2026-01-28T08:00:00", "ios, US: fix", 1.0, 0.0, 0.0, False,
        fields=["ios", "US"],
    )  # fmt: skip
    r = report(analyst(DROP, (SEG,), (elsewhere,), checked), "Was it rel_us?")
    assert r.answer.startswith("No — rel_us explains none of it. Overall, ")
    assert r.affected_segments[0].explained_by == [] and r.correlated_events[0].confidence < 0.5


def test_which_dimension_and_a_follow_up_s_own_steps() -> None:
    split = SegmentByDimension(metric="dau", dimension="platform")
    row = SplitRow(value="android", before=100.0, after=70.0, change_pct=-30.0, share_of_change=1.5)
    outcome = DimensionSplit(
        metric="dau",
        dimension="platform",
        filters={},
        baseline=["2026-01-14", "2026-01-27"],
        current=["2026-01-28", "2026-02-28"],
        total_before=200.0,
        total_after=180.0,
        concentration=0.5,
        rows=[row],
    )
    result = StepResult(success=True, findings=["By platform…"], outcome=outcome)
    a = analyst(DROP, (SegmentFinding(BR, -40.0, 0.9, 1.0),), history=((split, result),))
    r = report(a, "Which platform dropped?")
    assert r.answer.startswith(
        "platform=android moved most (-30.0% vs the weeks before, more than the whole change "
        "(150% of it: other segments moved the other way)). Overall, dau dropped 16.0%"
    )
    r = report(analyst(DROP, (SEG,)), "Which countries dropped?")
    assert r.answer.startswith("country=IN. Overall, dau dropped 16.0%")
    r = report(analyst(DROP, (SEG,)), "Did one platform stop working?")
    assert r.answer.startswith("Yes — platform android. Overall, dau dropped")


def test_shares_beyond_the_whole_change_are_explained() -> None:
    assert share_phrase(0.58) == "58% of the change"
    assert share_phrase(1.5).startswith("more than the whole change (150% of it: other segments")
    assert share_phrase(-0.2) == "against the change (-20% of it)"
    assert share_phrase(None) == ""


# -- mechanisms: only what a check or an in-scope event shows ------------------------------------


def test_a_mechanism_comes_from_a_check_or_an_in_scope_event_or_not_at_all() -> None:
    bare = report(analyst(DROP, (SEG,)))
    assert bare.affected_segments[0].mechanism is None
    assert " — " not in bare.answer  # nothing said about why
    a = analyst(DROP, (SEG,))
    a.ctx.mechanisms = [
        MechanismFinding(ANDROID_IN, "instrumentation", "events -31% while users -0.4%")
    ]
    r = report(a)
    assert r.affected_segments[0].mechanism == "instrumentation"
    assert r.affected_segments[0].description.endswith(
        "; a logging change (unadjusted, vs the weeks before: events -31% while users -0.4%)"
    )
    assert (
        "(-63.2% vs the weeks before (trend-adjusted), 90% of the change) — a logging change. "
        in r.answer
    )
    assert "-31%" not in r.answer  # the segment's one figure where it is named with its change
    assert r.recommendations[0].startswith("Check the tracking of platform=android, country=IN")
    holiday = EventFinding(
        "holiday", "xmas", "2026-01-27T00:00:00", "Christmas (country=IN)", 1.0, 1.0, 1.0, True,
        scope={"country": "IN"},
    )  # fmt: skip
    r = report(analyst(DROP, (SEG,), (holiday,)))
    assert (r.affected_segments[0].mechanism, r.affected_segments[0].explained_by) == (
        "calendar",
        ["xmas"],
    )


# -- a small world with two causes, one of them a release ---------------------------------------

BREAK = datetime(2025, 7, 21, 8)
RELEASE_SEGMENT = {"device": "android", "market": "KR", "app_version": "5.0.0"}


@pytest.fixture(scope="module")
def two_causes_wh(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """Android 5.0.0 ships to KR and its users leave; the same day MX drops on every device."""
    spec = WorldSpec(
        start=date(2025, 5, 5),
        end=date(2025, 8, 10),
        users=8_000,
        seed=31,
        platform_col="device",
        country_col="market",
        countries={"FR": 0.3, "KR": 0.3, "MX": 0.2, "CA": 0.2},
        platform_by_country={},
        deployments=(
            DeploymentSpec("rel_kr_5", BREAK, "android", "5.0.0", ("KR",), adoption_days=0.8),
        ),
        effects=(
            Effect("users_leave", BREAK.date(), segment=RELEASE_SEGMENT, factor=0.25),
            Effect("users_leave", BREAK.date(), segment={"market": "MX"}, factor=0.3),
        ),
    )
    path = tmp_path_factory.mktemp("two_causes") / "two.duckdb"
    generate_world(spec, path)
    wh = open_warehouse(path)
    yield wh
    wh.close()


def texts(report: Report) -> list[str]:
    return [
        report.answer,
        report.summary,
        report.root_cause,
        *(s.description for s in report.affected_segments),
        *report.recommendations,
    ]


def assert_one_figure_per_segment(report: Report) -> None:
    """Wherever a segment is named, every percentage after its label (to the end of the sentence
    or the next segment's label) is its one change, labelled, or a share "of" the change."""
    names = [format_filters(s.filters) for s in report.affected_segments]
    for seg, name in zip(report.affected_segments, names, strict=True):
        assert seg.change_pct is not None
        shown = f"{seg.change_pct:+.1f}% vs the weeks before (trend-adjusted)"
        for text in texts(report):
            for m in re.finditer(re.escape(name) + r"(?![\w,=])", text):
                rest = re.split(r"\.(?:\s|$)|unadjusted", text[m.end() :], maxsplit=1)[0]
                for other in names:
                    if other != name and other in rest:
                        rest = rest[: rest.index(other)]
                for fig in re.finditer(r"[+-]?\d+(?:\.\d+)?%", rest):
                    after = rest[fig.end() :]
                    if after.startswith(" of"):  # a share of the change
                        continue
                    assert after.startswith(shown[len(fig.group()) :]), (fig.group(), text)
                    assert fig.group() == shown.split()[0], (fig.group(), shown, text)


def assert_grounded(report: Report, records: list[Investigation], wh: Warehouse) -> None:
    steps = [s for r in records for s in r.steps]
    grounding = check_report(report, steps, WarehouseFacts.from_schema(wh.schema))
    assert grounding.ok, grounding.message


def test_two_causes_stay_two_and_the_release_is_tied_only_to_its_own(
    two_causes_wh: Warehouse,
) -> None:
    orch, record = investigate(two_causes_wh, "Did anything break after the last release?")
    r = record.report
    assert r is not None, record.error
    rows = {format_filters(s.filters): s for s in r.affected_segments}
    mx = next(s for s in r.affected_segments if s.filters.get("market") == "MX")
    kr = next(s for s in r.affected_segments if s.filters.get("market") == "KR")
    assert len(rows) == 2, rows
    assert kr.explained_by == ["rel_kr_5"] and kr.mechanism == "deployment"
    assert mx.explained_by == [] and mx.mechanism != "deployment"
    assert r.answer.startswith("Yes — dau dropped ")
    assert "two separate causes" in r.answer and "two separate causes" in r.summary
    assert r.root_cause.startswith("Two separate causes: ")
    mx_name = format_filters(mx.filters)
    assert not any("rel_kr_5" in rec and mx_name in rec for rec in r.recommendations)
    assert any("rel_kr_5" in rec and format_filters(kr.filters) in rec for rec in r.recommendations)
    mx_cause = r.root_cause.split(mx_name + " — ", 1)[1].split(";")[0]
    assert "rel_kr_5" not in mx_cause
    assert_one_figure_per_segment(r)
    assert_grounded(r, [record], two_causes_wh)

    async def ask(question: str) -> Investigation:
        async for _event in orch.follow_up(question):
            pass
        return record.follow_ups[-1]

    france = asyncio.run(ask("Is France affected too?"))
    assert france.report is not None, france.error
    assert france.report.answer.startswith("No — market=FR ")
    assert_one_figure_per_segment(france.report)
    assert_grounded(france.report, [record, france], two_causes_wh)


@pytest.mark.parametrize(
    ("question", "opening"),
    [
        ("Is the drop only in Mexico?", "No — not only market=MX. Overall, dau dropped"),
        ("What happened to daily active users after July 21st?", "dau dropped"),
        ("Why did daily active users go up after July 21st?", "No — dau did not rise: "),
        ("Why did DAU rise after July 21st?", "No — dau did not rise: it dropped "),
        ("Which markets dropped?", "market=KR and MX. Overall, dau dropped"),
    ],
)
def test_the_answer_on_a_world(two_causes_wh: Warehouse, question: str, opening: str) -> None:
    _, record = investigate(two_causes_wh, question)
    r = record.report
    assert r is not None, record.error
    assert r.answer.startswith(opening), r.answer
    assert_one_figure_per_segment(r)
    assert_grounded(r, [record], two_causes_wh)


def test_yes_no_questions_about_the_end_the_accounts_and_the_dimensions() -> None:
    ended = Anomaly("dau", {}, "drop", "step", date(2026, 1, 28), date(2026, 2, 3), -9.0, 1e-5, "")
    assert report(analyst(ended, (SEG,)), "Is it still going on?").answer.startswith(
        "No — it ended on 2026-02-03. Overall, dau dropped"
    )
    assert report(analyst(ended, (SEG,)), "Did it recover?").answer.startswith(
        "Yes — it ended on 2026-02-03. Overall, "
    )
    assert read_premise("Brazil went dark for days — is it back now?", SCHEMA).ongoing == "over"
    assert report(analyst(DROP, (SEG,)), "Is it over?").answer.startswith(
        "No — it lasts to the end of the data (2026-02-28). Overall, "
    )
    a = analyst(DROP, (SEG,))
    a.ctx.mechanisms = [MechanismFinding(ANDROID_IN, "automated_traffic", "120 new accounts")]
    assert report(a, "Are these real users?").answer.startswith("No — automated traffic. Overall, ")
    assert report(a, "Is it bots?").answer.startswith("Yes — automated traffic. Overall, ")
    assert report(analyst(DROP, (SEG,)), "Is it real or a tracking problem?").answer.startswith(
        "dau dropped"  # asks which, not whether: the finding itself
    )
    assert report(a, "How many accounts are behind it?").answer.startswith(
        "120 new accounts. Overall, dau dropped"
    )
    assert read_premise("how many users are affected?", SCHEMA).asks_count
    assert report(a, "Activity is through the roof. Good news?").answer.startswith(
        "No — not real usage: automated traffic. Overall, "
    )
    assert report(a, "Our campaign worked! Which country adopted the app?").answer.startswith(
        "No — not real usage: automated traffic. Overall, "
    )
    real = analyst(DROP, (SEG,))
    real.ctx.mechanisms = [MechanismFinding(ANDROID_IN, "behaviour", "users -60%, events -61%")]
    assert not report(real, "Good news?").answer.startswith("No")
    assert report(analyst(DROP, (SEG,)), "Events are down. Real or tracking?").answer.startswith(
        "dau dropped"  # "X or Y?" with no question word asks which too
    )
    profiled = AccountsProfiled(
        segment=ANDROID_IN,
        tested=ANDROID_IN,
        events_before=1000.0,
        events_after=5000.0,
        existing_events_before=1000.0,
        existing_events_after=1120.0,
        users_change=0.5,
        events_change=4.0,
        per_user_change=1.7,
        users_flat=False,
        new_accounts=120,
        new_share_of_increase=0.97,
        mechanism=None,
        evidence=None,
        deployments_ruled_out=[],
    )
    profile = StepResult(success=True, outcome=profiled)
    a = analyst(DROP, (SEG,), history=((ProfileAccounts(segment=ANDROID_IN), profile),))
    assert report(a, "Are the extra users new accounts?").answer.startswith(
        "Yes — new accounts carry 97% of the change. Overall, "
    )
    assert report(analyst(DROP, (SEG,)), "Were other countries affected?").answer.startswith(
        "No — only country IN. Overall, "
    )
    assert report(analyst(DROP, (SEG,)), "Did it hit every platform?").answer.startswith(
        "No — only platform android. Overall, "
    )
    spread = report(analyst(DROP, (SegmentFinding(BR, -40.0, 0.9, 1.0),)), "Every platform?")
    assert spread.answer.startswith("Yes — no single platform stands out. Overall, ")


def test_yes_no_questions_about_a_kind_of_event_or_an_unchecked_release() -> None:
    campaign = EventFinding(
        "campaign", "spring", "2026-01-28T00:00:00", "Spring sale (global)", 1.0, 0.5, 0.5, True
    )
    r = report(analyst(DROP, (SEG,), (campaign,)), "Was there a campaign at the time?")
    assert r.answer.startswith("Yes — campaign spring (Spring sale (global)). Overall, dau dropped")
    r = report(analyst(DROP, (SEG,), (DEPLOY,)), "Was there a holiday?")
    assert r.answer == report(analyst(DROP, (SEG,), (DEPLOY,))).answer  # no holiday was checked
    r = report(analyst(DROP, (SEG,)), "Did a deployment cause it?")
    assert r.answer.startswith("Not known — no deployment check ran. Overall, dau dropped")


def test_a_holiday_is_why_nothing_broke_and_just_x_or_more_is_no_yes_no() -> None:
    holiday = EventFinding(
        "holiday", "xmas", "2026-01-27T00:00:00", "Christmas (country=IN)", 1.0, 1.0, 1.0, True,
        scope={"country": "IN"},
    )  # fmt: skip
    a = analyst(DROP, (SEG,), (holiday,))
    a.ctx.mechanisms = [MechanismFinding(ANDROID_IN, "outage", "users -60% and events -61%")]
    r = report(a, "Indian users are churning since the 27th. What broke?")
    assert r.affected_segments[0].mechanism == "calendar"  # the holiday says why they left
    assert r.answer.startswith("No — nothing broke: a calendar effect. Overall, dau dropped")
    two = (SEG, SegmentFinding(BR, -40.0, 0.1, 0.5))
    r = report(analyst(DROP, two), "dau dropped, is it just india or something else too?")
    assert r.answer.startswith("Not only country=IN. Overall, dau dropped")
