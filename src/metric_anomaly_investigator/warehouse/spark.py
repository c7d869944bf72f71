"""Open a Parquet warehouse through a local Apache Spark session (Ibis's PySpark backend).

``--warehouse spark:///path/to/dir`` reads the directory's tables like a Parquet directory
(``events.parquet`` or an ``events/`` folder of Parquet files; likewise ``users``,
``deployments``, ``annotations``), but every query runs on Spark instead of DuckDB: the same
Ibis expressions, on the raw events (no rollup). The session is local (``local[N]``, N =
``MAI_SPARK_CORES`` or all cores) unless ``MAI_SPARK_MASTER`` names a cluster; it needs
``pyspark`` (``uv sync --extra spark``) and a Java runtime.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from .table_files import table_file
from .types import WarehouseError

__all__ = ["SCHEME", "connect_spark"]

SCHEME = "spark://"


def _session() -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise WarehouseError(
            "spark:// warehouses need pyspark: install the spark extra (uv sync --extra spark)."
        ) from exc
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise WarehouseError("spark:// warehouses need a Java runtime (e.g. openjdk-17-jre).")
    master = (
        os.environ.get("MAI_SPARK_MASTER") or f"local[{os.environ.get('MAI_SPARK_CORES', '*')}]"
    )
    try:
        return (
            SparkSession.builder.master(master)
            .appName("metric-anomaly-investigator")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", os.environ.get("MAI_SPARK_PARTITIONS", "8"))
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.ansi.enabled", "false")
            .getOrCreate()
        )
    except Exception as exc:
        raise WarehouseError(f"Could not start Spark ({type(exc).__name__}).") from exc


def connect_spark(
    url: str, table_names: dict[str, str], mapped: frozenset[str] = frozenset()
) -> tuple[Any, str]:
    """An Ibis PySpark connection with the directory's tables registered; its label.

    ``mapped``: tables whose name the --config file gives (their files must lie inside)."""
    import ibis

    root = Path(url[len(SCHEME) :]).expanduser()
    if not root.is_dir():
        raise WarehouseError(f"No such directory for Spark: {root}. Use spark:///path/to/dir.")
    con = ibis.pyspark.connect(_session())
    found = False
    for ours, theirs in table_names.items():
        located = table_file(root, theirs, mapped_as=ours if ours in mapped else None)
        if located is None or located[1] == "csv":  # Spark reads the Parquet tables only
            continue
        candidate = located[0]
        try:
            con.read_parquet(str(candidate), table_name=theirs)
        except Exception as exc:
            raise WarehouseError(
                f"Spark could not read {candidate} ({type(exc).__name__})."
            ) from exc
        found = found or ours in ("events", "aggregates")  # aggregates: events or beside
    if not found:
        events = table_names["events"]
        raise WarehouseError(
            f"{root} has no events table for Spark: expected {events}.parquet or a {events}/ "
            "folder of Parquet files."
        )
    return con, f"spark:{root}"
