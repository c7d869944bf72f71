"""A persistent cache of the rollups of sources that do not store their own.

Parquet/CSV directories and DuckDB files without a (valid) stored rollup get their per-user-day
rollups built once, by DuckDB out of core (``CREATE TABLE … AS SELECT … GROUP BY`` under the
memory limit, spilling to disk), into a DuckDB file of the user cache directory — never next to
the user's data. The file is named by a fingerprint of the source: the size and modification
time of each of its files, and the ``--config`` mapping. Changing a file changes the
fingerprint, so a changed source gets a fresh rollup, never a stale one.

Next to it, ``<key>.schema.json`` keeps what discovering the source found (:mod:`.discovery_cache`),
so a later open of the unchanged source starts at once.

The cache file holds the same tables as a generated world (``_mai_user_day``,
``_mai_user_day_type`` and a ``_mai_meta`` of key/value text), attached read-only to the
warehouse's connection as ``_mai_cache``. It is written to a temporary file first and renamed
into place when complete: an interrupted build leaves nothing to trust.

A generated world's stored rollup is trusted only while its events still carry the signature
recorded at generation (:mod:`.integrity`); the check runs once per fingerprint of the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .discovery_cache import DiscoveryCache, cache_root
from .integrity import SIGNATURE_KEYS, events_signature

__all__ = ["RollupCache", "fingerprint", "stored_rollup_trusted"]

CACHE_DB = "_mai_cache"
CACHE_FORMAT = "2"  # bump when the cached tables change shape
Progress = Callable[[str, float], None]


def fingerprint(source: Path, config: Mapping[str, Any], version: str) -> str:
    """A key that changes whenever a file of ``source`` (a file or a directory) changes."""
    if source.is_dir():
        files = sorted(
            p
            for p in source.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(source).parts)
        )
    else:
        wal = source.with_name(source.name + ".wal")
        files = [source, wal] if wal.exists() else [source]
    entries = []
    for p in files:
        st = p.stat()
        entries.append([str(p.resolve()), st.st_size, st.st_mtime_ns])
    text = json.dumps([CACHE_FORMAT, version, entries, config], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def stored_rollup_trusted(con: Any, meta: Mapping[str, str], key: str) -> bool:
    """Whether the events still match the signature stored with a generated world's rollup.

    ``con`` is the raw DuckDB connection of the file; ``key`` its fingerprint: a positive check
    is remembered for it, so an unchanged file is not scanned again.
    """
    if not all(k in meta for k in SIGNATURE_KEYS):
        return False
    marker = cache_root() / f"{key}.trusted"
    if marker.exists():
        return True
    if events_signature(con) != {k: meta[k] for k in SIGNATURE_KEYS}:
        return False
    marker.touch()
    return True


class RollupCache:
    """The cache file of one source fingerprint, attached to a DuckDB connection."""

    def __init__(self, con: Any, key: str, progress: Progress | None = None) -> None:
        self.con = con  # the raw DuckDB connection
        self.key = key
        self.path = cache_root() / f"{key}.duckdb"
        self.discovery = DiscoveryCache(key)  # what discovering the source found
        self.progress = progress
        self._tmp: Path | None = None
        self.attached = False  # the complete cache file is attached (as ``alias``)
        # One alias per cache: connections to the same DuckDB file in one process share one
        # database instance, where a fixed alias would already be taken by the first.
        self.alias = f"{CACHE_DB}_{uuid.uuid4().hex[:12]}"

    def attach(self) -> bool:
        """Attach a complete cache file if there is one; False if it must be built.

        Attaching twice is a no-op: a cached discovery that cannot be restored after it
        attached the file leaves it attached for the fresh discovery.
        """
        if self.attached:
            return True
        if not self.path.exists():
            return False
        try:
            self._attach(self.path, read_only=True)
        except Exception:  # unreadable (another DuckDB version, truncated): rebuild it
            self.path.unlink(missing_ok=True)
            return False
        self.attached = True
        return True

    @property
    def building(self) -> bool:
        """Whether a new cache file is being built (tables created, not sealed yet)."""
        return self._tmp is not None

    def create(self, name: str, sql: str, stage: str, done: float) -> None:
        """Build table ``name`` from a query, in a new cache file (started on first use)."""
        if self._tmp is None:
            self._tmp = self.path.with_name(f".{self.path.stem}.{os.getpid()}.tmp")
            self._tmp.unlink(missing_ok=True)
            self._attach(self._tmp, read_only=False)
        self._say(stage, done)
        self.con.execute(f'CREATE TABLE {self.alias}."{name}" AS {sql}')

    def seal(self, meta: Mapping[str, str]) -> None:
        """Finish the file being built: write its meta, rename it into place, re-attach it."""
        assert self._tmp is not None
        rows = ", ".join(
            "('" + k.replace("'", "''") + "', '" + v.replace("'", "''") + "')"
            for k, v in meta.items()
        )
        self.con.execute(f"CREATE TABLE {self.alias}._mai_meta (key VARCHAR, value VARCHAR)")
        self.con.execute(f"INSERT INTO {self.alias}._mai_meta VALUES {rows}")
        self.con.execute(f"DETACH {self.alias}")
        os.replace(self._tmp, self.path)
        self._tmp = None
        self._attach(self.path, read_only=True)
        self.attached = True
        self._say("rollup cache ready", 1.0)

    def abandon(self) -> None:
        """Drop a cache file whose build failed."""
        if self._tmp is None:
            return
        with contextlib.suppress(Exception):  # not attached yet
            self.con.execute(f"DETACH {self.alias}")
        self._tmp.unlink(missing_ok=True)
        Path(f"{self._tmp}.wal").unlink(missing_ok=True)
        self._tmp = None

    def _attach(self, path: Path, *, read_only: bool) -> None:
        quoted = str(path).replace("'", "''")
        mode = " (READ_ONLY)" if read_only else " (READ_WRITE)"  # read-only sources default RO
        self.con.execute(f"ATTACH '{quoted}' AS {self.alias}{mode}")

    def _say(self, stage: str, done: float) -> None:
        if self.progress is not None:
            self.progress(stage, done)
