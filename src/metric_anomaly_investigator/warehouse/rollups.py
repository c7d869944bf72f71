"""The per-user-per-day rollups that queries read instead of the raw events.

``ROLLUP_TABLE`` holds per user and day: the event-level dimensions, events, sessions, and for
WAU the days to the user's next active day (``SPAN_USER`` / ``SPAN_COMBO``);
``TYPE_ROLLUP_TABLE`` adds ``event_type`` to the key. Generated worlds store them; for any other
DuckDB-backed source (files, Parquet/CSV directories) the per-user-day rollup is built once per
version of the source, out of core, into the rollup cache (:mod:`.rollup_cache`), and
event-type queries read the raw events (a per-event-type rollup would hold most of their rows).
Other backends are queried on the raw events, with the same results.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd

from .layout import (
    META_TABLE,
    ROLLUP_TABLE,
    ROLLUP_VERSION,
    SPAN_COMBO,
    SPAN_USER,
    TYPE_ROLLUP_TABLE,
)
from .metrics import WAU_DAYS
from .rollup_cache import stored_rollup_trusted
from .types import WarehouseError
from .warehouse import Warehouse


def load_stored_rollup(
    wh: Warehouse, dims: list[str], database: str | None = None
) -> ir.Table | None:
    """The rollup stored in our own file (``database`` None), or the cached one.

    A generated file's rollup is used only while its events keep the signature stored with
    it; a cached one only if it was built from the same candidate dimension columns.
    """
    where = None if database is None else f"{database}.main"
    try:
        names = set(wh.con.list_tables(database=where))
        if ROLLUP_TABLE not in names or META_TABLE not in names:
            return None
        meta = wh.con.table(META_TABLE, database=where).execute()
        info = dict(zip(meta["key"], meta["value"], strict=True))
        if info.get("rollup_version") != ROLLUP_VERSION:
            return None
        rollup = wh.con.table(ROLLUP_TABLE, database=where)
        if database is None and not (
            wh.cache is not None and stored_rollup_trusted(wh.con.con, info, wh.cache.key)
        ):
            return None
    except Exception:
        return None
    if database is not None and info.get("candidates") != ",".join(dims):
        return None
    dims = [d for d in dims if d in rollup.columns] if database is not None else dims
    if not set(dims) <= set(rollup.columns):
        return None
    wh.rollup_unique = info.get("user_day_unique") == "true"
    wh.wau_spans = wh.rollup_unique and {SPAN_USER, SPAN_COMBO} <= set(rollup.columns)
    if TYPE_ROLLUP_TABLE in names and wh.has_event_type:
        typed = wh.con.table(TYPE_ROLLUP_TABLE, database=where)
        if set(dims) | {"event_type"} <= set(typed.columns):
            wh.type_rollup = typed
            wh.type_rollup_unique = info.get("user_day_type_unique") == "true"
    return rollup


def build_rollup(wh: Warehouse) -> None:
    """Materialise the per-user-per-day rollup in memory (DuckDB backends only).

    The WAU span columns are only meaningful (and used) when the rollup has one row per
    user-day, which is checked after building it.
    """
    ev = wh.events
    keep = ["user_id", *wh.event_dims]
    keys = ["user_id", "day", *wh.event_dims]
    base = ev.mutate(day=ev.event_timestamp.date())
    if wh.has_sessions:  # distinct sessions as a second group-by: far faster than DISTINCT
        per = base.group_by([*keys, "session_id"]).agg(n=base.count())
        agg = per.group_by(keys).agg(events=per.n.sum(), sessions=per.session_id.count())
    else:
        agg = base.group_by(keys).agg(events=base.count(), sessions=ibis.literal(0))
    if wh.users is not None and wh.user_dims:
        us = wh.users.select("user_id", *wh.user_dims)
        agg = agg.left_join(us, "user_id").select(*keep, "day", *wh.user_dims, "events", "sessions")

    def span(*keys: str) -> ir.IntegerValue:
        win = ibis.window(group_by=["user_id", *keys], order_by="day")
        gap = agg.day.lead().over(win).delta(agg.day, unit="day")
        return ibis.least(gap.fill_null(WAU_DAYS), WAU_DAYS).cast("int8")

    spans = agg.mutate(**{SPAN_USER: span(), SPAN_COMBO: span(*wh.event_dims)})
    r = _materialise(wh, ROLLUP_TABLE, spans)
    if r is None:  # a backend that cannot create temp tables: raw path
        return
    wh.rollup = r
    wh.rollup_unique = wh.wau_spans = _one_row_per_user_day(wh, r)


def _one_row_per_user_day(wh: Warehouse, r: ir.Table) -> bool:
    """Whether the built rollup has one row per (user_id, day).

    A second row of a user on one day is that user's next row at no distance, so its
    ``SPAN_USER`` is 0: one pass over a small column instead of counting distinct pairs. Rows
    without a day have no distance; then the pairs are counted.
    """
    seen = wh.execute(r.aggregate(closest=r[SPAN_USER].min(), undated=r.day.isnull().sum()))
    if int(seen["undated"].iloc[0] or 0) == 0:
        closest = seen["closest"].iloc[0]
        return bool(pd.isna(closest) or closest > 0)  # no rows: trivially one per user-day
    n_rows = int(wh.execute(r.count()))
    return n_rows == int(wh.execute(r.select("user_id", "day").distinct().count()))


def _materialise(wh: Warehouse, name: str, expr: ir.Table) -> ir.Table | None:
    """The table built into the rollup cache (DuckDB, out of core), else a temporary
    in-memory table (fresh connection: no overwrite needed), or None."""
    if wh.cache is not None:
        stage = f"Building the rollup cache of {wh.label} (once per source)"
        # in day order (zone maps skip other days); a DuckDB sum is a HUGEINT, slow to scan
        sql = (
            f'SELECT * REPLACE (CAST("events" AS BIGINT) AS "events") '
            f'FROM ({wh.con.compile(expr)}) ORDER BY "day"'
        )
        try:
            wh.cache.create(name, sql, stage, 0.3)
        except Exception as exc:
            wh.cache.abandon()
            raise WarehouseError(
                f"Could not build the rollup cache in {wh.cache.path.parent} "
                f"({type(exc).__name__}); check the free disk space there."
            ) from exc
        return wh.con.table(name, database=f"{wh.cache.alias}.main")
    try:
        return wh.con.create_table(name, obj=expr.order_by("day"), temp=True)
    except Exception:
        return None


def find_user_constant(wh: Warehouse) -> None:
    """Which event dimensions keep one value per user (user dimensions always do)."""
    r = wh.rollup
    assert r is not None
    constant = set(wh.user_dims)
    if wh.event_dims:
        # each user's combinations first: far fewer rows than user-days to count values over
        combos = r.select("user_id", *wh.event_dims).distinct()
        per_user = combos.group_by("user_id").agg(
            **{d: _distinct_with_null(combos[d]) for d in wh.event_dims}
        )
        most = wh.execute(per_user.aggregate(**{d: per_user[d].max() for d in wh.event_dims}))
        constant |= {d for d in wh.event_dims if int(most[d].iloc[0] or 0) <= 1}
    wh.user_constant = frozenset(constant)


def _distinct_with_null(col: ir.Column) -> ir.IntegerValue:
    """Distinct values of a column, counting null as one more value."""
    mixed = col.isnull().any() & col.notnull().any()
    return col.nunique() + mixed.cast("int64")
