"""Compiled query plans kept between runs, next to a source's cached rollups and schema.

Building a query shape's Ibis expression and compiling it to DuckDB SQL costs more than running
it on a demo-sized warehouse, and every new process paid it again. A source with a rollup cache
entry (:mod:`.rollup_cache`, keyed by the source's fingerprint) keeps the SQL of each shape it
ran in ``<key>.plans.json``, so a later run of the same source binds its values to the stored
SQL at once.

The file is trusted only for the code that wrote it: its stamp covers the versions of Ibis,
DuckDB and sqlglot and the size and modification time of every module of this package, so an
upgrade or an edit starts a fresh file. The cache database's per-connection alias is stored as
a token and put back on load. Writes are atomic and best effort: a cache that cannot be written
only costs speed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Hashable
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["PlanCache", "SavedPlan"]

ALIAS_TOKEN = "__MAI_CACHE_ALIAS__"
SavedPlan = tuple[str, tuple[str, ...]]  # (SQL with $name placeholders, parameter names)


@cache
def code_stamp() -> str:
    """What the stored SQL depends on besides the source: library versions and our own code."""
    parts: list[str] = []
    for dist in ("ibis-framework", "duckdb", "sqlglot"):
        try:
            parts.append(f"{dist}={version(dist)}")
        except PackageNotFoundError:
            parts.append(f"{dist}=?")
    package = Path(__file__).resolve().parents[1]
    for path in sorted(package.rglob("*.py")):
        st = path.stat()
        parts.append(f"{path.relative_to(package)}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


class PlanCache:
    """The stored SQL of one source's query shapes (``shape`` keys are their ``repr``)."""

    def __init__(self, path: Path, alias: str) -> None:
        self.path = path
        self.alias = alias  # the cache database's name on this connection
        self._plans: dict[str, list[object]] = self._load()

    def get(self, shape: Hashable) -> SavedPlan | None:
        entry = self._plans.get(repr(shape))
        if not (isinstance(entry, list) and len(entry) == 2):
            return None
        sql, names = entry
        if not isinstance(sql, str) or not isinstance(names, list):
            return None
        return sql.replace(ALIAS_TOKEN, self.alias), tuple(str(n) for n in names)

    def put(self, shape: Hashable, sql: str, names: tuple[str, ...]) -> None:
        """Keep a newly compiled shape (written through, atomically)."""
        self._plans[repr(shape)] = [sql.replace(self.alias, ALIAS_TOKEN), list(names)]
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps({"stamp": code_stamp(), "plans": self._plans}))
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)

    def _load(self) -> dict[str, list[object]]:
        try:
            stored = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(stored, dict) or stored.get("stamp") != code_stamp():
            return {}
        plans = stored.get("plans")
        return plans if isinstance(plans, dict) else {}
