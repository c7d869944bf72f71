"""The scenario library: required scenarios, questions, and planted effects visible in raw data."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import duckdb
import pytest

from metric_anomaly_investigator.warehouse.scenarios import (
    SCENARIOS,
    generate_scenario,
    get_scenario,
    list_scenarios,
)
from metric_anomaly_investigator.warehouse.types import WarehouseError

REQUIRED = {
    "seed_android_india",
    "engagement_drop_ios_version",
    "regional_outage_brazil",
    "instrumentation_bug_ios_screen_view",
    "bot_spike_us_web",
    "paid_search_users_leave",
    "holiday_japan_new_year",
    "weekend_seasonality_only",
    "two_concurrent_causes",
    "new_cohort_retention_decay",
    "renamed_dims_os_region",
}


def test_library():
    assert set(SCENARIOS) >= REQUIRED and len(list_scenarios()) >= 10
    seed = get_scenario("seed_android_india")
    assert seed.world.users == 50_000
    assert (seed.truth.start - seed.world.start).days >= 56
    assert seed.truth.deployment_id == "deploy_003"
    assert sum(len(v) for v in seed.questions.values()) == 5
    for s in list_scenarios():
        assert set(s.questions) == {"clear", "vague", "misleading"}
        assert all(s.questions.values())
        assert s.world.users <= 20_000 or s.name == "seed_android_india"
    assert get_scenario("weekend_seasonality_only").truth.direction == "none"
    with pytest.raises(WarehouseError, match="Valid scenarios: seed_android_india"):
        get_scenario("nope")


def _where(segment: dict[str, str]) -> str:
    parts = [f"{k} = '{v}'" for k, v in segment.items()]
    return " AND ".join(parts) or "TRUE"


def _mean(con, sql_value: str, segment: dict[str, str], lo: date, hi: date, table: str) -> float:
    day = "day" if table == "_mai_user_day" else "event_timestamp::DATE"
    row = con.execute(
        f"SELECT {sql_value} / {(hi - lo).days + 1} FROM {table} "
        f"WHERE {_where(segment)} AND {day} BETWEEN ? AND ?",
        [lo, hi],
    ).fetchone()
    return float(row[0] or 0)


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    out = tmp_path_factory.mktemp("scenarios")
    cache: dict[str, str] = {}

    def get(name: str) -> duckdb.DuckDBPyConnection:
        if name not in cache:
            cache[name] = str(generate_scenario(name, out / f"{name}.duckdb", users=4000, days=70))
        return duckdb.connect(cache[name], read_only=True)

    return get


def _before_after(s, days: int = 7) -> tuple[tuple[date, date], tuple[date, date]]:
    start = s.truth.start
    end = s.truth.end or start + timedelta(days=days - 1)
    return (start - timedelta(days=14), start - timedelta(days=1)), (start + timedelta(days=2), end)


@pytest.mark.parametrize(
    "name",
    [
        "seed_android_india",
        "regional_outage_brazil",
        "paid_search_users_leave",
        "holiday_japan_new_year",
        "two_concurrent_causes",
        "renamed_dims_os_region",
    ],
)
def test_users_leave_effects_are_visible(worlds, name):
    s = get_scenario(name)
    con = worlds(name)
    (b0, b1), (a0, a1) = _before_after(s)
    if s.truth.end is not None:
        a0 = s.truth.start
    for seg in s.truth.root_cause:
        before = _mean(con, "count(*)", seg, b0, b1, "_mai_user_day")
        after = _mean(con, "count(*)", seg, a0, a1, "_mai_user_day")
        assert after < 0.75 * before, (name, seg, before, after)


def test_engagement_drop_keeps_dau(worlds):
    s = get_scenario("engagement_drop_ios_version")
    con = worlds(s.name)
    (b0, b1), (a0, a1) = _before_after(s)
    seg = {"platform": "ios"}
    windows = ((b0, b1), (a0, a1))
    dau = [_mean(con, "count(*)", seg, lo, hi, "_mai_user_day") for lo, hi in windows]
    events = [_mean(con, "sum(events)", seg, lo, hi, "_mai_user_day") for lo, hi in windows]
    epu = [e / d for e, d in zip(events, dau, strict=True)]
    assert epu[1] < 0.75 * epu[0]
    assert dau[1] > 0.9 * dau[0]


def test_instrumentation_bug(worlds):
    s = get_scenario("instrumentation_bug_ios_screen_view")
    con = worlds(s.name)
    (b0, b1), (a0, a1) = _before_after(s)
    seg = {"platform": "ios", "event_type": "screen_view"}
    before = _mean(con, "count(*)", seg, b0, b1, "events")
    after = _mean(con, "count(*)", seg, a0, a1, "events")
    assert after < 0.3 * before
    android = {"platform": "android", "event_type": "screen_view"}
    assert _mean(con, "count(*)", android, a0, a1, "events") > 0.8 * _mean(
        con, "count(*)", android, b0, b1, "events"
    )


def test_bot_spike(worlds):
    s = get_scenario("bot_spike_us_web")
    con = worlds(s.name)
    (b0, b1), (a0, a1) = _before_after(s)
    seg = s.truth.root_cause[0]
    assert _mean(con, "sum(events)", seg, a0, a1, "_mai_user_day") > 3 * _mean(
        con, "sum(events)", seg, b0, b1, "_mai_user_day"
    )


def test_holiday_has_annotation(worlds):
    con = worlds("holiday_japan_new_year")
    rows = con.execute("SELECT kind, country FROM annotations").fetchall()
    assert ("holiday", "JP") in rows


def test_seasonality_only_has_no_lasting_change(worlds):
    s = get_scenario("weekend_seasonality_only")
    con = worlds(s.name)
    weeks = con.execute(
        "SELECT date_trunc('week', day) w, count(*) FROM _mai_user_day "
        "WHERE day >= '2026-01-05' GROUP BY 1 ORDER BY 1"
    ).fetchall()
    counts = [c for _, c in weeks][:-1]  # full weeks only
    assert all(abs(b / a - 1) < 0.08 for a, b in pairwise(counts))


def test_cohort_retention_decays(worlds):
    s = get_scenario("new_cohort_retention_decay")
    con = worlds(s.name)

    def d14(lo: str, hi: str) -> float:
        row = con.execute(
            "SELECT count(DISTINCT r.user_id) / count(DISTINCT u.user_id) FROM users u "
            "LEFT JOIN _mai_user_day r ON r.user_id = u.user_id "
            "AND r.day = u.signup_date + INTERVAL 14 DAY "
            "WHERE u.acquisition_channel = 'social' AND u.signup_date BETWEEN ? AND ?",
            [lo, hi],
        ).fetchone()
        return float(row[0])

    assert d14("2026-01-05", "2026-01-18") < 0.6 * d14("2025-12-08", "2025-12-21")


def test_generate_scenario_errors(tmp_path):
    with pytest.raises(WarehouseError):
        generate_scenario("nope", tmp_path / "x.duckdb")
    with pytest.raises(WarehouseError, match="--users"):
        generate_scenario("seed_android_india", tmp_path / "x.duckdb", users=0)
