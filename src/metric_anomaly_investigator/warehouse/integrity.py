"""A signature of the events table, stored with a generated world's rollup and checked on open.

A stored rollup is only trusted while the events still have the signature recorded when it was
built: the row count, the first and last timestamp and a checksum over (user, timestamp). Any
edit of the events (deleting a country's rows, appending days) changes it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SIGNATURE_KEYS", "events_signature"]

SIGNATURE_KEYS = ("events_rows", "events_min", "events_max", "events_checksum")
_SQL = (
    "SELECT count(*), min(event_timestamp), max(event_timestamp), "
    "bit_xor(hash(user_id, event_timestamp)) FROM {table}"
)


def events_signature(con: Any, table: str = "events") -> dict[str, str]:
    """The signature of ``table`` on a raw DuckDB connection, as text (meta-table values)."""
    row = con.execute(_SQL.format(table=table)).fetchone()
    return dict(zip(SIGNATURE_KEYS, (str(v) for v in row), strict=True))
