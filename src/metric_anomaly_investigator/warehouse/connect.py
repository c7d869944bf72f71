"""Open a warehouse (read-only) and discover its schema.

Sources accepted by :func:`open_warehouse`:

- ``None``: the default demo warehouse (generated on first use, see
  :func:`ensure_default_warehouse`);
- a ``.duckdb`` / ``.db`` file, opened read-only;
- a directory holding one file (or folder of Parquet files) per table: ``events.parquet``,
  ``events.csv``, ``events/*.parquet``; likewise ``users``, ``deployments``, ``annotations``;
- a URL for any Ibis backend (``postgres://…``, ``duckdb:///path/to/file.duckdb``, …).

Tables (contract 3): ``events`` (required: ``user_id``, ``event_timestamp``; optional
``event_type``, ``session_id``), ``users`` (``user_id``, ``signup_date``), ``deployments`` and
``annotations`` (optional). Every low-cardinality text column (at most ``MAX_CARDINALITY``
distinct values) of ``events`` is an event-level dimension, likewise on ``users`` a user-level one
(an event column wins over a user column of the same name); ``event_type`` is a dimension too.

Other names are mapped with a small TOML file (``--config``)::

    [tables]                 # our table name = your table name
    events = "app_events"
    users = "customers"

    [columns.events]         # our column name = your column name
    user_id = "uid"
    event_timestamp = "ts"

    [columns.users]
    signup_date = "created_at"

    [dimensions]
    exclude = ["email_domain"]   # text columns never to treat as dimensions

Speed: each query shape (metric, dimensions, filter names, …) is built and compiled once per
open warehouse, then re-run with new values bound as parameters (:meth:`Warehouse.run`). Queries
read a per-user-per-day rollup (``_mai_user_day``: user, day, dimensions, events,
sessions, and for WAU the days to the user's next active day) and, for ``event_type``, a
per-user-day-event-type rollup (``_mai_user_day_type``) when available. Generated worlds store
them; for any other DuckDB-backed source (files, Parquet/CSV directories) the per-user-day rollup
is built once per version of the source, out of core, into the rollup cache
(:mod:`.rollup_cache`), and event-type queries read the raw events (a per-event-type rollup would
hold most of their rows). Other backends are queried on the raw events, with the same results.

Partial days: a warehouse is often still loading its current day (and an export may start
mid-day). An edge day — the last day of the data, or the first — counts as incomplete, and is
left out of ``schema.start_date..end_date`` (so every default window ends at the last complete
day; ``schema.partial_days`` says what was left out), when, compared with the up to
``PARTIAL_REFERENCE_DAYS`` neighbouring days (at least ``PARTIAL_MIN_REFERENCE`` with events):

- its data stops early (or starts late): the neighbours usually log at least
  ``PARTIAL_MIN_MISSING_SHARE`` of their events after the edge day's last event time of day
  (before its first); with date-only timestamps nothing is ever after, so nothing is left out;
- and that is no chance of a quiet day: at that day's own pace (its events vs the neighbours'
  up to the same time), at least ``PARTIAL_MIN_MISSING_EVENTS`` events were due in the part it
  lacks, so seeing none of them is all but impossible if the day were complete.
"""

from __future__ import annotations

import tomllib
import urllib.parse
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from importlib.metadata import entry_points
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import sqlglot.expressions as sge

from ..settings import Settings
from .metric_config import define_metrics, find_config
from .metrics import WAU_DAYS
from .metrics import available as available_metrics
from .resources import apply_limits
from .rollup_cache import RollupCache, fingerprint, stored_rollup_trusted
from .spark import SCHEME as SPARK_SCHEME
from .table_files import table_file
from .timerange import EPOCH, as_date, bulk_range, examples
from .timestamps import as_timestamp, execute_scalar, lenient_timestamp
from .types import (
    DimensionInfo,
    IgnoredEvents,
    PartialDay,
    UnjoinedUsers,
    WarehouseError,
    WarehouseSchema,
    show_name,
)

__all__ = [
    "DEPLOYED_RAW",
    "MAX_CARDINALITY",
    "ROLLUP_TABLE",
    "ROLLUP_VERSION",
    "SPAN_COMBO",
    "SPAN_USER",
    "TYPE_ROLLUP_TABLE",
    "WAU_DAYS",
    "Warehouse",
    "WarehouseError",
    "default_warehouse_path",
    "ensure_default_warehouse",
    "open_warehouse",
]

