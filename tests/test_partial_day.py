"""Incomplete days at the edges of the data are detected at schema discovery and left out.

Worlds are built with pandas from ``byo_worlds`` (complete days, uniform times of day) and then
cut, thinned or reshaped to tell a loading gap from a real change.
"""

from __future__ import annotations

import asyncio
from datetime import time, timedelta
from pathlib import Path

import pandas as pd
import pytest
from byo_worlds import START, events, write_parquet_dir

from metric_anomaly_investigator.core.orchestrator import Orchestrator
from metric_anomaly_investigator.warehouse import queries as q
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.types import WarehouseError
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
