"""Pre-aggregated metric tables: daily totals per segment instead of raw events.

Mapped with an ``[aggregates]`` section of the TOML config (or of the ``mai.toml`` beside the
warehouse)::

    [aggregates]
    table = "daily_kpis"                   # default "metrics"
    date = "day"                           # its date or timestamp column (default "date")
    dimensions = ["country", "platform"]   # default: its text columns
    measures = ["revenue", "orders"]       # additive columns (default: its numeric columns)

Without an events table, it stands where the events would: its date column is the time, its
dimensions the segments, and every measure becomes a metric of the same name (the sum of the
column); ratios are defined as two sums (``numerator = "orders"`` / ``denominator = "visits"``).
Nothing that needs one row per event is derived from it: distinct users (DAU, WAU, per-user
ratios), retention and event counts are reported as missing, never estimated from the totals.

Beside an events table, the built-in and event-defined metrics read the events, the measures
(and ratios of them) read this table, and each metric is broken down only by the dimensions of
its own table (:meth:`.types.WarehouseSchema.metric_dimensions`).
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from .metric_config import METRIC_NAME
from .metrics import BUILTIN, Aggregate, Metric
from .types import WarehouseError, show_name

DEFAULT_TABLE = "metrics"
DEFAULT_DATE = "date"
_KEYS = ("table", "date", "dimensions", "measures")


@dataclass(frozen=True)
class AggregateSpec:
    """Where the pre-aggregated table is and which of its columns are what (None: discovered)."""

    table: str = DEFAULT_TABLE
    date: str = DEFAULT_DATE
    dimensions: tuple[str, ...] | None = None
    measures: tuple[str, ...] | None = None


def read_spec(section: object, where: str) -> AggregateSpec | None:
    """The ``[aggregates]`` section as a spec (None without one); ``where`` names the file."""
    if section is None:
        return None
    at = f"In {where}, [aggregates]"
    if not isinstance(section, dict):
        raise WarehouseError(f"{at} must be a table of keys: {', '.join(_KEYS)}.")
    unknown = [k for k in section if k not in _KEYS]
    if unknown:
        raise WarehouseError(
            f"{at}: unknown key {show_name(unknown[0])}. Valid keys: {', '.join(_KEYS)}."
        )
    names: dict[str, str] = {}
    for key, default in (("table", DEFAULT_TABLE), ("date", DEFAULT_DATE)):
        value = section.get(key, default)
        if not isinstance(value, str) or not value:
            raise WarehouseError(f"{at} {key} must be a name in quotes.")
        names[key] = value
    lists: dict[str, tuple[str, ...] | None] = {}
    for key in ("dimensions", "measures"):
        value = section.get(key)
        if value is not None and (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v for v in value)
        ):
            raise WarehouseError(f'{at} {key} must be a list of column names, e.g. ["country"].')
        lists[key] = None if value is None else tuple(value)
    return AggregateSpec(names["table"], names["date"], lists["dimensions"], lists["measures"])


def as_events(table: ir.Table, spec: AggregateSpec, label: str) -> tuple[ir.Table, list[str]]:
    """The table shaped like the events (``event_timestamp``, dimensions as text, measures),
    and its measure columns; a column the spec names must be there and of the right kind."""
    schema = dict(table.schema().items())
    where = f"The pre-aggregated table {show_name(spec.table)} of {label}"
    if spec.date not in schema:
        raise WarehouseError(
            f"{where} has no date column {show_name(spec.date)}; its columns: "
            f'{", ".join(schema)}. Name it in [aggregates] date = "...".'
        )
    rest = [c for c in schema if c != spec.date]
    numeric = [c for c in rest if schema[c].is_numeric() and not schema[c].is_boolean()]
    dims = list(spec.dimensions) if spec.dimensions else [c for c in rest if schema[c].is_string()]
    measures = list(spec.measures) if spec.measures else [c for c in numeric if c not in dims]
    for col in (*dims, *measures):
        if col not in schema or col == spec.date:
            raise WarehouseError(
                f"{where} has no column {show_name(col)}; its columns: {', '.join(rest)}."
            )
    wrong = [c for c in measures if c not in numeric]
    if wrong:
        raise WarehouseError(
            f"{where}: measure {show_name(wrong[0])} is {schema[wrong[0]]}, not a number. "
            f"Numeric columns: {', '.join(numeric) or '(none)'}."
        )
    both = set(dims) & set(measures)
    if both:
        raise WarehouseError(f"{where}: {show_name(min(both))} is both a dimension and a measure.")
    if not measures:
        raise WarehouseError(f"{where} has no numeric measure column to make metrics of.")
    shaped = table.select(
        table[spec.date].name("event_timestamp"),
        *(table[d].cast(dt.string).name(d) for d in dims),
        *(table[m] for m in measures),
    )
    return shaped, measures


def measure_metrics(
    measures: list[str], defined: list[Metric], *, beside: bool = False
) -> list[Metric]:
    """A sum metric per measure column, named after it, unless the user defined that name (or
    it is no valid metric name, or a built-in one: define it under another name); ``beside``:
    the table is read beside the events."""
    taken = {m.name for m in (*BUILTIN, *defined)}
    return [
        Metric(
            name=col,
            label=col.replace("_", " "),
            kind="sum",
            numerator=Aggregate("sum", col),
            table="aggregates" if beside else "events",
        )
        for col in measures
        if METRIC_NAME.match(col) and col not in taken
    ]
