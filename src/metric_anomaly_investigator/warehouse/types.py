"""Typed results of the warehouse layer (Pydantic models shared by connect and queries)."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Literal

from pydantic import BaseModel, Field

from . import metrics as catalogue


class WarehouseError(Exception):
    """A user-facing error: one clear, actionable message, never SQL or a traceback."""


_PLAIN_NAME = re.compile(r"^[\w .:/+-]{1,60}$")


def show_name(name: object) -> str:
    """Quote a user-given name for an error message, hiding anything that is not name-like."""
    if isinstance(name, str) and _PLAIN_NAME.match(name):
        return repr(name)
    return "(an invalid name)"


class DimensionInfo(BaseModel):
    name: str
    level: Literal["event", "user"]
    values: list[str] = Field(description="most frequent first, capped")
    cardinality: int


class PartialDay(BaseModel):
    """A day at the edge of the data that is only partly loaded, left out of the date range.

    ``kind`` "cut": its data stops early (or starts late) in the day; "thinned": it holds only
    part of its rows, spread over the whole day (a late load, see :mod:`.late_load`).
    """

    day: date
    edge: Literal["start", "end"] = Field(description="first day of the data, or last")
    kind: Literal["cut", "thinned"] = "cut"
    data_from: time = Field(description="time of day of its first event")
    data_until: time = Field(description="time of day of its last event")
    events: int
    usual_events: float = Field(description="median events of the nearby complete days")
    loaded_share: float | None = Field(
        default=None, description="thinned: its events per active user, as a share of usual"
    )
    uniform_over: list[str] = Field(
        default_factory=list, description="thinned: the dimensions it is thinned alike over"
    )

    def note(self) -> str:
        """One sentence for the user, e.g. ``2026-03-28 is incomplete (data until 06:00) …``."""
        if self.kind == "thinned":
            share = self.loaded_share if self.loaded_share is not None else 0.0
            where = (
                f"on every {_and(self.uniform_over)}"
                if self.uniform_over
                else "in every hour of the day"
            )
            return (
                f"{self.day} looks partly loaded: {share * 100:.0f} % of the usual events per "
                f"active user {where} ({self.events:,} events vs about "
                f"{self.usual_events:,.0f} on a usual day); left out of the analysis — re-run "
                "once the load completes."
            )
        span = (
            f"data until {self.data_until:%H:%M}"
            if self.edge == "end"
            else f"data from {self.data_from:%H:%M}"
        )
        return (
            f"{self.day} is incomplete ({span}, {self.events:,} events vs about "
            f"{self.usual_events:,.0f} on a usual day) and was left out."
        )


def _and(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


class IgnoredEvents(BaseModel):
    """Events dated far outside the bulk of the data, left out of every query."""

    events: int
    total: int
    kept_from: date
    kept_until: date
    examples: list[str] = Field(description="stray days, earliest and latest first")

    def note(self) -> str:
        """E.g. ``Ignored 5 of 446,012 events dated outside 2025-11-01..2026-02-28 (…).``"""
        return (
            f"Ignored {self.events:,} of {self.total:,} events dated outside "
            f"{self.kept_from}..{self.kept_until} "
            f"({', '.join(self.examples)})."
        )


class UnjoinedUsers(BaseModel):
    """A users table whose user_id barely matches the events' user_id: not used."""

    matched: int = Field(description="distinct event users found in the users table")
    event_users: int

    def note(self) -> str:
        share = self.matched / self.event_users if self.event_users else 0.0
        return (
            f"The users table's user_id matches {self.matched:,} of {self.event_users:,} users "
            f"in the events ({share:.1%}): its signup dates and user-level dimensions are "
            "not used (check the user_id mapping)."
        )


# a measure column of a pre-aggregated table that counts users ("users", "active_users", "dau")
_USER_COLUMN = re.compile(r"(?:^|_)(?:users?|actives?|dau|visitors?)(?:_|$)", re.I)


