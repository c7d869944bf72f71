"""core.question: dates with explicit years, periods and metric/segment words, as exact values."""

from __future__ import annotations

from datetime import date

import pytest
from question_schema import END, START
from question_schema import question_schema as schema

from metric_anomaly_investigator.core.question import (
    _mentions,
    find_dates,
    find_metric,
    find_segment,
    parse_question,
)
from metric_anomaly_investigator.warehouse.metrics import Aggregate, Metric


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What happened on Jan 28, 2025?", date(2025, 1, 28)),
        ("since January 28th 2025", date(2025, 1, 28)),
        ("since 28 January 2025", date(2025, 1, 28)),
        ("since 28th of January, 2024", date(2024, 1, 28)),
        ("on 28/01/2025", date(2025, 1, 28)),
        ("on 1/28/25", date(2025, 1, 28)),
        ("on 28.01.2027", date(2027, 1, 28)),
        ("on 2025-01-28", date(2025, 1, 28)),
        ("Jan 28", date(2026, 1, 28)),  # no year: the one inside the data
        ("Dec 3", date(2025, 12, 3)),
        ("28/01", date(2026, 1, 28)),
    ],
)
def test_explicit_years_are_kept(text: str, expected: date) -> None:
    assert find_dates(text, START, END) == (expected, None)


def test_an_impossible_explicit_date_is_no_date() -> None:
    assert find_dates("on Feb 30, 2025", START, END) == (None, None)
    assert find_dates("on 30/02/2025", START, END) == (None, None)
    assert find_dates("on 2025-02-30", START, END) == (None, None)


def test_a_date_without_year_takes_the_year_nearest_the_data() -> None:
    # Nov 30 lies one day before the data starts: 2025, not 2026
    assert find_dates("Nov 30", START, END)[0] == date(2025, 11, 30)
    # Feb 15 lies one day after it ends: 2026, not 2025
    assert find_dates("Feb 15", START, END)[0] == date(2026, 2, 15)
    # the first day of the data and the last one resolve to themselves
    assert find_dates("Dec 1", START, END)[0] == START
    assert find_dates("Feb 14", START, END)[0] == END
    # a range spanning two whole years: the earlier year inside it wins
    assert find_dates("June 1", date(2024, 1, 1), date(2025, 12, 31))[0] == date(2024, 6, 1)
    # Feb 29 exists only in leap years
    assert find_dates("Feb 29", date(2023, 6, 1), date(2024, 6, 1))[0] == date(2024, 2, 29)


def test_parse_question_reads_the_day_against_the_data_range() -> None:
    assert parse_question("DAU fell on Jan 28", schema()).day == date(2026, 1, 28)
    assert parse_question(
        "DAU fell on Jan 28", schema(start=date(2024, 11, 1), end=date(2025, 2, 28))
    ).day == (date(2025, 1, 28))
    assert parse_question("DAU fell on Jan 28, 2025", schema()).day == date(2025, 1, 28)


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("early January", (date(2026, 1, 1), date(2026, 1, 10))),
        ("the beginning of January", (date(2026, 1, 1), date(2026, 1, 10))),
        ("the start of January", (date(2026, 1, 1), date(2026, 1, 10))),
        ("mid January", (date(2026, 1, 10), date(2026, 1, 20))),
        ("mid-January", (date(2026, 1, 10), date(2026, 1, 20))),
        ("the middle of January", (date(2026, 1, 10), date(2026, 1, 20))),
        ("late January", (date(2026, 1, 22), date(2026, 1, 31))),
        ("the end of February", (date(2026, 2, 19), date(2026, 2, 28))),
        ("late December", (date(2025, 12, 22), date(2025, 12, 31))),
        ("during February", (date(2026, 2, 1), date(2026, 2, 28))),
        ("since December", (date(2025, 12, 1), date(2025, 12, 31))),
        ("over Jan", (date(2026, 1, 1), date(2026, 1, 31))),
        ("the last 10 days", (date(2026, 2, 5), date(2026, 2, 14))),
        ("the past 3 days", (date(2026, 2, 12), date(2026, 2, 14))),
        ("past week", (date(2026, 2, 8), date(2026, 2, 14))),
        ("the last 7 days", (date(2026, 2, 8), date(2026, 2, 14))),
        ("last week", (date(2026, 2, 1), date(2026, 2, 7))),
        ("2 weeks ago", (date(2026, 1, 25), date(2026, 1, 31))),
        ("1 week ago", (date(2026, 2, 1), date(2026, 2, 7))),
        ("this month", (date(2026, 1, 16), date(2026, 2, 14))),
        ("last month", (date(2026, 1, 16), date(2026, 2, 14))),
    ],
)
def test_periods(text: str, period: tuple[date, date]) -> None:
    assert find_dates(text, START, END) == (None, period)


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("today", END),
        ("yesterday", date(2026, 2, 13)),
        ("10 days ago", date(2026, 2, 4)),
        ("1 day ago", date(2026, 2, 13)),
        ("since last Saturday", date(2026, 2, 7)),  # END is a Saturday: the one before
        ("on Friday", date(2026, 2, 13)),
        ("this past Monday", date(2026, 2, 9)),
        ("since Sunday", date(2026, 2, 8)),
    ],
)
def test_relative_days(text: str, day: date) -> None:
    assert find_dates(text, START, END) == (day, None)


