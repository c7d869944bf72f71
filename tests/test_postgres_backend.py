"""The same queries pushed down to a real PostgreSQL server through Ibis.

Runs when ``MAI_TEST_POSTGRES_URL`` points at a server on this machine (``.ci/run`` starts one
on loopback); skipped otherwise. Each run loads the small demo world into a fresh database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import ibis
import pytest
from backend_parity import (
    ON_POSTGRES,
    assert_breakdown_match,
    assert_changes_and_retention_match,
    assert_same_investigation,
    assert_same_range,
    assert_series_match,
    fresh_postgres_db,
)

from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.warehouse import Warehouse

pytestmark = ON_POSTGRES

TABLES = ("events", "users", "deployments", "annotations")


@pytest.fixture(scope="module")
def pg_url(small_world_path: Path) -> Iterator[str]:
    with fresh_postgres_db("mai_test") as (url, target):
        source = duckdb.connect(str(small_world_path), read_only=True)
        try:
            for table in TABLES:
                target.create_table(table, source.table(table).to_arrow_table())
        finally:
            source.close()
        yield url


@pytest.fixture(scope="module")
def pg(pg_url: str) -> Iterator[Warehouse]:
    with open_warehouse(pg_url) as wh:
        yield wh


def test_schema_is_discovered_the_same(pg: Warehouse, small_wh: Warehouse) -> None:
    assert_same_range(pg, small_wh)
    assert pg.schema.dimension_names == small_wh.schema.dimension_names


@pytest.mark.parametrize("metric", ["dau", "wau", "events", "events_per_user", "sessions_per_user"])
def test_series_match_duckdb(pg: Warehouse, small_wh: Warehouse, metric: str) -> None:
    assert_series_match(pg, small_wh, metric)


def test_breakdown_matches_duckdb(pg: Warehouse, small_wh: Warehouse) -> None:
    assert_breakdown_match(pg, small_wh)


def test_deployments_annotations_and_retention_match(pg: Warehouse, small_wh: Warehouse) -> None:
    assert_changes_and_retention_match(pg, small_wh)


def test_an_investigation_runs_on_postgres(pg: Warehouse, small_wh: Warehouse) -> None:
    assert_same_investigation(pg, small_wh)


def test_a_later_open_takes_the_saved_discovery_until_the_data_change(pg_url: str) -> None:
    with open_warehouse(pg_url) as wh:
        assert not wh.restored  # a fresh cache directory: discovered
        schema = wh.schema
    with open_warehouse(pg_url) as wh:
        assert wh.restored and wh.schema == schema  # same rows, same range: taken as saved
    db = ibis.connect(pg_url)
    late = "event_timestamp > TIMESTAMP '2100-01-01'"  # an event a century later: easy to find
    try:
        db.raw_sql("INSERT INTO events SELECT * FROM (SELECT * FROM events LIMIT 1) AS one")
        db.raw_sql(
            "UPDATE events SET event_timestamp = event_timestamp + INTERVAL '100 years' "
            "WHERE ctid = (SELECT ctid FROM events ORDER BY ctid DESC LIMIT 1)"
        )
        with open_warehouse(pg_url) as wh:
            assert not wh.restored  # a new event: discovered afresh
        db.raw_sql(f"DELETE FROM events WHERE {late}")
        with open_warehouse(pg_url) as wh:
            assert wh.restored and wh.schema == schema  # back as it was
    finally:
        db.raw_sql(f"DELETE FROM events WHERE {late}")
        db.disconnect()
