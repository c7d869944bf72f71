"""Deployments and annotations: what changed, read leniently from the user's tables."""

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from .layout import DEPLOYED_RAW
from .query_plan import (
    DateLike,
    to_date,
)
from .types import (
    Annotation,
    Deployment,
    WarehouseError,
)
from .warehouse import Warehouse

_GLOBAL = ("all", "*", "global")


def _missing(value: Any) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value))


def _regions(value: Any) -> tuple[list[str], str | None]:
    """A deployment's regions (``["all"]`` when global or unusable) and what was wrong, if any."""
    if _missing(value):
        return ["all"], None
    if isinstance(value, str):
        parts = [p.strip() for p in value.strip("[]{}").split(",")]
        parts = [p.strip("'\"") for p in parts if p.strip("'\"")]
    elif isinstance(value, list | tuple | np.ndarray) and all(isinstance(p, str) for p in value):
        parts = [str(p) for p in value]
    else:
        return ["all"], f"regions {_shown(value)} is not a list of region names"
    if not parts or any(p.lower() in _GLOBAL for p in parts):
        return ["all"], None
    return parts, None


def _text_field(rec: Mapping[str, Any], name: str) -> tuple[str | None, str | None]:
    """A deployment's text field (platform, app_version) and what was wrong with it, if any."""
    value = rec.get(name)
    if _missing(value):
        return None, None
    if isinstance(value, str):
        return value.strip() or None, None
    return None, f"{name} {_shown(value)} is not text"


def _percentage(value: Any) -> tuple[float | None, str | None]:
    if _missing(value):
        return None, None
    try:
        pct = float(value)
    except (TypeError, ValueError):
        return None, f"rollout_percentage {_shown(value)} is not a number"
    return (pct, None) if np.isfinite(pct) else (None, "rollout_percentage is not finite")


def _shown(value: Any) -> str:
    """A bad value, short, for a data-quality note."""
    text = repr(value.tolist() if isinstance(value, np.ndarray) else value)
    return text if len(text) <= 40 else text[:39] + "…"


