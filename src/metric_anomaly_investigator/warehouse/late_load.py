"""A last day loaded only in part over the whole day: a late batch, not a change in the product.

The rows a late load holds so far are a random part of the day's rows. That leaves most users
with some rows, so the day's **events per active user** collapse while its active users fall
far less, and the loss is the same share in every hour and every segment. A real change looks
different: an outage or a holiday takes users away together with their events (events per user
hold), and a change in one segment or a few hours moves that segment's or those hours' share.

The last day of the range (after the days :mod:`.partial_days` finds cut by time of day), then
the day before it if the last one was, counts as partly loaded when, against the
``REFERENCE_DAYS`` days before those two (at least ``MIN_REFERENCE`` with events, at least
``MIN_SAME_WEEKDAY`` of its own weekday; a day's usual level is the median of its weekday's days,
each moved on by the typical week-over-week change, so a growing product is not read as falling):

1. there is enough to tell: its weekday usually has ``MIN_USUAL_EVENTS`` events and
   ``MIN_USUAL_USERS`` active users;
2. its events per active user are far below usual: at most ``MAX_LOADED`` of it, and at least
   ``Z_FAR`` robust standard deviations below (the spread of every reference day around the
   usual level its weekday's other days give it, at least ``SPREAD_FLOOR``);
3. its active users are the ones a random thinning leaves: keeping a share ``p`` of the rows
   (its events over the usual events) keeps a user with ``k`` rows on a usual day with
   probability ``1 - (1 - p) ** k``, and the users this predicts (from the usual day's users and
   rows per user) are within ``Z_FIT`` robust standard deviations (of the users) of the ones it
   has, and the day has lost users beyond chance (``Z_FIT`` of them below usual): users staying
   while doing less lose none, a holiday loses more than a thinning to its events would;
4. its events are spread over the hours of the day, and over the values of every event-level
   dimension, as on a usual day of its weekday: the total variation distance of its shares from
   theirs is no larger than the largest of any reference day's from the other days of its
   weekday, scaled by ``sqrt(events of that day / events of this day)`` because sampling noise
   grows as the events thin out. Bins with fewer than ``MIN_BIN_EVENTS`` expected events are
   pooled; the hours need at least ``MIN_HOURS`` bins, so date-only timestamps (every event at
   midnight) never make a day partly loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from .types import PartialDay
from .warehouse import Warehouse

# four weeks: four of each weekday for its usual level, 28 days for a robust spread
REFERENCE_DAYS = 28
MIN_REFERENCE = 14  # two weeks: a spread from fewer days is itself too noisy
MIN_SAME_WEEKDAY = 2  # a weekday's usual from one day would take that day's chance as usual
MAX_CANDIDATES = 2  # the last day and the one before it (a load at most two days behind)
# at 1,000 events a day thinned to 40 %, the noise in a day's shares over 24 hours (total
# variation about 0.1) stays under half of what a drop confined to some hours or one segment
# needs to move to cut events per user by a fifth (0.2)
MIN_USUAL_EVENTS = 1_000
MIN_USUAL_USERS = 100  # below it one user is over 1 % of the day's users: too coarse for step 3
# weekends and holidays move events per user by about a tenth: a load is called late only when
# it lacks at least a fifth, twice the usual calendar swing
MAX_LOADED = 0.8
Z_FAR = 5.0  # "far outside": beyond anything 28 days of day-to-day noise plausibly produce
# a consistency check: 3 standard deviations hold 99.7 % of a good fit (and of a day with no
# users lost, which a late load's users must therefore fall beyond)
Z_FIT = 3.0
SPREAD_FLOOR = 0.02  # a real product's days rarely agree closer than 2 %: no z from a zero spread
MIN_BIN_EVENTS = 5.0  # the usual rule for a share's sampling noise to be near normal
MIN_HOURS = 6  # fewer hours with data cannot show the loss is the same all day long
HOURS = "hour"


def late_loads(wh: Warehouse, lo: date, hi: date) -> list[PartialDay]:
    """The last days of ``lo..hi`` loaded only in part, latest first (see the module docstring)."""
    if "user_id" not in wh.events.columns:  # a pre-aggregated table: no users to count
        return []
    one = timedelta(days=1)
    first = max(lo, hi - (REFERENCE_DAYS + MAX_CANDIDATES - 1) * one)
    last_ref = hi - MAX_CANDIDATES * one
    t = _window(wh, first, hi)
    daily = {
        as_day(r.day): (float(r.events), float(r.users))
        for r in wh.execute(_daily(wh, t, first, hi)).itertuples()
        if r.users > 0
    }
    ref = {d: v for d, v in daily.items() if d <= last_ref}
    if len(ref) < MIN_REFERENCE:
        return []
    epu = _Usual({d: float(np.log(e / u)) for d, (e, u) in ref.items()})
    active = _Usual({d: float(np.log(u)) for d, (_, u) in ref.items()})
    volume = _Usual({d: float(np.log(e)) for d, (e, _) in ref.items()})
    detail = _Detail(wh, t, sorted(ref))
    found: list[PartialDay] = []
    for day in (hi - k * one for k in range(MAX_CANDIDATES)):
        same = [d for d in ref if d.weekday() == day.weekday()]
        if day not in daily or len(same) < MIN_SAME_WEEKDAY:
            break
        events, users = daily[day]
        usual_events, usual_users = np.exp(volume.at(day)), np.exp(active.at(day))
        shift = float(np.log(events / users)) - epu.at(day)
        loaded = float(np.exp(shift))
        if (
            usual_events < MIN_USUAL_EVENTS
            or usual_users < MIN_USUAL_USERS
            or loaded > MAX_LOADED
            or shift > -Z_FAR * epu.spread
        ):
            break
        kept = _kept_share(min(events / usual_events, 1.0), detail.rows_per_user(same))
        misfit = float(np.log(users / max(kept * usual_users, 1.0)))
        lost = float(np.log(users / usual_users))
        if abs(misfit) > Z_FIT * active.spread or lost > -Z_FIT * active.spread:
            break
        checked = detail.uniform_over(day)
        if checked is None:
            break
        times = detail.times(day)
        found.append(
            PartialDay(
                day=day,
                edge="end",
                kind="thinned",
                data_from=time_of_day(times[0]),
                data_until=time_of_day(times[1]),
                events=int(events),
                usual_events=float(usual_events),
                loaded_share=loaded,
                uniform_over=checked,
            )
        )
    return found


class _Detail:
    """The grouped queries behind steps 3 and 4, run only for a day that passed steps 1 and 2."""

    def __init__(self, wh: Warehouse, t: ir.Table, ref_days: Sequence[date]) -> None:
        self.wh, self.t, self.ref_days = wh, t, list(ref_days)
        self._rows: pd.DataFrame | None = None
        self._counts: dict[str, pd.DataFrame] | None = None

    def rows_per_user(self, days: Sequence[date]) -> pd.Series:
        """Users by their rows on ``days`` (reference days): index k rows, value users."""
        if self._rows is None:
            r = self.wh.rollup
            if r is not None and self.wh.rollup_unique:  # one row per user-day: its events
                per_user = r.filter(r.day.isin(self.ref_days)).select("day", k=r.events)
            else:
                t = self.t
                per_user = t.group_by(["day", "user_id"]).aggregate(k=t.count())
            hist = per_user.group_by(["day", "k"]).aggregate(users=per_user.count())
            found = self.wh.execute(hist)
            found["day"] = [as_day(d) for d in found["day"]]
            self._rows = found
        rows = self._rows[self._rows.day.isin(list(days))]
        return rows.groupby("k")["users"].sum()

    def times(self, day: date) -> tuple[int, int]:
        """The day's first and last event time of day, in seconds."""
        t = _window(self.wh, day, day)
        found = self.wh.execute(t.aggregate(first=t.tod.min(), last=t.tod.max()))
        return int(found["first"].iloc[0]), int(found["last"].iloc[0])

    def uniform_over(self, day: date) -> list[str] | None:
        """The dimensions the day's loss was checked uniform over (None: it is not, or the
        hours cannot show it)."""
        counts = self.counts()
        hours = _uniform(counts[HOURS], day, self.ref_days)
        if hours is None or hours < MIN_HOURS:
            return None
        checked: list[str] = []
        for name, table in counts.items():
            if name == HOURS:
                continue
            bins = _uniform(table, day, self.ref_days)
            if bins == 0:
                return None
            if bins is not None:
                checked.append(name)
        return checked

    def counts(self) -> dict[str, pd.DataFrame]:
        """Events per day (rows) and bin (columns): the hours, then each dimension's values.

        The hours come from the events; the dimensions from the rollups when there are (far
        fewer rows), else from the events too; one query.
        """
        if self._counts is None:
            t, wh = self.t, self.wh
            by_hour = t.group_by(["day", t.event_timestamp.hour().cast("string").name("bin")])
            parts = [by_hour.aggregate(n=t.count().cast("int64")).mutate(dim=ibis.literal(HOURS))]
            names = [*wh.event_dims, *(["event_type"] if wh.has_event_type else [])]
            for name in names:
                source = wh.type_rollup if name == "event_type" else wh.rollup
                if source is not None and name in source.columns:
                    rows = source.filter(source.day.isin(self.ref_days + self._days_after()))
                    n = rows.events.sum().cast("int64")
                else:
                    rows, n = t, t.count().cast("int64")
                value = rows[name].cast("string").fill_null("(null)").name("bin")
                part = rows.group_by(["day", value]).aggregate(n=n)
                parts.append(part.mutate(dim=ibis.literal(name)))
            found = wh.execute(ibis.union(*parts))
            found["day"] = [as_day(d) for d in found["day"]]
            self._counts = {
                name: found[found.dim == name].pivot_table(
                    index="day", columns="bin", values="n", aggfunc="sum", fill_value=0
                )
                for name in [HOURS, *names]
                if (found.dim == name).any()
            }
        return self._counts

    def _days_after(self) -> list[date]:
        """The candidate days: those after the reference days."""
        last = max(self.ref_days)
        return [last + timedelta(days=k + 1) for k in range(MAX_CANDIDATES)]


