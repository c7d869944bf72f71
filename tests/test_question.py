"""The question parser: metrics, dates and segment words against a schema's real values."""

from __future__ import annotations

from datetime import date

import pytest
from question_schema import END, START
from question_schema import question_schema as _schema

from metric_anomaly_investigator.core.question import find_dates, parse_question


@pytest.mark.parametrize(
    ("text", "metric"),
    [
        ("Why did DAU drop?", "dau"),
        ("daily active users fell", "dau"),
        ("Why are fewer users showing up?", "dau"),
        ("engagement is down", "events_per_user"),
        ("events per user dropped for android users", "events_per_user"),
        ("sessions went down", "sessions_per_user"),
        ("What happened to event volume?", "events"),
        ("weekly active users", "wau"),
        ("something looks off", None),
    ],
)
def test_metric_words(text: str, metric: str | None) -> None:
    assert parse_question(text, _schema()).metric == metric


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What happened on January 28th?", date(2026, 1, 28)),
        ("drop since Jan 28", date(2026, 1, 28)),
        ("since 28 January", date(2026, 1, 28)),
        ("on 2026-01-28", date(2026, 1, 28)),
        ("on 28/01", date(2026, 1, 28)),
        ("on 12/15", date(2025, 12, 15)),
        ("yesterday", date(2026, 2, 13)),
        ("3 days ago", date(2026, 2, 11)),
        ("on Dec 3rd", date(2025, 12, 3)),
        ("down since last Tuesday", date(2026, 2, 10)),
        ("what happened last Saturday?", date(2026, 2, 7)),
    ],
)
def test_days(text: str, expected: date) -> None:
    assert find_dates(text, START, END)[0] == expected


def test_periods() -> None:
    assert find_dates("the drop last week", START, END) == (
        None,
        (date(2026, 2, 1), date(2026, 2, 7)),
    )
    assert find_dates("this week", START, END) == (None, (date(2026, 2, 8), date(2026, 2, 14)))
    assert parse_question("DAU fell last week", _schema()).day is None  # a period is no day
    assert find_dates("no date here", START, END) == (None, None)
    assert find_dates("the end of January", START, END)[1] == (date(2026, 1, 22), date(2026, 1, 31))
    assert find_dates("early December", START, END)[1] == (date(2025, 12, 1), date(2025, 12, 10))
    assert find_dates("what happened in January?", START, END)[1] == (
        date(2026, 1, 1),
        date(2026, 1, 31),
    )
    assert find_dates("after the 2.4.0 release", START, END) == (None, None)


def test_segment_words_match_actual_values() -> None:
    q = parse_question("Why did DAU drop for Android users in India on version 2.3.0?", _schema())
    assert q.segment == {"platform": "android", "country": "IN", "app_version": "2.3.0"}


def test_short_codes_need_exact_case() -> None:
    assert parse_question("what is going on in the app", _schema()).segment == {}
    assert parse_question("users in US dropped", _schema()).segment == {"country": "US"}
    assert parse_question("iOS users complain", _schema()).segment == {"platform": "ios"}


def test_other_dimension_names_and_fuzzy_values() -> None:
    schema = _schema({"os": ["Android", "iOS"], "region": ["IN", "US"], "plan": ["premium"]})
    q = parse_question("Premiun androids in India — engagement by region?", schema)
    assert q.segment == {"os": "Android", "region": "IN", "plan": "premium"}
    assert q.metric == "events_per_user"


def test_retention_and_event_type_words() -> None:
    q = parse_question("Are new users churning? Retention looks worse", _schema())
    assert q.about_retention
    assert parse_question("purchase events", _schema()).segment == {"event_type": "purchase"}
