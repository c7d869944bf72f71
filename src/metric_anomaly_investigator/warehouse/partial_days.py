"""Incomplete edge days: a warehouse still loading its current day, an export starting mid-day.

An edge day — the last day of the data, or the first — counts as incomplete, and is left out of
``schema.start_date..end_date`` (so every default window ends at the last complete day;
``schema.partial_days`` says what was left out), when, compared with the up to
``PARTIAL_REFERENCE_DAYS`` neighbouring days (at least ``PARTIAL_MIN_REFERENCE`` with events):

- its data stops early (or starts late): the neighbours usually log at least
  ``PARTIAL_MIN_MISSING_SHARE`` of their events after the edge day's last event time of day
  (before its first); with date-only timestamps nothing is ever after, so nothing is left out;
- and that is no chance of a quiet day: at that day's own pace (its events vs the neighbours'
  up to the same time), at least ``PARTIAL_MIN_MISSING_EVENTS`` events were due in the part it
  lacks, so seeing none of them is all but impossible if the day were complete.

A last day loaded only in part over the whole day (a late batch) is found by
:mod:`.late_load`, after the days cut by time of day, and left out likewise.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from .late_load import as_day, late_loads, time_of_day
from .types import PartialDay
from .warehouse import Warehouse

PARTIAL_REFERENCE_DAYS = 7
PARTIAL_MIN_REFERENCE = 3
PARTIAL_MIN_MISSING_SHARE = 0.1
PARTIAL_MIN_MISSING_EVENTS = 20.0


def partial_days(wh: Warehouse, lo: date, hi: date) -> list[PartialDay]:
    """The incomplete edge days among ``lo`` and ``hi`` (see the module docstring)."""
    if (hi - lo).days < PARTIAL_MIN_REFERENCE:
        return []
    one, span = timedelta(days=1), timedelta(days=PARTIAL_REFERENCE_DAYS)
    ts = wh.events.event_timestamp
    t = wh.events.mutate(day=ts.date(), tod=ts.hour() * 3600 + ts.minute() * 60 + ts.second())

    def days(first: date, last: date) -> ir.BooleanValue:  # a range on the raw timestamps
        def at(d: date) -> ir.Scalar:
            return ibis.literal(datetime.combine(d, time()), type=ts.type())

        return (t.event_timestamp >= at(first)) & (t.event_timestamp < at(last + one))

    edges = t.filter(days(lo, lo) | days(hi, hi))
    cuts = wh.execute(
        edges.group_by("day").aggregate(
            first=edges.tod.min(), last=edges.tod.max(), n=edges.count()
        )
    )
    cut = {as_day(r.day): (int(r.first), int(r.last), int(r.n)) for r in cuts.itertuples()}
    if lo not in cut or hi not in cut:
        return late_loads(wh, lo, hi)
    start_from, end_until = cut[lo][0], cut[hi][1]
    near = t.filter(days(lo + one, lo + span) | days(hi - span, hi - one))
    ref = wh.execute(
        near.group_by("day").aggregate(
            n=near.count(),
            until_end_cut=near.count(where=near.tod <= end_until),
            from_start_cut=near.count(where=near.tod >= start_from),
        )
    )
    ref["day"] = [as_day(d) for d in ref["day"]]
    found: list[PartialDay] = []
    end_refs = ref[(ref.day < hi) & (ref.day >= hi - span)]
    end = _partial_edge(hi, "end", cut[hi], end_refs["n"], end_refs["until_end_cut"])
    if end is not None:
        found.append(end)
        hi -= one
    start_refs = ref[(ref.day > lo) & (ref.day <= min(hi, lo + span))]
    start = _partial_edge(lo, "start", cut[lo], start_refs["n"], start_refs["from_start_cut"])
    if start is not None:
        found.insert(0, start)
        lo += one
    return found + late_loads(wh, lo, hi)


def _partial_edge(
    day: date,
    edge: Literal["start", "end"],
    cut: tuple[int, int, int],
    ref_n: pd.Series,
    ref_inside: pd.Series,
) -> PartialDay | None:
    """The edge ``day`` as a :class:`PartialDay` if its data is cut short, else None.

    ``cut``: the day's first and last event time of day (seconds) and its event count;
    ``ref_n`` / ``ref_inside``: the neighbouring days' events, all and within the same hours.
    """
    if len(ref_n) < PARTIAL_MIN_REFERENCE:
        return None
    first, last, n = cut
    n_ref = ref_n.to_numpy(dtype=float)
    inside = ref_inside.to_numpy(dtype=float)
    missing = n_ref - inside
    share = float(np.median(missing / np.maximum(n_ref, 1.0)))
    usual_inside = float(np.median(inside))
    pace = n / usual_inside if usual_inside > 0 else 1.0
    if share < PARTIAL_MIN_MISSING_SHARE or pace * float(np.median(missing)) < (
        PARTIAL_MIN_MISSING_EVENTS
    ):
        return None
    return PartialDay(
        day=day,
        edge=edge,
        data_from=time_of_day(first),
        data_until=time_of_day(last),
        events=n,
        usual_events=float(np.median(n_ref)),
    )