MAX_CARDINALITY = 200
MAX_VALUES = 50
ROLLUP_TABLE = "_mai_user_day"
TYPE_ROLLUP_TABLE = "_mai_user_day_type"
# rollup columns: days from a row to the user's next row (capped at WAU_DAYS), among all the
# user's rows (SPAN_USER) or among those with the same dimension values (SPAN_COMBO)
SPAN_USER = "_mai_span_user"
SPAN_COMBO = "_mai_span_combo"
META_TABLE = "_mai_meta"
MAX_PLANS = 512  # query shapes kept compiled per warehouse
CONNECT_TIMEOUT_S = 10  # database URLs: give up on an unreachable server after this long
ROLLUP_VERSION = "1"
TABLES = ("events", "users", "deployments", "annotations")
EVENT_RESERVED = frozenset({"user_id", "event_timestamp", "session_id", "event_type"})
USER_RESERVED = frozenset({"user_id", "signup_date"})
DEFAULT_SCENARIO = "seed_android_india"
# incomplete edge days (see "Partial days" above)
PARTIAL_REFERENCE_DAYS = 7
PARTIAL_MIN_REFERENCE = 3
PARTIAL_MIN_MISSING_SHARE = 0.1
PARTIAL_MIN_MISSING_EVENTS = 20.0
DEPLOYED_RAW = "_mai_deployed_at_raw"  # deployments: deployed_at as given, for reports
MIN_USER_MATCH = 0.01  # a users table matching fewer of the events' users is not used

Progress = Callable[[str, float], None]
ParamValue = date | datetime | str
# builds a query shape's expression; the argument gives the scalar parameter of a bound value
ParamFn = Callable[[str], ir.Scalar]
ShapeBuilder = Callable[[ParamFn], ir.Table]


@dataclass
class _Plan:
    """A query shape: its expression, its parameters by name and (DuckDB) its prepared SQL."""

    expr: ir.Table
    params: dict[str, ir.Scalar]
    sql: str | None


