"""What an investigation has established so far, kept by the Tool Executor across steps.

Each step updates it; later actions use it for their defaults (the anomaly window, the affected
segment…), and the autopilot reads it to decide the next step and to write the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .models import Action, Mechanism, StepResult


@dataclass
class Anomaly:
    """The detected anomaly of one metric (direction "none" = nothing beyond normal variation)."""

    metric: str
    filters: dict[str, str]
    direction: str
    kind: str
    start: date | None
    end: date | None
    change_pct: float | None
    p_value: float | None
    reason: str

    @property
    def detected(self) -> bool:
        return self.direction != "none"


@dataclass
class SegmentFinding:
    """A localized root-cause segment with its numbers."""

    filters: dict[str, str]
    change_pct: float | None
    share_of_change: float | None
    score: float
    p_value: float | None = None


@dataclass
class EventFinding:
    """A deployment or annotation scored against the anomaly."""

    kind: str
    id: str
    at: str
    description: str
    proximity: float
    overlap: float
    score: float
    explains: bool
    segment: dict[str, str] = field(default_factory=dict)  # the affected segment it matches
    # its scope: a deployment's platform, version and regions; an annotation's scope columns
    fields: list[str] = field(default_factory=list)
    scope: dict[str, str] = field(default_factory=dict)


@dataclass
class MechanismFinding:
    """How one cause moves the metric, with the evidence a check measured (for the report)."""

    filters: dict[str, str]  # the segment it applies to ({} = all traffic)
    mechanism: Mechanism
    evidence: str  # one sentence with the numbers, e.g. "events -31% while users -0.4%"
    p_value: float | None = None


@dataclass(frozen=True)
class CohortBreak:
    """Signup cohorts whose day-7 retention broke from their norm (``analyze_retention``'s scan):
    who signed up from ``start`` to ``end``, in ``segment`` ({} = everyone)."""

    segment: dict[str, str]
    start: date
    end: date
    d7_before: float  # day-7 retention of the segment's other cohorts
    d7_during: float  # … and of the broken ones
    change_pct: float | None
    p_value: float | None
    score: float  # the summed z of the broken run: how strongly it broke

    def as_data(self) -> dict[str, Any]:
        """The step's data fields (dates as ISO text)."""
        return {
            "declined": True,
            "segment": self.segment,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "d7_before": self.d7_before,
            "d7_during": self.d7_during,
            "change_pct": self.change_pct,
            "p_value": self.p_value,
            "score": self.score,
        }


@dataclass
class HistoryEntry:
    action: Action
    result: StepResult


@dataclass
class InvestigationContext:
    """State shared by the steps of an investigation and its follow-ups."""

    metric: str | None = None
    filters: dict[str, str] = field(default_factory=dict)
    anomaly: Anomaly | None = None
    window: tuple[date, date] | None = None
    baseline: tuple[date, date] | None = None
    checked: dict[str, Anomaly] = field(default_factory=dict)
    dimension_scores: dict[str, float] = field(default_factory=dict)
    migrating: list[str] = field(default_factory=list)
    segments: list[SegmentFinding] = field(default_factory=list)
    events: list[EventFinding] = field(default_factory=list)
    retention: CohortBreak | None = None  # the cohorts a retention scan found broken
    mechanisms: list[MechanismFinding] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)

    @property
    def affected_segments(self) -> list[dict[str, str]]:
        return [s.filters for s in self.segments]

    def checked_metrics(self) -> set[str]:
        """Metrics already tested for an anomaly on all traffic."""
        return {a.metric for a in self.checked.values() if not a.filters}
