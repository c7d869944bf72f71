"""Incomplete days at the edges of the data are detected at schema discovery and left out.

Worlds are built with pandas from ``byo_worlds`` (complete days, uniform times of day) and then
cut, thinned or reshaped to tell a loading gap from a real change.
"""

from __future__ import annotations

import asyncio
from datetime import date, time, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from byo_worlds import START, events, write_parquet_dir

from metric_anomaly_investigator.core.orchestrator import Orchestrator
from metric_anomaly_investigator.warehouse import queries as q
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.types import PartialDay, WarehouseError
from metric_anomaly_investigator.warehouse.warehouse import Warehouse

DAYS = 28
FIRST = START.date()
LAST = FIRST + timedelta(days=DAYS - 1)


def _open(tmp_path: Path, ev: pd.DataFrame) -> Warehouse:
    return open_warehouse(write_parquet_dir(tmp_path / "world", ev))


def _cut_end(ev: pd.DataFrame, hours: float) -> pd.DataFrame:
    """The world with its last day's events stopping ``hours`` into the day."""
    stop = pd.Timestamp(LAST) + pd.Timedelta(hours=hours)
    return ev[ev.event_timestamp < stop]


def test_a_last_day_cut_at_six_is_left_out_and_named(tmp_path: Path) -> None:
    ev = _cut_end(events(days=DAYS), 6)
    last_seen = ev.event_timestamp.max().time().replace(microsecond=0)
    with _open(tmp_path, ev) as wh:
        s = wh.schema
        assert s.end_date == LAST - timedelta(days=1)
        assert s.start_date == FIRST
        assert s.partial_day == LAST
        [partial] = s.partial_days
        assert partial.edge == "end" and partial.data_until == last_seen
        assert partial.events == int((ev.event_timestamp.dt.date == LAST).sum())
        note = f"{LAST} is incomplete (data until {last_seen:%H:%M}"
        assert s.coverage_notes()[0].startswith(note)
        assert s.coverage_notes()[0].endswith("and was left out.")
        # every default window ends at the last complete day
        series = q.metric_series(wh, "dau")
        assert series.days()[-1] == s.end_date
        with pytest.raises(WarehouseError, match=f"{LAST} is incomplete"):
            q.metric_series(wh, "dau", start=LAST, end=LAST)


def test_the_cut_day_no_longer_reads_as_a_drop(tmp_path: Path) -> None:
    with _open(tmp_path, _cut_end(events(days=DAYS), 6)) as wh:
        orch = Orchestrator(wh, model="autopilot")

        async def go() -> None:
            async for _event in orch.investigate("Why did DAU drop?"):
                pass

        asyncio.run(go())
        assert orch.record is not None and orch.record.report is not None
        report = orch.record.report
        assert report.anomaly.direction == "none"
        assert not report.affected_segments
        assert f"{LAST} is incomplete" in report.summary


def test_complete_days_are_all_kept(tmp_path: Path) -> None:
    with _open(tmp_path, events(days=DAYS)) as wh:
        assert (wh.schema.start_date, wh.schema.end_date) == (FIRST, LAST)
        assert wh.schema.partial_days == [] and wh.schema.partial_day is None
        assert wh.schema.coverage_notes() == []


def test_a_real_drop_on_the_last_day_stays_in(tmp_path: Path) -> None:
    """Fewer users all day long is a change to investigate, not a loading gap."""
    ev = events(days=DAYS)
    on_last = ev.event_timestamp.dt.date == LAST
    ev = ev[~on_last | (ev.user_id % 3 == 0)]
    with _open(tmp_path, ev) as wh:
        assert wh.schema.end_date == LAST and wh.schema.partial_days == []


def test_date_only_timestamps_keep_a_low_last_day(tmp_path: Path) -> None:
    """Without times of day nothing shows the day was cut short: its value is kept."""
    ev = _cut_end(events(days=DAYS), 6)
    ev = ev.assign(event_timestamp=ev.event_timestamp.dt.normalize())
    with _open(tmp_path, ev) as wh:
        assert wh.schema.end_date == LAST and wh.schema.partial_days == []


def test_a_thin_world_is_not_judged_on_chance(tmp_path: Path) -> None:
    """A dozen events a day may well all fall early: too few to call the day incomplete."""
    ev = _cut_end(events(users=12, days=DAYS), 14)
    with _open(tmp_path, ev) as wh:
        assert wh.schema.end_date == LAST and wh.schema.partial_days == []