@pytest.mark.parametrize(
    ("text", "metric"),
    [
        (" events per user and users ", "events_per_user"),  # the longest phrase wins
        (" session and actives ", "sessions_per_user"),  # equal length: the first one wins
        (" actives and session ", "dau"),
        (" events and sessions ", "sessions_per_user"),
        (" weekly active users ", "wau"),
        (" dau ", "dau"),
        (" events_per_user ", "events_per_user"),
        (" sessions per user ", "sessions_per_user"),
        (" nothing here ", None),
    ],
)
def test_find_metric(text: str, metric: str | None) -> None:
    assert find_metric(text, schema().metrics) == metric


def test_find_segment_values() -> None:
    s = schema()
    assert find_segment("Android users in Brazil on 2.3.0", s) == {
        "platform": "android",
        "country": "BR",
        "app_version": "2.3.0",
    }
    assert find_segment("in the app", s) == {}
    assert find_segment("iphone users on ios", s) == {"platform": "ios"}
    assert find_segment("andriod users", s) == {"platform": "android"}  # close spelling


def test_a_phrase_inside_a_longer_one_is_not_a_second_mention() -> None:
    # "rate" lies inside "signup rate": only the longer one counts; the later "rate" does
    assert _mentions(" signup rate and rate ", ["signup_rate", "rate"], {}) == [
        ("signup_rate", 1, 12),
        ("rate", 17, 21),
    ]


def test_a_user_defined_metric_is_found_by_its_synonym() -> None:
    checkout = Metric(
        name="checkout_rate",
        label="Checkout rate",
        kind="ratio",
        numerator=Aggregate("users", where=(("event_type", ("purchase",)),)),
        denominator=Aggregate("users"),
        synonyms=("conversion",),
    )
    s = schema()
    s = s.model_copy(
        update={"metrics": [*s.metrics, "checkout_rate"], "custom_metrics": [checkout]}
    )
    assert parse_question("Why did conversion fall on Jan 28?", s).metric == "checkout_rate"


@pytest.mark.parametrize(
    ("question", "metric"),
    [
        ("Order volume has been off for two weeks but carts look normal. Where?", "orders"),
        ("Why did order numbers fall?", "orders"),
        ("cart traffic is down", "carts"),
        ("Why did orders drop?", "orders"),
    ],
)
def test_a_user_metric_is_found_in_singular_compounds(question: str, metric: str) -> None:
    def summed(name: str) -> Metric:
        return Metric(name=name, label=name, kind="sum", numerator=Aggregate("sum", column=name))

    own = [summed("orders"), summed("carts")]
    s = schema()
    s = s.model_copy(update={"metrics": ["orders", "carts"], "custom_metrics": own})
    assert parse_question(question, s).metric == metric


def test_a_generic_word_alone_still_names_its_metric() -> None:
    s = schema()
    assert parse_question("Why did traffic drop?", s).metric == "events"
    assert parse_question("Why did event volume drop?", s).metric == "events"


def test_the_longest_phrase_at_a_place_wins_over_its_first_word() -> None:
    # "events" ends first, but "events per user" starts at the same place and is longer
    assert _mentions(" events per user ", ["events", "events_per_user"], {}) == [
        ("events_per_user", 1, 16)
    ]


def test_phrases_that_touch_are_both_mentions() -> None:
    def own(name: str, synonym: str) -> Metric:
        return Metric(
            name=name, label=name, kind="count", numerator=Aggregate("events"), synonyms=(synonym,)
        )

    metrics = {"cpp_builds": own("cpp_builds", "c++"), "tagged": own("tagged", "#tagged")}
    # "c++" ends where "#tagged" starts (punctuation on both sides): neither overlaps the other
    assert _mentions(" c++#tagged ", list(metrics), metrics) == [
        ("cpp_builds", 1, 4),
        ("tagged", 4, 11),
    ]


def test_a_metric_at_the_very_end_of_the_question_is_found() -> None:
    assert parse_question("Why did we lose DAU", schema()).metric == "dau"
    assert parse_question("retention", schema()).about_retention


def test_a_common_word_value_must_be_written_as_stored() -> None:
    s = schema()
    assert find_segment("Is the Web version slow?", s) == {}  # "Web" is not the value "web"
    assert find_segment("is it slow on the web?", s) == {"platform": "web"}
