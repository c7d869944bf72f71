"""What discovering a source found, kept between runs under the source's fingerprint.

Discovery (dimensions, their values, the date range, data-quality notes) reads every table, so a
later open of an unchanged source takes it from ``<key>.schema.json`` in the user cache
directory instead. The key of a local source is the fingerprint of its files
(:func:`.rollup_cache.fingerprint`); a database has no files to look at, so its key is
:func:`database_key`: the URL (without its password), the table mapping, and each table's row
count with the events' first and last timestamp — appending, deleting or loading rows changes
it. Writes are atomic and best effort: a cache that cannot be written only costs speed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import ibis.expr.types as ir

from .resources import cache_dir

__all__ = ["DiscoveryCache", "cache_root", "database_key"]


# What discovery finds grows with the code (2: days loaded only in part); a discovery saved by an
# older version is discovered again rather than trusted.
DISCOVERY_VERSION = 2


def cache_root() -> Path:
    """The directory of the rollup cache files and cached discoveries (created on demand)."""
    root = cache_dir() / "rollups"
    root.mkdir(parents=True, exist_ok=True)
    return root


class DiscoveryCache:
    """The cached discovery of one source fingerprint."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.path = cache_root() / f"{key}.schema.json"

    def load(self) -> dict[str, Any] | None:
        """What discovering this source found last time, if saved (None if unreadable)."""
        try:
            state = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(state, dict) or state.get("discovery_version") != DISCOVERY_VERSION:
            return None
        return {k: v for k, v in state.items() if k != "discovery_version"}

    def save(self, state: Mapping[str, Any]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(
                json.dumps({**state, "discovery_version": DISCOVERY_VERSION}, default=str)
            )
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)


def database_key(
    source: str, tables: Mapping[str, ir.Table], config: Mapping[str, Any], version: str
) -> str:
    """A key that changes when a table's row count or the events' time range changes.

    One small aggregate query per table, pushed down to the database.
    """
    sizes: list[list[str]] = []
    for name in sorted(tables):
        t = tables[name]
        if name == "events":
            ts = t.event_timestamp
            row = t.aggregate(n=t.count(), first=ts.min(), last=ts.max()).execute()
        else:
            row = t.aggregate(n=t.count()).execute()
        sizes.append([name, *(str(v) for v in row.iloc[0].tolist())])
    text = json.dumps(["db", version, _without_password(source), sizes, config], default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
