"""Shared test set-up. No test may reach the network or a real model."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pydantic_ai.models
import pytest

from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.scenarios import generate_scenario
from metric_anomaly_investigator.warehouse.warehouse import Warehouse

pydantic_ai.models.ALLOW_MODEL_REQUESTS = False


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the user's model choice, API keys or data directory."""
    for name in ("MAI_MODEL", "MAI_WAREHOUSE", "MAI_MAX_STEPS", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MAI_DATA_DIR", str(tmp_path / "data"))


# -- small generated worlds for the warehouse tests (generated once per session) ----------------

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
