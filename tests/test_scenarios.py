"""The scenario library: required scenarios, questions, and planted effects visible in raw data."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise
from typing import get_args

import duckdb
import pytest

from metric_anomaly_investigator.core.models import Mechanism
from metric_anomaly_investigator.warehouse.scenarios import (
    SCENARIOS,
    QuestionStyle,
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


NEW_CLASSES = {
    "rollout_confounder_signups_id",
    "bots_after_release_android_br",
    "version_outage_ios_250",
    "gradual_drift_us",
    "metric_rose_brazil_promo",
    "data_freshness_late_load",
}

# the demo's five questions, kept verbatim (the autopilot's tests and the evals' history use them)
SEED_QUESTIONS = {
    "clear": [
        "DAU dropped significantly after January 28th. What's causing it?",
        "Is there a problem with the Android app after the recent deployment?",
    ],
    "vague": [
        "Android engagement seems down this week. Can you investigate?",
        "Something seems off with our metrics lately",
    ],
    "misleading": ["iOS users are complaining about crashes. Please investigate the DAU drop"],
}


def test_library():
    assert set(SCENARIOS) >= REQUIRED | NEW_CLASSES and len(list_scenarios()) >= 20
    seed = get_scenario("seed_android_india")
    assert seed.world.users == 50_000
    assert (seed.truth.start - seed.world.start).days >= 56
    assert seed.truth.deployment_id == "deploy_003"
    for style, questions in SEED_QUESTIONS.items():
        assert seed.questions[style][: len(questions)] == questions
    for s in list_scenarios():
        assert s.world.users <= 20_000 or s.name == "seed_android_india"
    assert get_scenario("weekend_seasonality_only").truth.direction == "none"
    with pytest.raises(WarehouseError, match="Valid scenarios: seed_android_india"):
        get_scenario("nope")


def _is_number(text: str) -> bool:
    try:
        float(text.rstrip("%"))
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_questions_styles_and_truth(name):
    s = get_scenario(name)
    questions = [q for qs in s.questions.values() for q in qs]
    assert set(s.questions) <= set(get_args(QuestionStyle)) and len(s.questions) >= 3
    assert all(s.questions.values()) and len(questions) >= 8
    assert len(set(questions)) == len(questions)
    assert all(q.strip() == q and q for q in questions)
    assert set(s.truth.wrong_premise) <= set(questions)
    assert s.truth.mechanism is None or s.truth.mechanism in get_args(Mechanism)
    assert 2 <= len(s.truth.follow_ups) <= 3
    for f in s.truth.follow_ups:
        assert f.answer in ("yes", "no") and f.question.endswith("?")
        assert f.question not in questions and all(n.strip() for n in f.names)
    # a follow-up names values the answer must mention: dimension values, event types or
    # deployment ids, never figures
    assert not any(_is_number(n) for f in s.truth.follow_ups for n in f.names)
    if s.truth.direction == "none":
        assert s.truth.root_cause == [] and s.truth.deployment_id is None


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


# -- the new classes at 1,500 users: the planted effect moves its segment, not the others ----------


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("small")
    cache: dict[str, str] = {}

    def get(name: str) -> duckdb.DuckDBPyConnection:
        if name not in cache:
            cache[name] = str(generate_scenario(name, out / f"{name}.duckdb", users=1500, days=70))
        return duckdb.connect(cache[name], read_only=True)

    return get


def _ratio(con, value: str, seg: dict[str, str], before, after, table="_mai_user_day") -> float:
    lo = _mean(con, value, seg, *before, table)
    return _mean(con, value, seg, *after, table) / lo


def _weeks(start: date, before: int = 14, after: int = 7) -> tuple[tuple[date, date], ...]:
    one = timedelta(days=1)
    return (start - before * one, start - one), (start + one, start + after * one)


def test_rollout_confounder_lifts_one_country_with_new_accounts(small):
    s = get_scenario("rollout_confounder_signups_id")
    con = small(s.name)
    before, after = _weeks(s.truth.start)
    assert _ratio(con, "count(*)", {"country": "ID"}, before, after) > 2
    for country in ("IN", "US", "BR", "GB"):
        assert 0.8 < _ratio(con, "count(*)", {"country": country}, before, after) < 1.25
    # the extra users are brand-new accounts in that country, on every platform and channel
    for column, values in (
        ("platform", {"android", "ios", "web"}),
        ("acquisition_channel", {"organic", "paid_search", "social", "referral"}),
    ):
        new = con.execute(
            f"SELECT {column}::VARCHAR, count(*) FROM users WHERE country = 'ID' "
            "AND signup_date = ? GROUP BY 1",
            [s.truth.start],
        ).fetchall()
        assert {v for v, n in new if n >= 20} == values
    # the release two days earlier went to every Android user everywhere: the decoy
    deploy = con.execute(
        "SELECT deployed_at::DATE, regions FROM deployments WHERE deployment_id = ?",
        [s.truth.extra["decoy_deployment"]],
    ).fetchone()
    assert deploy == (s.truth.start - timedelta(days=2), ["all"])


def test_bots_after_a_release_are_new_accounts_with_extreme_activity(small):
    s = get_scenario("bots_after_release_android_br")
    con = small(s.name)
    before, after = _weeks(s.truth.start)
    seg = s.truth.root_cause[0]
    assert _ratio(con, "sum(events)", seg, before, after) > 5
    for other in ({"platform": "android", "country": "IN"}, {"platform": "ios", "country": "BR"}):
        assert 0.8 < _ratio(con, "sum(events)", other, before, after) < 1.25
    per_account = con.execute(
        "SELECT avg(r.events) FROM _mai_user_day r JOIN users u USING (user_id) "
        "WHERE u.signup_date = ? AND r.platform = 'android' AND r.country = 'BR'",
        [s.truth.start],
    ).fetchone()
    assert per_account is not None and per_account[0] > 100
    released = con.execute(
        "SELECT deployed_at::DATE FROM deployments WHERE deployment_id = ?",
        [s.truth.extra["decoy_deployment"]],
    ).fetchone()
    assert released == (s.truth.start - timedelta(days=1),)


def test_version_outage_hits_only_the_new_version_and_ends(small):
    s = get_scenario("version_outage_ios_250")
    con = small(s.name)
    assert s.truth.start is not None and s.truth.end is not None
    before = (s.truth.start - timedelta(days=14), s.truth.start - timedelta(days=1))
    during = (s.truth.start, s.truth.end)
    later = (s.truth.end + timedelta(days=3), s.truth.end + timedelta(days=9))
    assert _ratio(con, "count(*)", {"platform": "ios"}, before, during) < 0.8
    assert _ratio(con, "count(*)", {"platform": "ios"}, before, later) > 0.85
    assert 0.85 < _ratio(con, "count(*)", {"platform": "android"}, before, during) < 1.15
    # iOS users still on older versions keep coming; those on 2.5.0 all but vanish
    lo, hi = during
    on_new, on_old = con.execute(
        "SELECT count(*) FILTER (WHERE app_version = '2.5.0'), "
        "count(*) FILTER (WHERE app_version <> '2.5.0') FROM _mai_user_day "
        "WHERE platform = 'ios' AND day BETWEEN ? AND ?",
        [lo, hi],
    ).fetchone()
    updated = con.execute(
        "SELECT count(DISTINCT user_id) FROM _mai_user_day WHERE platform = 'ios' "
        "AND app_version IN ('2.5.0', '2.5.1')"
    ).fetchone()
    assert updated is not None and updated[0] > 100
    assert on_old > 5 * on_new


def test_gradual_drift_builds_up_week_by_week(small):
    s = get_scenario("gradual_drift_us")
    con = small(s.name)
    start = s.truth.start
    assert start is not None
    weekly = [
        _mean(
            con,
            "count(*)",
            {"country": "US"},
            start + timedelta(days=7 * k),
            start + timedelta(days=7 * k + 6),
            "_mai_user_day",
        )
        for k in range(-2, 5)
    ]
    first, last = weekly[1], weekly[-1]
    assert weekly[2] > 0.88 * first  # no cliff in the first week
    assert last < 0.85 * first  # but a real decline a month on, while the others grow
    before = (start - timedelta(days=7), start - timedelta(days=1))
    after = (start + timedelta(days=28), start + timedelta(days=34))
    for country in ("IN", "BR", "GB", "DE"):
        assert _ratio(con, "count(*)", {"country": country}, before, after) > 0.97


def test_metric_rose_where_the_questions_say_it_fell(small):
    s = get_scenario("metric_rose_brazil_promo")
    con = small(s.name)
    before, after = _weeks(s.truth.start)
    assert s.truth.direction == "spike"
    assert _ratio(con, "count(*)", {"country": "BR"}, before, after) > 1.3
    for country in ("IN", "US", "GB", "ID"):
        assert 0.85 < _ratio(con, "count(*)", {"country": country}, before, after) < 1.2
    words = ("drop", "down", "fall", "decline", "lose", "left")
    falls = [q for q in s.truth.wrong_premise if any(w in q.lower() for w in words)]
    assert len(falls) >= 4
    assert ("campaign", "BR") in con.execute("SELECT kind, country FROM annotations").fetchall()


def test_data_freshness_gap_is_even_across_segments(small, tmp_path):
    from metric_anomaly_investigator.warehouse.connect import open_warehouse

    s = get_scenario("data_freshness_late_load")
    con = small(s.name)
    gap = date.fromisoformat(s.truth.extra["incomplete_from"])
    week = (gap - timedelta(days=7), gap - timedelta(days=1))
    day = (gap, gap)
    ratios = [
        _ratio(con, "count(*)", seg, week, day, "events")
        for seg in ({}, {"country": "IN"}, {"country": "US"}, {"platform": "ios"})
    ]
    assert all(0.3 < r < 0.6 for r in ratios), ratios
    # rows are missing, not people: far more of the day's users remain than of its events
    users = con.execute(
        "SELECT count(DISTINCT (user_id, event_timestamp::DATE)) FILTER (WHERE "
        "event_timestamp::DATE = ?) / (count(DISTINCT (user_id, event_timestamp::DATE)) "
        "FILTER (WHERE event_timestamp::DATE BETWEEN ? AND ?) / 7) FROM events",
        [gap, *week],
    ).fetchone()
    assert users is not None and users[0] > ratios[0] + 0.2
    last = con.execute("SELECT max(event_timestamp) FROM events").fetchone()
    assert last is not None and last[0].hour < 7 and last[0].date() == gap + timedelta(days=1)
    # the product sees the last day as incomplete by its time of day, and the day before, whose
    # rows are thinned over the whole day, as loaded only in part: both are left out
    path = con.execute("SELECT path FROM duckdb_databases() WHERE NOT internal").fetchone()
    con.close()
    assert path is not None
    with open_warehouse(path[0]) as wh:
        left_out = {(p.day, p.kind) for p in wh.schema.partial_days}
        assert left_out == {(gap + timedelta(days=1), "cut"), (gap, "thinned")}
        assert wh.schema.end_date == gap - timedelta(days=1)
