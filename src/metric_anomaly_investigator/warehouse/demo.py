"""The default demo warehouse: a generated world in the data directory (``Settings.data_dir``)."""

from __future__ import annotations

from pathlib import Path

from ..settings import Settings
from .scenarios import generate_scenario
from .warehouse import Progress

DEFAULT_SCENARIO = "seed_android_india"


def default_warehouse_path() -> Path:
    """Where the demo warehouse lives: in the data directory (``Settings.data_dir``)."""
    return Settings().data_dir / "demo.duckdb"


def ensure_default_warehouse(progress: Progress | None = None) -> Path:
    """Generate the default demo world on first use (atomically) and return its path."""
    path = default_warehouse_path()
    if path.exists():
        if progress is not None:
            progress("demo warehouse ready", 1.0)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    return generate_scenario(DEFAULT_SCENARIO, path, progress=progress)
