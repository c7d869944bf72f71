"""The analysis date range from the bulk of the events, leaving out stray far-off days.

A warehouse often holds a few events dated far from the rest: epoch zero (1970-01-01), a
``9999-12-31`` "never" sentinel, a clock set to 2100, a mistyped year 1000. Taken as the edges
of the data they would make every default window empty (a "99.9 % drop"), or a years-long
series. So the days with events are split into runs separated by at least one day without
events, and a run counts as stray — its events are ignored and reported — when it is both

- thin: fewer than ``THIN_SHARE`` of a typical day's events per day (the typical day is the
  event-weighted median day, so a handful of stray days cannot move it), and
- small: fewer than ``MAX_STRAY_SHARE`` of all events.

The range runs from the first kept run's first day to the last kept run's last day; a thin
run between kept ones stays (it is inside the range: a real quiet spell). Contiguous ramps and
incomplete edge days are never cut here (see "Partial days" in :mod:`.connect`).

Days are counted as day numbers since 1970-01-01, so dates Python cannot hold (after year
9999) are still counted, and shown as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

__all__ = ["EPOCH", "BulkRange", "as_date", "bulk_range", "day_label", "examples"]

EPOCH = date(1970, 1, 1)
THIN_SHARE = 0.05
MAX_STRAY_SHARE = 0.01
MAX_EXAMPLES = 3


@dataclass(frozen=True)
class BulkRange:
    """The kept day numbers ``lo..hi`` and what lies outside them."""

    lo: int
    hi: int
    ignored_events: int
    total_events: int
    ignored_days: tuple[int, ...]  # day numbers of the stray runs' days, ascending


def bulk_range(day_numbers: np.ndarray, counts: np.ndarray) -> BulkRange:
    """The range of the bulk of the data from per-day event counts (days with events only)."""
    order = np.argsort(day_numbers)
    days = np.asarray(day_numbers, dtype=np.int64)[order]
    n = np.asarray(counts, dtype=np.int64)[order]
    total = int(n.sum())
    by_size = np.sort(n)
    typical = float(by_size[np.searchsorted(np.cumsum(by_size), total / 2)])
    breaks = np.flatnonzero(np.diff(days) > 1) + 1
    runs = np.split(np.arange(len(days)), breaks)
    kept = [
        r
        for r in runs
        if n[r].sum() >= MAX_STRAY_SHARE * total or n[r].mean() >= THIN_SHARE * typical
    ] or runs
    lo, hi = int(days[kept[0][0]]), int(days[kept[-1][-1]])
    outside = (days < lo) | (days > hi)
    return BulkRange(
        lo=lo,
        hi=hi,
        ignored_events=int(n[outside].sum()),
        total_events=total,
        ignored_days=tuple(int(d) for d in days[outside]),
    )


def day_label(day_number: int) -> str:
    """A day number as an ISO date, or "after 9999-12-31" / "before 0001-01-01"."""
    try:
        return (EPOCH + timedelta(days=day_number)).isoformat()
    except OverflowError:
        return "after 9999-12-31" if day_number > 0 else "before 0001-01-01"


def as_date(day_number: int) -> date:
    """A kept day number as a date (kept days are always within Python's range)."""
    return EPOCH + timedelta(days=day_number)


def examples(ignored_days: tuple[int, ...]) -> list[str]:
    """Up to ``MAX_EXAMPLES`` stray days to name: the earliest and the latest ones."""
    labels = list(dict.fromkeys(day_label(d) for d in ignored_days))
    if len(labels) <= MAX_EXAMPLES:
        return labels
    return [*labels[: MAX_EXAMPLES - 1], "…", labels[-1]]