class Warehouse:
    """An open, read-only warehouse: the Ibis connection, table expressions and schema."""

    def __init__(
        self,
        con: Any,
        label: str,
        tables: dict[str, ir.Table],
        *,
        stored_rollup: bool,
        exclude: frozenset[str] = frozenset(),
        cache: RollupCache | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> None:
        self.label = label
        self.con = con
        self.events: ir.Table = tables["events"]
        self.users: ir.Table | None = tables.get("users")
        self.deployments_table: ir.Table | None = tables.get("deployments")
        self.annotations_table: ir.Table | None = tables.get("annotations")
        self.rollup: ir.Table | None = None
        self.rollup_unique = False
        # per (user, day, event_type) rollup; unique: one row per (user, day, event_type)
        self.type_rollup: ir.Table | None = None
        self.type_rollup_unique = False
        # rollup carries SPAN_USER / SPAN_COMBO (only when rollup_unique)
        self.wau_spans = False
        # dimensions whose value never changes for a user (user-level ones and some event ones)
        self.user_constant: frozenset[str] = frozenset()
        self.has_sessions = "session_id" in self.events.columns
        self.has_event_type = "event_type" in self.events.columns
        self.event_dims: list[str] = []
        self.user_dims: list[str] = []
        self._exclude = exclude
        self._cache = cache
        # compile each query shape once to SQL with placeholders (DuckDB); else Ibis params
        self.prepared = self.is_duckdb
        self._plans: dict[Hashable, _Plan] = {}
        self.rollup_source: str | None = None  # "stored" (our file), "cache" or None (raw)
        self.restored = state is not None and self._restore(state)
        if not self.restored:
            self._discover(stored_rollup)

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        disconnect = getattr(self.con, "disconnect", None)
        if disconnect is not None:
            disconnect()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Warehouse({self.label!r})"

    # -- execution -----------------------------------------------------------------------------
    def execute(self, expr: ir.Expr, *, params: Mapping[ir.Scalar, Any] | None = None) -> Any:
        """Run an expression; backend failures become a WarehouseError without SQL."""
        try:
            return expr.execute(params=params)
        except WarehouseError:
            raise
        except Exception as exc:  # backend errors carry SQL text: never show it
            raise self._failure(exc) from exc

    def run(
        self, shape: Hashable, build: ShapeBuilder, values: Mapping[str, ParamValue]
    ) -> pd.DataFrame:
        """Run a query of a given shape with its values bound as parameters.

        ``shape`` must identify everything ``build`` depends on except ``values``: the
        expression is built (and on DuckDB compiled to SQL with placeholders) once per shape,
        then only the values change. ``build(param)`` gets ``param(name)``, the Ibis scalar
        parameter of ``values[name]``. Values are always bound, never formatted into SQL.
        """
        plan = self._plans.get(shape)
        if plan is None:
            if len(self._plans) >= MAX_PLANS:  # a long session's odd shapes: start afresh
                self._plans.clear()
            plan = self._plans[shape] = self._plan(build, values)
        bound = {name: values[name] for name in plan.params}
        if plan.sql is None:
            params = {plan.params[name]: value for name, value in bound.items()}
            return self.execute(plan.expr, params=params)
        try:
            return self.con.con.execute(plan.sql, bound).df()
        except Exception as exc:
            raise self._failure(exc) from exc

    def _plan(self, build: ShapeBuilder, values: Mapping[str, ParamValue]) -> _Plan:
        params: dict[str, ir.Scalar] = {}

        def param(name: str) -> ir.Scalar:
            if name not in params:
                params[name] = ibis.param(_param_type(values[name]))
            return params[name]

        expr = build(param)
        try:
            sql = self._prepare(expr, params) if self.prepared else None
        except Exception as exc:  # compilation errors carry SQL text too
            raise self._failure(exc) from exc
        return _Plan(expr, params, sql)

    def _prepare(self, expr: ir.Table, params: dict[str, ir.Scalar]) -> str | None:
        """DuckDB SQL for ``expr`` with a ``$name`` placeholder per parameter, or None.

        It compiles the expression with a unique sentinel value per parameter and swaps each
        sentinel's SQL node for the placeholder; None if a sentinel cannot be found.
        """
        compiler = self.con.compiler
        sentinels: dict[ir.Scalar, ParamValue] = {}
        placeholders: dict[sge.Expression, sge.Expression] = {}
        for i, (name, p) in enumerate(params.items()):
            value = _sentinel(i, p.type())
            sentinels[p] = value
            lit = compiler.to_sqlglot(ibis.literal(value, p.type()).name("v"))
            placeholders[lit.expressions[0].this] = sge.Placeholder(this=name)
        tree = compiler.to_sqlglot(expr, params=sentinels)
        found: set[str] = set()

        def swap(node: sge.Expression) -> sge.Expression:
            hit = placeholders.get(node)
            if hit is None:
                return node
            found.add(hit.name)
            return hit.copy()

        tree = tree.transform(swap, copy=False)
        if found != set(params):
            return None
        sql: str = tree.sql(dialect=self.con.dialect)
        return sql

    def _failure(self, exc: Exception) -> WarehouseError:
        return WarehouseError(
            f"The warehouse query failed ({type(exc).__name__}). "
            f"Check that {self.label} is readable and matches the expected tables."
        )

    @property
    def is_duckdb(self) -> bool:
        return getattr(self.con, "name", "") == "duckdb"

    # -- discovery -----------------------------------------------------------------------------
    def _discover(self, stored_rollup: bool) -> None:
        ev = self.events
        ev_text = [
            c
            for c, t in ev.schema().items()
            if t.is_string() and c not in EVENT_RESERVED and c not in self._exclude
        ]
        us_text: list[str] = []
        if self.users is not None:
            us_text = [
                c
                for c, t in self.users.schema().items()
                if t.is_string()
                and c not in USER_RESERVED
                and c not in ev_text
                and c not in self._exclude
            ]
        if stored_rollup:
            self.rollup = self._load_stored_rollup(ev_text + us_text)
            self.rollup_source = None if self.rollup is None else "stored"
        candidates = ev_text + us_text
        if self.rollup is None and self._cache is not None and self._cache.attach():
            self.rollup = self._load_stored_rollup(candidates, database=self._cache.alias)
            self.rollup_source = None if self.rollup is None else "cache"
            if self.rollup is not None:  # columns left out of the cached rollup: not dimensions
                ev_text = [c for c in ev_text if c in self.rollup.columns]
                us_text = [c for c in us_text if c in self.rollup.columns]
        source_ev = self.rollup if self.rollup is not None else ev
        source_us = self.rollup if self.rollup is not None else self.users
        weight = "events" if self.rollup is not None else None
        dims: list[DimensionInfo] = []
        for name, level, table in [(c, "event", source_ev) for c in ev_text] + [
            (c, "user", source_us) for c in us_text
        ]:
            assert table is not None
            info = self._dimension_info(table, name, level, weight)
            if info is not None:
                dims.append(info)
                (self.event_dims if level == "event" else self.user_dims).append(name)
        event_types: list[str] = []
        if self.has_event_type:
            typed = self.type_rollup
            info = (
                self._dimension_info(typed, "event_type", "event", "events")
                if typed is not None
                else self._dimension_info(ev, "event_type", "event", None)
            )
            if info is not None:
                dims.append(info)
                event_types = sorted(info.values)
        if self.rollup is None and self.is_duckdb:
            self._build_rollup()
        if self._cache is not None and self._cache.building:
            self.rollup_source = "cache"
            self._cache.seal(
                {
                    "rollup_version": ROLLUP_VERSION,
                    "candidates": ",".join(candidates),
                    "user_day_unique": str(self.rollup_unique).lower(),
                    "user_day_type_unique": str(self.type_rollup_unique).lower(),
                }
            )
        if self.rollup is not None:
            self._find_user_constant()
        row_count = int(self.execute(ev.count()))
        metrics = available_metrics(ev.columns)
        lo, hi, ignored = self._bulk_range()
        partial = self._partial_days(lo, hi)
        for p in partial:
            if p.edge == "end":
                hi -= timedelta(days=1)
            else:
                lo += timedelta(days=1)
        self.schema = WarehouseSchema(
            metrics=metrics,
            dimensions=dims,
            start_date=lo,
            end_date=hi,
            partial_days=partial,
            ignored=ignored,
            event_types=event_types,
            has_users=self.users is not None,
            has_deployments=self.deployments_table is not None,
            has_annotations=self.annotations_table is not None,
            row_count=row_count,
        )

    def state(self, *, users_dropped: bool) -> dict[str, Any]:
        """What discovery found, for the schema cache (restored by :meth:`_restore`)."""
        return {
            "schema": self.schema.model_dump(mode="json"),
            "users_dropped": users_dropped,
            "rollup": self.rollup_source,
            "type_rollup": self.type_rollup is not None,
            "rollup_unique": self.rollup_unique,
            "wau_spans": self.wau_spans,
            "type_rollup_unique": self.type_rollup_unique,
            "event_dims": self.event_dims,
            "user_dims": self.user_dims,
            "user_constant": sorted(self.user_constant),
        }

    def _restore(self, state: Mapping[str, Any]) -> bool:
        """Take a cached discovery of this unchanged source; False if it cannot be used."""
        try:  # read every entry before setting anything: a failure leaves nothing half-set
            source = state["rollup"]
            if source == "cache" and not (self._cache is not None and self._cache.attach()):
                return False
            rollup: ir.Table | None = None
            type_rollup: ir.Table | None = None
            if source is not None:
                where = f"{self._cache.alias}.main" if self._cache and source == "cache" else None
                rollup = self.con.table(ROLLUP_TABLE, database=where)
                if state["type_rollup"]:
                    type_rollup = self.con.table(TYPE_ROLLUP_TABLE, database=where)
            schema = WarehouseSchema.model_validate(state["schema"])
            flags = [bool(state[k]) for k in ("rollup_unique", "wau_spans", "type_rollup_unique")]
            event_dims = [str(d) for d in state["event_dims"]]
            user_dims = [str(d) for d in state["user_dims"]]
            user_constant = frozenset(str(d) for d in state["user_constant"])
        except Exception:  # an old or damaged entry: discover afresh
            return False
        self.rollup, self.type_rollup = rollup, type_rollup
        self.schema, self.rollup_source = schema, source
        self.rollup_unique, self.wau_spans, self.type_rollup_unique = flags
        self.event_dims, self.user_dims, self.user_constant = event_dims, user_dims, user_constant
        return True

    def _bulk_range(self) -> tuple[date, date, IgnoredEvents | None]:
        """The first and last day of the bulk of the events, and the stray events outside it.

        Counts events per day number (days since 1970-01-01: any date the backend holds) and
        leaves out stray far-off days (see :mod:`.timerange`).
        """
        src = (
            self.rollup
            if self.rollup is not None
            else self.events.mutate(day=self.events.event_timestamp.date())
        )
        src = src.filter(src.day.notnull())
        src = src.mutate(dn=src.day.delta(ibis.literal(EPOCH), unit="day"))
        n = src.events.sum() if self.rollup is not None else src.count()
        daily = self.execute(src.group_by("dn").aggregate(n=n))
        if daily.empty:
            raise WarehouseError(f"The events table of {self.label} is empty.")
        bulk = bulk_range(daily["dn"].to_numpy(), daily["n"].to_numpy())
        try:
            lo, hi = as_date(bulk.lo), as_date(bulk.hi)
        except OverflowError:
            raise WarehouseError(
                f"The events of {self.label} are dated after 9999-12-31; check the "
                "event_timestamp column (epoch numbers in an unexpected unit?)."
            ) from None
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

    def _partial_days(self, lo: date, hi: date) -> list[PartialDay]:
        """The incomplete edge days among ``lo`` and ``hi`` (module docstring: "Partial days")."""
        if (hi - lo).days < PARTIAL_MIN_REFERENCE:
            return []
        one, span = timedelta(days=1), timedelta(days=PARTIAL_REFERENCE_DAYS)
        ts = self.events.event_timestamp
        t = self.events.mutate(day=ts.date(), tod=ts.hour() * 3600 + ts.minute() * 60 + ts.second())

        def days(first: date, last: date) -> ir.BooleanValue:  # a range on the raw timestamps
            def at(d: date) -> ir.Scalar:
                return ibis.literal(datetime.combine(d, time()), type=ts.type())

            return (t.event_timestamp >= at(first)) & (t.event_timestamp < at(last + one))

        edges = t.filter(days(lo, lo) | days(hi, hi))
        cuts = self.execute(
            edges.group_by("day").aggregate(
                first=edges.tod.min(), last=edges.tod.max(), n=edges.count()
            )
        )
        cut = {_as_date(r.day): (int(r.first), int(r.last), int(r.n)) for r in cuts.itertuples()}
        if lo not in cut or hi not in cut:
            return []
        start_from, end_until = cut[lo][0], cut[hi][1]
        near = t.filter(days(lo + one, lo + span) | days(hi - span, hi - one))
        ref = self.execute(
            near.group_by("day").aggregate(
                n=near.count(),
                until_end_cut=near.count(where=near.tod <= end_until),
                from_start_cut=near.count(where=near.tod >= start_from),
            )
        )
        ref["day"] = [_as_date(d) for d in ref["day"]]
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
        return found

    def _dimension_info(
        self, table: ir.Table, name: str, level: str, weight: str | None
    ) -> DimensionInfo | None:
        col = table[name]
        card = int(self.execute(col.nunique()))
        if card == 0 or card > MAX_CARDINALITY:
            return None
        present = table.filter(col.notnull())
        agg = present.group_by(name).agg(n=present[weight].sum() if weight else present.count())
        df = self.execute(agg.order_by([ibis.desc("n"), name]).limit(MAX_VALUES))
        values = [str(v) for v in df[name]]
        return DimensionInfo(name=name, level=level, values=values, cardinality=card)

    def _load_stored_rollup(self, dims: list[str], database: str | None = None) -> ir.Table | None:
        """The rollup stored in our own file (``database`` None), or the cached one.

        A generated file's rollup is used only while its events keep the signature stored with
        it; a cached one only if it was built from the same candidate dimension columns.
        """
        where = None if database is None else f"{database}.main"
        try:
            names = set(self.con.list_tables(database=where))
            if ROLLUP_TABLE not in names or META_TABLE not in names:
                return None
            meta = self.con.table(META_TABLE, database=where).execute()
            info = dict(zip(meta["key"], meta["value"], strict=True))
            if info.get("rollup_version") != ROLLUP_VERSION:
                return None
            rollup = self.con.table(ROLLUP_TABLE, database=where)
            if database is None and not (
                self._cache is not None
                and stored_rollup_trusted(self.con.con, info, self._cache.key)
            ):
                return None
        except Exception:
            return None
        if database is not None and info.get("candidates") != ",".join(dims):
            return None
        dims = [d for d in dims if d in rollup.columns] if database is not None else dims
        if not set(dims) <= set(rollup.columns):
            return None
        self.rollup_unique = info.get("user_day_unique") == "true"
        self.wau_spans = self.rollup_unique and {SPAN_USER, SPAN_COMBO} <= set(rollup.columns)
        if TYPE_ROLLUP_TABLE in names and self.has_event_type:
            typed = self.con.table(TYPE_ROLLUP_TABLE, database=where)
            if set(dims) | {"event_type"} <= set(typed.columns):
                self.type_rollup = typed
                self.type_rollup_unique = info.get("user_day_type_unique") == "true"
        return rollup

    def _build_rollup(self) -> None:
        """Materialise the per-user-per-day rollup in memory (DuckDB backends only).

        The WAU span columns are only meaningful (and used) when the rollup has one row per
        user-day, which is checked after building it.
        """
        ev = self.events
        keep = ["user_id", *self.event_dims]
        keys = ["user_id", "day", *self.event_dims]
        base = ev.mutate(day=ev.event_timestamp.date())
        if self.has_sessions:  # distinct sessions as a second group-by: far faster than DISTINCT
            per = base.group_by([*keys, "session_id"]).agg(n=base.count())
            agg = per.group_by(keys).agg(events=per.n.sum(), sessions=per.session_id.count())
        else:
            agg = base.group_by(keys).agg(events=base.count(), sessions=ibis.literal(0))
        if self.users is not None and self.user_dims:
            us = self.users.select("user_id", *self.user_dims)
            agg = agg.left_join(us, "user_id").select(
                *keep, "day", *self.user_dims, "events", "sessions"
            )

        def span(*keys: str) -> ir.IntegerValue:
            win = ibis.window(group_by=["user_id", *keys], order_by="day")
            gap = agg.day.lead().over(win).delta(agg.day, unit="day")
            return ibis.least(gap.fill_null(WAU_DAYS), WAU_DAYS).cast("int8")

        spans = agg.mutate(**{SPAN_USER: span(), SPAN_COMBO: span(*self.event_dims)})
        r = self._materialise(ROLLUP_TABLE, spans)
        if r is None:  # a backend that cannot create temp tables: raw path
            return
        self.rollup = r
        n_rows = int(self.execute(r.count()))
        n_pairs = int(self.execute(r.select("user_id", "day").distinct().count()))
        self.rollup_unique = self.wau_spans = n_rows == n_pairs

    def _materialise(self, name: str, expr: ir.Table) -> ir.Table | None:
        """The table built into the rollup cache (DuckDB, out of core), else a temporary
        in-memory table (fresh connection: no overwrite needed), or None."""
        if self._cache is not None:
            stage = f"Building the rollup cache of {self.label} (once per source)"
            # in day order (zone maps skip other days); a DuckDB sum is a HUGEINT, slow to scan
            sql = (
                f'SELECT * REPLACE (CAST("events" AS BIGINT) AS "events") '
                f'FROM ({self.con.compile(expr)}) ORDER BY "day"'
            )
            try:
                self._cache.create(name, sql, stage, 0.3)
            except Exception as exc:
                self._cache.abandon()
                raise WarehouseError(
                    f"Could not build the rollup cache in {self._cache.path.parent} "
                    f"({type(exc).__name__}); check the free disk space there."
                ) from exc
            return self.con.table(name, database=f"{self._cache.alias}.main")
        try:
            return self.con.create_table(name, obj=expr.order_by("day"), temp=True)
        except Exception:
            return None

    def _find_user_constant(self) -> None:
        """Which event dimensions keep one value per user (user dimensions always do)."""
        r = self.rollup
        assert r is not None
        constant = set(self.user_dims)
        if self.event_dims:
            per_user = r.group_by("user_id").agg(
                **{d: _distinct_with_null(r[d]) for d in self.event_dims}
            )
            most = self.execute(
                per_user.aggregate(**{d: per_user[d].max() for d in self.event_dims})
            )
            constant |= {d for d in self.event_dims if int(most[d].iloc[0] or 0) <= 1}
        self.user_constant = frozenset(constant)


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
        data_from=_time_of_day(first),
        data_until=_time_of_day(last),
        events=n,
        usual_events=float(np.median(n_ref)),
    )