class WarehouseSchema(BaseModel):
    metrics: list[str]
    dimensions: list[DimensionInfo]
    start_date: date
    end_date: date
    event_types: list[str]
    has_users: bool
    has_deployments: bool
    has_annotations: bool
    row_count: int
    partial_days: list[PartialDay] = Field(
        default_factory=list,
        description="incomplete days at the edges, outside start_date..end_date",
    )
    ignored: IgnoredEvents | None = Field(
        default=None, description="stray far-off events outside start_date..end_date"
    )
    unjoined_users: UnjoinedUsers | None = None
    custom_metrics: list[catalogue.Metric] = Field(
        default_factory=list, description="the user's own metrics (mai.toml [metrics])"
    )
    aggregated_from: str | None = Field(
        default=None, description="the pre-aggregated table read instead of events, if any"
    )
    aggregates_beside: str | None = Field(
        default=None, description="the pre-aggregated table read beside the events, if any"
    )
    table_dimensions: dict[str, list[str]] = Field(
        default_factory=dict,
        description="with a table beside the events: each table's dimensions (by Metric.table)",
    )
    table_ranges: dict[str, tuple[date, date]] = Field(
        default_factory=dict,
        description="with a table beside the events: the days each table covers (by "
        "Metric.table); start_date..end_date is their union",
    )

    @property
    def partial_day(self) -> date | None:
        """The incomplete last day left out after ``end_date``, if any."""
        return next((p.day for p in self.partial_days if p.edge == "end"), None)

    def coverage_notes(self) -> list[str]:
        """What was left out of the data and why (empty when nothing was)."""
        notes = [self.ignored.note()] if self.ignored else []
        notes += [p.note() for p in self.partial_days]
        if self.unjoined_users is not None:
            notes.append(self.unjoined_users.note())
        if self.aggregated_from is not None:
            notes.append(
                f"The data is the pre-aggregated table {self.aggregated_from} (totals per day "
                "and segment), not events: distinct users, retention and event counts cannot "
                "be derived from it, so none is reported."
            )
        if self.aggregates_beside is not None:
            own = [m.name for m in self.custom_metrics if m.table == "aggregates"]
            dims = ", ".join(self.table_dimensions.get("aggregates", [])) or "none"
            notes.append(
                f"{', '.join(own) or 'No metric'} {'comes' if len(own) == 1 else 'come'} from "
                f"the pre-aggregated table {self.aggregates_beside} (totals per day and "
                f"segment), broken down only by its dimensions ({dims}); distinct users cannot "
                "be derived from it." + self._ranges_note()
            )
        return notes

    def _ranges_note(self) -> str:
        """The days each table covers, when they differ (each metric reads its own)."""
        events, aggregates = (self.table_ranges.get(t) for t in ("events", "aggregates"))
        if events is None or aggregates is None or events == aggregates:
            return ""
        return (
            f" It covers {aggregates[0]}..{aggregates[1]}, the events {events[0]}..{events[1]}: "
            "each metric is read over its own table's days."
        )

    @property
    def dimension_names(self) -> list[str]:
        return [d.name for d in self.dimensions]

    def dimension(self, name: str) -> DimensionInfo:
        for d in self.dimensions:
            if d.name == name:
                return d
        valid = ", ".join(self.dimension_names) or "(none)"
        raise WarehouseError(f"Unknown dimension {show_name(name)}. Valid dimensions: {valid}.")

    def metric_dimensions(self, name: str) -> list[str]:
        """The dimensions a metric can be broken down or filtered by: those of its own table."""
        have = self.table_dimensions.get(self.metric(name).table)
        return [d for d in self.dimension_names if have is None or d in have]

    def dimension_problem(self, metric: str, dim: str) -> str | None:
        """Why ``metric`` cannot be broken down or filtered by the known dimension ``dim`` (its
        table lacks it), in one line saying where ``dim`` is and what to do; None if it can."""
        table = self.metric(metric).table
        if dim in self.metric_dimensions(metric):
            return None
        other = "events" if table == "aggregates" else "aggregates"
        named = {
            "events": "the events",
            "aggregates": f"the pre-aggregated table {self.aggregates_beside}",
        }
        source = (
            f"comes from the pre-aggregated table {self.aggregates_beside}"
            if table == "aggregates"
            else "is computed from the events"
        )
        own = ", ".join(self.metric_dimensions(metric)) or "none"
        theirs = [m for m in self.metrics if self.metric(m).table == other]
        listed = f" ({', '.join(theirs[:6])}{', …' if len(theirs) > 6 else ''})" if theirs else ""
        return (
            f"The metric {metric} {source}, whose dimensions are {own}; {dim} is only on "
            f"{named[other]}: ask about one of its metrics{listed} by {dim}, or add a {dim} "
            f"column to {named[table]}."
        )

    def missing_metric_note(self, name: str) -> str:
        """The honest answer to a question about catalogue metric ``name`` this warehouse lacks
        (on a pre-aggregated table: what it cannot give and what is possible instead)."""
        users = [
            m.name
            for m in self.custom_metrics
            if m.kind == "sum" and m.numerator.column and _USER_COLUMN.search(m.numerator.column)
        ]
        return catalogue.missing_metric_note(
            name, self.metrics, table=self.aggregated_from, user_columns=users
        )

    def define_advice(self, name: str) -> str | None:
        """How to get catalogue metric ``name`` when no ``[metrics]`` definition can give it (a
        per-user metric on daily totals: a users column or events); None when one can."""
        m = catalogue.get(name)
        if self.aggregated_from is None or not m.per_user:
            return None
        return (
            f"{m.label.capitalize()} cannot be defined from {self.aggregated_from}'s totals: add "
            f"a column of distinct users per day and segment to it (it becomes a metric of its "
            "name), or point mai at an events table with user_id and event_timestamp."
        )

    def metric_range(self, name: str | None) -> tuple[date, date]:
        """The days a metric's own table covers (the whole range for None, or one table)."""
        whole = (self.start_date, self.end_date)
        return whole if name is None else self.table_ranges.get(self.metric(name).table, whole)

    def metric(self, name: str) -> catalogue.Metric:
        """One of this warehouse's metrics: the user's own definition, or the catalogue's."""
        self.check_metric(name)
        own = next((m for m in self.custom_metrics if m.name == name), None)
        return own if own is not None else catalogue.get(name)

    def is_ratio(self, name: str) -> bool:
        """Whether a metric of this warehouse is a ratio (its segments do not simply add up)."""
        return name in self.metrics and self.metric(name).is_ratio

    def check_metric(self, name: str) -> str:
        if name not in self.metrics:
            raise WarehouseError(
                f"Unknown metric {show_name(name)}. Valid metrics: {', '.join(self.metrics)}."
            )
        return name


