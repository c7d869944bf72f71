"""Metrics computed straight from the events: filtered counts, sums of a column and filtered
distinct users (conversion, error rate, revenue, mean latency…), per day and group.

The per-user-day rollup only knows unfiltered events, users and sessions; a metric of events or
distinct users filtered on event_type reads the per-(user, day, event_type) rollup when there is
one (counting its rows, not distinct users, where it holds one row per user, day and kept event
type), any other metric with a ``where`` or a summed column reads the events table (or, for a
metric of its measures, the pre-aggregated table beside them). Its filter values are the
metric's own (validated when it was defined), so they are part of the query's shape, not bound
parameters.
"""

from datetime import date

import ibis
import ibis.expr.types as ir
import pandas as pd

from . import metrics as catalogue
from .query_plan import WindowParams, apply_filters, label_nulls, run_shape, user_dims_needed
from .warehouse import ParamFn, Warehouse


def _by_type(wh: Warehouse, m: catalogue.Metric) -> bool:
    """Whether the per-(user, day, event_type) rollup serves ``m``: events or distinct users,
    filtered on event_type only."""
    return wh.type_rollup is not None and all(
        a.measure in ("events", "users") and all(col == "event_type" for col, _ in a.where)
        for a in m.sides
    )


def _one_row_per_user(wh: Warehouse, agg: catalogue.Aggregate, group: list[str]) -> bool:
    """Whether the per-(user, day, event_type) rollup holds at most one row per user, day and
    group among the rows ``agg`` keeps, so counting its rows counts the distinct users: the
    rollup is unique per (user, day, event_type) and one event type is kept per group (a
    single value filtered, or event_type among the group columns). Days stay apart in every
    query, so windows of several days change nothing."""
    kept = [values for col, values in agg.where if col == "event_type"]
    return wh.type_rollup_unique and (
        "event_type" in group or any(len(values) == 1 for values in kept)
    )


def _countable(wh: Warehouse, m: catalogue.Metric, group: list[str]) -> bool:
    """Whether every side of ``m`` is a sum of the rollup's events or a count of its rows
    (see :func:`_one_row_per_user`) per event type, so one query counting rows and events per
    (day, group, event_type) serves it."""
    return _by_type(wh, m) and all(
        a.measure == "events" or _one_row_per_user(wh, a, group) for a in m.sides
    )


def _aggregate(ev: ir.Table, agg: catalogue.Aggregate, *, rolled: bool = False) -> ir.Scalar:
    """One side of a metric over event rows (or, ``rolled``, rollup rows counting ``events``)."""
    preds = [ev[col].cast("string").isin(list(values)) for col, values in agg.where]
    where = ibis.and_(*preds) if preds else None
    if rolled and agg.measure == "events":
        counted: ir.Scalar = ev.events.sum(where=where).fill_null(0)
        return counted
    if agg.measure == "sum":
        assert agg.column is not None
        total: ir.Scalar = ev[agg.column].cast("float64").sum(where=where).fill_null(0)
        return total
    if agg.measure == "users":
        return ev.user_id.nunique(where=where)
    if agg.measure == "sessions":
        return ev.session_id.nunique(where=where)
    return ev.count(where=where)


def _read_rows(ev: ir.Table, m: catalogue.Metric) -> ir.BooleanValue | None:
    """The rows ``m`` reads: those any of its sides keeps (None: every row)."""
    sides = []
    for agg in m.sides:
        if not agg.where:
            return None
        sides.append(ibis.and_(*(ev[col].cast("string").isin(list(v)) for col, v in agg.where)))
    return ibis.or_(*sides)


