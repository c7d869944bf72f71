"""warehouse.queries on a hand-written warehouse whose every number is known in advance.

Days 2025-03-01..2025-03-28. Before 2025-03-22 users 1-5 are active every day, from then on
users 1-3; user ``u`` logs ``u`` events a day (an ``open``, then ``u - 1`` ``view``), on a phone
when ``u`` is odd, a desktop when even; app version 1.0 before 2025-03-15, 2.0 from then on.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.queries import (
    annotations,
    breakdown,
    deployments,
    metric_series,
    segment_daily_values,
)
from metric_anomaly_investigator.warehouse.series import SPAN_COMBO, SPAN_USER, _stored_span
from metric_anomaly_investigator.warehouse.types import Breakdown, WarehouseError
from metric_anomaly_investigator.warehouse.warehouse import Warehouse

FIRST = date(2025, 3, 1)
CHANGE = date(2025, 3, 22)
LAST = date(2025, 3, 28)
UPGRADE = date(2025, 3, 15)


def _users(day: date) -> range:
    return range(1, 6) if day < CHANGE else range(1, 4)


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    path: Path = tmp_path_factory.mktemp("known") / "known.duckdb"
    con = duckdb.connect(str(path))
    try:
        con.execute(
            "CREATE TABLE events (user_id BIGINT, event_timestamp TIMESTAMP, "
            "event_type VARCHAR, device VARCHAR, version VARCHAR)"
        )
        rows = []
        for i in range((LAST - FIRST).days + 1):
            day = FIRST + timedelta(days=i)
            for u in _users(day):
                device = "phone" if u % 2 else "desktop"
                version = "1.0" if day < UPGRADE else "2.0"
                rows += [
                    (
                        u,
                        datetime.combine(day, datetime.min.time()).replace(hour=8 + k),
                        "view" if k else "open",
                        device,
                        version,
                    )
                    for k in range(u)
                ]
        con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", rows)
        con.execute(
            "CREATE TABLE deployments (deployment_id VARCHAR, deployed_at TIMESTAMP, "
            "platform VARCHAR, app_version VARCHAR, regions VARCHAR, "
            "rollout_percentage VARCHAR, description VARCHAR)"
        )
        con.executemany(
            "INSERT INTO deployments VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                ("d1", datetime(2025, 3, 10, 9), "Android", "1.0", "['IN', 'BR']", "50", "one"),
                ("d2", datetime(2025, 3, 12, 12), None, None, None, "abc", None),
                ("d3", datetime(2025, 4, 2, 12), "ios", "2.0", "all", None, "later"),
            ],
        )
        con.execute(
            "CREATE TABLE annotations (name VARCHAR, kind VARCHAR, starts_at TIMESTAMP, "
            "ends_at TIMESTAMP, scope VARCHAR)"
        )
        con.executemany(
            "INSERT INTO annotations VALUES (?, ?, ?, ?, ?)",
            [
                ("sale", "campaign", datetime(2025, 3, 5), datetime(2025, 3, 8), "device=phone"),
                ("outage", "incident", datetime(2025, 3, 20), datetime(2025, 3, 20, 6), "all"),
            ],
        )
    finally:
        con.close()
    # one user-defined metric, computed straight from the events (a filtered count)
    (path.parent / "mai.toml").write_text(
        '[metrics.phone_events]\ncount = "events"\nwhere = {device = "phone"}\n'
    )
    warehouse = open_warehouse(path)
    yield warehouse
    warehouse.close()


def test_daily_metrics(wh: Warehouse) -> None:
    dau = metric_series(wh, "dau")
    assert (dau.start, dau.end) == (FIRST, LAST)
    assert dau.values() == [5.0] * 21 + [3.0] * 7
    assert metric_series(wh, "events").values() == [15.0] * 21 + [6.0] * 7
    epu = metric_series(wh, "events_per_user")
    assert epu.values() == [3.0] * 21 + [2.0] * 7
    assert (epu.points[0].numerator, epu.points[0].denominator) == (15.0, 5.0)


def test_windows_filters_and_groups(wh: Warehouse) -> None:
    window = metric_series(wh, "dau", start="2025-03-20", end=date(2025, 3, 23))
    assert [p.day for p in window.points] == [date(2025, 3, 20 + i) for i in range(4)]
    assert window.values() == [5.0, 5.0, 3.0, 3.0]
    phone = metric_series(wh, "events", filters={"device": "phone"}, start=CHANGE)
    assert phone.values() == [4.0] * 7  # users 1 and 3
    grouped = metric_series(wh, "dau", group_by=["device"], start="2025-03-21", end=CHANGE)
    by_group = {(p.group["device"], p.day): p.value for p in grouped.points}
    assert by_group == {
        ("desktop", date(2025, 3, 21)): 2.0,
        ("desktop", CHANGE): 1.0,
        ("phone", date(2025, 3, 21)): 3.0,
        ("phone", CHANGE): 2.0,
    }
    assert segment_daily_values(
        wh, "events_per_user", start="2025-03-21", end=CHANGE, filters={"device": "desktop"}
    ) == [3.0, 2.0]  # users 2 and 4 (2 + 4 events), then user 2 alone


def test_wau_counts_distinct_users_of_the_week(wh: Warehouse) -> None:
    wau = metric_series(wh, "wau", start="2025-03-20", end=LAST)
    assert wau.values() == [5.0] * 8 + [3.0]  # the week ending 03-28 is the first without 03-21
    assert [p.denominator for p in wau.points] == [1.0] * 9
    nobody = metric_series(wh, "wau", filters={"device": "tablet"})
    assert [(p.value, p.denominator) for p in nobody.points] == [(0.0, 1.0)] * 28
    # a user last seen six days before the first day asked still counts on it
    assert metric_series(wh, "wau", start="2025-03-27", end=LAST).values() == [5.0, 3.0]


def test_wau_by_event_type_reads_the_events(wh: Warehouse) -> None:
    # the rollup's stored spans know no event type: the spans are computed from the events
    assert _stored_span(wh, ["event_type"], {}) is None
    assert _stored_span(wh, [], {"event_type": ["open"]}) is None
    assert _stored_span(wh, ["device"], {}) == SPAN_USER  # device is constant per user
    # the version varies per user: the per-combination spans, unless an event type is asked
    assert _stored_span(wh, ["version"], {}) == SPAN_COMBO
    assert _stored_span(wh, [], {"version": ["2.0"]}) == SPAN_COMBO
    assert _stored_span(wh, [], {"version": ["1.0", "2.0"]}) is None
    assert _stored_span(wh, ["event_type", "version"], {}) is None
    weekly = [5.0] * 8 + [3.0]
    by_type = metric_series(wh, "wau", start="2025-03-20", end=LAST, group_by=["event_type"])
    assert [(p.group["event_type"], p.value) for p in by_type.points] == [
        *(("open", v) for v in weekly),
        *(("view", v) for v in [4.0] * 8 + [2.0]),  # users 2-5, then 2 and 3
    ]
    opened = metric_series(wh, "wau", start="2025-03-20", end=LAST, filters={"event_type": "open"})
    assert opened.values() == weekly
    phone = metric_series(
        wh, "wau", start="2025-03-20", end=LAST, filters={"event_type": "open", "device": "phone"}
    )
    assert phone.values() == [3.0] * 8 + [2.0]  # users 1, 3 and 5, then 1 and 3


def test_a_user_defined_metric_is_counted_from_the_events(wh: Warehouse) -> None:
    s = metric_series(wh, "phone_events", start="2025-03-20", end=CHANGE)
    assert s.values() == [9.0, 9.0, 4.0]  # users 1, 3 and 5 (1 + 3 + 5 events), then 1 and 3
    assert [p.denominator for p in s.points] == [1.0] * 3


def test_days_without_activity_are_zero(wh: Warehouse) -> None:
    count = metric_series(wh, "events", filters={"device": "tablet"})
    assert [(p.value, p.numerator, p.denominator) for p in count.points] == [(0.0, 0.0, 1.0)] * 28
    ratio = metric_series(wh, "events_per_user", filters={"device": "tablet"})
    assert [(p.value, p.numerator, p.denominator) for p in ratio.points] == [(0.0, 0.0, 0.0)] * 28


def _by_device(wh: Warehouse, metric: str) -> Breakdown:
    """``metric`` by device: the two weeks before the change against the week from it."""
    return breakdown(
        wh, metric, ["device"], baseline=("2025-03-08", "2025-03-21"), current=(CHANGE, LAST)
    )


def test_breakdown_values(wh: Warehouse) -> None:
    bd = _by_device(wh, "events")
    assert (bd.total_before, bd.total_after) == (15.0, 6.0)
    rows = {r.segment["device"]: r for r in bd.rows}
    assert [r.segment["device"] for r in bd.rows] == ["phone", "desktop"]  # largest first
    assert (rows["phone"].before, rows["phone"].after) == (9.0, 4.0)
    assert (rows["desktop"].before, rows["desktop"].after) == (6.0, 2.0)
    assert rows["phone"].abs_change == -5.0 and rows["phone"].contribution == -5.0
    assert rows["phone"].rel_change == pytest.approx(-5 / 9)
    assert rows["phone"].share_of_change == pytest.approx(5 / 9)
    assert rows["desktop"].share_of_change == pytest.approx(4 / 9)
    assert (rows["phone"].n_before, rows["phone"].n_after) == (14 * 9, 7 * 4)  # events


def test_breakdown_of_a_ratio(wh: Warehouse) -> None:
    bd = _by_device(wh, "events_per_user")
    assert (bd.total_before, bd.total_after) == (3.0, 2.0)
    rows = {r.segment["device"]: r for r in bd.rows}
    assert (rows["phone"].before, rows["phone"].after) == (3.0, 2.0)  # (1+3+5)/3, (1+3)/2
    assert (rows["desktop"].before, rows["desktop"].after) == (3.0, 2.0)  # (2+4)/2, 2/1
    assert (rows["phone"].before_num, rows["phone"].before_den) == (9.0, 3.0)
    assert sum(r.contribution for r in bd.rows) == pytest.approx(-1.0)


def test_breakdown_sample_sizes_are_users_unless_events_are_counted(wh: Warehouse) -> None:
    rows = {r.segment["device"]: r for r in _by_device(wh, "dau").rows}
    assert (rows["phone"].before, rows["phone"].after) == (3.0, 2.0)
    assert (rows["phone"].n_before, rows["phone"].n_after) == (3, 2)  # users 1, 3, 5; 1, 3
    assert (rows["desktop"].n_before, rows["desktop"].n_after) == (2, 1)


def _rows(bd: Breakdown, dim: str) -> dict[str, tuple[float, float, float, float, int, int]]:
    return {
        r.segment[dim]: (r.before, r.after, r.after_num, r.after_den, r.n_before, r.n_after)
        for r in bd.rows
    }


def test_overlapping_segments_take_their_totals_from_the_users(wh: Warehouse) -> None:
    """By event type a user-day counts in both segments it has events in: the totals count it
    once."""
    dau = breakdown(
        wh, "dau", ["event_type"], baseline=("2025-03-08", "2025-03-21"), current=(CHANGE, LAST)
    )
    assert (dau.total_before, dau.total_after) == (5.0, 3.0)  # not 5 + 4 and 3 + 2
    assert _rows(dau, "event_type") == {
        "open": (5.0, 3.0, 3.0, 1.0, 5, 3),  # daily means
        "view": (4.0, 2.0, 2.0, 1.0, 4, 2),
    }
    epu = breakdown(
        wh,
        "events_per_user",
        ["event_type"],
        baseline=("2025-03-08", "2025-03-21"),
        current=(CHANGE, LAST),
    )
    assert (epu.total_before, epu.total_after) == (3.0, 2.0)  # 15 / 5, 6 / 3 events per user
    before_after = {r.segment["event_type"]: (r.before, r.after) for r in epu.rows}
    assert before_after == {"open": (1.0, 1.0), "view": (2.5, 1.5)}  # 10 / 4, 3 / 2 views
    # a ratio's contribution: the change of the segment's pull away from the baseline ratio
    # (15 events / 9 user-days), each window weighted by its denominators (9, then 5)
    contrib = {r.segment["event_type"]: r.contribution for r in epu.rows}
    r_b = 15 / 9
    assert contrib == pytest.approx(
        {
            "open": (3 - r_b * 3) / 5 - (5 - r_b * 5) / 9,
            "view": (3 - r_b * 2) / 5 - (10 - r_b * 4) / 9,
        }
    )


def test_a_window_without_activity_totals_zero(wh: Warehouse) -> None:
    old = breakdown(
        wh,
        "dau",
        ["event_type"],
        baseline=("2025-03-08", "2025-03-21"),
        current=(CHANGE, LAST),
        filters={"version": "1.0"},  # seen up to 03-14 only
    )
    assert (old.total_before, old.total_after) == (2.5, 0.0)
    assert {r.segment["event_type"]: (r.before, r.after) for r in old.rows} == {
        "open": (2.5, 0.0),
        "view": (2.0, 0.0),
    }


def _by_version(wh: Warehouse, metric: str) -> Breakdown:
    """``metric`` by app version: two weeks, half of them on 1.0, against the week from the
    change, all on 2.0 (1.0 is absent from it)."""
    return breakdown(
        wh, metric, ["version"], baseline=("2025-03-08", "2025-03-21"), current=(CHANGE, LAST)
    )


def test_a_segment_absent_from_the_current_window_is_zero_there(wh: Warehouse) -> None:
    ratio = _rows(_by_version(wh, "events_per_user"), "version")
    assert ratio == {"2.0": (3.0, 2.0, 6.0, 3.0, 5, 3), "1.0": (3.0, 0.0, 0.0, 0.0, 5, 0)}
    count = _by_version(wh, "phone_events")  # computed from the events
    assert (count.total_before, count.total_after) == (9.0, 4.0)
    assert {v: row[:4] for v, row in _rows(count, "version").items()} == {
        "1.0": (4.5, 0.0, 0.0, 1.0),  # 7 of 14 days with 9 phone events
        "2.0": (4.5, 4.0, 4.0, 1.0),
    }
    wau = _by_version(wh, "wau")
    assert (wau.total_before, wau.total_after) == (5.0, 33 / 7)
    rows = {r.segment["version"]: (r.before, r.after, r.n_before, r.n_after) for r in wau.rows}
    # 1.0: 5 users a day up to 03-20 (13 days), none from the week without it (03-21);
    # the sample size is the mean WAU, rounded (half to even)
    assert rows == {"1.0": (65 / 14, 0.0, 5, 0), "2.0": (35 / 14, 33 / 7, 2, 5)}


def test_tied_rows_come_in_segment_order_whichever_window_has_them(wh: Warehouse) -> None:
    # the upgrade week against the week before: each version is in one window only
    bd = breakdown(
        wh,
        "phone_events",
        ["device", "version"],
        baseline=(UPGRADE, "2025-03-21"),
        current=("2025-03-08", "2025-03-14"),
    )
    order = [(r.segment["device"], r.segment["version"], r.contribution) for r in bd.rows]
    assert order == [
        ("phone", "2.0", -9.0),
        ("phone", "1.0", 9.0),
        ("desktop", "1.0", 0.0),  # no phone events on a desktop: tied, in segment order
        ("desktop", "2.0", 0.0),
    ]


def test_a_ratio_without_a_baseline_denominator(wh: Warehouse) -> None:
    bd = breakdown(
        wh,
        "events_per_user",
        ["device"],
        baseline=("2025-03-08", "2025-03-14"),
        current=(CHANGE, LAST),
        filters={"version": "2.0"},  # not out before 03-15: the baseline is empty
    )
    assert (bd.total_before, bd.total_after) == (0.0, 2.0)
    # against no baseline ratio, a segment contributes its share of the current ratio
    contrib = {r.segment["device"]: r.contribution for r in bd.rows}
    assert contrib == pytest.approx({"phone": 4 / 3, "desktop": 2 / 3})


def test_breakdown_refusals_name_the_window(wh: Warehouse) -> None:
    with pytest.raises(WarehouseError) as exc:
        breakdown(wh, "dau", [], baseline=(FIRST, CHANGE), current=(CHANGE, LAST))
    names = ", ".join(wh.schema.dimension_names)
    assert str(exc.value) == (
        f"Give at least one dimension to break down by. Valid dimensions: {names}."
    )
    with pytest.raises(WarehouseError, match=r"^The baseline window 2030-01-01\.\.2030-01-07 is "):
        breakdown(
            wh, "dau", ["device"], baseline=("2030-01-01", "2030-01-07"), current=(CHANGE, LAST)
        )
    with pytest.raises(WarehouseError, match=r"^The current window is inverted: it starts "):
        breakdown(wh, "dau", ["device"], baseline=(FIRST, CHANGE), current=(LAST, CHANGE))


def test_deployments_parse_and_filter(wh: Warehouse) -> None:
    deps = deployments(wh, start=FIRST, end=LAST)
    assert [d.deployment_id for d in deps] == ["d1", "d2"]
    d1, d2 = deps
    assert (d1.platform, d1.app_version, d1.regions, d1.rollout_percentage) == (
        "Android",
        "1.0",
        ["IN", "BR"],
        50.0,
    )
    assert d1.deployed_at == datetime(2025, 3, 10, 9) and d1.description == "one"
    assert d1.problems == []
    assert (d2.platform, d2.app_version, d2.regions, d2.rollout_percentage) == (
        None,
        None,
        ["all"],
        None,
    )
    assert d2.problems == ["rollout_percentage 'abc' is not a number"]
    assert [d.deployment_id for d in deployments(wh)] == ["d1", "d2", "d3"]
    assert [d.deployment_id for d in deployments(wh, platform="android")] == ["d1"]
    assert [d.deployment_id for d in deployments(wh, version="2.0")] == ["d3"]
    assert [d.deployment_id for d in deployments(wh, region="US")] == ["d2", "d3"]
    assert [d.deployment_id for d in deployments(wh, region="BR")] == ["d1", "d2", "d3"]
    assert [d.deployment_id for d in deployments(wh, end="2025-03-10")] == ["d1"]
    assert [d.deployment_id for d in deployments(wh, start="2025-03-11", end=LAST)] == ["d2"]
    assert deployments(wh, start="2025-03-13", end="2025-04-01") == []


def test_annotations_overlapping_the_window(wh: Warehouse) -> None:
    sale, outage = annotations(wh)
    assert (sale.name, sale.kind, sale.scope) == ("sale", "campaign", {"device": "phone"})
    assert (outage.name, outage.kind, outage.scope) == ("outage", "incident", {})
    assert [a.name for a in annotations(wh, start="2025-03-08", end="2025-03-19")] == ["sale"]
    assert [a.name for a in annotations(wh, start="2025-03-09", end="2025-03-19")] == []
    assert [a.name for a in annotations(wh, start="2025-03-20", end="2025-03-20")] == ["outage"]
