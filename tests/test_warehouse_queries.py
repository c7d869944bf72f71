"""Every query against a small generated world (the demo story at 2,500 users)."""

from __future__ import annotations

import statistics
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from metric_anomaly_investigator.warehouse import queries as q
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.types import WarehouseError

BASE = (date(2026, 1, 7), date(2026, 1, 27))
CUR = (date(2026, 1, 29), date(2026, 2, 11))


def test_schema(small_wh):
    s = small_wh.schema
    assert s.metrics == ["dau", "wau", "events", "events_per_user", "sessions_per_user"]
    assert s.start_date == date(2025, 12, 11) and s.end_date == date(2026, 2, 11)
    assert {"platform", "country", "app_version", "event_type"} <= set(s.dimension_names)
    assert s.dimension("acquisition_channel").level == "user"
    assert s.dimension("platform").level == "event"
    assert s.dimension("country").values[0] == "IN"
    assert "app_open" in s.event_types
    assert s.has_users and s.has_deployments and s.has_annotations and s.row_count > 0


def test_series_contiguous_and_ratio_parts(small_wh):
    s = q.metric_series(small_wh, "events_per_user", start=BASE[0], end=CUR[1])
    assert s.days() == [BASE[0] + timedelta(days=i) for i in range((CUR[1] - BASE[0]).days + 1)]
    for p in s.points:
        assert p.value == pytest.approx(p.numerator / p.denominator)
    dau = q.metric_series(small_wh, "dau", start=BASE[0], end=CUR[1]).values()
    assert [p.denominator for p in s.points] == dau


def test_grouped_series_sums_to_total(small_wh):
    total = q.metric_series(small_wh, "dau", start=BASE[0], end=BASE[1]).values()
    grouped = q.metric_series(small_wh, "dau", start=BASE[0], end=BASE[1], group_by=["platform"])
    assert {g["platform"] for g in grouped.groups()} == {"android", "ios", "web"}
    sums = [0.0] * len(total)
    for g in grouped.groups():
        for i, p in enumerate(grouped.for_group(g)):
            sums[i] += p.value
    assert sums == total


def test_user_level_filter_and_missing_days_are_zero(small_wh, small_parquet_dir):
    s = q.metric_series(small_wh, "events", filters={"plan": "pro", "country": ["IN", "BR"]})
    counted = duckdb.sql(
        "SELECT CAST(e.event_timestamp AS DATE) AS day, count(*) AS n "
        f"FROM '{small_parquet_dir / 'events.parquet'}' e "
        f"JOIN '{small_parquet_dir / 'users.parquet'}' u USING (user_id) "
        "WHERE u.plan = 'pro' AND e.country IN ('IN', 'BR') GROUP BY day"
    ).df()
    per_day = {pd.Timestamp(d).date(): n for d, n in zip(counted["day"], counted["n"], strict=True)}
    days = small_wh.schema.start_date, small_wh.schema.end_date
    every = [days[0] + timedelta(days=i) for i in range((days[1] - days[0]).days + 1)]
    assert s.days() == every
    assert s.values() == [float(per_day.get(d, 0)) for d in every] and sum(s.values()) > 0
    none = q.metric_series(small_wh, "dau", filters={"country": "no-such-country"})
    assert {(p.value, p.numerator, p.denominator) for p in none.points} == {(0.0, 0.0, 1.0)}


def test_wau_bounds(small_wh):
    dau = q.metric_series(small_wh, "dau", start=CUR[0], end=CUR[1]).values()
    wau = q.metric_series(small_wh, "wau", start=CUR[0], end=CUR[1]).values()
    assert all(w >= d for w, d in zip(wau, dau, strict=True))
    # WAU on a day equals distinct users over the trailing 7 days
    day = CUR[1]
    ev = small_wh.events
    week = ev.filter(
        ev.event_timestamp.date() >= day - timedelta(days=6), ev.event_timestamp.date() <= day
    )
    assert wau[-1] == week.user_id.nunique().execute()


def test_event_type_series_uses_raw_events(small_wh):
    s = q.metric_series(small_wh, "events", start=CUR[0], end=CUR[1], group_by=["event_type"])
    total = q.metric_series(small_wh, "events", start=CUR[0], end=CUR[1]).values()
    by_day = [sum(p.value for p in s.points if p.day == d) for d in s.days()]
    assert by_day == total


