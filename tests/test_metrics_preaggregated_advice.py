"""On a warehouse that is a pre-aggregated daily table only, a question about daily active users
(or any per-user metric) is answered with what daily totals cannot give and what is possible
instead: the table's own users column if it has one, else adding one or reading events."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from metric_anomaly_investigator.cli import main
from metric_anomaly_investigator.warehouse import metrics as catalogue
from metric_anomaly_investigator.warehouse.connect import open_warehouse

FIRST = date(2026, 3, 1)


def _world(root: Path, fmt: str, *, users_column: bool) -> Path:
    """daily_kpis (day, country, orders[, active_users]) as DuckDB or Parquet."""
    root.mkdir(parents=True, exist_ok=True)
    extra = ", active_users BIGINT" if users_column else ""
    rows = [
        (FIRST + timedelta(days=i), country, 20 + i % 7, *((100,) if users_column else ()))
        for i in range(35)
        for country in ("US", "IN")
    ]
    db = root / "kpis.duckdb"
    con = duckdb.connect(str(db))
    try:
        con.execute(f"CREATE TABLE daily_kpis (day DATE, country VARCHAR, orders BIGINT{extra})")
        marks = ", ".join("?" * len(rows[0]))
        con.executemany(f"INSERT INTO daily_kpis VALUES ({marks})", rows)
        if fmt == "parquet":
            con.execute(f"COPY daily_kpis TO '{root / 'daily_kpis.parquet'}' (FORMAT parquet)")
    finally:
        con.close()
    (root / "mai.toml").write_text('[aggregates]\ntable = "daily_kpis"\ndate = "day"\n')
    if fmt == "parquet":
        db.unlink()
        return root
    return db


@pytest.mark.parametrize("fmt", ["duckdb", "parquet"])
def test_dau_is_said_impossible_and_adding_a_users_column_offered(tmp_path: Path, fmt: str) -> None:
    with open_warehouse(_world(tmp_path / "w", fmt, users_column=False)) as wh:
        note = wh.schema.missing_metric_note("dau")
    assert "\n" not in note
    assert note.startswith(
        "This warehouse has no daily active users metric: dau is distinct users (per day), and "
        "distinct users cannot be derived from daily totals"
    )
    assert "add a column of distinct users per day and segment to daily_kpis" in note
    assert "or point mai at an events table (user_id, event_timestamp)" in note
    assert note.endswith("Metrics it has: orders.")
    assert 'count = "users"' not in note  # no definition the data cannot serve
    assert wh.schema.define_advice("dau") == (
        "Daily active users cannot be defined from daily_kpis's totals: add a column of "
        "distinct users per day and segment to it (it becomes a metric of its name), or point "
        "mai at an events table with user_id and event_timestamp."
    )
    assert wh.schema.define_advice("revenue") is None  # a measure column can be summed


@pytest.mark.parametrize("fmt", ["duckdb", "parquet"])
def test_a_users_column_of_the_table_is_offered(tmp_path: Path, fmt: str) -> None:
    with open_warehouse(_world(tmp_path / "w", fmt, users_column=True)) as wh:
        assert "active_users" in wh.schema.metrics
        note = wh.schema.missing_metric_note("dau")
        conversion = wh.schema.missing_metric_note("checkout_conversion")
    assert "daily_kpis has active_users: ask about active_users" in note
    assert "right across segments only where each user is in one" in note
    assert "checkout_conversion is distinct users where event_type = 'purchase'" in conversion


def test_a_column_metric_on_daily_totals_names_the_table() -> None:
    note = catalogue.missing_metric_note("revenue", ["orders"], table="daily_kpis")
    assert "revenue needs amount in the events" in note
    assert "daily_kpis holds daily totals: add what it sums to it as measure columns" in note


def test_the_cli_answer_says_why_not_and_what_instead(tmp_path: Path) -> None:
    path = _world(tmp_path / "w", "duckdb", users_column=False)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["investigate", "Why did DAU drop?", "--warehouse", str(path), "--json"])
    assert code == 0, err.getvalue()
    report = json.loads(out.getvalue())["report"]
    answer = report["answer"]
    assert "distinct users cannot be derived from daily totals" in answer
    assert "add a column of distinct users per day and segment" in answer
    # the advice is what the data can serve, never a definition it cannot
    assert report["recommendations"][0].startswith(
        "Daily active users cannot be defined from daily_kpis's totals"
    )
    assert not any("[metrics.dau]" in r for r in report["recommendations"])
