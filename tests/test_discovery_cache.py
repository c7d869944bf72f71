"""The cached discovery: its key for a database follows the data, not the credentials."""

from __future__ import annotations

import json
from datetime import datetime

import ibis

from metric_anomaly_investigator.warehouse.discovery_cache import (
    DISCOVERY_VERSION,
    DiscoveryCache,
    database_key,
)

URL = "postgres://mai:secret@db.example:5432/app"


def _tables(con: ibis.BaseBackend) -> dict[str, ibis.Table]:
    return {"events": con.table("events"), "users": con.table("users")}


def _database() -> ibis.BaseBackend:
    con = ibis.duckdb.connect()
    con.con.execute(
        "CREATE TABLE events AS SELECT * FROM (VALUES "
        "('a', TIMESTAMP '2026-01-01 10:00'), ('b', TIMESTAMP '2026-01-02'), "
        "('a', TIMESTAMP '2026-01-03')) AS t(user_id, event_timestamp)"
    )
    con.con.execute("CREATE TABLE users AS SELECT * FROM (VALUES ('a'), ('b')) AS t(user_id)")
    return con


def test_the_key_follows_rows_and_time_range_not_the_password() -> None:
    con = _database()
    key = database_key(URL, _tables(con), {}, "1")
    assert key == database_key(URL, _tables(con), {}, "1")  # stable
    assert key == database_key(URL.replace("secret", "rotated"), _tables(con), {}, "1")
    assert key != database_key(URL.replace("/app", "/other"), _tables(con), {}, "1")
    assert key != database_key(URL, _tables(con), {"tables": {"events": "ev"}}, "1")
    assert key != database_key(URL, _tables(con), {}, "2")  # another discovery format

    con.con.execute("INSERT INTO users VALUES ('c')")  # a new user
    with_user = database_key(URL, _tables(con), {}, "1")
    assert with_user != key

    # an event moved later: same counts, another time range
    con.con.execute(
        "UPDATE events SET event_timestamp = TIMESTAMP '2026-01-09' "
        "WHERE event_timestamp = TIMESTAMP '2026-01-03'"
    )
    assert database_key(URL, _tables(con), {}, "1") not in (key, with_user)


def test_a_saved_discovery_reads_back() -> None:
    cache = DiscoveryCache("k1")
    assert cache.load() is None
    cache.save({"schema": {"start": datetime(2026, 1, 1)}, "rollup": None})
    saved = {"schema": {"start": "2026-01-01 00:00:00"}, "rollup": None}
    assert DiscoveryCache("k1").load() == saved
    cache.path.write_text("[1, 2]")  # not a mapping: discover afresh
    assert DiscoveryCache("k1").load() is None


def test_a_discovery_saved_by_an_older_version_is_discovered_again() -> None:
    cache = DiscoveryCache("k2")
    cache.save({"schema": {}, "rollup": None})
    state = json.loads(cache.path.read_text())
    assert state["discovery_version"] == DISCOVERY_VERSION
    cache.path.write_text(json.dumps({"schema": {}, "rollup": None}))  # before versions
    assert DiscoveryCache("k2").load() is None
    older = {"schema": {}, "rollup": None, "discovery_version": DISCOVERY_VERSION - 1}
    cache.path.write_text(json.dumps(older))
    assert DiscoveryCache("k2").load() is None