def test_breakdown_finds_android_india(small_wh):
    b = q.breakdown(small_wh, "dau", ["platform", "country"], baseline=BASE, current=CUR)
    top = b.rows[0]
    assert top.segment == {"platform": "android", "country": "IN"}
    assert top.rel_change is not None and top.rel_change < -0.4
    assert sum(r.share_of_change or 0 for r in b.rows) == pytest.approx(1.0)
    assert sum(r.before for r in b.rows) == pytest.approx(b.total_before)
    assert top.n_before > 0 and top.before_den == 1.0


def test_breakdown_ratio_contributions_add_up(small_wh):
    b = q.breakdown(small_wh, "events_per_user", ["platform"], baseline=BASE, current=CUR)
    assert sum(r.contribution for r in b.rows) == pytest.approx(b.total_after - b.total_before)
    for r in b.rows:
        assert r.before == pytest.approx(r.before_num / r.before_den)


def test_breakdown_wau_and_event_type_and_min_size(small_wh):
    w = q.breakdown(small_wh, "wau", ["country"], baseline=BASE, current=CUR)
    assert w.rows and w.total_before > 0
    for (lo, hi), total in ((BASE, w.total_before), (CUR, w.total_after)):  # daily means
        assert total == pytest.approx(
            statistics.mean(q.metric_series(small_wh, "wau", start=lo, end=hi).values())
        )
    # a user has one country: the segments' WAU adds up to the whole
    assert sum(r.before for r in w.rows) == pytest.approx(w.total_before)
    assert sum(r.after for r in w.rows) == pytest.approx(w.total_after)
    e = q.breakdown(small_wh, "events", ["event_type"], baseline=BASE, current=CUR)
    assert sum(r.before for r in e.rows) == pytest.approx(e.total_before)
    big = q.breakdown(small_wh, "dau", ["country"], baseline=BASE, current=CUR, min_size=10**9)
    assert big.rows == []


def test_breakdown_with_unequal_windows_uses_daily_means(small_wh):
    one = q.breakdown(small_wh, "events", ["platform"], baseline=(BASE[1], BASE[1]), current=CUR)
    day = q.metric_series(small_wh, "events", start=BASE[1], end=BASE[1]).values()[0]
    assert one.total_before == pytest.approx(day)


def test_deployments_and_annotations(small_wh):
    deps = q.deployments(small_wh)
    assert [d.deployment_id for d in deps] == sorted(
        (d.deployment_id for d in deps),
        key=lambda i: next(x.deployed_at for x in deps if x.deployment_id == i),
    )
    d3 = q.deployments(small_wh, start=date(2026, 1, 28), end=date(2026, 1, 28))
    assert [d.deployment_id for d in d3] == ["deploy_003"]
    assert d3[0].regions == ["IN", "BR"] and d3[0].platform == "android"
    assert [d.deployment_id for d in q.deployments(small_wh, region="IN", platform="Android")][
        -1
    ] == "deploy_003"
    assert all(d.deployment_id != "deploy_003" for d in q.deployments(small_wh, region="US"))
    assert [d.deployment_id for d in q.deployments(small_wh, version="2.3.0", platform="ios")] == [
        "deploy_004"
    ]
    ann = q.annotations(small_wh, start=date(2025, 12, 20), end=date(2025, 12, 21))
    assert [a.name for a in ann] == ["Year-end campaign"] and ann[0].scope == {}
    assert q.annotations(small_wh, start=date(2026, 2, 1)) == []


def _reference_retention(
    parquet: Path,
    cohort_start: date,
    cohort_end: date,
    days: list[int],
    grain: str,
    plan: str | None = None,
    platform: str | None = None,
) -> list[tuple[date, int, dict[int, float | None]]]:
    """Day-N retention straight from the Parquet export, in plain pandas: the cohort is the
    users who signed up in it (on ``plan``; with ``platform``, those active on it in the window
    read), day N counts a member active (on ``platform``) exactly N days after signup, among the
    members whose day N is within the data."""
    users = duckdb.sql(f"SELECT * FROM '{parquet / 'users.parquet'}'").df()
    ev = duckdb.sql(
        f"SELECT DISTINCT user_id, CAST(event_timestamp AS DATE) AS day, CAST(platform AS VARCHAR)"
        f" AS platform FROM '{parquet / 'events.parquet'}'"
    ).df()
    ev["day"] = pd.to_datetime(ev["day"]).dt.date
    data_start, data_end = ev["day"].min(), ev["day"].max()
    read_to = min(data_end, cohort_end + timedelta(days=max(days)))
    if platform is not None:
        ev = ev[ev["platform"] == platform]
    ev = ev[(ev["day"] >= max(cohort_start, data_start)) & (ev["day"] <= read_to)]
    active = set(zip(ev["user_id"], ev["day"], strict=True))
    users["signup"] = pd.to_datetime(users["signup_date"]).dt.date
    members = users[(users["signup"] >= cohort_start) & (users["signup"] <= cohort_end)]
    if plan is not None:
        members = members[members["plan"].astype(str) == plan]
    if platform is not None:
        members = members[members["user_id"].isin(set(ev["user_id"]))]
    cohort_of = (lambda d: d) if grain == "day" else (lambda d: d - timedelta(days=d.weekday()))
    out = []
    for cohort in sorted({cohort_of(d) for d in members["signup"]}):
        group = members[[cohort_of(d) == cohort for d in members["signup"]]]
        rates: dict[int, float | None] = {}
        for n in days:
            seen = [
                (u, s)
                for u, s in zip(group["user_id"], group["signup"], strict=True)
                if s + timedelta(days=n) <= data_end
            ]
            hits = sum((u, s + timedelta(days=n)) in active for u, s in seen)
            rates[n] = hits / len(seen) if seen else None
        out.append((cohort, len(group), rates))
    return out


