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

How it is done: :mod:`.sources` opens the source and maps the tables, :mod:`.discovery` finds the
schema (with :mod:`.rollups` and :mod:`.partial_days`), :mod:`.warehouse` holds the result and
runs queries; :mod:`.demo` makes the default demo warehouse.
"""

from __future__ import annotations

from pathlib import Path

import ibis.expr.types as ir

from .demo import ensure_default_warehouse
from .discovery import discover, discovery_state, restore
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
from .warehouse import Progress, Warehouse

__all__ = ["open_warehouse"]


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
    if found is not None:  # a mai.toml beside the warehouse or here: its metrics only
        cfg["metrics"] = read_config(found).get("metrics", {})
    mapping = {k: v for k, v in cfg.items() if k != "metrics"}  # what shapes the tables
    table_names = {t: str(cfg.get("tables", {}).get(t, t)) for t in TABLES}
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
        tables: dict[str, ir.Table] = {}
        for t in TABLES:
            mapped = map_table(
                con,
                t,
                table_names[t],
                cfg.get("columns", {}).get(t, {}),
                label,
                mapped=t in cfg.get("tables", {}),
            )
            if mapped is not None:
                tables[t] = mapped
        tables = normalise(tables, label)
        own = define_metrics(
            cfg.get("metrics"), dict(tables["events"].schema().items()), str(config or found)
        )
        state = cache.load_state() if cache is not None else None
        if state is not None and state.get("users_dropped"):
            tables.pop("users", None)
        unjoined = users_join(tables, label) if state is None else unjoined_of(state)
        exclude = frozenset(str(x) for x in cfg.get("dimensions", {}).get("exclude", []))
        wh = Warehouse(con, label, tables, exclude=exclude, cache=cache)
        wh.restored = state is not None and restore(wh, state)
        if not wh.restored:
            discover(wh, stored_rollup=ours and not mapping)
        wh.schema.unjoined_users = unjoined
        if cache is not None and not wh.restored:
            cache.save_state(discovery_state(wh, users_dropped=unjoined is not None))
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
