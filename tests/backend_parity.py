"""Checks shared by the backend tests (Spark, PostgreSQL): every answer of a warehouse on
another backend is compared with DuckDB's on the same small demo world. Also the test
PostgreSQL server: ``MAI_TEST_POSTGRES_URL`` (``.ci/run`` starts one on loopback)."""

from __future__ import annotations

import asyncio
import math
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest

from metric_anomaly_investigator.core.models import InvestigationFinished
from metric_anomaly_investigator.core.orchestrator import Orchestrator
from metric_anomaly_investigator.warehouse import queries as q
from metric_anomaly_investigator.warehouse.warehouse import Warehouse

BASE = (date(2026, 1, 7), date(2026, 1, 27))
CUR = (date(2026, 1, 29), date(2026, 2, 11))
QUESTION = "DAU dropped after January 28th. What's causing it?"

POSTGRES_URL = os.environ.get("MAI_TEST_POSTGRES_URL")
ON_POSTGRES = pytest.mark.skipif(
    not POSTGRES_URL, reason="set MAI_TEST_POSTGRES_URL to a PostgreSQL server on loopback"
)


@contextmanager
def fresh_postgres_db(prefix: str) -> Iterator[tuple[str, Any]]:
    """A new database on the test server: its URL and a connection to load tables with; both
    go away afterwards."""
    import ibis

    assert POSTGRES_URL is not None
    admin = ibis.connect(POSTGRES_URL)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin.raw_sql(f"CREATE DATABASE {name}")
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    target = ibis.connect(url)
    try:
        yield url, target
    finally:
        target.disconnect()
        admin.raw_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.disconnect()


def close(a: Any, b: Any) -> bool:
    """Equal, floats to within rounding."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def assert_same_range(ours: Warehouse, duck: Warehouse) -> None:
    assert ours.schema.metrics == duck.schema.metrics
    assert (ours.schema.start_date, ours.schema.end_date) == (
        duck.schema.start_date,
        duck.schema.end_date,
    )


def assert_series_match(ours: Warehouse, duck: Warehouse, metric: str) -> None:
    mine = q.metric_series(ours, metric, start=CUR[0], group_by=["platform"]).points
    theirs = q.metric_series(duck, metric, start=CUR[0], group_by=["platform"]).points
    assert len(mine) == len(theirs) > 0
    for a, b in zip(mine, theirs, strict=True):
        assert (a.day, a.group) == (b.day, b.group)
        assert close(a.value, b.value)


def assert_breakdown_match(ours: Warehouse, duck: Warehouse) -> None:
    # sample sizes are approximate distinct counts on DuckDB: not compared
    window: dict[str, Any] = {"baseline": BASE, "current": CUR, "filters": {"plan": "free"}}
    mine = q.breakdown(ours, "dau", ["platform", "country"], **window)
    theirs = q.breakdown(duck, "dau", ["platform", "country"], **window)
    by_segment = {tuple(r.segment.items()): r for r in theirs.rows}
    assert len(mine.rows) == len(theirs.rows) > 0
    for row in mine.rows:
        other = by_segment[tuple(row.segment.items())]
        assert close(row.before, other.before) and close(row.after, other.after)
        assert close(row.contribution, other.contribution)


def assert_changes_and_retention_match(ours: Warehouse, duck: Warehouse) -> None:
    assert q.deployments(ours) == q.deployments(duck)
    assert q.annotations(ours) == q.annotations(duck)
    cohorts = {"cohort_start": date(2025, 12, 15), "cohort_end": date(2026, 1, 31)}
    assert q.retention(ours, **cohorts).cohorts == q.retention(duck, **cohorts).cohorts


def _investigate(wh: Warehouse) -> Any:
    async def run() -> Any:
        async for event in Orchestrator(wh, model="autopilot").investigate(QUESTION):
            if isinstance(event, InvestigationFinished):
                return event.investigation
        raise AssertionError("no InvestigationFinished event")

    return asyncio.run(run())


def assert_same_investigation(ours: Warehouse, duck: Warehouse) -> None:
    mine, theirs = _investigate(ours), _investigate(duck)
    assert mine.status == "completed" and mine.report is not None
    assert theirs.report is not None
    assert mine.report.anomaly == theirs.report.anomaly
    assert [s.filters for s in mine.report.affected_segments] == [
        s.filters for s in theirs.report.affected_segments
    ]
    assert [e.id for e in mine.report.correlated_events] == [
        e.id for e in theirs.report.correlated_events
    ]