def _shown(r: q.Retention) -> list[tuple[date, int, dict[int, float | None]]]:
    return [(c.cohort, c.size, dict(c.retention)) for c in r.cohorts]


def test_retention(small_wh, small_parquet_dir):
    weekly = q.retention(small_wh, cohort_start=date(2025, 12, 15), cohort_end=date(2026, 2, 11))
    expected = _reference_retention(
        small_parquet_dir, date(2025, 12, 15), date(2026, 2, 11), [1, 7, 14, 28], "week"
    )
    assert _shown(weekly) == expected
    assert weekly.cohorts[0].cohort == date(2025, 12, 15)  # a Monday
    assert weekly.cohorts[-1].retention[28] is None  # not observable yet
    assert 0 < (weekly.cohorts[0].retention[1] or 0) < 1
    daily = q.retention(
        small_wh,
        cohort_start=date(2025, 12, 15),
        cohort_end=date(2025, 12, 21),
        cohort_grain="day",
        days=[1],
        filters={"platform": "ios", "plan": "free"},
    )
    expected = _reference_retention(
        small_parquet_dir,
        date(2025, 12, 15),
        date(2025, 12, 21),
        [1],
        "day",
        plan="free",
        platform="ios",
    )
    assert _shown(daily) == expected and 0 < len(expected) <= 7


def test_segment_daily_values(small_wh, small_parquet_dir):
    vals = q.segment_daily_values(
        small_wh, "dau", start=BASE[0], end=BASE[1], filters={"platform": "android"}
    )
    counted = duckdb.sql(
        "SELECT CAST(event_timestamp AS DATE) AS day, count(DISTINCT user_id) AS n "
        f"FROM '{small_parquet_dir / 'events.parquet'}' WHERE platform = 'android' "
        "GROUP BY day"
    ).df()
    per_day = {pd.Timestamp(d).date(): n for d, n in zip(counted["day"], counted["n"], strict=True)}
    days = [BASE[0] + timedelta(days=i) for i in range((BASE[1] - BASE[0]).days + 1)]
    assert vals == [float(per_day.get(d, 0)) for d in days]
    assert len(vals) == 21 and min(vals) > 0


def test_windows_are_clipped_or_rejected(small_wh):
    s = q.metric_series(small_wh, "dau", start=date(2020, 1, 1), end=date(2025, 12, 12))
    assert s.start == small_wh.schema.start_date and len(s.points) == 2
    with pytest.raises(WarehouseError, match="outside the data"):
        q.metric_series(small_wh, "dau", start=date(2030, 1, 1), end=date(2030, 2, 1))
    with pytest.raises(WarehouseError, match="inverted"):
        q.breakdown(small_wh, "dau", ["country"], baseline=(CUR[1], CUR[0]), current=CUR)


def test_retention_needs_users(small_parquet_dir, tmp_path):
    import shutil

    for f in ("events", "deployments"):
        shutil.copy(small_parquet_dir / f"{f}.parquet", tmp_path / f"{f}.parquet")
    with open_warehouse(tmp_path) as wh:
        assert not wh.schema.has_users and not wh.schema.has_annotations
        assert q.annotations(wh) == []
        with pytest.raises(WarehouseError, match="users table"):
            q.retention(wh, cohort_start=date(2026, 1, 1), cohort_end=date(2026, 1, 7))
