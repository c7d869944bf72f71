"""Open a warehouse (read-only) and discover its schema: :func:`open_warehouse`.

Sources accepted by :func:`open_warehouse`:

- ``None``: the default demo warehouse (generated on first use, see
  :func:`.demo.ensure_default_warehouse`);
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

    [aggregates]                 # a pre-aggregated table beside (or instead of) the events:
    table = "daily_kpis"         # see .aggregates

The ``mai.toml`` beside the warehouse (or in the current directory) adds its ``[metrics]`` and
``[aggregates]`` sections (:data:`OWN_SECTIONS`) when no ``--config`` is given.

How it is done: :mod:`.sources` opens the source and maps the tables, :mod:`.discovery` finds the
schema (with :mod:`.rollups` and :mod:`.partial_days`), :mod:`.warehouse` holds the result and
runs queries; :mod:`.demo` makes the default demo warehouse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis.expr.types as ir

from .aggregates import as_events, measure_metrics, read_spec
from .demo import ensure_default_warehouse
from .discovery import beside_dimensions, discover, discovery_state, restore
from .discovery_cache import DiscoveryCache, database_key
from .layout import ROLLUP_VERSION, TABLES
from .metric_config import define_metrics, find_config
from .resources import apply_limits
from .rollup_cache import RollupCache, fingerprint
from .sources import (
    connect_source,
    local_source,
    map_table,
    normalise,
    read_config,
    unjoined_of,
    users_join,
)
from .timestamps import as_timestamp
from .warehouse import Progress, Warehouse

__all__ = ["open_warehouse"]

OWN_SECTIONS = ("metrics", "aggregates")  # what a mai.toml found beside the data may set
AGGREGATES = "aggregates"  # the key of a pre-aggregated table in the table mapping


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
    cfg = read_config(config)
    if found is not None:  # a mai.toml beside the warehouse or here: its metrics (and table)
        cfg.update({k: v for k, v in read_config(found).items() if k in OWN_SECTIONS})
    mapping = {k: v for k, v in cfg.items() if k != "metrics"}  # what shapes the tables
    spec = read_spec(cfg.get("aggregates"), str(config or found))
    table_names = {t: str(cfg.get("tables", {}).get(t, t)) for t in TABLES}
    if spec is not None:
        table_names[AGGREGATES] = spec.table
    if source is None:
        source = ensure_default_warehouse()
    con, label, ours = connect_source(source, table_names, frozenset(cfg.get("tables", {})))
    cache: RollupCache | None = None
    try:
        if getattr(con, "name", "") == "duckdb":
            apply_limits(con.con)
            local = local_source(source)
            if local is not None:
                cache = RollupCache(con.con, fingerprint(local, mapping, ROLLUP_VERSION), progress)
        beside = spec is not None and _beside_events(con, spec.table, table_names["events"])
        if spec is not None and not beside:  # the pre-aggregated table stands for the events
            keep = ("deployments", "annotations")
            table_names = {"events": spec.table, **{t: table_names[t] for t in keep}}
        tables: dict[str, ir.Table] = {}
        for t, theirs in table_names.items():
            as_is = spec is not None and t == ("aggregates" if beside else "events")
            mapped = map_table(
                con,
                t,
                theirs,
                {} if as_is else cfg.get("columns", {}).get(t, {}),
                label,
                mapped=t in cfg.get("tables", {}) or as_is,
            )
            if mapped is not None:
                tables[t] = mapped
        measures: list[str] = []
        aggregates: ir.Table | None = None
        if spec is not None:
            shaped, measures = as_events(
                tables.pop(AGGREGATES if beside else "events"), spec, label
            )
            if beside:
                time = as_timestamp(shaped.event_timestamp, spec.date, label)
                aggregates = shaped.mutate(event_timestamp=time)
            else:
                tables["events"] = shaped
        tables = normalise(tables, label, aggregated=spec is not None and not beside)
        own = define_metrics(
            cfg.get("metrics"),
            dict(tables["events"].schema().items()),
            str(config or found),
            None if aggregates is None else dict(aggregates.schema().items()),
        )
        own += measure_metrics(measures, own, beside=beside)
        if aggregates is not None:
            tables[AGGREGATES] = aggregates
        known = (  # local sources keep it beside their rollup cache, databases by their rows
            cache.discovery
            if cache is not None
            else DiscoveryCache(database_key(str(source), tables, mapping, ROLLUP_VERSION))
        )
        state = known.load() if known is not None else None
        if state is not None and state.get("users_dropped"):
            tables.pop("users", None)
        unjoined = users_join(tables, label) if state is None else unjoined_of(state)
        exclude = frozenset(str(x) for x in cfg.get("dimensions", {}).get("exclude", []))
        wh = Warehouse(con, label, tables, exclude=exclude, cache=cache)
        wh.restored = state is not None and restore(wh, state)
        if not wh.restored:
            discover(wh, stored_rollup=ours and not mapping)
        wh.schema.unjoined_users = unjoined
        wh.schema.aggregated_from = None if spec is None or beside else spec.table
        if known is not None and not wh.restored:
            known.save(discovery_state(wh, users_dropped=unjoined is not None))
        if spec is not None and aggregates is not None:
            dims = [c for c in aggregates.columns if c != "event_timestamp" and c not in measures]
            wh.schema.aggregates_beside = spec.table
            beside_dimensions(wh, aggregates, dims)
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


def _beside_events(con: Any, aggregates: str, events: str) -> bool:
    """Whether the pre-aggregated table is read beside an events table (else it stands for
    the events): the source has both, under different names."""
    try:
        return aggregates != events and events in con.list_tables()
    except Exception:
        return False
