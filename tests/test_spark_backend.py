"""The same queries and a full investigation on Apache Spark (local mode) through Ibis.

Skipped when pyspark or a Java runtime is missing (``.ci/run`` installs a headless JRE; pyspark
is in the dev group). One Spark session for the module, on the small demo world exported as a
Parquet directory (``spark:///dir``); every answer is compared with DuckDB's on the same data.
"""

from __future__ import annotations

import asyncio
import importlib.util
import math
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from metric_anomaly_investigator.core.models import InvestigationFinished
from metric_anomaly_investigator.core.orchestrator import Orchestrator
from metric_anomaly_investigator.warehouse import queries as q
from metric_anomaly_investigator.warehouse.connect import Warehouse, open_warehouse
from metric_anomaly_investigator.warehouse.types import WarehouseError

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pyspark") is None or shutil.which("java") is None,
    reason="Spark tests need pyspark (dev group) and a Java runtime (openjdk-17-jre-headless)",
)

BASE = (date(2026, 1, 7), date(2026, 1, 27))
CUR = (date(2026, 1, 29), date(2026, 2, 11))


@pytest.fixture(scope="module")
def spark(small_parquet_dir: Path) -> Iterator[Warehouse]:
    mp = pytest.MonkeyPatch()
    mp.setenv("MAI_SPARK_CORES", "2")
    mp.setenv("MAI_SPARK_PARTITIONS", "2")  # a small world: few tasks per query
    with open_warehouse(f"spark://{small_parquet_dir}") as wh:
        yield wh
    mp.undo()


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def test_schema_is_discovered_the_same(spark: Warehouse, small_wh: Warehouse) -> None:
    assert spark.con.name == "pyspark" and spark.label.startswith("spark:")
    assert spark.schema.metrics == small_wh.schema.metrics
    assert spark.schema.dimensions == small_wh.schema.dimensions
    assert (spark.schema.start_date, spark.schema.end_date) == (
        small_wh.schema.start_date,
        small_wh.schema.end_date,
    )
    assert spark.schema.row_count == small_wh.schema.row_count


@pytest.mark.parametrize("metric", ["dau", "wau", "events_per_user", "sessions_per_user"])
def test_series_match_duckdb(spark: Warehouse, small_wh: Warehouse, metric: str) -> None:
    ours = q.metric_series(spark, metric, start=CUR[0], group_by=["platform"]).points
    theirs = q.metric_series(small_wh, metric, start=CUR[0], group_by=["platform"]).points
    assert len(ours) == len(theirs) > 0
    for a, b in zip(ours, theirs, strict=True):
        assert (a.day, a.group) == (b.day, b.group)
        assert _close(a.value, b.value)


def test_breakdown_matches_duckdb(spark: Warehouse, small_wh: Warehouse) -> None:
    window: dict[str, Any] = {"baseline": BASE, "current": CUR, "filters": {"plan": "free"}}
    ours = q.breakdown(spark, "dau", ["platform", "country"], **window)
    theirs = q.breakdown(small_wh, "dau", ["platform", "country"], **window)
    by_segment = {tuple(r.segment.items()): r for r in theirs.rows}
    assert len(ours.rows) == len(theirs.rows) > 0
    for row in ours.rows:
        other = by_segment[tuple(row.segment.items())]
        assert _close(row.before, other.before) and _close(row.after, other.after)
        assert _close(row.contribution, other.contribution)


def test_deployments_annotations_and_retention_match(spark: Warehouse, small_wh: Warehouse) -> None:
    assert q.deployments(spark) == q.deployments(small_wh)
    assert q.annotations(spark) == q.annotations(small_wh)
    cohorts = {"cohort_start": date(2025, 12, 15), "cohort_end": date(2026, 1, 31)}
    assert q.retention(spark, **cohorts).cohorts == q.retention(small_wh, **cohorts).cohorts


def test_an_investigation_runs_on_spark(spark: Warehouse, small_wh: Warehouse) -> None:
    question = "DAU dropped after January 28th. What's causing it?"

    async def run(wh: Warehouse) -> Any:
        orchestrator = Orchestrator(wh, model="autopilot")
        async for event in orchestrator.investigate(question):
            if isinstance(event, InvestigationFinished):
                return event.investigation
        raise AssertionError("no InvestigationFinished event")

    ours, theirs = asyncio.run(run(spark)), asyncio.run(run(small_wh))
    assert ours.status == "completed" and ours.report is not None
    assert theirs.report is not None
    assert ours.report.anomaly == theirs.report.anomaly
    assert [s.filters for s in ours.report.affected_segments] == [
        s.filters for s in theirs.report.affected_segments
    ]
    assert [e.id for e in ours.report.correlated_events] == [
        e.id for e in theirs.report.correlated_events
    ]


def test_a_missing_directory_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="No such directory for Spark"):
        open_warehouse(f"spark://{tmp_path / 'nope'}")
