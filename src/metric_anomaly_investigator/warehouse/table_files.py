"""Where a table lies in a warehouse directory, for the DuckDB and the Spark readers alike."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from .types import WarehouseError

__all__ = ["Reader", "table_file"]

Reader = Literal["parquet", "parquet_dir", "csv"]


def table_file(root: Path, name: str) -> tuple[Path, Reader] | None:
    """Table ``name`` of directory ``root`` and how to read it, or None if it is not there.

    In order: ``name.parquet`` (a file, or a folder of Parquet files as Spark writes them), a
    ``name/`` folder of Parquet files (one without any is an error), ``name.csv``.
    """
    single, folder, text = root / f"{name}.parquet", root / name, root / f"{name}.csv"
    if single.is_file():
        return single, "parquet"
    if single.is_dir() and any(single.glob("*.parquet")):
        return single, "parquet_dir"
    if folder.is_dir():
        if not any(folder.glob("*.parquet")):
            raise WarehouseError(f"{folder} is a folder without .parquet files.")
        return folder, "parquet_dir"
    if text.is_file():
        return text, "csv"
    return None