def _opt_str(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return None
    return str(value)


def _ts_window(
    wh: Warehouse, start: DateLike | None, end: DateLike | None
) -> tuple[datetime | None, datetime | None]:
    s = None if start is None else to_date(start, "The start")
    e = None if end is None else to_date(end, "The end")
    if s is not None and e is not None and s > e:
        raise WarehouseError(f"The window is inverted: it starts {s} after it ends {e}.")
    lo = datetime.combine(s, datetime.min.time()) if s else None
    hi = datetime.combine(e + timedelta(days=1), datetime.min.time()) if e else None
    return lo, hi


def _as_datetime(value: Any) -> datetime:
    """A naive datetime; an aware one is converted to UTC first (as the events' days are)."""
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.to_pydatetime()


def _scope(rec: Mapping[str, Any], wh: Warehouse) -> dict[str, str]:
    """An annotation's scope: columns named like dimensions, and/or a ``scope`` column.

    The ``scope`` column may hold ``dim=value`` pairs (``country=JP; platform=ios``), a bare
    value of some dimension (``JP``), ``all``/empty (global), or a mapping (JSON object, struct).
    Pairs naming no dimension are kept as given; a bare value no dimension has is dropped.
    """
    dims = wh.schema.dimension_names
    out = {k: str(v) for k, v in rec.items() if k in dims and _opt_str(v) is not None}
    raw = rec.get("scope")
    if isinstance(raw, Mapping):
        pairs = [(str(k), _opt_str(v)) for k, v in raw.items()]
    elif _opt_str(raw) is None:
        pairs = []
    else:
        text = str(raw).strip().strip("{}")
        pairs = []
        for part in text.replace(";", ",").split(","):
            key, sep, value = part.partition("=") if "=" in part else part.partition(":")
            key, value = key.strip().strip("'\""), value.strip().strip("'\"")
            if not sep:
                key, value = "", key
            if value.lower() in ("", "all", "*", "global"):
                continue
            if not key:
                key = next((d.name for d in wh.schema.dimensions if value in d.values), "")
            pairs.append((key, value))
    for dim, val in pairs:
        if dim and val is not None:
            out.setdefault(dim, val)
    return out


def deployments(
    wh: Warehouse,
    *,
    start: DateLike | None = None,
    end: DateLike | None = None,
    platform: str | None = None,
    region: str | None = None,
    version: str | None = None,
) -> list[Deployment]:
    """Deployments in a window (inclusive days), optionally matching platform/region/version.

    A malformed field (numeric regions, a platform that is not text…) is left out of the
    deployment and named in its ``problems``; the rest of the row is used.
    """
    t = wh.deployments_table
    if t is None:
        return []
    lo, hi = _ts_window(wh, start, end)
    ts = t.deployed_at
    preds = [ts.notnull()]
    if lo is not None:
        preds.append(ts >= lo)
    if hi is not None:
        preds.append(ts < hi)
    if platform is not None and "platform" in t.columns:
        preds.append(t.platform.cast("string").lower() == str(platform).lower())
    if version is not None and "app_version" in t.columns:
        preds.append(t.app_version.cast("string") == str(version))
    df = wh.execute(t.filter(*preds).drop(DEPLOYED_RAW))
    out = []
    for rec in df.to_dict("records"):
        regions, bad_regions = _regions(rec.get("regions"))
        if region is not None and "all" not in regions and region not in regions:
            continue
        plat, bad_platform = _text_field(rec, "platform")
        version_text, bad_version = _text_field(rec, "app_version")
        pct, bad_pct = _percentage(rec.get("rollout_percentage"))
        problems = [p for p in (bad_platform, bad_version, bad_regions, bad_pct) if p]
        out.append(
            Deployment(
                deployment_id=str(rec["deployment_id"]),
                deployed_at=_as_datetime(rec["deployed_at"]),
                platform=plat,
                app_version=version_text,
                regions=regions,
                rollout_percentage=pct,
                description=_opt_str(rec.get("description")),
                problems=problems,
            )
        )
    out.sort(key=lambda d: (d.deployed_at, d.deployment_id))
    return out


def undated_deployments(wh: Warehouse) -> list[tuple[str, str | None]]:
    """Deployments whose deployed_at is missing or no date/time: (id, the value as given)."""
    t = wh.deployments_table
    if t is None:
        return []
    df = wh.execute(t.filter(t.deployed_at.isnull()).select("deployment_id", DEPLOYED_RAW))
    pairs = zip(df["deployment_id"], df[DEPLOYED_RAW], strict=True)
    return [(str(i), _opt_str(raw)) for i, raw in pairs]


def annotations(
    wh: Warehouse, *, start: DateLike | None = None, end: DateLike | None = None
) -> list[Annotation]:
    """Annotations overlapping the window; ``scope`` holds columns named like dimensions."""
    t = wh.annotations_table
    if t is None:
        return []
    lo, hi = _ts_window(wh, start, end)
    starts = t.starts_at
    ends = t.ends_at if "ends_at" in t.columns else starts
    preds = [starts.notnull()]  # a start that is no date/time places it nowhere
    if hi is not None:
        preds.append(starts < hi)
    if lo is not None:
        preds.append(ends.fill_null(starts) >= lo)
    df = wh.execute(t.filter(*preds) if preds else t)
    out = []
    for rec in df.to_dict("records"):
        ends_at = rec.get("ends_at")
        out.append(
            Annotation(
                name=str(rec["name"]),
                kind=_opt_str(rec.get("kind")) or "other",
                starts_at=_as_datetime(rec["starts_at"]),
                ends_at=None if _opt_str(ends_at) is None else _as_datetime(ends_at),
                scope=_scope(rec, wh),
            )
        )
    out.sort(key=lambda a: (a.starts_at, a.name))
    return out
