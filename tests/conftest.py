"""Shared test set-up. No test may reach the network or a real model."""

from __future__ import annotations

import pydantic_ai.models

pydantic_ai.models.ALLOW_MODEL_REQUESTS = False


# -- small generated worlds for the warehouse tests (generated once per session) ----------------
import duckdb  # noqa: E402
import pytest  # noqa: E402

from metric_anomaly_investigator.warehouse.connect import Warehouse, open_warehouse  # noqa: E402
from metric_anomaly_investigator.warehouse.scenarios import generate_scenario  # noqa: E402

SMALL_USERS = 2_500
SMALL_DAYS = 63


@pytest.fixture(scope="session")
def small_world_path(tmp_path_factory: pytest.TempPathFactory):
    """The demo story (seed_android_india) at 2,500 users and 9 weeks, as a DuckDB file."""
    out = tmp_path_factory.mktemp("worlds") / "small_seed.duckdb"
    return generate_scenario("seed_android_india", out, users=SMALL_USERS, days=SMALL_DAYS)


@pytest.fixture(scope="session")
def small_wh(small_world_path) -> Warehouse:
    wh = open_warehouse(small_world_path)
    yield wh
    wh.close()


@pytest.fixture(scope="session")
def small_parquet_dir(small_world_path, tmp_path_factory: pytest.TempPathFactory):
    """The same world exported as one Parquet file per table."""
    out = tmp_path_factory.mktemp("parquet")
    con = duckdb.connect(str(small_world_path), read_only=True)
    try:
        for table in ("events", "users", "deployments", "annotations"):
            con.execute(f"COPY {table} TO '{out / (table + '.parquet')}' (FORMAT parquet)")
    finally:
        con.close()
    return out
