"""Scenarios with the user's own metrics: the world, its mai.toml, and the planted change."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from metric_anomaly_investigator.warehouse import queries as q
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.scenarios import build_world, get_scenario
from metric_anomaly_investigator.warehouse.types import WarehouseError


def _world(tmp_path: Path, name: str, users: int) -> tuple[Path, date]:
    """Build scenario ``name`` in ``tmp_path``: its file and the day its change starts."""
    s = get_scenario(name)
    path = build_world(s, tmp_path / f"{name}.duckdb", users=users)
    assert (tmp_path / "mai.toml").read_text() == s.metrics_toml
    assert s.truth.start is not None
    return path, s.truth.start


def _windows(start: date, first: int, last: int) -> dict[str, tuple[date, date]]:
    """The four weeks before ``start`` against days ``first..last`` after it."""
    return {
        "baseline": (start - timedelta(days=28), start - timedelta(days=1)),
        "current": (start + timedelta(days=first), start + timedelta(days=last)),
    }


def test_payment_failure_world_drops_revenue_in_brazil_only(tmp_path: Path) -> None:
    path, start = _world(tmp_path, "payment_provider_failure_br", users=2_000)
    windows = _windows(start, 0, 13)
    with open_warehouse(path) as wh:
        assert wh.schema.metrics[-1] == "revenue"
        bd = q.breakdown(wh, "revenue", ["country"], **windows)
        change = {r.segment["country"]: r.rel_change for r in bd.rows}
        users = q.breakdown(wh, "dau", ["country"], **windows)
    assert bd.rows[0].segment == {"country": "BR"}
    assert change["BR"] == pytest.approx(-0.7, abs=0.12)  # 70% of payments fail, recorded as 0
    assert all(abs(v or 0) < 0.3 for k, v in change.items() if k != "BR")
    br_users = next(r for r in users.rows if r.segment == {"country": "BR"})
    assert abs(br_users.rel_change or 0) < 0.1  # the users stay; only their payments fail


def test_a_world_with_metrics_never_overwrites_another_mai_toml(tmp_path: Path) -> None:
    (tmp_path / "mai.toml").write_text('[metrics.mine]\nsum = "x"\n')
    with pytest.raises(WarehouseError, match=r"mai\.toml already exists"):
        build_world(get_scenario("payment_provider_failure_br"), tmp_path / "w.duckdb", users=50)
    assert (tmp_path / "mai.toml").read_text() == '[metrics.mine]\nsum = "x"\n'


def test_checkout_world_drops_conversion_on_chrome_only(tmp_path: Path) -> None:
    path, start = _world(tmp_path, "checkout_broken_chrome_web", users=3_000)
    windows = _windows(start, 1, 14)
    with open_warehouse(path) as wh:
        assert wh.schema.metric("checkout_conversion").is_ratio
        bd = q.breakdown(wh, "checkout_conversion", ["browser"], **windows)
    change = {r.segment["browser"]: r.rel_change or 0 for r in bd.rows}
    assert bd.rows[0].segment == {"browser": "chrome"}
    assert change["chrome"] < -0.6  # 90% of chrome's purchases are gone
    assert all(abs(v) < 0.25 for k, v in change.items() if k != "chrome")
    assert bd.total_after < bd.total_before


def test_errors_world_raises_errors_and_latency_in_germany_only(tmp_path: Path) -> None:
    path, start = _world(tmp_path, "errors_latency_de", users=2_000)
    windows = _windows(start, 1, 9)
    with open_warehouse(path) as wh:
        errors = q.breakdown(wh, "error_rate", ["country"], **windows)
        latency = q.breakdown(wh, "latency", ["country"], **windows)
    for bd in (errors, latency):
        assert bd.rows[0].segment == {"country": "DE"}
    de = errors.rows[0]
    assert (de.before, de.after) == (pytest.approx(0.01, abs=0.004), pytest.approx(0.12, abs=0.02))
    assert latency.rows[0].after - latency.rows[0].before == pytest.approx(250, abs=5)
    assert all(abs(r.after - r.before) < 2 for r in latency.rows[1:])


def test_daily_kpis_world_is_a_metrics_table_only_with_orders_lost_in_indonesia(
    tmp_path: Path,
) -> None:
    path, start = _world(tmp_path, "daily_kpis_orders_drop_id", users=3_000)
    windows = _windows(start, 0, 13)
    with open_warehouse(path) as wh:
        assert wh.schema.aggregated_from == "daily_kpis" and not wh.schema.has_users
        assert wh.schema.metrics == ["orders", "cart_conversion", "carts", "revenue", "actions"]
        assert wh.schema.dimension_names == ["country", "platform", "app_version"]
        orders = q.breakdown(wh, "orders", ["country"], **windows)
        carts = q.breakdown(wh, "carts", ["country"], **windows)
    change = {r.segment["country"]: r.rel_change for r in orders.rows}
    assert min(change, key=lambda c: change[c] or 0) == "ID"
    assert change["ID"] == pytest.approx(-0.9, abs=0.1)  # 90% of its purchases fail
    assert all(abs(v or 0) < 0.25 for k, v in change.items() if k != "ID")
    id_carts = next(r for r in carts.rows if r.segment == {"country": "ID"})
    assert abs(id_carts.rel_change or 0) < 0.15  # the shoppers stay; only their orders fail
