"""Bounded resources for DuckDB work: a memory limit, spilling to the user cache directory.

``MAI_MEMORY_LIMIT`` sets DuckDB's memory limit (DuckDB syntax: ``"2GB"``, ``"512MB"``); the
default is a quarter of the machine's memory, at least 1 GB and at most 2 GB. Whatever does not
fit spills to ``<cache dir>/spill``. The cache directory is ``$MAI_DATA_DIR/cache`` when
``MAI_DATA_DIR`` is set (tests), else the platform's user cache directory: never a directory of
the user's data.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import platformdirs

from ..settings import APP_NAME

__all__ = ["apply_limits", "cache_dir", "memory_limit"]

DEFAULT_MAX_BYTES = 2 * 1024**3
DEFAULT_MIN_BYTES = 1024**3
_SIZE = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|KIB|MB|MIB|GB|GIB|TB|TIB)\s*$", re.IGNORECASE)


def cache_dir() -> Path:
    """Where rollups, cached schemas and spill files live (created on demand)."""
    base = os.environ.get("MAI_DATA_DIR")
    root = Path(base) / "cache" if base else Path(platformdirs.user_cache_dir(APP_NAME))
    root.mkdir(parents=True, exist_ok=True)
    return root


def memory_limit() -> str:
    """DuckDB's memory limit: ``MAI_MEMORY_LIMIT`` or a quarter of RAM within 1..2 GB."""
    given = os.environ.get("MAI_MEMORY_LIMIT", "").strip()
    if given:
        if not _SIZE.match(given):
            from .types import WarehouseError

            raise WarehouseError(
                f"MAI_MEMORY_LIMIT={given[:20]!r} is not a size; use e.g. 2GB or 512MB."
            )
        return given.replace(" ", "")
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        total = 4 * DEFAULT_MAX_BYTES
    limit = min(DEFAULT_MAX_BYTES, max(DEFAULT_MIN_BYTES, total // 4))
    return f"{limit // 1024**2}MB"


def apply_limits(con: Any) -> None:
    """Set the memory limit and the spill directory on a raw DuckDB connection."""
    spill = cache_dir() / "spill"
    spill.mkdir(exist_ok=True)
    quoted = str(spill).replace("'", "''")
    con.execute(f"SET memory_limit = '{memory_limit()}'")
    con.execute(f"SET temp_directory = '{quoted}'")
    con.execute("SET preserve_insertion_order = false")
