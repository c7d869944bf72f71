"""The events' time column (and other date/time columns) read as UTC timestamps, whatever they
hold: timestamps, dates, ISO text with or without an offset, or epoch numbers in any unit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from .types import WarehouseError, show_name

__all__ = ["as_timestamp", "execute_scalar", "lenient_timestamp"]

# epoch numbers: (typical magnitude below, units per second) for s, ms, us, ns
EPOCH_UNITS = ((1e11, 1), (1e14, 1_000), (1e17, 1_000_000), (float("inf"), 1_000_000_000))
EPOCH_MIN_S = -62_135_596_800  # 0001-01-01
EPOCH_MAX_S = 253_402_300_799  # 9999-12-31 23:59:59


def as_timestamp(col: ir.Column, name: str, label: str) -> ir.TimestampColumn:
    """The events' time column as a timestamp: timestamps, dates, ISO text or epoch numbers.

    Time zones are handled one way: ISO text with an offset (``…T23:30:00+05:30``, ``…Z``) is
    converted to UTC, as a TIMESTAMPTZ column is (connections run in UTC); naive timestamps
    and text are taken as UTC. Epoch numbers are seconds, milliseconds, microseconds or
    nanoseconds, told apart by the magnitude of the typical (median) value; values beyond
    year 9999 are clamped to it (and so reported as stray far-future events).
    Text that does not parse, or any other type, is refused here with an example, rather than
    failing later inside a query.
    """
    parsed = lenient_timestamp(col, label)
    if parsed is None:
        raise WarehouseError(
            f"The {name} column of {label} has type {col.type()}; it must be a timestamp, a "
            "date, ISO text or epoch seconds."
        )
    if col.type().is_string():
        bad = col.notnull() & parsed.isnull()
        example = execute_scalar(col.name("v").as_table().filter(bad).v.min(), label)
        if example is not None:
            raise WarehouseError(
                f"The {name} column of {label} holds text that is not a date/time, e.g. "
                f"{show_name(example)}; use ISO dates like 2025-01-31 or 2025-01-31 12:00:00."
            )
    return parsed


def lenient_timestamp(col: ir.Column, label: str) -> ir.TimestampColumn | None:
    """A column as a timestamp as :func:`as_timestamp` reads it, text that does not parse
    becoming null; None for a type that holds no time at all."""
    kind = col.type()
    if kind.is_timestamp():
        return col
    if kind.is_date():
        return col.cast(dt.timestamp)
    if kind.is_integer() or kind.is_floating():
        typical = execute_scalar(col.abs().median(), label) or 0
        scale = next(s for limit, s in EPOCH_UNITS if typical < limit)
        seconds = (col // scale).cast(dt.int64)
        clamped = ibis.least(ibis.greatest(seconds, EPOCH_MIN_S), EPOCH_MAX_S)
        # epoch + an interval: portable (Postgres compiles no from-UNIX-time operation)
        return ibis.literal(datetime(1970, 1, 1)) + clamped.as_interval("s")
    if kind.is_string():
        # UTC: connections run in UTC, so an offset is converted and naive text kept as is
        return col.try_cast(dt.Timestamp(timezone="UTC")).cast(dt.timestamp)
    return None


def execute_scalar(expr: ir.Scalar, label: str) -> Any:
    """A scalar's value (None for null or NaN); a failure names the events of ``label``."""
    try:
        value = expr.execute()
    except Exception as exc:
        raise WarehouseError(
            f"Could not read the events of {label} ({type(exc).__name__})."
        ) from exc
    return None if value is None or value != value else value
