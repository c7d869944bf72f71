"""Where a table lies in a warehouse directory, for the DuckDB and the Spark readers alike."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from .types import WarehouseError

__all__ = ["Reader", "table_file"]

Reader = Literal["parquet", "parquet_dir", "csv"]


def table_file(
    root: Path, name: str, *, mapped_as: str | None = None
) -> tuple[Path, Reader] | None:
    """Table ``name`` of directory ``root`` and how to read it, or None if it is not there.

    In order: ``name.parquet`` (a file, or a folder of Parquet files as Spark writes them), a
    ``name/`` folder of Parquet files (one without any is an error), ``name.csv``. A name the
    --config file gives (``mapped_as``: the table it maps) must lead to a file inside ``root``:
    no absolute path, ``..`` escape or symlink out.
    """
    if mapped_as is not None:
        _check_inside(root, name, mapped_as)
    located = _locate(root, name)
    if located is not None and mapped_as is not None:
        _check_inside(root, located[0], mapped_as)
    return located


def _check_inside(root: Path, target: str | Path, table: str) -> None:
    where = root / target
    inside = where.resolve().is_relative_to(root.resolve()) and ".." not in Path(target).parts
    if not inside:
        raise WarehouseError(
            f"The --config [tables] {table} entry points outside {root}: table files must be "
            "inside the warehouse directory."
        )


def _locate(root: Path, name: str) -> tuple[Path, Reader] | None:
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