def _uniform(table: pd.DataFrame, day: date, ref_days: Sequence[date]) -> int | None:
    """How many bins show the day's events spread like its weekday's usual (0: not so).

    None when fewer than two bins hold enough events to compare.
    """
    counts = {d: table.loc[d].to_numpy(dtype=float) for d in [*ref_days, day] if d in table.index}
    ref = [d for d in ref_days if d in counts]
    if day not in counts or not ref:
        return None
    n_day = float(counts[day].sum())
    usual = np.sum([counts[d] for d in ref], axis=0)
    big = usual / max(float(usual.sum()), 1.0) * n_day >= MIN_BIN_EVENTS
    if int(big.sum()) < 2:
        return None
    binned = {d: np.append(c[big], c[~big].sum()) for d, c in counts.items()}

    def distance(d: date) -> float | None:
        others = [o for o in ref if o != d and o.weekday() == d.weekday()]
        if not others:
            return None
        x, base = binned[d], np.sum([binned[o] for o in others], axis=0)
        return 0.5 * float(np.abs(x / max(x.sum(), 1.0) - base / max(base.sum(), 1.0)).sum())

    own = distance(day)
    tolerances = [
        dist * float(np.sqrt(binned[d].sum() / max(n_day, 1.0)))
        for d in ref
        if (dist := distance(d)) is not None
    ]
    if own is None or not tolerances:
        return None
    return int(big.sum()) if own <= max(tolerances) else 0