def test_a_first_day_starting_late_is_left_out(tmp_path: Path) -> None:
    ev = events(days=DAYS)
    ev = ev[ev.event_timestamp >= pd.Timestamp(FIRST) + pd.Timedelta(hours=18)]
    with _open(tmp_path, ev) as wh:
        s = wh.schema
        assert (s.start_date, s.end_date) == (FIRST + timedelta(days=1), LAST)
        [partial] = s.partial_days
        assert partial.edge == "start" and partial.data_from >= time(18)
        assert s.partial_day is None
        assert "data from 18:" in s.coverage_notes()[0]


def test_both_edges_cut(tmp_path: Path) -> None:
    ev = _cut_end(events(days=DAYS), 3)
    ev = ev[ev.event_timestamp >= pd.Timestamp(FIRST) + pd.Timedelta(hours=12)]
    with _open(tmp_path, ev) as wh:
        s = wh.schema
        assert (s.start_date, s.end_date) == (FIRST + timedelta(days=1), LAST - timedelta(days=1))
        assert [p.edge for p in s.partial_days] == ["start", "end"]


def test_generated_worlds_have_complete_days(small_wh: Warehouse) -> None:
    assert small_wh.schema.partial_days == []


# -- a last day loaded only in part over the whole day (a late load) ------------------------------

BIG = 3_000  # users: about 1,500 active a day, 3,000 events (enough to tell)


def _thin(
    ev: pd.DataFrame, day: date, keep: float, rows: pd.Series | None = None, seed: int = 5
) -> pd.DataFrame:
    """The world with a random ``keep`` share of ``day``'s rows (of ``rows`` only, if given)."""
    rng = np.random.default_rng(seed)
    hit = ev.event_timestamp.dt.date == day
    if rows is not None:
        hit &= rows
    return ev[~hit | (rng.random(len(ev)) < keep)]


def _repeats(ev: pd.DataFrame) -> pd.Series:
    """Rows after a user's first of the day."""
    return ev.assign(day=ev.event_timestamp.dt.date).duplicated(["user_id", "day"])


def _late_days(tmp_path: Path, ev: pd.DataFrame) -> list[PartialDay]:
    with _open(tmp_path, ev) as wh:
        return [p for p in wh.schema.partial_days if p.kind == "thinned"]


def test_a_thinned_last_day_is_left_out_with_a_note(tmp_path: Path) -> None:
    ev = _thin(events(users=BIG, days=DAYS), LAST, 0.4)
    with _open(tmp_path, ev) as wh:
        s = wh.schema
        assert s.end_date == LAST - timedelta(days=1) and s.partial_day == LAST
        [late] = s.partial_days
        assert (late.kind, late.edge, late.day) == ("thinned", "end", LAST)
        assert late.events == int((ev.event_timestamp.dt.date == LAST).sum())
        assert late.loaded_share is not None and 0.5 < late.loaded_share < 0.8
        assert late.uniform_over == ["device", "market", "tier", "event_type"]
        [note] = s.coverage_notes()
        assert note.startswith(f"{LAST} looks partly loaded: ")
        assert "of the usual events per active user on every device, market, tier and " in note
        assert note.endswith("left out of the analysis — re-run once the load completes.")
        with pytest.raises(WarehouseError, match=f"{LAST} looks partly loaded"):
            q.metric_series(wh, "events", start=LAST, end=LAST)


def test_a_cut_last_day_and_a_thinned_day_before_are_both_left_out(tmp_path: Path) -> None:
    ev = _thin(_cut_end(events(users=BIG, days=DAYS), 7), LAST - timedelta(days=1), 0.4)
    with _open(tmp_path, ev) as wh:
        s = wh.schema
        assert [(p.day, p.kind) for p in s.partial_days] == [
            (LAST, "cut"),
            (LAST - timedelta(days=1), "thinned"),
        ]
        assert s.end_date == LAST - timedelta(days=2) and s.partial_day == LAST


def test_two_thinned_last_days_are_both_left_out(tmp_path: Path) -> None:
    ev = _thin(_thin(events(users=BIG, days=DAYS), LAST, 0.2), LAST - timedelta(days=1), 0.5)
    late = _late_days(tmp_path, ev)
    assert [p.day for p in late] == [LAST, LAST - timedelta(days=1)]