class SeriesPoint(BaseModel):
    day: date
    group: dict[str, str] = Field(default_factory=dict)
    value: float
    numerator: float
    denominator: float


class MetricSeries(BaseModel):
    metric: str
    filters: dict[str, list[str]]
    group_by: list[str]
    start: date
    end: date
    points: list[SeriesPoint]

    def days(self) -> list[date]:
        """Days of the ungrouped series (or of the first group)."""
        return [p.day for p in self._first_group()]

    def values(self) -> list[float]:
        """Values of the ungrouped series (or of the first group)."""
        return [p.value for p in self._first_group()]

    def groups(self) -> list[dict[str, str]]:
        seen: list[dict[str, str]] = []
        for p in self.points:
            if p.group not in seen:
                seen.append(p.group)
        return seen

    def for_group(self, group: dict[str, str]) -> list[SeriesPoint]:
        return [p for p in self.points if p.group == group]

    def _first_group(self) -> list[SeriesPoint]:
        if not self.points:
            return []
        return self.for_group(self.points[0].group)


class BreakdownRow(BaseModel):
    segment: dict[str, str]
    before: float
    after: float
    abs_change: float
    rel_change: float | None
    contribution: float = Field(
        description="this segment's additive part of the total change (ratio-aware)"
    )
    share_of_change: float | None
    before_num: float
    before_den: float
    after_num: float
    after_den: float
    n_before: int
    n_after: int


class Breakdown(BaseModel):
    metric: str
    dimensions: list[str]
    filters: dict[str, list[str]]
    baseline: tuple[date, date]
    current: tuple[date, date]
    total_before: float
    total_after: float
    rows: list[BreakdownRow]


class Deployment(BaseModel):
    deployment_id: str
    deployed_at: datetime
    platform: str | None
    app_version: str | None
    regions: list[str]
    rollout_percentage: float | None
    description: str | None
    problems: list[str] = Field(
        default_factory=list, description="malformed fields, left out of the fields above"
    )


class Annotation(BaseModel):
    name: str
    kind: str
    starts_at: datetime
    ends_at: datetime | None
    scope: dict[str, str]


class CohortRetention(BaseModel):
    cohort: date
    size: int
    retention: dict[int, float | None]


class Retention(BaseModel):
    cohort_grain: Literal["day", "week"]
    days: list[int]
    filters: dict[str, list[str]]
    cohorts: list[CohortRetention]
