"""The same queries and a full investigation on Apache Spark (local mode) through Ibis.

Skipped when pyspark or a Java runtime is missing (``.ci/run`` installs a headless JRE; pyspark
is in the dev group). One Spark session for the module, on the small demo world exported as a
Parquet directory (``spark:///dir``); every answer is compared with DuckDB's on the same data.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from backend_parity import (
    assert_breakdown_match,
    assert_changes_and_retention_match,
    assert_same_investigation,
    assert_same_range,
    assert_series_match,
)

from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.types import WarehouseError
from metric_anomaly_investigator.warehouse.warehouse import Warehouse

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pyspark") is None or shutil.which("java") is None,
    reason="Spark tests need pyspark (dev group) and a Java runtime (openjdk-17-jre-headless)",
)


@pytest.fixture(scope="module")
def spark(small_parquet_dir: Path) -> Iterator[Warehouse]:
    mp = pytest.MonkeyPatch()
    mp.setenv("MAI_SPARK_CORES", "2")
    mp.setenv("MAI_SPARK_PARTITIONS", "2")  # a small world: few tasks per query
    with open_warehouse(f"spark://{small_parquet_dir}") as wh:
        yield wh
    mp.undo()


def test_schema_is_discovered_the_same(spark: Warehouse, small_wh: Warehouse) -> None:
    assert spark.con.name == "pyspark" and spark.label.startswith("spark:")
    assert_same_range(spark, small_wh)
    assert spark.schema.dimensions == small_wh.schema.dimensions
    assert spark.schema.row_count == small_wh.schema.row_count


@pytest.mark.parametrize("metric", ["dau", "wau", "events_per_user", "sessions_per_user"])
def test_series_match_duckdb(spark: Warehouse, small_wh: Warehouse, metric: str) -> None:
    assert_series_match(spark, small_wh, metric)


def test_breakdown_matches_duckdb(spark: Warehouse, small_wh: Warehouse) -> None:
    assert_breakdown_match(spark, small_wh)


def test_deployments_annotations_and_retention_match(spark: Warehouse, small_wh: Warehouse) -> None:
    assert_changes_and_retention_match(spark, small_wh)


def test_an_investigation_runs_on_spark(spark: Warehouse, small_wh: Warehouse) -> None:
    assert_same_investigation(spark, small_wh)


def test_a_missing_directory_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="No such directory for Spark"):
        open_warehouse(f"spark://{tmp_path / 'nope'}")


@pytest.mark.parametrize("name", ["../elsewhere/events", "linked"])
def test_config_table_paths_outside_the_directory_are_refused(
    spark: Warehouse, small_parquet_dir: Path, tmp_path: Path, name: str
) -> None:
    """The same --config containment as a DuckDB-read directory (the session is already up)."""
    wh_dir, outside = tmp_path / "warehouse", tmp_path / "elsewhere"
    wh_dir.mkdir()
    outside.mkdir()
    shutil.copy(small_parquet_dir / "events.parquet", outside / "events.parquet")
    (wh_dir / "linked.parquet").symlink_to(outside / "events.parquet")
    config = tmp_path / "map.toml"
    config.write_text(f'[tables]\nevents = "{name}"\n')
    with pytest.raises(WarehouseError, match="points outside"):
        open_warehouse(f"spark://{wh_dir}", config=config)