def test_a_real_outage_on_the_last_day_is_not_a_late_load(tmp_path: Path) -> None:
    """Users gone together with all their events: events per user hold."""
    ev = events(users=BIG, days=DAYS)
    gone = (ev.event_timestamp.dt.date == LAST) & (ev.user_id % 5 < 3)
    assert _late_days(tmp_path, ev[~gone]) == []


@pytest.mark.parametrize("where", ["one device", "some hours"])
def test_a_drop_in_one_segment_or_some_hours_is_not_a_late_load(tmp_path: Path, where: str) -> None:
    """Rows lost on top of a thinning in one segment (or part of the day): uneven, so real."""
    ev = events(users=BIG, days=DAYS)
    if where == "one device":
        ev = _thin(_thin(ev, LAST, 0.5), LAST, 0.2, ev.device == "desktop", seed=6)
    else:
        ev = _thin(ev, LAST, 0.2, ev.event_timestamp.dt.hour < 14)
    assert _late_days(tmp_path, ev) == []


def test_fewer_events_per_user_for_everyone_is_not_a_late_load(tmp_path: Path) -> None:
    """Every user still comes but does less: a thinning would have lost users too."""
    ev = events(users=BIG, days=DAYS)
    on_last = ev.event_timestamp.dt.date == LAST
    assert _late_days(tmp_path, ev[~(on_last & _repeats(ev) & (ev.index % 2 == 0))]) == []


def _weekly(days: int) -> pd.DataFrame:
    """A world whose weekends have a third fewer users, with a third fewer events each (an
    events-per-user dip as deep as a late load's, every week)."""
    ev = events(users=BIG, days=days)
    ev = ev[~((ev.event_timestamp.dt.day_of_week >= 5) & (ev.user_id % 3 == 0))]
    weekend = ev.event_timestamp.dt.day_of_week >= 5
    return ev[~(weekend & _repeats(ev) & (ev.index % 3 > 0))]


@pytest.mark.parametrize("quieter", [False, True])
def test_a_weekend_last_day_is_not_a_late_load(tmp_path: Path, quieter: bool) -> None:
    days = 30  # 2025-03-01 is a Saturday: the last day is a Sunday
    ev = _weekly(days)
    last = FIRST + timedelta(days=days - 1)
    assert last.weekday() == 6
    if quieter:  # a quiet Sunday: a further quarter of the users away
        ev = ev[~((ev.event_timestamp.dt.date == last) & (ev.user_id % 4 == 1))]
    assert _late_days(tmp_path, ev) == []


@pytest.mark.parametrize(("away", "dropped"), [(2, 2), (10, 4)])
def test_a_holiday_is_not_a_late_load(tmp_path: Path, away: int, dropped: int) -> None:
    """One in ``away`` users away, the rest dropping ``dropped`` in 6 of their repeat rows:
    events per user fall a little (a thinning would not lose those users), or more but with
    fewer users lost than a thinning that deep would lose."""
    ev = events(users=BIG, days=DAYS)
    on_last = ev.event_timestamp.dt.date == LAST
    ev = ev[~(on_last & (ev.user_id % away == 0))]
    on_last = ev.event_timestamp.dt.date == LAST
    less = on_last & _repeats(ev) & (ev.index % 6 < dropped)
    assert _late_days(tmp_path, ev[~less]) == []


def test_too_few_events_to_tell_leave_nothing_out(tmp_path: Path) -> None:
    ev = _thin(events(days=DAYS), LAST, 0.3)  # about 300 events a day
    with _open(tmp_path, ev) as wh:
        assert wh.schema.end_date == LAST and wh.schema.partial_days == []


def test_date_only_timestamps_never_make_a_late_load(tmp_path: Path) -> None:
    ev = _thin(events(users=BIG, days=DAYS), LAST, 0.3)
    ev = ev.assign(event_timestamp=ev.event_timestamp.dt.normalize())
    with _open(tmp_path, ev) as wh:
        assert wh.schema.end_date == LAST and wh.schema.partial_days == []


def test_a_thinned_last_day_no_longer_reads_as_a_drop(tmp_path: Path) -> None:
    with _open(tmp_path, _thin(events(users=BIG, days=DAYS), LAST, 0.4)) as wh:
        orch = Orchestrator(wh, model="autopilot")

        async def go() -> None:
            async for _event in orch.investigate("Why did events crash yesterday?"):
                pass

        asyncio.run(go())
        assert orch.record is not None and orch.record.report is not None
        report = orch.record.report
        assert report.anomaly.direction == "none"
        assert f"{LAST} looks partly loaded" in report.summary
