"""Schema discovery: the dimensions, event types, date range and rollups of an open warehouse.

Every low-cardinality text column (at most ``MAX_CARDINALITY`` distinct values) of ``events`` is
an event-level dimension, likewise on ``users`` a user-level one (an event column wins over a
user column of the same name); ``event_type`` is a dimension too. What discovery found is kept in
the schema cache (:func:`discovery_state`) and taken back for an unchanged source
(:func:`restore`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from .layout import EVENT_RESERVED, ROLLUP_TABLE, ROLLUP_VERSION, TYPE_ROLLUP_TABLE, USER_RESERVED
from .metrics import available as available_metrics
from .partial_days import partial_days
from .rollups import build_rollup, find_user_constant, load_stored_rollup
from .timerange import EPOCH, BulkRange, as_date, bulk_range, examples
from .types import DimensionInfo, IgnoredEvents, WarehouseError, WarehouseSchema
from .warehouse import Warehouse

MAX_CARDINALITY = 200
MAX_VALUES = 50


def discover(wh: Warehouse, *, stored_rollup: bool) -> None:
    """Discover the schema of ``wh`` (``stored_rollup``: trust a rollup stored in its file)."""
    ev = wh.events
    ev_text = [
        c
        for c, t in ev.schema().items()
        if t.is_string() and c not in EVENT_RESERVED and c not in wh.exclude
    ]
    us_text: list[str] = []
    if wh.users is not None:
        us_text = [
            c
            for c, t in wh.users.schema().items()
            if t.is_string() and c not in USER_RESERVED and c not in ev_text and c not in wh.exclude
        ]
    if stored_rollup:
        wh.rollup = load_stored_rollup(wh, ev_text + us_text)
        wh.rollup_source = None if wh.rollup is None else "stored"
    candidates = ev_text + us_text
    if wh.rollup is None and wh.cache is not None and wh.cache.attach():
        wh.rollup = load_stored_rollup(wh, candidates, database=wh.cache.alias)
        wh.rollup_source = None if wh.rollup is None else "cache"
        if wh.rollup is not None:  # columns left out of the cached rollup: not dimensions
            ev_text = [c for c in ev_text if c in wh.rollup.columns]
            us_text = [c for c in us_text if c in wh.rollup.columns]
    source_ev = wh.rollup if wh.rollup is not None else ev
    source_us = wh.rollup if wh.rollup is not None else wh.users
    weight = "events" if wh.rollup is not None else None
    dims: list[DimensionInfo] = []
    for name, level, table in [(c, "event", source_ev) for c in ev_text] + [
        (c, "user", source_us) for c in us_text
    ]:
        assert table is not None
        info = _dimension_info(wh, table, name, level, weight)
        if info is not None:
            dims.append(info)
            (wh.event_dims if level == "event" else wh.user_dims).append(name)
    event_types: list[str] = []
    if wh.has_event_type:
        typed = wh.type_rollup
        info = (
            _dimension_info(wh, typed, "event_type", "event", "events")
            if typed is not None
            else _dimension_info(wh, ev, "event_type", "event", None)
        )
        if info is not None:
            dims.append(info)
            event_types = sorted(info.values)
    if wh.rollup is None and wh.is_duckdb and "user_id" in ev.columns:  # not on aggregates
        build_rollup(wh)
    if wh.cache is not None and wh.cache.building:
        wh.rollup_source = "cache"
        wh.cache.seal(
            {
                "rollup_version": ROLLUP_VERSION,
                "candidates": ",".join(candidates),
                "user_day_unique": str(wh.rollup_unique).lower(),
                "user_day_type_unique": str(wh.type_rollup_unique).lower(),
            }
        )
    if wh.rollup is not None:
        find_user_constant(wh)
    row_count = int(wh.execute(ev.count()))
    metrics = available_metrics(ev.columns)
    lo, hi, ignored = _bulk_range(wh)
    partial = partial_days(wh, lo, hi)
    for p in partial:
        if p.edge == "end":
            hi -= timedelta(days=1)
        else:
            lo += timedelta(days=1)
    wh.schema = WarehouseSchema(
        metrics=metrics,
        dimensions=dims,
        start_date=lo,
        end_date=hi,
        partial_days=partial,
        ignored=ignored,
        event_types=event_types,
        has_users=wh.users is not None,
        has_deployments=wh.deployments_table is not None,
        has_annotations=wh.annotations_table is not None,
        row_count=row_count,
    )


def discovery_state(wh: Warehouse, *, users_dropped: bool) -> dict[str, Any]:
    """What discovery found, for the schema cache (taken back by :func:`restore`)."""
    return {
        "schema": wh.schema.model_dump(mode="json"),
        "users_dropped": users_dropped,
        "rollup": wh.rollup_source,
        "type_rollup": wh.type_rollup is not None,
        "rollup_unique": wh.rollup_unique,
        "wau_spans": wh.wau_spans,
        "type_rollup_unique": wh.type_rollup_unique,
        "event_dims": wh.event_dims,
        "user_dims": wh.user_dims,
        "user_constant": sorted(wh.user_constant),
    }


def restore(wh: Warehouse, state: Mapping[str, Any]) -> bool:
    """Take a cached discovery of this unchanged source; False if it cannot be used."""
    try:  # read every entry before setting anything: a failure leaves nothing half-set
        source = state["rollup"]
        if source == "cache" and not (wh.cache is not None and wh.cache.attach()):
            return False
        rollup: ir.Table | None = None
        type_rollup: ir.Table | None = None
        if source is not None:
            where = f"{wh.cache.alias}.main" if wh.cache and source == "cache" else None
            rollup = wh.con.table(ROLLUP_TABLE, database=where)
            if state["type_rollup"]:
                type_rollup = wh.con.table(TYPE_ROLLUP_TABLE, database=where)
        schema = WarehouseSchema.model_validate(state["schema"])
        flags = [bool(state[k]) for k in ("rollup_unique", "wau_spans", "type_rollup_unique")]
        event_dims = [str(d) for d in state["event_dims"]]
        user_dims = [str(d) for d in state["user_dims"]]
        user_constant = frozenset(str(d) for d in state["user_constant"])
    except Exception:  # an old or damaged entry: discover afresh
        return False
    wh.rollup, wh.type_rollup = rollup, type_rollup
    wh.schema, wh.rollup_source = schema, source
    wh.rollup_unique, wh.wau_spans, wh.type_rollup_unique = flags
    wh.event_dims, wh.user_dims, wh.user_constant = event_dims, user_dims, user_constant
    return True


def _bulk_range(wh: Warehouse) -> tuple[date, date, IgnoredEvents | None]:
    """The first and last day of the bulk of the events, and the stray events outside it.

    Counts events per day number (days since 1970-01-01: any date the backend holds) and
    leaves out stray far-off days (see :mod:`.timerange`).
    """
    src = (
        wh.rollup
        if wh.rollup is not None
        else wh.events.mutate(day=wh.events.event_timestamp.date())
    )
    bulk, lo, hi = _bulk_of(wh, src, "events" if wh.rollup is not None else None, "events")
    ignored = None
    if bulk.ignored_events:
        ignored = IgnoredEvents(
            events=bulk.ignored_events,
            total=bulk.total_events,
            kept_from=lo,
            kept_until=hi,
            examples=examples(bulk.ignored_days),
        )
    return lo, hi, ignored


def _bulk_of(
    wh: Warehouse, src: ir.Table, weight: str | None, what: str
) -> tuple[BulkRange, date, date]:
    """The bulk range of ``src`` (a ``day`` column; rows per day, or ``weight`` summed) and its
    first and last day; ``what`` names the table in errors."""
    src = src.filter(src.day.notnull())
    src = src.mutate(dn=src.day.delta(ibis.literal(EPOCH), unit="day"))
    n = src.count() if weight is None else src[weight].sum()
    daily = wh.execute(src.group_by("dn").aggregate(n=n))
    if daily.empty:
        raise WarehouseError(f"The {what} table of {wh.label} is empty.")
    bulk = bulk_range(daily["dn"].to_numpy(), daily["n"].to_numpy())
    try:
        return bulk, as_date(bulk.lo), as_date(bulk.hi)
    except OverflowError:
        raise WarehouseError(
            f"The {what} table of {wh.label} is dated after 9999-12-31; check its time "
            "column (epoch numbers in an unexpected unit?)."
        ) from None


def _dimension_info(
    wh: Warehouse, table: ir.Table, name: str, level: str, weight: str | None
) -> DimensionInfo | None:
    col = table[name]
    card = int(wh.execute(col.nunique()))
    if card == 0 or card > MAX_CARDINALITY:
        return None
    present = table.filter(col.notnull())
    agg = present.group_by(name).agg(n=present[weight].sum() if weight else present.count())
    df = wh.execute(agg.order_by([ibis.desc("n"), name]).limit(MAX_VALUES))
    values = [str(v) for v in df[name]]
    return DimensionInfo(name=name, level=level, values=values, cardinality=card)


def beside_dimensions(wh: Warehouse, table: ir.Table, names: list[str]) -> None:
    """Record a pre-aggregated table's dimensions ``names`` beside the events' (discovering the
    values of those the events lack), which dimensions each table has, and the days each
    covers: the analysis range is their union, each metric's series its own table's days (the
    bulk of its rows, stray far-off days left out as for the events)."""
    schema = wh.schema
    what = f"pre-aggregated {schema.aggregates_beside}"
    _, lo, hi = _bulk_of(wh, table.mutate(day=table.event_timestamp.date()), None, what)
    schema.table_ranges = {"events": (schema.start_date, schema.end_date), "aggregates": (lo, hi)}
    schema.start_date, schema.end_date = min(lo, schema.start_date), max(hi, schema.end_date)
    events_dims = schema.dimension_names
    for name in names:
        if name not in events_dims:
            info = _dimension_info(wh, table, name, "event", None)
            if info is not None:
                schema.dimensions.append(info)
    have = set(schema.dimension_names)
    schema.table_dimensions = {
        "events": events_dims,
        "aggregates": [n for n in names if n in have],
    }
