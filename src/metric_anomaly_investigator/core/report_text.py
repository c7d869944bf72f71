"""The words and small types the autopilot's report is written with: labelled figures, the
mechanisms in words, and a cause (one affected segment with what explains it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .context import Anomaly, EventFinding, SegmentFinding
from .models import Mechanism
from .report_markdown import format_filters

SIGNIFICANT = 0.05
VS_BASELINE = "vs its seasonal baseline"
VS_BEFORE = "vs the weeks before"
# the drill-down's figure: the weeks before scaled by what most of the data did (growth, season)
VS_TREND = "vs the weeks before (trend-adjusted)"
MECHANISM_WORDS: dict[str, str] = {
    "behaviour": "a change in what people do",
    "outage": "an outage",
    "deployment": "a release in its scope",
    "instrumentation": "a logging change",
    "automated_traffic": "automated traffic",
    "calendar": "a calendar effect",
    "cohort": "recent cohorts retaining worse",
    "data_freshness": "data not fully loaded yet",
}
# mechanisms under which the movement is not people doing more or less
UNREAL = frozenset({"automated_traffic", "instrumentation", "data_freshness"})
CARRIES = 0.5  # a part carrying half of a change or more carries it
HOLDS = 0.9  # a segment holding this share of a cause's rows holds the cause
COUNT_WORDS = {2: "two", 3: "three", 4: "four", 5: "five"}


@dataclass
class Cause:
    """One affected segment with what explains it: the in-scope events and the mechanism."""

    segment: SegmentFinding
    events: list[EventFinding] = field(default_factory=list)
    mechanism: Mechanism | None = None
    evidence: str | None = None

    @property
    def where(self) -> str:
        return format_filters(self.segment.filters)

    @property
    def deployments(self) -> list[EventFinding]:
        return [e for e in self.events if e.kind == "deployment"]


@dataclass(frozen=True)
class Verdict:
    """Whether the segment a question blames is where the change is, and what it did."""

    holds: bool | None  # None: not known
    moved: str  # e.g. "platform=ios moved +0.4% vs the weeks before (p=0.7)"


def change_text(pct: float | None, versus: str) -> str:
    """A signed change with its comparison: ``-63.2% vs the weeks before``."""
    return f"{pct:+.1f}% {versus}" if pct is not None else ""


def share_phrase(share: float | None) -> str:
    """A segment's share of the change, explained when it is not a plain part of it."""
    if share is None:
        return ""
    if share > 1.0:
        return (
            f"more than the whole change ({100 * share:.0f}% of it: other segments moved the "
            "other way)"
        )
    if share < 0:
        return f"against the change ({100 * share:.0f}% of it)"
    return f"{100 * share:.0f}% of the change"


def confidence_words(conf: float) -> str:
    level = "high" if conf >= 0.8 else "moderate" if conf >= 0.6 else "low"
    return f"Confidence: {level} ({conf:.2f})."


def compatible(a: dict[str, str], b: dict[str, str]) -> bool:
    """No dimension on which the two segments name different values."""
    return all(b[k] == v for k, v in a.items() if k in b)


def joined(items: list[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def moved_text(a: Anomaly) -> str:
    return "spiked" if a.direction == "spike" else "dropped"


def direction_verb(direction: str) -> str:
    return "fall" if direction == "drop" else "rise"
