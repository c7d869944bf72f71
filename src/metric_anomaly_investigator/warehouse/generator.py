"""Seeded, vectorized synthetic worlds with planted anomalies, written to a DuckDB file.

A world is a :class:`WorldSpec`: users with attributes (country, platform, acquisition channel,
plan), daily activity with weekly seasonality and new signups, app versions that roll out after
each :class:`DeploymentSpec` (users update over a few days), annotations, and planted
:class:`Effect` s. Everything is computed with numpy on a users x days matrix and on flat event
arrays (no per-row Python loops), then written with DuckDB, atomically (temp file + rename).
Users are generated ``CHUNK_USERS`` at a time, each chunk appended to the tables before the next
is drawn, so memory stays bounded whatever the number of events.

Column names of the dimensions are part of the spec (``platform_col`` …), so worlds can use
other names (``os``, ``region``) and nothing downstream may assume the demo's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal

import duckdb
import numpy as np
import pyarrow as pa

from .integrity import events_signature
from .layout import (
    META_TABLE,
    ROLLUP_TABLE,
    ROLLUP_VERSION,
    SPAN_COMBO,
    SPAN_USER,
    TYPE_ROLLUP_TABLE,
)
from .metrics import WAU_DAYS
from .resources import apply_limits
from .types import WarehouseError

__all__ = [
    "AnnotationSpec",
    "DeploymentSpec",
    "Effect",
    "WorldSpec",
    "generate_world",
]

Progress = Callable[[str, float], None]
EffectKind = Literal[
    "users_leave",
    "holiday",
    "events_per_user_fall",
    "bots_appear",
    "event_type_stops_logging",
    "retention_decay",
    "activity_change",
    "drift",
]
US_PER_DAY = 86_400_000_000
CHUNK_USERS = 50_000  # users generated (and held in memory) at a time
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class DeploymentSpec:
    deployment_id: str
    at: datetime
    platform: str
    app_version: str
    regions: tuple[str, ...] = ("all",)
    rollout_percentage: float = 100.0
    description: str = ""
    adoption_days: float = 2.0  # mean delay (days) before an eligible user runs the new version


@dataclass(frozen=True)
class AnnotationSpec:
    name: str
    kind: str
    starts_at: datetime
    ends_at: datetime | None = None
    scope: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Effect:
    """A planted effect on the users/user-days matching ``segment`` from ``start`` to ``end``.

    - ``users_leave`` / ``holiday`` / ``activity_change``: daily activity probability multiplied
      by ``factor`` (``activity_change`` names a rise, ``factor`` above 1, as well as a fall);
    - ``drift``: daily activity probability multiplied by ``factor`` once per week since
      ``start`` (compounded day by day: a gradual decline for ``factor`` below 1);
    - ``events_per_user_fall``: events per active user-day multiplied by ``factor``;
    - ``bots_appear``: ``bots`` new users (attributes from ``segment``) active every day with
      about ``bot_events`` events each;
    - ``event_type_stops_logging``: events of ``event_type`` are no longer recorded;
    - ``retention_decay``: users who sign up in the window lose activity by ``factor`` per week
      of age (the window is the signup window; the effect lasts to the end of the data).

    ``segment`` keys are the world's dimension columns, or ``app_version``.
    """

    kind: EffectKind
    start: date
    end: date | None = None
    segment: Mapping[str, str] = field(default_factory=dict)
    factor: float = 0.5
    event_type: str | None = None
    bots: int = 0
    bot_events: int = 300


@dataclass(frozen=True)
class WorldSpec:
    start: date = date(2025, 11, 1)
    end: date = date(2026, 2, 11)
    users: int = 50_000
    seed: int = 7
    platform_col: str = "platform"
    country_col: str = "country"
    channel_col: str = "acquisition_channel"
    plan_col: str = "plan"
    countries: Mapping[str, float] = field(
        default_factory=lambda: {
            "IN": 0.30,
            "US": 0.22,
            "BR": 0.14,
            "GB": 0.08,
            "DE": 0.08,
            "ID": 0.10,
            "JP": 0.08,
        }
    )
    platforms: Mapping[str, float] = field(
        default_factory=lambda: {"android": 0.55, "ios": 0.35, "web": 0.10}
    )
    platform_by_country: Mapping[str, Mapping[str, float]] = field(
        default_factory=lambda: {
            "IN": {"android": 0.82, "ios": 0.10, "web": 0.08},
            "US": {"android": 0.40, "ios": 0.50, "web": 0.10},
            "JP": {"android": 0.30, "ios": 0.60, "web": 0.10},
        }
    )
    channels: Mapping[str, float] = field(
        default_factory=lambda: {
            "organic": 0.45,
            "paid_search": 0.20,
            "social": 0.20,
            "referral": 0.15,
        }
    )
    plans: Mapping[str, float] = field(
        default_factory=lambda: {"free": 0.75, "plus": 0.20, "pro": 0.05}
    )
    initial_versions: Mapping[str, str] = field(
        default_factory=lambda: {"android": "2.1.0", "ios": "2.1.0", "web": "2.1.0"}
    )
    event_types: Mapping[str, float] = field(
        default_factory=lambda: {
            "screen_view": 0.45,
            "click": 0.25,
            "search": 0.12,
            "add_to_cart": 0.08,
            "share": 0.06,
            "purchase": 0.04,
        }
    )
    session_start_event: str = "app_open"
    deployments: tuple[DeploymentSpec, ...] = ()
    annotations: tuple[AnnotationSpec, ...] = ()
    effects: tuple[Effect, ...] = ()
    activity: float = 0.36  # mean daily activity probability of an established user
    weekend_factor: float = 0.82
    events_per_day: float = 5.0  # mean events per active user-day
    new_user_share: float = 0.3  # share of users who sign up during the window
    daily_noise: float = 0.015


def _pick(rng: np.random.Generator, weights: Mapping[str, float], n: int) -> np.ndarray:
    p = np.array(list(weights.values()), dtype=float)
    cum = np.cumsum(p / p.sum())
    return np.minimum(np.searchsorted(cum, rng.random(n)), len(p) - 1).astype(np.int16)


def _dict_array(codes: np.ndarray, labels: list[str]) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(labels))


class _Shared:
    """World-wide state of a world being generated, shared by its chunks of users."""

    def __init__(self, spec: WorldSpec) -> None:
        self.spec = spec
        self.n_days = (spec.end - spec.start).days + 1
        self.days = np.arange(self.n_days)
        self.labels: dict[str, list[str]] = {
            spec.country_col: list(spec.countries),
            spec.platform_col: list(spec.platforms),
            spec.channel_col: list(spec.channels),
            spec.plan_col: list(spec.plans),
        }
        versions = list(dict.fromkeys([*spec.initial_versions.values()]))
        for d in sorted(spec.deployments, key=lambda d: d.at):
            if d.app_version not in versions:
                versions.append(d.app_version)
        self.labels["app_version"] = versions
        self.type_labels = [spec.session_start_event, *spec.event_types]
        self.noise: np.ndarray | None = None  # daily activity noise, drawn by the first chunk
        self.frozen = False
        self._register_labels()
        self.frozen = True  # the database's ENUM types are made from these labels

    def code(self, column: str, value: str) -> int:
        labels = self.labels.get(column)
        if labels is None:
            raise ValueError(f"unknown segment column {column!r}; known: {sorted(self.labels)}")
        if value not in labels:
            if self.frozen:
                raise ValueError(f"value {value!r} of {column!r} was not registered up front")
            labels.append(value)
        return labels.index(value)

    def _register_labels(self) -> None:
        """Every value the spec names, in the order generating it first meets them."""
        spec = self.spec
        dims = (spec.country_col, spec.platform_col, spec.channel_col, spec.plan_col)
        for eff in spec.effects:
            if eff.kind == "bots_appear" and eff.bots > 0:
                for col in dims:
                    if col in eff.segment:
                        self.code(col, eff.segment[col])
        for p in list(self.labels[spec.platform_col]):
            self.code("app_version", spec.initial_versions.get(p, "1.0.0"))
        for dep in sorted(spec.deployments, key=lambda d: d.at):
            self.code(spec.platform_col, dep.platform)
            for r in dep.regions:
                if r != "all":
                    self.code(spec.country_col, r)
        kinds = (
            ("users_leave", "holiday", "retention_decay", "activity_change", "drift"),
            ("events_per_user_fall",),
            ("event_type_stops_logging",),
        )
        for group in kinds:
            for eff in spec.effects:
                if eff.kind in group:
                    for col, value in eff.segment.items():
                        self.code(col, value)


class _World:
    """Intermediate arrays of one chunk of users being generated."""

    attrs: dict[str, np.ndarray]
    signup: np.ndarray  # signup day index (negative: before the window)
    propensity: np.ndarray
    rate: np.ndarray
    bot: np.ndarray
    n_users: int
    version: np.ndarray  # users x days version codes

    def __init__(
        self, shared: _Shared, rng: np.random.Generator, users: int, *, bots: bool
    ) -> None:
        self.shared = shared
        self.spec = shared.spec
        self.rng = rng
        self.chunk_users = users
        self.with_bots = bots  # the bots of ``bots_appear`` effects join this chunk
        self.n_days = shared.n_days
        self.days = shared.days
        self.labels = shared.labels
        self.type_labels = shared.type_labels

    def day_index(self, d: date) -> int:
        return (d - self.spec.start).days

    def code(self, column: str, value: str) -> int:
        return self.shared.code(column, value)


def _users(w: _World) -> None:
    spec, rng = w.spec, w.rng
    n = w.chunk_users
    country = _pick(rng, spec.countries, n)
    platform = _pick(rng, spec.platforms, n)
    for cname, weights in spec.platform_by_country.items():
        if cname not in spec.countries:
            continue
        mask = country == w.code(spec.country_col, cname)
        ordered = {p: weights.get(p, 0.0) for p in spec.platforms}
        platform[mask] = _pick(rng, ordered, int(mask.sum()))
    channel = _pick(rng, spec.channels, n)
    plan = _pick(rng, spec.plans, n)
    new = rng.random(n) < spec.new_user_share
    signup = np.where(
        new,
        rng.integers(0, w.n_days, n),
        -rng.integers(1, 400, n),
    ).astype(np.int32)
    propensity = rng.beta(2.2, 2.2 * (1 - spec.activity) / spec.activity, n)
    rate = rng.gamma(3.0, spec.events_per_day / 3.0, n)
    bot = np.zeros(n, dtype=bool)
    attrs = {
        spec.country_col: country,
        spec.platform_col: platform,
        spec.channel_col: channel,
        spec.plan_col: plan,
    }
    for eff in spec.effects:
        if eff.kind != "bots_appear" or eff.bots <= 0 or not w.with_bots:
            continue
        b = eff.bots
        for col in attrs:
            fill = (
                w.code(col, eff.segment[col])
                if col in eff.segment
                else int(np.bincount(attrs[col]).argmax())
            )
            attrs[col] = np.concatenate([attrs[col], np.full(b, fill, dtype=np.int16)])
        signup = np.concatenate([signup, np.full(b, w.day_index(eff.start), dtype=np.int32)])
        propensity = np.concatenate([propensity, np.zeros(b)])
        rate = np.concatenate([rate, np.full(b, float(eff.bot_events))])
        bot = np.concatenate([bot, np.ones(b, dtype=bool)])
    w.attrs = attrs
    w.signup = signup
    w.propensity = propensity
    w.rate = rate
    w.bot = bot
    w.n_users = len(signup)


def _versions(w: _World) -> None:
    """Version code per user-day: users update some days after each deployment reaches them."""
    spec, rng = w.spec, w.rng
    plat = w.attrs[spec.platform_col]
    country = w.attrs[spec.country_col]
    init = np.array(
        [
            w.code("app_version", spec.initial_versions.get(p, "1.0.0"))
            for p in w.labels[spec.platform_col]
        ],
        dtype=np.int16,
    )
    version = np.repeat(init[plat][:, None], w.n_days, axis=1)
    start_dt = datetime.combine(spec.start, datetime.min.time())
    for dep in sorted(spec.deployments, key=lambda d: d.at):
        eligible = plat == w.code(spec.platform_col, dep.platform)
        if "all" not in dep.regions:
            codes = [w.code(spec.country_col, r) for r in dep.regions]
            eligible &= np.isin(country, codes)
        eligible &= rng.random(w.n_users) < dep.rollout_percentage / 100.0
        t0 = (dep.at - start_dt).total_seconds() / 86_400
        adopt = np.floor(t0 + rng.exponential(dep.adoption_days, w.n_users))
        adopt = np.where(eligible, adopt, np.inf)
        mask = w.days[None, :] >= adopt[:, None]
        version[mask] = w.code("app_version", dep.app_version)
    w.version = version


def _segment_mask(
    w: _World, segment: Mapping[str, str], u: np.ndarray, d: np.ndarray
) -> np.ndarray:
    mask = np.ones(np.broadcast(u, d).shape, dtype=bool)
    for col, value in segment.items():
        code = w.code(col, value)
        if col == "app_version":
            mask &= w.version[u, d] == code
        else:
            mask &= (w.attrs[col][u] == code) & np.ones_like(d, dtype=bool)
    return mask


def _window_mask(w: _World, eff: Effect, d: np.ndarray) -> np.ndarray:
    lo = w.day_index(eff.start)
    hi = w.day_index(eff.end) if eff.end is not None else w.n_days - 1
    return (d >= lo) & (d <= hi)


def _activity(w: _World) -> tuple[np.ndarray, np.ndarray]:
    """Active (user, day) pairs, day-major."""
    spec, rng = w.spec, w.rng
    u = np.arange(w.n_users)[:, None]
    d = w.days[None, :]
    weekday = np.array([(spec.start + timedelta(days=int(i))).weekday() for i in w.days])
    weekly = np.where(weekday >= 5, spec.weekend_factor, 1.0)
    if w.shared.noise is None:
        w.shared.noise = rng.normal(0, spec.daily_noise, w.n_days)
    weekly = weekly * (1 + w.shared.noise)
    age = d - w.signup[:, None]
    p = w.propensity[:, None] * weekly[None, :] * (age >= 0)
    fresh = w.signup >= 0
    p = p * np.where(fresh[:, None] & (age >= 0), 1 + 1.2 * np.exp(-np.maximum(age, 0) / 6), 1.0)
    for eff in spec.effects:
        if eff.kind in ("users_leave", "holiday", "activity_change"):
            m = _segment_mask(w, eff.segment, u, d) & _window_mask(w, eff, d)
            p = np.where(m, p * eff.factor, p)
        elif eff.kind == "drift":
            m = _segment_mask(w, eff.segment, u, d) & _window_mask(w, eff, d)
            weeks = np.maximum(d - w.day_index(eff.start), 0) / 7.0
            p = np.where(m, p * eff.factor**weeks, p)
        elif eff.kind == "retention_decay":
            lo = w.day_index(eff.start)
            hi = w.day_index(eff.end) if eff.end is not None else w.n_days - 1
            cohort = (w.signup >= lo) & (w.signup <= hi) & ~w.bot
            m = _segment_mask(w, eff.segment, u, d) & cohort[:, None] & (age >= 0)
            p = np.where(m, p * eff.factor ** (np.maximum(age, 0) / 7.0), p)
        elif eff.kind == "bots_appear":
            m = w.bot[:, None] & _window_mask(w, eff, d) & (age >= 0)
            p = np.where(m, 1.0, p)
    p = np.minimum(p, 0.97)
    active = rng.random(p.shape, dtype=np.float32) < p
    dd, uu = np.nonzero(active.T)
    return uu.astype(np.int64), dd.astype(np.int64)


def _events(w: _World, uu: np.ndarray, dd: np.ndarray) -> dict[str, np.ndarray]:
    spec, rng = w.spec, w.rng
    rate = w.rate[uu] * np.where(
        np.array([(spec.start + timedelta(days=int(i))).weekday() >= 5 for i in w.days])[dd],
        0.9,
        1.0,
    )
    for eff in spec.effects:
        if eff.kind == "events_per_user_fall":
            m = _segment_mask(w, eff.segment, uu, dd) & _window_mask(w, eff, dd)
            rate = np.where(m, rate * eff.factor, rate)
    n_ev = 1 + rng.poisson(np.maximum(rate - 1, 0.05))
    n_sess = 1 + rng.binomial(n_ev - 1, np.where(w.bot[uu], 0.03, 0.12))
    total = int(n_ev.sum())
    ud = np.repeat(np.arange(len(uu)), n_ev)
    first_ev = np.cumsum(n_ev) - n_ev
    j = np.arange(total) - first_ev[ud]
    sess_off = np.cumsum(n_sess) - n_sess
    sid = sess_off[ud] + (j * n_sess[ud]) // n_ev[ud]
    is_first = np.r_[True, sid[1:] != sid[:-1]]
    first_idx = np.flatnonzero(is_first)
    pos = np.arange(total) - first_idx[sid]
    n_total_sess = int(n_sess.sum())
    hour = np.clip(rng.normal(15.0, 4.0, n_total_sess), 0.2, 21.5)
    start_us = (hour * 3_600_000_000).astype(np.int64)
    gap_us = rng.integers(5_000_000, 90_000_000, total)
    offset = np.minimum(start_us[sid] + pos * gap_us // 2 + pos * 1_000_000, US_PER_DAY - 1)
    day0 = (spec.start - EPOCH).days
    ts = (day0 + dd[ud]) * US_PER_DAY + offset
    type_code = _pick(rng, spec.event_types, total) + 1
    type_code[is_first] = 0
    type_labels = w.type_labels
    keep = np.ones(total, dtype=bool)
    for eff in spec.effects:
        if eff.kind == "event_type_stops_logging" and eff.event_type is not None:
            code = type_labels.index(eff.event_type)
            m = _segment_mask(w, eff.segment, uu[ud], dd[ud]) & _window_mask(w, eff, dd[ud])
            keep &= ~(m & (type_code == code))
    return {
        "ud": ud[keep],
        "ts": ts[keep],
        "type": type_code[keep],
        "sid": sid[keep] + 1,
    }


def _wau_spans(day: np.ndarray, *keys: np.ndarray) -> np.ndarray:
    """Days to the next row with the same keys (capped at WAU_DAYS; no next row: WAU_DAYS)."""
    order = np.lexsort((day, *keys[::-1]))
    d = day[order]
    same = np.ones(len(order) - 1 if len(order) else 0, dtype=bool)
    for k in keys:
        ks = k[order]
        same &= ks[1:] == ks[:-1]
    gap = np.full(len(order), WAU_DAYS, dtype=np.int64)
    gap[:-1] = np.where(same, np.minimum(d[1:] - d[:-1], WAU_DAYS), WAU_DAYS)
    out = np.empty(len(order), dtype=np.int8)
    out[order] = gap
    return out


def _type_rollup(
    w: _World,
    uu: np.ndarray,
    dd: np.ndarray,
    ver: np.ndarray,
    ev: dict[str, np.ndarray],
    event_cols: list[str],
    user_cols: list[str],
    day0: int,
    first_id: int,
) -> pa.Table:
    """One row per (user, day, event_type) with its events and distinct sessions."""
    n_types = len(w.type_labels)
    ud, etype, sid = ev["ud"], ev["type"].astype(np.int64), ev["sid"]
    key = ud * n_types + etype  # events are ordered by user-day: keys of a user-day are adjacent
    events = np.bincount(key, minlength=len(uu) * n_types)
    # distinct (session, type) pairs: mark them on a sessions x types grid
    seen = np.zeros((int(sid.max()) + 1 if len(sid) else 1) * n_types, dtype=bool)
    seen[sid * n_types + etype] = True
    pair = np.flatnonzero(seen)
    ud_of_sid = np.zeros(len(seen) // n_types, dtype=np.int64)
    ud_of_sid[sid] = ud
    p_sid, p_type = pair // n_types, pair % n_types
    sessions = np.bincount(ud_of_sid[p_sid] * n_types + p_type, minlength=len(events))
    rows = np.flatnonzero(events)
    r_ud, r_type = rows // n_types, rows % n_types
    ru = uu[r_ud]
    return pa.table(
        {
            "user_id": pa.array(ru + first_id),
            "day": pa.array((dd[r_ud] + day0).astype("datetime64[D]")),
            "event_type": _dict_array(r_type, w.type_labels),
            **{c: _dict_array(w.attrs[c][ru], w.labels[c]) for c in event_cols},
            "app_version": _dict_array(ver[r_ud], w.labels["app_version"]),
            **{c: _dict_array(w.attrs[c][ru], w.labels[c]) for c in user_cols},
            "events": pa.array(events[rows].astype(np.int64)),
            "sessions": pa.array(sessions[rows].astype(np.int64)),
        }
    )


def _load(
    con: duckdb.DuckDBPyConnection,
    name: str,
    table: pa.Table,
    enums: dict[str, str],
    *,
    append: bool = False,
) -> None:
    """Create table ``name`` from ``table`` (or append to it), dictionary columns as ENUMs.

    Tables with dictionary columns go through pandas: DuckDB reads Categorical columns as ENUMs
    several times faster than it converts Arrow dictionaries; dates and timestamps are cast back
    to the Arrow types.
    """
    types = {c: table.schema.field(c).type for c in table.column_names}
    via_pandas = any(pa.types.is_dictionary(t) for t in types.values())
    cols = []
    for c, t in types.items():
        if pa.types.is_dictionary(t):
            cols.append(f'"{c}"::{enums[c]} AS "{c}"')
        elif via_pandas and pa.types.is_date(t):
            cols.append(f'"{c}"::DATE AS "{c}"')
        elif via_pandas and pa.types.is_timestamp(t):
            cols.append(f'"{c}"::TIMESTAMP AS "{c}"')
        else:
            cols.append(f'"{c}"')
    src: object
    if via_pandas:
        src = table.to_pandas(date_as_object=False)
    else:
        src = pa.Table.from_batches(table.to_batches(max_chunksize=122_880), schema=table.schema)
    con.register("_src", src)
    verb = f'INSERT INTO "{name}"' if append else f'CREATE TABLE "{name}" AS'
    try:
        con.execute(f"{verb} SELECT {', '.join(cols)} FROM _src")
    finally:
        con.unregister("_src")


def _chunk_tables(
    w: _World,
    uu: np.ndarray,
    dd: np.ndarray,
    ev: dict[str, np.ndarray],
    first_id: int,
    first_session: int,
) -> dict[str, pa.Table]:
    """The users, events and rollups of one chunk.

    Its user ids start at ``first_id``; its session ids (1.. in ``ev``) follow ``first_session``.
    """
    spec = w.spec
    ud = ev["ud"]
    event_cols = [spec.platform_col, spec.country_col]
    user_cols = [spec.channel_col, spec.plan_col]
    ver = w.version[uu, dd]
    users = pa.table(
        {
            "user_id": pa.array(np.arange(first_id, first_id + w.n_users, dtype=np.int64)),
            "signup_date": pa.array(
                (w.signup.astype(np.int64) + (spec.start - EPOCH).days).astype("datetime64[D]")
            ),
            **{c: _dict_array(w.attrs[c], w.labels[c]) for c in [*event_cols, *user_cols]},
        }
    )
    uid = uu[ud] + first_id
    events = pa.table(
        {
            "user_id": pa.array(uid),
            "event_timestamp": pa.array(ev["ts"].astype("datetime64[us]")),
            "event_type": _dict_array(ev["type"], w.type_labels),
            "session_id": pa.array(ev["sid"] + first_session),
            **{c: _dict_array(w.attrs[c][uu][ud], w.labels[c]) for c in event_cols},
            "app_version": _dict_array(ver[ud], w.labels["app_version"]),
        }
    )
    n_ud = len(uu)
    ev_count = np.bincount(ud, minlength=n_ud)
    new_sess = np.r_[True, ev["sid"][1:] != ev["sid"][:-1]]
    sess_count = np.bincount(ud[new_sess], minlength=n_ud)
    live = ev_count > 0
    lu, ldd, lver = uu[live], dd[live], ver[live]
    day0 = (spec.start - EPOCH).days
    rollup = pa.table(
        {
            "user_id": pa.array(lu + first_id),
            "day": pa.array((ldd + day0).astype("datetime64[D]")),
            **{c: _dict_array(w.attrs[c][lu], w.labels[c]) for c in event_cols},
            "app_version": _dict_array(lver, w.labels["app_version"]),
            **{c: _dict_array(w.attrs[c][lu], w.labels[c]) for c in user_cols},
            "events": pa.array(ev_count[live].astype(np.int64)),
            "sessions": pa.array(sess_count[live].astype(np.int64)),
            # platform and country are user attributes: app_version is the only varying dim
            SPAN_USER: pa.array(_wau_spans(ldd, lu)),
            SPAN_COMBO: pa.array(_wau_spans(ldd, lu, lver)),
        }
    )
    type_rollup = _type_rollup(w, uu, dd, ver, ev, event_cols, user_cols, day0, first_id)
    return {
        "users": users,
        "events": events,
        ROLLUP_TABLE: rollup,
        TYPE_ROLLUP_TABLE: type_rollup,
    }


def _load_all(
    con: duckdb.DuckDBPyConnection, tables: dict[str, pa.Table], enums: dict[str, str], append: bool
) -> None:
    for name, table in tables.items():
        _load(con, name, table, enums, append=append)


def _context_tables(spec: WorldSpec) -> dict[str, pa.Table]:
    """The deployments and annotations tables."""
    deps = sorted(spec.deployments, key=lambda d: d.at)
    deployments = pa.table(
        {
            "deployment_id": pa.array([d.deployment_id for d in deps], pa.string()),
            "deployed_at": pa.array([d.at for d in deps], pa.timestamp("us")),
            "platform": pa.array([d.platform for d in deps], pa.string()),
            "app_version": pa.array([d.app_version for d in deps], pa.string()),
            "regions": pa.array([list(d.regions) for d in deps], pa.list_(pa.string())),
            "rollout_percentage": pa.array([d.rollout_percentage for d in deps], pa.float64()),
            "description": pa.array([d.description for d in deps], pa.string()),
        }
    )
    scope_cols = list(
        dict.fromkeys([spec.country_col, *(k for a in spec.annotations for k in a.scope)])
    )
    annotations = pa.table(
        {
            "name": pa.array([a.name for a in spec.annotations], pa.string()),
            "kind": pa.array([a.kind for a in spec.annotations], pa.string()),
            "starts_at": pa.array([a.starts_at for a in spec.annotations], pa.timestamp("us")),
            "ends_at": pa.array([a.ends_at for a in spec.annotations], pa.timestamp("us")),
            **{
                c: pa.array([a.scope.get(c) for a in spec.annotations], pa.string())
                for c in scope_cols
            },
        }
    )
    return {"deployments": deployments, "annotations": annotations}


def _write(shared: _Shared, tmp: Path, report: Progress) -> None:
    """Generate the world chunk by chunk of users into the DuckDB file ``tmp``.

    The first chunk draws from the seed's own stream (a world of one chunk is what an unchunked
    generator made); chunk ``i`` draws from the stream of ``[seed, i]``. A user's rows all lie in
    one chunk, so the per-user rollups and WAU spans are computed per chunk.
    """
    spec = shared.spec
    n_chunks = max(1, -(-spec.users // CHUNK_USERS))
    con = duckdb.connect(str(tmp))
    try:
        apply_limits(con)
        # ENUM columns load several times faster than VARCHAR and read back as text.
        enums: dict[str, str] = {}
        for i, (col, labels) in enumerate(
            [*shared.labels.items(), ("event_type", shared.type_labels)]
        ):
            enums[col] = f"_mai_enum_{i}"
            literal = ", ".join("'" + v.replace("'", "''") + "'" for v in labels)
            con.execute(f"CREATE TYPE {enums[col]} AS ENUM ({literal})")
        first_id, first_session = 1, 0
        # DuckDB loads one chunk (in a thread, without the GIL) while numpy draws the next
        with ThreadPoolExecutor(max_workers=1) as loader:
            loading: Future[None] | None = None
            for i in range(n_chunks):
                rng = np.random.default_rng(spec.seed if i == 0 else [spec.seed, i])
                size = min(CHUNK_USERS, spec.users - i * CHUNK_USERS)
                w = _World(shared, rng, size, bots=i == n_chunks - 1)
                report(f"users {i * CHUNK_USERS + size:,} of {spec.users:,}", 0.9 * i / n_chunks)
                _users(w)
                _versions(w)
                uu, dd = _activity(w)
                ev = _events(w, uu, dd)
                sessions = int(ev["sid"].max()) if len(ev["sid"]) else 0
                tables = _chunk_tables(w, uu, dd, ev, first_id, first_session)
                first_id += w.n_users
                first_session += sessions
                del w, uu, dd, ev
                if loading is not None:
                    loading.result()
                loading = loader.submit(_load_all, con, tables, enums, i > 0)
                del tables
            if loading is not None:
                loading.result()
        report("writing", 0.92)
        for name, table in _context_tables(spec).items():
            _load(con, name, table, enums)
        meta = {
            "rollup_version": ROLLUP_VERSION,
            "user_day_unique": "true",
            "user_day_type_unique": "true",
            "generator_seed": str(spec.seed),
            **events_signature(con),
        }
        _load(con, META_TABLE, pa.table({"key": list(meta), "value": list(meta.values())}), enums)
        con.execute("CHECKPOINT")
    finally:
        con.close()


def generate_world(
    spec: WorldSpec,
    path: str | Path,
    *,
    users: int | None = None,
    days: int | None = None,
    seed: int | None = None,
    progress: Progress | None = None,
) -> Path:
    """Generate ``spec`` (optionally resized/reseeded) into a DuckDB file, atomically.

    ``days`` keeps the end date and moves the start, so planted effects stay where they are.
    """
    if users is not None:
        spec = replace(spec, users=int(users))
    if days is not None:
        spec = replace(spec, start=spec.end - timedelta(days=int(days) - 1))
    if seed is not None:
        spec = replace(spec, seed=int(seed))
    if spec.users < 1 or spec.end < spec.start:
        raise ValueError("a world needs at least one user and one day")
    report = progress or (lambda _msg, _frac: None)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.unlink(missing_ok=True)
        _write(_Shared(spec), tmp, report)
        os.replace(tmp, out)
    except (OSError, duckdb.Error) as exc:
        reason = getattr(exc, "strerror", None) or str(exc).strip().splitlines()[0][:160]
        raise WarehouseError(f"Could not write {out}: {reason}") from exc
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    report("done", 1.0)
    return out
