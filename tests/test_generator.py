"""The generator: determinism, shape of the data, and the planted effects."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from itertools import pairwise

import duckdb
import pytest

from metric_anomaly_investigator.warehouse import generator
from metric_anomaly_investigator.warehouse.generator import Effect, WorldSpec, generate_world
from metric_anomaly_investigator.warehouse.integrity import SIGNATURE_KEYS, events_signature


def _tables(path):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
            for t in ("users", "events", "deployments", "annotations", "_mai_user_day")
        }
    finally:
        con.close()


def _assert_rollup_matches_events(con):
    """The per-user-day rollup holds exactly the events and distinct sessions of each user-day."""
    raw = con.execute(
        "SELECT user_id, event_timestamp::DATE, count(*), count(DISTINCT session_id) "
        "FROM events GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    rolled = con.execute(
        "SELECT user_id, day, events, sessions FROM _mai_user_day ORDER BY ALL"
    ).fetchall()
    assert raw and raw == rolled


SPEC = WorldSpec(start=date(2026, 1, 1), end=date(2026, 1, 28), users=400, seed=3)


def test_same_seed_same_data(tmp_path):
    a = generate_world(SPEC, tmp_path / "a.duckdb")
    b = generate_world(SPEC, tmp_path / "b.duckdb")
    c = generate_world(SPEC, tmp_path / "c.duckdb", seed=4)
    assert _tables(a) == _tables(b)
    assert _tables(a)["events"] != _tables(c)["events"]
    assert not list(tmp_path.glob(".*tmp*"))  # written atomically, no leftovers


def test_rollup_matches_events_and_weekends_dip(tmp_path):
    path = generate_world(SPEC, tmp_path / "w.duckdb", users=1500)
    con = duckdb.connect(str(path), read_only=True)
    _assert_rollup_matches_events(con)
    dow = dict(
        con.execute(
            "SELECT isodow(day) >= 6, count(*) / count(DISTINCT day) FROM _mai_user_day GROUP BY 1"
        ).fetchall()
    )
    assert dow[True] < 0.92 * dow[False]
    signups = con.execute("SELECT count(*) FROM users WHERE signup_date >= '2026-01-01'").fetchone()
    assert signups is not None and signups[0] > 100
    con.close()


def test_type_rollup_and_wau_spans_match_events(tmp_path):
    path = generate_world(SPEC, tmp_path / "t.duckdb", users=800)
    con = duckdb.connect(str(path), read_only=True)
    raw = con.execute(
        "SELECT user_id, event_timestamp::DATE, event_type::VARCHAR, app_version::VARCHAR, "
        "count(*), count(DISTINCT session_id) FROM events GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    typed = con.execute(
        "SELECT user_id, day, event_type::VARCHAR, app_version::VARCHAR, events, sessions "
        "FROM _mai_user_day_type ORDER BY ALL"
    ).fetchall()
    assert raw == typed
    spans = con.execute(
        "SELECT _mai_span_user, _mai_span_combo, "
        "least(coalesce(lead(day) OVER (PARTITION BY user_id ORDER BY day) - day, 7), 7), "
        "least(coalesce(lead(day) OVER (PARTITION BY user_id, app_version ORDER BY day) - day, 7)"
        ", 7) FROM _mai_user_day"
    ).fetchall()
    assert spans and all(a == c and b == d for a, b, c, d in spans)
    con.close()


def test_users_and_days_override(tmp_path):
    path = generate_world(SPEC, tmp_path / "s.duckdb", users=50, days=7)
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT count(*) FROM users").fetchone() == (50,)
    lo, hi = con.execute("SELECT min(day), max(day) FROM _mai_user_day").fetchone()  # type: ignore[misc]
    assert (lo, hi) == (date(2026, 1, 22), date(2026, 1, 28))
    con.close()


def test_bad_spec(tmp_path):
    with pytest.raises(ValueError):
        generate_world(SPEC, tmp_path / "x.duckdb", users=0)
    bad = WorldSpec(
        start=date(2026, 1, 1),
        end=date(2026, 1, 5),
        users=10,
        effects=(Effect("users_leave", date(2026, 1, 2), segment={"nope": "x"}),),
    )
    with pytest.raises(ValueError, match="unknown segment column"):
        generate_world(bad, tmp_path / "y.duckdb")


def test_chunked_world_is_consistent_and_deterministic(tmp_path, monkeypatch):
    """Users in several chunks: unique ids and sessions, rollups equal to the events, bots kept."""
    monkeypatch.setattr(generator, "CHUNK_USERS", 170)
    spec = WorldSpec(
        start=date(2026, 1, 1),
        end=date(2026, 1, 21),
        users=400,
        seed=5,
        effects=(Effect("bots_appear", date(2026, 1, 10), segment={"country": "XX"}, bots=3),),
    )
    a = generate_world(spec, tmp_path / "a.duckdb")
    b = generate_world(spec, tmp_path / "b.duckdb")
    assert _tables(a) == _tables(b)
    con = duckdb.connect(str(a), read_only=True)
    ids = con.execute("SELECT min(user_id), max(user_id), count(DISTINCT user_id) FROM users")
    assert ids.fetchone() == (1, 403, 403)
    bots = con.execute("SELECT list(user_id ORDER BY user_id) FROM users WHERE country = 'XX'")
    assert bots.fetchone() == ([401, 402, 403],)
    # a session belongs to one user: ids do not repeat across chunks
    shared = con.execute(
        "SELECT count(*) FROM (SELECT session_id FROM events GROUP BY 1 "
        "HAVING count(DISTINCT user_id) > 1)"
    ).fetchone()
    assert shared == (0,)
    chunks = con.execute(
        "SELECT count(DISTINCT (user_id - 1) // 170) FROM events WHERE user_id <= 400"
    ).fetchone()
    assert chunks == (3,)
    _assert_rollup_matches_events(con)
    typed = con.execute("SELECT sum(events), sum(sessions) FROM _mai_user_day_type").fetchone()
    by_type = con.execute(
        "SELECT sum(n), sum(s) FROM (SELECT count(*) AS n, count(DISTINCT session_id) AS s "
        "FROM events GROUP BY user_id, event_timestamp::DATE, event_type)"
    ).fetchone()
    assert typed == by_type
    con.close()


def test_generated_world_records_the_events_signature(tmp_path):
    path = generate_world(SPEC, tmp_path / "m.duckdb")
    con = duckdb.connect(str(path), read_only=True)
    meta = dict(con.execute("SELECT key, value FROM _mai_meta").fetchall())
    assert {k: meta[k] for k in SIGNATURE_KEYS} == events_signature(con)
    rows = con.execute("SELECT count(*) FROM events").fetchone()
    assert rows is not None and meta["events_rows"] == str(rows[0])
    con.close()


def test_activity_change_and_drift(tmp_path):
    """``activity_change`` scales a segment's activity at once; ``drift`` a little more each week;
    neither draws anything of its own: at factor 1 the world is the one without them."""
    start = date(2026, 1, 5)  # a Monday: weeks of the window are calendar weeks
    base = WorldSpec(start=start, end=date(2026, 2, 15), users=1500, seed=9, new_user_share=0.0)
    spec = replace(
        base,
        effects=(
            Effect("activity_change", date(2026, 1, 19), segment={"country": "US"}, factor=1.6),
            Effect("drift", date(2026, 1, 19), segment={"country": "IN"}, factor=0.85),
        ),
    )
    con = duckdb.connect(str(generate_world(spec, tmp_path / "e.duckdb")), read_only=True)
    weekly = {
        (country, week): n
        for country, week, n in con.execute(
            "SELECT country::VARCHAR, (day - DATE '2026-01-05') // 7, count(*) FROM _mai_user_day "
            "GROUP BY ALL"
        ).fetchall()
    }
    con.close()
    us = [weekly["US", k] for k in range(6)]
    india = [weekly["IN", k] for k in range(6)]
    brazil = [weekly["BR", k] for k in range(6)]
    assert min(us[2:]) > 1.35 * max(us[:2])
    assert india[5] < 0.65 * india[1] and india[2] > 0.85 * india[1]  # gradual, not at once
    assert all(a > b for a, b in pairwise(india[1:]))
    assert 0.85 < brazil[5] / brazil[1] < 1.15
    neutral = replace(
        base,
        effects=(
            Effect("activity_change", date(2026, 1, 19), segment={"country": "US"}, factor=1.0),
            Effect("drift", date(2026, 1, 19), segment={"country": "IN"}, factor=1.0),
        ),
    )
    assert _tables(generate_world(neutral, tmp_path / "n.duckdb", users=400)) == _tables(
        generate_world(base, tmp_path / "b.duckdb", users=400)
    )
