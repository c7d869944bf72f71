"""How a cause moved a rate or a mean (an error rate, a latency, a conversion), from its numbers.

An activity metric (users, events, sessions) is read through its accounts
(:mod:`.actions.accounts`); a rate is read through its two sides. A segment's rate *broke* — an
outage, something failing rather than people choosing — when all of these hold:

- it moved in the metric's bad direction, as a step (a drift is not a failure) and by half again
  or more (to two thirds or less): a change of taste moves a rate less;
- its denominator (the requests, the attempts) held: people kept coming and trying, and what they
  tried failed, so the numerator alone carries the change;
- every part of the segment along its other dimensions (platforms, event types…) moved the same
  way: the segment failed as a whole, not one client of it.

A release in the segment's scope is the caller's to weigh (:mod:`.actions.accounts`). Nothing
here reads a scenario: only the segment's own numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from ..warehouse.metrics import Direction
from .actions.formatting import fmt, pct
from .models import Mechanism

# The annotation kinds that say how a segment moved (the report names them as its mechanism, and
# no check's reading replaces theirs).
CALENDAR_KINDS = frozenset({"holiday", "calendar", "season", "seasonal", "festival"})
OUTAGE_KINDS = frozenset({"incident", "outage"})
SAYS_HOW = CALENDAR_KINDS | OUTAGE_KINDS

# A rate broke when it moved by a factor of 1.5 or more either way (log scale).
BROKE = math.log(1.5)
# Its denominator held when it moved less than 20% and less than a quarter of the rate's own
# (log) change.
HELD = math.log(1.2)
DENOMINATOR_SHARE = 0.25
# The parts of a segment judged: those with at least 5% of its denominator; each must have moved
# the same way by at least half the segment's own (log) change.
PART_MIN_SHARE = 0.05
PART_FOLLOWS = 0.5


@dataclass(frozen=True)
class RatePart:
    """One value of another dimension inside the segment: its rate before and during."""

    dimension: str
    value: str
    before: float
    after: float
    share: float  # of the segment's denominator before the window

    @property
    def log_change(self) -> float | None:
        return _log_ratio(self.before, self.after)


@dataclass(frozen=True)
class RateProfile:
    """A segment's rate and denominator (per day) before vs during the anomaly window."""

    metric: str  # its label, for the evidence
    bad: Direction  # the direction in which the metric is bad
    kind: str  # the anomaly's shape: step, spike (short) or drift
    start: date | None
    before: float
    after: float
    den_before: float
    den_after: float
    den_label: str  # what the denominator counts
    parts: tuple[RatePart, ...] = ()

    @property
    def log_change(self) -> float | None:
        return _log_ratio(self.before, self.after)

    @property
    def den_log_change(self) -> float | None:
        return _log_ratio(self.den_before, self.den_after)

    def judged(self) -> list[RatePart]:
        return [p for p in self.parts if p.share >= PART_MIN_SHARE]

    def lagging(self) -> list[RatePart]:
        """The judged parts that did not move with the segment (a part of it failed, not all)."""
        r = self.log_change or 0.0
        return [p for p in self.judged() if not _follows(p.log_change, r)]

    def broke(self) -> bool:
        r, d = self.log_change, self.den_log_change
        if r is None or d is None or self.kind == "drift" or abs(r) < BROKE:
            return False
        if (r > 0) != (self.bad == "spike"):
            return False
        if abs(d) > HELD or abs(d) > DENOMINATOR_SHARE * abs(r):
            return False
        return not self.lagging()

    def mechanism(self) -> tuple[Mechanism, str] | None:
        """An outage with its numbers when the rate broke (see the module), else nothing."""
        if not self.broke():
            return None
        since = f" from {self.start.isoformat()}" if self.start else ""
        evidence = (
            f"{self.metric} {fmt(self.before)} → {fmt(self.after)} "
            f"({pct(100 * (self.after / self.before - 1))}) in a step{since} while its "
            f"{self.den_label} held ({fmt(self.den_before)} → {fmt(self.den_after)}/day, "
            f"{pct(100 * (self.den_after / self.den_before - 1))})"
        )
        judged = self.judged()
        if judged:  # each moved (lagging() is empty): their changes are all finite
            moves = sorted(100 * (p.after / p.before - 1) for p in judged)
            dims = ", ".join(dict.fromkeys(p.dimension for p in judged))
            evidence += (
                f"; each of its {len(judged)} parts by {dims} moved with it "
                f"({pct(moves[0])} to {pct(moves[-1])})"
            )
        return "outage", evidence


def _follows(part: float | None, whole: float) -> bool:
    """A part's (log) change went the whole's way by at least ``PART_FOLLOWS`` of it."""
    return part is not None and part * whole > 0 and abs(part) >= PART_FOLLOWS * abs(whole)


def _log_ratio(before: float, after: float) -> float | None:
    return math.log(after / before) if before > 0 and after > 0 else None
