"""The metric catalogue: every metric the product knows, as one record each.

A :class:`Metric` says what a metric is (its name, label and the words people use for it), how it
is computed (its kind, and the aggregate(s) it is made of), which direction is bad and how its
values read; the columns it needs and whether it is a ratio follow from its aggregates. The
question parser, the queries, the localizer (additive vs ratio), the analyst, the charts and the
report all read this module; nothing else lists metrics.

:data:`BUILTIN` holds the activity metrics every events table has. :data:`SUGGESTED` holds the
metrics people commonly ask about that need columns or event types a warehouse may lack
(revenue, conversion, error rate, latency, signups): the parser recognises them so that a
question about one the warehouse lacks is answered honestly (see :func:`missing_metric_note`),
never silently with another metric.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

MetricKind = Literal["count", "distinct_users", "sum", "ratio", "mean", "rolling_distinct"]
Measure = Literal["events", "users", "sessions", "sum"]
Direction = Literal["drop", "spike"]

WAU_DAYS = 7  # the trailing window of the rolling-distinct metric (WAU)


@dataclass(frozen=True)
class Aggregate:
    """One side of a metric: what is aggregated (per day) over the rows matching ``where``.

    ``events`` counts rows, ``users`` distinct users, ``sessions`` distinct sessions per user,
    ``sum`` adds up ``column``. ``where`` maps a column to the values it must take.
    """

    measure: Measure
    column: str | None = None
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def describe(self) -> str:
        what = {
            "events": "events",
            "users": "distinct users",
            "sessions": "distinct sessions",
            "sum": f"sum of {self.column}",
        }[self.measure]
        if not self.where:
            return what
        cond = " and ".join(
            f"{col} = {vals[0]!r}" if len(vals) == 1 else f"{col} in {list(vals)!r}"
            for col, vals in self.where
        )
        return f"{what} where {cond}"


@dataclass(frozen=True)
class Metric:
    """A metric: what it means, how it is computed and how to read it."""

    name: str
    label: str
    kind: MetricKind
    numerator: Aggregate
    denominator: Aggregate | None = None
    synonyms: tuple[str, ...] = ()
    bad_direction: Direction = "drop"
    unit: str = ""
    decimals: int = 0
    core: bool = False  # one of the metrics the analyst checks when the one asked shows nothing
    # the table it reads: the events, or a pre-aggregated table beside them ([aggregates])
    table: Literal["events", "aggregates"] = "events"

    @property
    def sides(self) -> tuple[Aggregate, ...]:
        """Its numerator, then its denominator if it has one."""
        return (self.numerator,) if self.denominator is None else (self.numerator, self.denominator)

    @property
    def is_ratio(self) -> bool:
        """Its value over a window is a ratio of sums (segment contributions are ratio-aware)."""
        return self.denominator is not None

    @property
    def plain(self) -> bool:
        """Made of unfiltered events, users or sessions only (the per-user-day rollups serve it);
        else it is computed straight from the events (see :mod:`.direct`)."""
        return all(a.measure != "sum" and not a.where for a in self.sides)

    @property
    def columns(self) -> tuple[str, ...]:
        """The event columns its aggregates read (summed columns and filter columns)."""
        cols = [
            c
            for a in self.sides
            for c in ((a.column,) if a.column else ()) + tuple(col for col, _ in a.where)
        ]
        return tuple(dict.fromkeys(cols))

    @property
    def needs(self) -> tuple[str, ...]:
        """The columns (beyond user_id and event_timestamp) a warehouse must have for it."""
        return self.columns + (("session_id",) if self.uses_sessions else ())

    @property
    def filter_columns(self) -> frozenset[str]:
        """The columns its own filters read (breaking it down by one of them is degenerate)."""
        return frozenset(c for a in self.sides for c, _ in a.where)

    @property
    def per_user(self) -> bool:
        """Made of distinct users or sessions: never derived from daily totals."""
        return any(a.measure in ("users", "sessions") for a in self.sides)

    @property
    def rolling(self) -> bool:
        """Distinct users over a trailing window (WAU), not a per-day aggregate."""
        return self.kind == "rolling_distinct"

    @property
    def uses_sessions(self) -> bool:
        """Made of distinct sessions (it needs a ``session_id`` column)."""
        return any(a.measure == "sessions" for a in self.sides)

    @property
    def counts_events(self) -> bool:
        """An unfiltered event count: it adds up over event types."""
        n = self.numerator
        return self.denominator is None and n.measure == "events" and not n.where

    @property
    def phrases(self) -> tuple[str, ...]:
        """Every lower-case phrase that names it: its name, its label and its synonyms."""
        seen = dict.fromkeys(
            p.lower() for p in (self.name, self.name.replace("_", " "), self.label, *self.synonyms)
        )
        return tuple(seen)

    def definition(self) -> str:
        """What it is, in one line, e.g. ``events / distinct users (per day)``."""
        if self.rolling:
            return f"distinct users over the trailing {WAU_DAYS} days"
        if self.denominator is None:
            return f"{self.numerator.describe()} (per day)"
        return f"{self.numerator.describe()} / {self.denominator.describe()} (per day)"

    def format(self, value: float) -> str:
        """A value as the metric reads, e.g. ``12,345`` or ``3.21 events``."""
        text = f"{value:,.{self.decimals}f}"
        return f"{text} {self.unit}" if self.unit else text


def _where(**filters: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((col, (value,)) for col, value in filters.items())


_USERS = Aggregate("users")
_EVENTS = Aggregate("events")

BUILTIN: tuple[Metric, ...] = (
    Metric(
        name="dau",
        label="daily active users",
        kind="distinct_users",
        numerator=_USERS,
        synonyms=(
            "daily active",
            "daily users",
            "active users",
            "active user",
            "user count",
            "users",
            "actives",
            "audience",
        ),
        unit="users",
        core=True,
    ),
    Metric(
        name="wau",
        label="weekly active users",
        kind="rolling_distinct",
        numerator=_USERS,
        synonyms=("weekly active", "weekly users"),
        unit="users",
    ),
    Metric(
        name="events",
        label="events",
        kind="count",
        numerator=_EVENTS,
        synonyms=("event volume", "event count", "activity", "traffic", "volume"),
        core=True,
    ),
    Metric(
        name="events_per_user",
        label="events per user",
        kind="ratio",
        numerator=_EVENTS,
        denominator=_USERS,
        synonyms=(
            "events/user",
            "engagement",
            "actions per user",
            "per user",
            "events per active user",
            "usage intensity",
        ),
        decimals=2,
        core=True,
    ),
    Metric(
        name="sessions_per_user",
        label="sessions per user",
        kind="ratio",
        numerator=Aggregate("sessions"),
        denominator=_USERS,
        synonyms=("sessions", "session", "sessions/user", "session count"),
        decimals=2,
        core=True,
    ),
)

# Metrics people ask about that need data a warehouse may not have (recognised, never faked).
SUGGESTED: tuple[Metric, ...] = (
    Metric(
        name="revenue",
        label="revenue",
        kind="sum",
        numerator=Aggregate("sum", "amount"),
        synonyms=("sales", "gmv", "income", "bookings", "gross merchandise value"),
        unit="",
        decimals=2,
    ),
    Metric(
        name="checkout_conversion",
        label="checkout conversion",
        kind="ratio",
        numerator=Aggregate("users", where=_where(event_type="purchase")),
        denominator=Aggregate("users", where=_where(event_type="checkout_started")),
        synonyms=("conversion", "conversion rate", "conversions", "checkout rate", "funnel"),
        decimals=3,
    ),
    Metric(
        name="error_rate",
        label="error rate",
        kind="ratio",
        numerator=Aggregate("events", where=_where(status="error")),
        denominator=_EVENTS,
        synonyms=("errors", "error ratio", "failure rate", "failures", "5xx"),
        bad_direction="spike",
        decimals=4,
    ),
    Metric(
        name="latency",
        label="mean latency",
        kind="mean",
        numerator=Aggregate("sum", "latency_ms"),
        denominator=_EVENTS,
        synonyms=("response time", "latency_ms", "slowness", "load time"),
        bad_direction="spike",
        unit="ms",
        decimals=1,
    ),
    Metric(
        name="signups",
        label="signups",
        kind="count",
        numerator=Aggregate("events", where=_where(event_type="signup")),
        synonyms=("sign-ups", "sign ups", "registrations", "new accounts"),
    ),
)

_BY_NAME = {m.name: m for m in (*BUILTIN, *SUGGESTED)}


def get(name: str) -> Metric:
    """The catalogue's record for ``name`` (a ``KeyError`` for a name it does not hold)."""
    return _BY_NAME[name]


