"""A dotted number next to a release word ("the android 2.5 release", "v2.5", "app 2.5") is a
version, not a day and month; dotted dates elsewhere ("since 28.01", "on 3.2, after the
update") still are."""

from __future__ import annotations

from datetime import date

import pytest
from question_schema import END, START

from metric_anomaly_investigator.core.question import find_dates


@pytest.mark.parametrize(
    "text",
    [
        "dau jumped after the andriod 2.5 release",
        "since v2.5 shipped",
        "app 2.5 is out and users left",
        "did version 3.1 break it?",
    ],
)
def test_a_version_is_no_date(text: str) -> None:
    assert find_dates(text, START, END) == (None, None)


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("down since 28.01", date(2026, 1, 28)),
        ("on 28.01.2026, after the release", date(2026, 1, 28)),
        ("drop on 3.2, after the update", date(2026, 2, 3)),
        ("on 28/01", date(2026, 1, 28)),
    ],
)
def test_dotted_dates_still_read(text: str, day: date) -> None:
    assert find_dates(text, START, END) == (day, None)