def _time_of_day(seconds: int) -> time:
    return time(seconds // 3600, seconds // 60 % 60, seconds % 60)


def _distinct_with_null(col: ir.Column) -> ir.IntegerValue:
    """Distinct values of a column, counting null as one more value."""
    mixed = col.isnull().any() & col.notnull().any()
    return col.nunique() + mixed.cast("int64")


def _param_type(value: ParamValue) -> dt.DataType:
    if isinstance(value, datetime):
        return dt.timestamp
    if isinstance(value, date):
        return dt.date
    return dt.string


def _sentinel(i: int, dtype: dt.DataType) -> ParamValue:
    """A value no real query holds, distinct per parameter index, of the parameter's type."""
    if dtype.is_timestamp():
        return datetime(1001, 1, 1) + timedelta(days=i)
    if dtype.is_date():
        return date(1001, 1, 1) + timedelta(days=i)
    return f"\x1f_mai_param_{i}\x1f"


def _as_date(value: Any) -> Any:
    return value.date() if hasattr(value, "date") and callable(value.date) else value


# -- opening ------------------------------------------------------------------------------------
def _read_config(config: Path | None) -> dict[str, Any]:
    if config is None:
        return {}
    try:
        with open(config, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise WarehouseError(f"Config file not found: {config}") from None
    except tomllib.TOMLDecodeError as exc:
        raise WarehouseError(f"Config file {config} is not valid TOML: {exc}") from None
    unknown = set(data) - {"tables", "columns", "dimensions", "metrics"}
    if unknown:
        raise WarehouseError(
            f"Unknown section(s) in {config}: {', '.join(sorted(unknown))}. "
            "Valid sections: tables, columns, dimensions, metrics."
        )
    _check_config_shape(data, config)
    return data


def _check_config_shape(data: dict[str, Any], config: Path) -> None:
    """Refuse keys and values the mapping does not understand, naming the valid ones."""
    valid = ", ".join(TABLES)
    tables = data.get("tables", {})
    columns = data.get("columns", {})
    if not isinstance(tables, dict) or not isinstance(columns, dict):
        raise WarehouseError(f"In {config}, [tables] and [columns.TABLE] must be tables of names.")
    for key in (*tables, *columns):
        if key not in TABLES:
            raise WarehouseError(f"Unknown table {show_name(key)} in {config}. Valid: {valid}.")
    mappings = [(f"[tables] {k}", v) for k, v in tables.items()]
    for table, cols in columns.items():
        if not isinstance(cols, dict):
            raise WarehouseError(f"In {config}, [columns.{table}] must map column names.")
        mappings += [(f"[columns.{table}] {k}", v) for k, v in cols.items()]
    for where, value in mappings:
        if not isinstance(value, str) or not value:
            raise WarehouseError(f"In {config}, {where} must be a name in quotes.")
    exclude = data.get("dimensions", {}).get("exclude", [])
    if not isinstance(exclude, list):
        raise WarehouseError(f"In {config}, [dimensions] exclude must be a list of column names.")


def _connect(
    source: str | Path, table_names: dict[str, str], mapped: frozenset[str] = frozenset()
) -> tuple[Any, str, bool]:
    """Return (connection, label, is_our_duckdb_file).

    ``mapped``: tables whose name the --config file gives; in a directory their files must
    lie inside it (no absolute paths, ``..`` escapes or symlinks out).
    """
    text = str(source)
    if text.startswith(SPARK_SCHEME):
        from .spark import connect_spark

        return (*connect_spark(text, table_names, mapped), False)
    path = _local_source(text)
    if path is None:
        in_memory = text.startswith("duckdb://")
        return (ibis.duckdb.connect(), text, False) if in_memory else _connect_url(text)
    if not path.exists():
        raise WarehouseError(
            f"No such warehouse: {path}. Give a .duckdb file, a directory of Parquet/CSV tables, "
            "or a database URL."
        )
    if path.is_dir():
        con = ibis.duckdb.connect()
        found = False
        for ours, theirs in table_names.items():
            located = table_file(path, theirs, mapped_as=ours if ours in mapped else None)
            if located is None:
                continue
            candidate, reader = located
            try:
                if reader == "csv":  # parse once: a CSV view would be re-read per query
                    parsed = con.read_csv(candidate, table_name=f"_mai_csv_{theirs}")
                    con.create_table(theirs, obj=parsed, temp=True)
                elif reader == "parquet":
                    con.read_parquet(candidate, table_name=theirs)
                else:
                    con.read_parquet(str(candidate / "*.parquet"), table_name=theirs)
            except Exception as exc:
                raise WarehouseError(f"Could not read {candidate} ({type(exc).__name__}).") from exc
            found = found or ours == "events"
        if not found:
            events = table_names["events"]
            present = sorted(p.name for p in path.iterdir() if not p.name.startswith("."))
            shown = ", ".join(present[:8]) + (", …" if len(present) > 8 else "")
            raise WarehouseError(
                f"{path} has no events table: expected {events}.parquet, {events}.csv or a "
                f"{events}/ folder of Parquet files (found: {shown or 'nothing'}). Map another "
                'name with a --config file ([tables] events = "...").'
            )
        return con, str(path), False
    if path.suffix.lower() not in (".duckdb", ".db", ".ddb"):
        raise WarehouseError(
            f"Cannot open {path}: expected a .duckdb/.db file, a directory of Parquet/CSV tables, "
            "or a database URL."
        )
    try:
        return ibis.duckdb.connect(str(path), read_only=True), str(path), True
    except Exception as exc:
        raise WarehouseError(
            f"Could not open {path} as a DuckDB database ({type(exc).__name__}); "
            "is it a DuckDB file, and not open for writing by another program?"
        ) from exc


def _connect_url(url: str) -> tuple[Any, str, bool]:
    """Connect to an Ibis backend URL, failing fast with a message that names the problem."""
    scheme = url.split("://", 1)[0].lower()
    backend = {"postgresql": "postgres", "sqlite3": "sqlite"}.get(scheme, scheme)
    if backend not in {ep.name for ep in entry_points(group="ibis.backends")}:
        raise WarehouseError(
            f"Unsupported warehouse URL scheme {show_name(scheme + '://')}: use a DuckDB file, a "
            "directory of Parquet/CSV files, or a URL of an installed Ibis backend (duckdb://, "
            "postgres://, …)."
        )
    if backend == "sqlite":  # sqlite would create a missing file, empty
        db_file = urllib.parse.urlsplit(url).path
        if db_file not in ("", "/", "/:memory:") and not Path(db_file).expanduser().is_file():
            raise WarehouseError(f"No such SQLite database: {db_file}.")
    if backend in ("postgres", "mysql") and "connect_timeout=" not in url:
        url += ("&" if "?" in url else "?") + f"connect_timeout={CONNECT_TIMEOUT_S}"
    label = url.split("@")[-1].split("?")[0]
    try:
        return ibis.connect(url), label, False
    except ImportError as exc:
        raise WarehouseError(
            f"The {backend} backend's driver is not installed: install "
            f"ibis-framework[{backend}] to open {label}."
        ) from exc
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        password = urllib.parse.urlsplit(url).password
        if password:
            reason = reason.replace(password, "***")
        raise WarehouseError(
            f"Could not connect to {label} ({type(exc).__name__}: {reason[:160]}). "
            "Check the URL, the credentials, and that the server is running and reachable."
        ) from exc


def _map_table(
    con: Any, ours: str, theirs: str, columns: dict[str, str], label: str, *, mapped: bool
) -> ir.Table | None:
    """The table ``theirs`` with its columns renamed to ours; None if an optional one is absent.

    A table or column the config names explicitly must exist (``mapped``: a [tables] entry).
    """
    try:
        present = con.list_tables()
    except Exception as exc:
        raise WarehouseError(f"Could not list the tables of {label}.") from exc
    if theirs not in present:
        if ours == "events" or mapped:
            raise WarehouseError(
                f"{label} has no table {show_name(theirs)}. Tables found: "
                f"{', '.join(sorted(t for t in present if not t.startswith('_mai'))) or '(none)'}. "
                f'Map yours with a --config file ([tables] {ours} = "...").'
            )
        return None
    table: ir.Table = con.table(theirs)
    absent = [t for t in columns.values() if t not in table.columns]
    if absent:
        raise WarehouseError(
            f"The config maps to column(s) {', '.join(show_name(c) for c in absent)} that table "
            f"{show_name(theirs)} of {label} lacks; its columns: {', '.join(table.columns)}."
        )
    renames = {o: t for o, t in columns.items() if o != t}
    if renames:
        table = table.rename(renames)
    return table


def _normalise(tables: dict[str, ir.Table], label: str) -> dict[str, ir.Table]:
    ev = tables["events"]
    missing = [c for c in ("user_id", "event_timestamp") if c not in ev.columns]
    if missing:
        raise WarehouseError(
            f"The events table of {label} lacks column(s) {', '.join(missing)}; columns found: "
            f"{', '.join(ev.columns)}. Map yours with a --config file ([columns.events] ...)."
        )
    ev = ev.mutate(event_timestamp=as_timestamp(ev.event_timestamp, "event_timestamp", label))
    users = tables.get("users")
    if users is not None:
        if "user_id" not in users.columns or "signup_date" not in users.columns:
            users = None
        else:
            if not users.signup_date.type().is_date():
                users = users.mutate(signup_date=users.signup_date.cast(dt.timestamp).date())
            if users.user_id.type() != ev.user_id.type():
                users = users.mutate(user_id=users.user_id.cast(dt.string))
                ev = ev.mutate(user_id=ev.user_id.cast(dt.string))
    out = {"events": ev}
    if users is not None:
        out["users"] = users
    dep = tables.get("deployments")
    if dep is not None and {"deployment_id", "deployed_at"} <= set(dep.columns):
        # a value that is no date/time becomes null, and is reported per row (the raw text)
        at = lenient_timestamp(dep.deployed_at, label)
        out["deployments"] = dep.mutate(
            **{DEPLOYED_RAW: dep.deployed_at.cast(dt.string)},
            deployed_at=ibis.null(dt.timestamp) if at is None else at,
        )
    ann = tables.get("annotations")
    if ann is not None and {"name", "starts_at"} <= set(ann.columns):
        times = {
            c: lenient_timestamp(ann[c], label)
            for c in ("starts_at", "ends_at")
            if c in ann.columns
        }
        out["annotations"] = ann.mutate(
            **{c: ibis.null(dt.timestamp) if v is None else v for c, v in times.items()}
        )
    return out


def _users_join(tables: dict[str, ir.Table], label: str) -> UnjoinedUsers | None:
    """The users table's join problem, if its user_id barely matches the events' user_id.

    Such a table is dropped (its dimensions and signup dates would describe nobody), and the
    problem is reported once as a data-quality note.
    """
    users = tables.get("users")
    if users is None:
        return None
    ids = tables["events"].select("user_id").distinct()
    event_users = int(execute_scalar(ids.count(), label) or 0)
    matched = int(execute_scalar(ids.semi_join(users, "user_id").count(), label) or 0)
    if not event_users or matched >= MIN_USER_MATCH * event_users:
        return None
    del tables["users"]
    return UnjoinedUsers(matched=matched, event_users=event_users)


def open_warehouse(
    source: str | Path | None = None,
    *,
    config: Path | None = None,
    progress: Progress | None = None,
) -> Warehouse:
    """Open a warehouse read-only and discover its schema (see the module docstring).

    DuckDB work runs under the memory limit of :mod:`.resources`; local sources get their
    rollups from the cache of :mod:`.rollup_cache` (``progress`` hears about a build).
    """
    found = find_config(source) if config is None else None
    cfg = _read_config(config)
    if found is not None:  # a mai.toml beside the warehouse or here: its metrics only
        cfg["metrics"] = _read_config(found).get("metrics", {})
    mapping = {k: v for k, v in cfg.items() if k != "metrics"}  # what shapes the tables
    table_names = {t: str(cfg.get("tables", {}).get(t, t)) for t in TABLES}
    if source is None:
        source = ensure_default_warehouse()
    con, label, ours = _connect(source, table_names, frozenset(cfg.get("tables", {})))
    cache: RollupCache | None = None
    try:
        if getattr(con, "name", "") == "duckdb":
            apply_limits(con.con)
            local = _local_source(source)
            if local is not None:
                cache = RollupCache(con.con, fingerprint(local, mapping, ROLLUP_VERSION), progress)
        tables: dict[str, ir.Table] = {}
        for t in TABLES:
            mapped = _map_table(
                con,
                t,
                table_names[t],
                cfg.get("columns", {}).get(t, {}),
                label,
                mapped=t in cfg.get("tables", {}),
            )
            if mapped is not None:
                tables[t] = mapped
        tables = _normalise(tables, label)
        own = define_metrics(
            cfg.get("metrics"), dict(tables["events"].schema().items()), str(config or found)
        )
        state = cache.load_state() if cache is not None else None
        if state is not None and state.get("users_dropped"):
            tables.pop("users", None)
        unjoined = _users_join(tables, label) if state is None else _unjoined_of(state)
        exclude = frozenset(str(x) for x in cfg.get("dimensions", {}).get("exclude", []))
        wh = Warehouse(
            con,
            label,
            tables,
            stored_rollup=ours and not mapping,
            exclude=exclude,
            cache=cache,
            state=state,
        )
        wh.schema.unjoined_users = unjoined
        if cache is not None and not wh.restored:
            cache.save_state(wh.state(users_dropped=unjoined is not None))
        wh.schema.custom_metrics = own
        wh.schema.metrics = [*wh.schema.metrics, *(m.name for m in own)]
        return wh
    except BaseException:
        if cache is not None:
            cache.abandon()
        disconnect = getattr(con, "disconnect", None)
        if disconnect is not None:
            disconnect()
        raise


def _unjoined_of(state: Mapping[str, Any]) -> UnjoinedUsers | None:
    """The users-join note of a cached discovery."""
    try:
        found = state["schema"].get("unjoined_users")
        return None if found is None else UnjoinedUsers.model_validate(found)
    except Exception:
        return None


def _local_source(source: str | Path) -> Path | None:
    """The file or directory a DuckDB-read source lives in; None for a database URL."""
    text = str(source)
    if text.startswith("duckdb://"):
        text = text[len("duckdb://") :]
        if text in ("", "/", ":memory:"):
            return None
    elif "://" in text:
        return None
    return Path(text).expanduser()


# -- the default demo ---------------------------------------------------------------------------
def default_warehouse_path() -> Path:
    """Where the demo warehouse lives: in the data directory (``Settings.data_dir``)."""
    return Settings().data_dir / "demo.duckdb"


def ensure_default_warehouse(progress: Progress | None = None) -> Path:
    """Generate the default demo world on first use (atomically) and return its path."""
    path = default_warehouse_path()
    if path.exists():
        if progress is not None:
            progress("demo warehouse ready", 1.0)
        return path
    from .scenarios import generate_scenario

    path.parent.mkdir(parents=True, exist_ok=True)
    return generate_scenario(DEFAULT_SCENARIO, path, progress=progress)
