"""The same queries pushed down to a real PostgreSQL server through Ibis.

Runs when ``MAI_TEST_POSTGRES_URL`` points at a server on this machine (``.ci/run`` starts one
on loopback); skipped otherwise. Each run loads the small demo world into a fresh database.
"""

from __future__ import annotations

import asyncio
import math
import os
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from metric_anomaly_investigator.core.models import InvestigationFinished
from metric_anomaly_investigator.core.orchestrator import Orchestrator
from metric_anomaly_investigator.warehouse import queries as q
from metric_anomaly_investigator.warehouse.connect import Warehouse, open_warehouse

BASE_URL = os.environ.get("MAI_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(
    not BASE_URL, reason="set MAI_TEST_POSTGRES_URL to a PostgreSQL server on loopback"
)

BASE = (date(2026, 1, 7), date(2026, 1, 27))
CUR = (date(2026, 1, 29), date(2026, 2, 11))
TABLES = ("events", "users", "deployments", "annotations")


@pytest.fixture(scope="module")
def pg_url(small_world_path: Path) -> Iterator[str]:
    import ibis

    assert BASE_URL is not None
    admin = ibis.connect(BASE_URL)
    name = f"mai_test_{uuid.uuid4().hex[:10]}"
    admin.raw_sql(f"CREATE DATABASE {name}")
    url = BASE_URL.rsplit("/", 1)[0] + f"/{name}"
    target = ibis.connect(url)
    source = duckdb.connect(str(small_world_path), read_only=True)
    try:
        for table in TABLES:
            target.create_table(table, source.table(table).to_arrow_table())
    finally:
        source.close()
        target.disconnect()
    yield url
    admin.raw_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.disconnect()


@pytest.fixture(scope="module")
def pg(pg_url: str) -> Iterator[Warehouse]:
    with open_warehouse(pg_url) as wh:
        yield wh


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def test_schema_is_discovered_the_same(pg: Warehouse, small_wh: Warehouse) -> None:
    assert pg.schema.metrics == small_wh.schema.metrics
    assert pg.schema.dimension_names == small_wh.schema.dimension_names
    assert (pg.schema.start_date, pg.schema.end_date) == (
        small_wh.schema.start_date,
        small_wh.schema.end_date,
    )


@pytest.mark.parametrize("metric", ["dau", "wau", "events", "events_per_user", "sessions_per_user"])
def test_series_match_duckdb(pg: Warehouse, small_wh: Warehouse, metric: str) -> None:
    ours = q.metric_series(pg, metric, start=CUR[0], group_by=["platform"]).points
    theirs = q.metric_series(small_wh, metric, start=CUR[0], group_by=["platform"]).points
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert (a.day, a.group) == (b.day, b.group)
        assert _close(a.value, b.value)


def test_breakdown_matches_duckdb(pg: Warehouse, small_wh: Warehouse) -> None:
    window: dict[str, Any] = {"baseline": BASE, "current": CUR, "filters": {"plan": "free"}}
    ours = q.breakdown(pg, "dau", ["platform", "country"], **window)
    theirs = q.breakdown(small_wh, "dau", ["platform", "country"], **window)
    by_segment = {tuple(r.segment.items()): r for r in theirs.rows}
    assert len(ours.rows) == len(theirs.rows)
    for row in ours.rows:
        other = by_segment[tuple(row.segment.items())]
        # Sample sizes are approximate distinct counts on DuckDB, exact on PostgreSQL.
        assert _close(row.before, other.before) and _close(row.after, other.after)
        assert _close(row.contribution, other.contribution)


def test_deployments_annotations_and_retention_match(pg: Warehouse, small_wh: Warehouse) -> None:
    assert q.deployments(pg) == q.deployments(small_wh)
    assert q.annotations(pg) == q.annotations(small_wh)
    cohorts = {"cohort_start": date(2025, 12, 15), "cohort_end": date(2026, 1, 31)}
    assert q.retention(pg, **cohorts).cohorts == q.retention(small_wh, **cohorts).cohorts


def test_an_investigation_runs_on_postgres(pg: Warehouse, small_wh: Warehouse) -> None:
    question = "DAU dropped after January 28th. What's causing it?"

    async def run(wh: Warehouse) -> Any:
        orchestrator = Orchestrator(wh, model="autopilot")
        async for event in orchestrator.investigate(question):
            if isinstance(event, InvestigationFinished):
                return event.investigation
        raise AssertionError("no InvestigationFinished event")

    ours, theirs = asyncio.run(run(pg)), asyncio.run(run(small_wh))
    assert ours.status == "completed" and ours.report is not None
    assert theirs.report is not None
    assert ours.report.anomaly == theirs.report.anomaly
    assert [s.filters for s in ours.report.affected_segments] == [
        s.filters for s in theirs.report.affected_segments
    ]