def is_ratio(name: str) -> bool:
    """Whether ``name`` is a ratio metric (unknown names are not)."""
    m = _BY_NAME.get(name)
    return m is not None and m.is_ratio


def available(columns: Iterable[str]) -> list[str]:
    """The built-in metrics an events table with these columns supports, in catalogue order
    (none without ``user_id``: a pre-aggregated table's rows are totals, not events)."""
    have = set(columns)
    if "user_id" not in have:
        return []
    return [m.name for m in BUILTIN if set(m.needs) <= have]


def core_metrics() -> list[str]:
    """The metrics the analyst checks when the one asked about shows nothing."""
    return [m.name for m in BUILTIN if m.core]


def missing_metric_note(
    name: str, have: Iterable[str], *, table: str | None = None, user_columns: Iterable[str] = ()
) -> str:
    """The honest answer to a question about a metric the warehouse lacks. ``table``: the
    pre-aggregated table the data is (None: events, or not known); ``user_columns``: its
    measure columns that count users, if any."""
    m = get(name)
    listed = ", ".join(_named(h) for h in have)
    tail = f"Metrics it has: {listed}."
    skipped = "so it was not investigated and no other metric was put in its place"
    if m.per_user and (table is not None or not m.needs):
        daily = table or "the daily table"
        users = list(user_columns)
        possible = (
            f"{daily} has {', '.join(users)}: ask about {users[0]} (distinct users per day and "
            "segment, added up: right across segments only where each user is in one)"
            if users
            else f"what is possible: add a column of distinct users per day and segment to "
            f"{daily} (a measure summed like the others, right across segments only where each "
            f"user is in one), or point mai at an events table (user_id, event_timestamp), "
            f"from which {m.name} is computed"
        )
        return (
            f"This warehouse has no {m.label} metric: {m.name} is {m.definition()}, and "
            f"distinct users cannot be derived from daily totals (added up over "
            f"segments or days they count a user once in each), {skipped}; {possible}. {tail}"
        )
    needs = f"{m.name} needs {', '.join(m.needs)} in the events, computed as {m.definition()}"
    if table is not None:
        needs += f"; {table} holds daily totals: add what it sums to it as measure columns"
    return f"This warehouse has no {m.label} metric ({needs}), {skipped}. {tail}"


def _named(name: str) -> str:
    """A metric's name, with its label when that says more (``dau (daily active users)``)."""
    label = _BY_NAME[name].label if name in _BY_NAME else name
    return name if label.replace(" ", "_") == name else f"{name} ({label})"