def direct_daily(
    wh: Warehouse,
    m: catalogue.Metric,
    group: list[str],
    flt: dict[str, list[str]],
    s: date,
    e: date,
) -> pd.DataFrame:
    """Columns: day, *group, num, den (1 without a denominator), n (the sample size: the
    events, or rows of a pre-aggregated table, that the metric reads — for a filtered metric
    only those its filters keep); only days with events."""

    if _countable(wh, m, group):
        return _by_type_counts(wh, m, group, flt, s, e)
    rolled = _by_type(wh, m)

    def build(param: ParamFn) -> ir.Table:
        w = WindowParams(param, "w")
        if rolled and wh.type_rollup is not None:
            r = wh.type_rollup
            r = apply_filters(r.filter(r.day >= w.start, r.day <= w.end), flt, param)
            den = m.denominator
            return r.group_by(["day", *group]).agg(
                num=_aggregate(r, m.numerator, rolled=True),
                n=r.events.sum(where=_read_rows(r, m)).fill_null(0),
                den=ibis.literal(1.0) if den is None else _aggregate(r, den, rolled=True),
            )
        ev = wh.aggregates if m.table == "aggregates" and wh.aggregates is not None else wh.events
        ev = ev.filter(ev.event_timestamp >= w.lo, ev.event_timestamp < w.hi)
        need_users = user_dims_needed(wh, set(group) | set(flt))
        if need_users and wh.users is not None and m.table == "events":
            ev = ev.inner_join(wh.users.select("user_id", *need_users), "user_id")
        ev = apply_filters(ev, flt, param)
        ev = ev.mutate(day=ev.event_timestamp.date())
        aggs = {"num": _aggregate(ev, m.numerator), "n": ev.count(where=_read_rows(ev, m))}
        aggs["den"] = ibis.literal(1.0) if m.denominator is None else _aggregate(ev, m.denominator)
        return ev.group_by(["day", *group]).agg(**aggs)

    shape = ("direct", m, rolled, tuple(group))
    df = label_nulls(run_shape(wh, shape, build, flt, w=(s, e)), group)
    df["day"] = pd.to_datetime(df["day"]).dt.date
    for col in ("num", "den", "n"):
        df[col] = df[col].astype(float)
    return df[["day", *group, "num", "den", "n"]]


def _by_type_counts(
    wh: Warehouse,
    m: catalogue.Metric,
    group: list[str],
    flt: dict[str, list[str]],
    s: date,
    e: date,
    *,
    daily: bool = True,
) -> pd.DataFrame:
    """:func:`direct_daily` of a :func:`_countable` metric: rollup rows and events per (day,
    group, event_type), each side then summed over the event types it keeps (grouping on an
    enum is far faster than one filtered aggregate per side); not ``daily``: per (group,
    event_type) over the whole window, without a day column."""
    keys = (["day"] if daily else []) + group + ([] if "event_type" in group else ["event_type"])

    def build(param: ParamFn) -> ir.Table:
        w = WindowParams(param, "w")
        assert wh.type_rollup is not None
        r = wh.type_rollup
        r = apply_filters(r.filter(r.day >= w.start, r.day <= w.end), flt, param)
        return r.group_by(keys).agg(rows=r.count(), events=r.events.sum())

    shape = ("by_type", daily, tuple(group))
    df = label_nulls(run_shape(wh, shape, build, flt, w=(s, e)), group)
    types = df["event_type"].astype("string")  # as text, like the filters' values

    def kept(agg: catalogue.Aggregate) -> pd.Series:
        rows = pd.Series(True, index=df.index)
        for _, values in agg.where:
            rows &= types.isin(list(values))
        return rows

    def side(agg: catalogue.Aggregate) -> pd.Series:
        counted = df["rows" if agg.measure == "users" else "events"].astype(float)
        return counted.where(kept(agg), 0.0)

    read = pd.Series(False, index=df.index)
    for agg in m.sides:  # the event types any side keeps (see _read_rows)
        read |= kept(agg)
    df["num"] = side(m.numerator)
    df["den"] = 1.0 if m.denominator is None else side(m.denominator)
    df["n"] = df["events"].astype(float).where(read, 0.0)
    out = df.groupby((["day"] if daily else []) + group, sort=False).agg(
        num=("num", "sum"),
        den=("den", "sum" if m.denominator is not None else "first"),
        n=("n", "sum"),
    )
    out = out.reset_index()
    if not daily:
        return out[[*group, "num", "den", "n"]]
    out["day"] = pd.to_datetime(out["day"]).dt.date
    return out[["day", *group, "num", "den", "n"]]


def direct_window(
    wh: Warehouse,
    m: catalogue.Metric,
    group: list[str],
    flt: dict[str, list[str]],
    s: date,
    e: date,
) -> tuple[pd.DataFrame, list[float]]:
    """Rows (*group, num, den, n) whose sums per segment are the metric's over the window, and
    [numerator, denominator] summed over the days with all segments together.

    A ratio countable by event type (:func:`_countable`) is counted over the window at once
    (its daily counts add up); its totals are the segments' sum when each counted rollup row
    is in exactly one segment. Otherwise the rows are the days of :func:`direct_daily`, and
    the totals come from the ungrouped days (distinct users across segments do not add up).
    """
    countable = _countable(wh, m, group)
    if countable and m.denominator is not None:
        df = _by_type_counts(wh, m, group, flt, s, e, daily=False)
    else:
        df = direct_daily(wh, m, group, flt, s, e)
    if countable and _countable(wh, m, []):
        num = float(df["num"].sum())
        if m.denominator is None:  # daily rows: the days with events
            return df, [num, float(df["day"].nunique())]
        return df, [num, float(df["den"].sum())]
    tot = direct_daily(wh, m, [], flt, s, e)
    return df, [float(tot["num"].sum()), float(tot["den"].sum())]
