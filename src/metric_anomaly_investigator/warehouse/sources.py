"""Opening a source and mapping its tables and columns onto ours.

A source is a ``.duckdb`` / ``.db`` file (opened read-only), a directory holding one file (or
folder of Parquet files) per table, a ``spark://`` URL, or a URL for any Ibis backend. The
``--config`` TOML maps other table and column names (see :mod:`.connect`); here each table is
found, renamed and normalised (timestamps parsed, user ids of one type), and a users table that
barely matches the events' users is dropped.
"""

from __future__ import annotations

import tomllib
import urllib.parse
from collections.abc import Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from .layout import DEPLOYED_RAW, TABLES
from .spark import SCHEME as SPARK_SCHEME
from .table_files import table_file
from .timestamps import as_timestamp, execute_scalar, lenient_timestamp
from .types import UnjoinedUsers, WarehouseError, show_name

CONNECT_TIMEOUT_S = 10  # database URLs: give up on an unreachable server after this long
MIN_USER_MATCH = 0.01  # a users table matching fewer of the events' users is not used
SECTIONS = ("tables", "columns", "dimensions", "metrics", "aggregates")


def read_config(config: Path | None) -> dict[str, Any]:
    if config is None:
        return {}
    try:
        with open(config, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise WarehouseError(f"Config file not found: {config}") from None
    except tomllib.TOMLDecodeError as exc:
        raise WarehouseError(f"Config file {config} is not valid TOML: {exc}") from None
    unknown = set(data) - set(SECTIONS)
    if unknown:
        raise WarehouseError(
            f"Unknown section(s) in {config}: {', '.join(sorted(unknown))}. "
            f"Valid sections: {', '.join(SECTIONS)}."
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


def connect_source(
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
    path = local_source(text)
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
                what = {"csv": "a readable CSV file"}.get(reader, "a readable Parquet file")
                why = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
                raise WarehouseError(
                    f"Could not read {candidate}: not {what}"
                    + (f" ({type(exc).__name__}: {why})" if why else f" ({type(exc).__name__})")
                    + ". Check the file, or map another with --config ([tables])."
                ) from exc
            found = found or ours in ("events", "aggregates")  # aggregates: events or beside
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


def map_table(
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


def normalise(
    tables: dict[str, ir.Table], label: str, *, aggregated: bool = False
) -> dict[str, ir.Table]:
    """Times as timestamps, one user_id type, usable optional tables only (``aggregated``: the
    events are a pre-aggregated table, with no user_id)."""
    ev = tables["events"]
    required = ("event_timestamp",) if aggregated else ("user_id", "event_timestamp")
    missing = [c for c in required if c not in ev.columns]
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


def users_join(tables: dict[str, ir.Table], label: str) -> UnjoinedUsers | None:
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


def unjoined_of(state: Mapping[str, Any]) -> UnjoinedUsers | None:
    """The users-join note of a cached discovery."""
    try:
        found = state["schema"].get("unjoined_users")
        return None if found is None else UnjoinedUsers.model_validate(found)
    except Exception:
        return None


def local_source(source: str | Path) -> Path | None:
    """The file or directory a DuckDB-read source lives in; None for a database URL."""
    text = str(source)
    if text.startswith("duckdb://"):
        text = text[len("duckdb://") :]
        if text in ("", "/", ":memory:"):
            return None
    elif "://" in text:
        return None
    return Path(text).expanduser()