def _kept_share(p: float, rows_per_user: pd.Series) -> float:
    """The share of a usual day's users left with a row when only a random share ``p`` of its
    rows is kept: a user with ``k`` rows keeps one with probability ``1 - (1 - p) ** k``."""
    k = rows_per_user.index.to_numpy(dtype=float)
    users = rows_per_user.to_numpy(dtype=float)
    return float((users * (1.0 - (1.0 - p) ** k)).sum() / max(users.sum(), 1.0))


class _Usual:
    """The usual level of a daily value (logged): the days of the same weekday, each moved on by
    the typical week-over-week change (a growing product's last weeks are higher), and the
    robust standard deviation of every day around the level its other weekdays give it."""

    def __init__(self, logs: dict[date, float]) -> None:
        self.logs = logs
        week = timedelta(days=7)
        changes = [v - logs[d - week] for d, v in logs.items() if d - week in logs]
        self.growth = float(np.median(changes)) if changes else 0.0
        residuals = np.asarray(
            [v - self.at(d, without=d) for d, v in logs.items() if self._same(d, without=d)]
        )
        mad = float(np.median(np.abs(residuals - np.median(residuals)))) if len(residuals) else 0
        self.spread = max(1.4826 * mad, SPREAD_FLOOR)

    def at(self, day: date, without: date | None = None) -> float:
        """The usual level on ``day`` (from the other days of its weekday than ``without``)."""
        return float(
            np.median(
                [self.logs[d] + self.growth * (day - d).days / 7 for d in self._same(day, without)]
            )
        )

    def _same(self, day: date, without: date | None) -> list[date]:
        return [d for d in self.logs if d != without and d.weekday() == day.weekday()]


def _window(wh: Warehouse, first: date, last: date) -> ir.Table:
    """The events of ``first..last`` (a range on the raw timestamps) with their day and time of
    day in seconds."""
    ts = wh.events.event_timestamp

    def at(d: date) -> ir.Scalar:
        return ibis.literal(datetime.combine(d, time()), type=ts.type())

    inside = wh.events.filter((ts >= at(first)) & (ts < at(last + timedelta(days=1))))
    stamp = inside.event_timestamp
    return inside.mutate(
        day=stamp.date(), tod=stamp.hour() * 3600 + stamp.minute() * 60 + stamp.second()
    )


def _daily(wh: Warehouse, t: ir.Table, first: date, last: date) -> ir.Table:
    """Events and active users per day of ``first..last``: from the per-user-day rollup when
    there is one (far fewer rows), else from the events ``t``."""
    r = wh.rollup
    if r is None:
        return t.group_by("day").aggregate(events=t.count(), users=t.user_id.nunique())
    r = r.filter((r.day >= ibis.literal(first)) & (r.day <= ibis.literal(last)))
    users = r.count() if wh.rollup_unique else r.user_id.nunique()
    return r.group_by("day").aggregate(events=r.events.sum(), users=users)


def time_of_day(seconds: int) -> time:
    """Seconds since midnight as a time of day."""
    return time(seconds // 3600, seconds // 60 % 60, seconds % 60)


def as_day(value: Any) -> Any:
    """A backend's day value as a :class:`datetime.date` (pandas timestamps, dates)."""
    return value.date() if hasattr(value, "date") and callable(value.date) else value
