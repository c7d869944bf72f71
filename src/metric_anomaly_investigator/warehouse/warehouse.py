"""The open warehouse: its connection, tables, what discovery found, and query execution.

Speed: each query shape (metric, dimensions, filter names, …) is built and compiled once per
open warehouse, then re-run with new values bound as parameters (:meth:`Warehouse.run`); a source
with a rollup cache entry also keeps the compiled SQL for later runs (:mod:`.plan_cache`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pandas as pd
import sqlglot.expressions as sge

from .plan_cache import PlanCache
from .rollup_cache import RollupCache
from .types import WarehouseError, WarehouseSchema

MAX_PLANS = 512  # query shapes kept compiled per warehouse

Progress = Callable[[str, float], None]
ParamValue = date | datetime | str
# builds a query shape's expression; the argument gives the scalar parameter of a bound value
ParamFn = Callable[[str], ir.Scalar]
ShapeBuilder = Callable[[ParamFn], ir.Table]


@dataclass
class Plan:
    """A query shape: its parameters' names and (DuckDB) its SQL with ``$name`` placeholders,
    else its expression and parameters to run through Ibis."""

    names: tuple[str, ...]
    sql: str | None
    expr: ir.Table | None = None
    params: dict[str, ir.Scalar] | None = None


class Warehouse:
    """An open, read-only warehouse: the Ibis connection, table expressions and schema."""

    def __init__(
        self,
        con: Any,
        label: str,
        tables: dict[str, ir.Table],
        *,
        exclude: frozenset[str] = frozenset(),
        cache: RollupCache | None = None,
    ) -> None:
        """Hold the tables; :func:`.discovery.discover` (or ``restore``) fills in the rest."""
        self.label = label
        self.con = con
        self.events: ir.Table = tables["events"]
        self.users: ir.Table | None = tables.get("users")
        self.deployments_table: ir.Table | None = tables.get("deployments")
        self.annotations_table: ir.Table | None = tables.get("annotations")
        # a pre-aggregated table read beside the events (see .aggregates), shaped like them
        self.aggregates: ir.Table | None = tables.get("aggregates")
        self.schema: WarehouseSchema
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
        self.exclude = exclude  # text columns never to treat as dimensions
        self.cache = cache
        # compile each query shape once to SQL with placeholders (DuckDB); else Ibis params
        self.prepared = self.is_duckdb
        self.plans: dict[Hashable, Plan] = {}
        self._saved_plans: PlanCache | None = None
        self.rollup_source: str | None = None  # "stored" (our file), "cache" or None (raw)
        self.restored = False  # the discovery came from the schema cache

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
        plan = self.plans.get(shape)
        if plan is None:
            if len(self.plans) >= MAX_PLANS:  # a long session's odd shapes: start afresh
                self.plans.clear()
            plan = self.plans[shape] = self._saved_plan(shape) or self._plan(shape, build, values)
        bound = {name: values[name] for name in plan.names}
        if plan.sql is None:
            assert plan.expr is not None and plan.params is not None
            params = {plan.params[name]: value for name, value in bound.items()}
            return self.execute(plan.expr, params=params)
        try:
            return self.con.con.execute(plan.sql, bound).df()
        except Exception as exc:
            raise self._failure(exc) from exc

    @property
    def saved_plans(self) -> PlanCache | None:
        """The compiled SQL kept for this source between runs (DuckDB sources with a cache)."""
        if self._saved_plans is None and self.prepared and self.cache is not None:
            path = self.cache.path.with_suffix(".plans.json")
            self._saved_plans = PlanCache(path, self.cache.alias)
        return self._saved_plans

    def _saved_plan(self, shape: Hashable) -> Plan | None:
        saved = self.saved_plans.get(shape) if self.saved_plans is not None else None
        return None if saved is None else Plan(names=saved[1], sql=saved[0])

    def _plan(self, shape: Hashable, build: ShapeBuilder, values: Mapping[str, ParamValue]) -> Plan:
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
        names = tuple(params)
        if sql is None:
            return Plan(names, None, expr, params)
        if self.saved_plans is not None:
            self.saved_plans.put(shape, sql, names)
        return Plan(names, sql)

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
