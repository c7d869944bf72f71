"""Daily metric series (including the trailing-7-day distinct users, WAU)."""

from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from .direct import direct_daily
from .layout import SPAN_COMBO, SPAN_USER
from .metrics import WAU_DAYS
from .query_plan import (
    DateLike,
    Filters,
    WindowParams,
    apply_filters,
    check_dims,
    check_filters,
    clip_window,
    label_nulls,
    num_den,
    run_shape,
    user_day_base,
)
from .types import MetricSeries
from .warehouse import ParamFn, Warehouse


def _daily_frame(
    wh: Warehouse, metric: str, group: list[str], flt: dict[str, list[str]], s: date, e: date
) -> pd.DataFrame:
    """Columns: day, *group, num, den (only days with activity)."""
    m = wh.schema.metric(metric)
    if m.rolling:
        return wau_frame(wh, group, flt, s, e)
    if not m.plain:
        return direct_daily(wh, m, group, flt, s, e).drop(columns="n")

    def build(param: ParamFn) -> ir.Table:
        w = WindowParams(param, "w")
        b = user_day_base(wh, group, flt, w, param, sessions=m.uses_sessions)
        return b.group_by(["day", *group]).agg(
            users=b.count(), events=b.events.sum(), sessions=b.sessions.sum()
        )

    shape = ("daily", m.uses_sessions, tuple(group))
    df = label_nulls(run_shape(wh, shape, build, flt, w=(s, e)), group)
    num, den = num_den(m, df)
    df["num"], df["den"] = num, den
    df["day"] = pd.to_datetime(df["day"]).dt.date
    return df[["day", *group, "num", "den"]]


def _stored_span(wh: Warehouse, group: list[str], flt: dict[str, list[str]]) -> str | None:
    """The rollup's precomputed next-active-day column valid for this grouping, if any.

    Counting a user-day for the days up to the user's next active day *in the same group*
    needs that next day: the user-wide one when every dimension used is constant per user, the
    per-combination one when the group (plus single-valued filters) pins every varying dimension.
    """
    used = set(group) | set(flt)
    if not wh.wau_spans or wh.rollup is None or "event_type" in used:
        return None
    if used <= wh.user_constant:
        return SPAN_USER
    varying = set(wh.event_dims) - wh.user_constant
    pinned = set(group) | {k for k, v in flt.items() if len(v) == 1}
    if varying <= pinned:
        return SPAN_COMBO
    return None


def wau_frame(
    wh: Warehouse, group: list[str], flt: dict[str, list[str]], s: date, e: date
) -> pd.DataFrame:
    """Trailing-7-day distinct users: each active day covers the days up to the next one (max 7)."""
    span_col = _stored_span(wh, group, flt)

    def build(param: ParamFn) -> ir.Table:
        w = WindowParams(param, "w")
        if span_col is not None and wh.rollup is not None:
            r = wh.rollup
            r = apply_filters(r.filter(r.day >= w.start, r.day <= w.end), flt, param)
            b = r.select("day", *group, span=r[span_col])
        else:
            b = user_day_base(wh, group, flt, w, param, sessions=False)
            if not wh.rollup_unique or wh.rollup is None or "event_type" in set(group) | set(flt):
                b = b.select("user_id", "day", *group).distinct()
            win = ibis.window(group_by=["user_id", *group], order_by="day")
            gap = b.day.lead().over(win).delta(b.day, unit="day")
            b = b.mutate(span=ibis.least(gap.fill_null(WAU_DAYS), WAU_DAYS))
        return b.group_by(["day", *group, "span"]).agg(n=lambda t: t.count())

    win_start = s - timedelta(days=WAU_DAYS - 1)
    df = label_nulls(run_shape(wh, ("wau", tuple(group)), build, flt, w=(win_start, e)), group)
    if df.empty:
        return pd.DataFrame(columns=["day", *group, "num", "den"])
    df["day"] = pd.to_datetime(df["day"])
    df["span"] = df["span"].astype(int)
    starts = df.groupby(["day", *group])["n"].sum()
    ends_df = df.assign(day=df["day"] + pd.to_timedelta(df["span"], unit="D"))
    ends = ends_df.groupby(["day", *group])["n"].sum()
    delta = starts.sub(ends, fill_value=0).reset_index(name="delta")
    delta = delta.sort_values("day")
    if group:
        delta["num"] = delta.groupby(group)["delta"].cumsum()
    else:
        delta["num"] = delta["delta"].cumsum()
    full_days = pd.date_range(win_start, e, freq="D")
    frames = []
    for key, part in delta.groupby(group) if group else [((), delta)]:
        series = part.set_index("day")["num"].reindex(full_days).ffill().fillna(0)
        frame = pd.DataFrame({"day": full_days, "num": series.to_numpy()})
        keys = key if isinstance(key, tuple) else (key,)
        for g, v in zip(group, keys, strict=True):
            frame[str(g)] = v  # type: ignore[call-overload]
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    out = out[(out["day"] >= pd.Timestamp(s)) & (out["num"] > 0)]
    out["day"] = out["day"].dt.date
    out["den"] = 1.0
    return out[["day", *group, "num", "den"]]


def metric_series(
    wh: Warehouse,
    metric: str,
    *,
    start: DateLike | None = None,
    end: DateLike | None = None,
    filters: Filters = None,
    group_by: list[str] | None = None,
) -> MetricSeries:
    """Daily values of a metric, optionally filtered and grouped (contiguous days, 0 when idle)."""
    wh.schema.check_metric(metric)
    flt = check_filters(wh, filters, metric)
    group = check_dims(wh, group_by, metric)
    s, e = clip_window(wh, start, end, metric=metric)
    df = _daily_frame(wh, metric, group, flt, s, e)
    days = [s + timedelta(days=i) for i in range((e - s).days + 1)]
    columns = [df[c].tolist() for c in ("day", *group, "num", "den")]
    lookup = {(row[0], tuple(row[1:-2])): (row[-2], row[-1]) for row in zip(*columns, strict=True)}
    keys = sorted({key for _, key in lookup}) if group else [()]
    ratio = wh.schema.is_ratio(metric)
    missing = (0.0, 0.0 if ratio else 1.0)
    points: list[dict[str, Any]] = []  # validated into SeriesPoint in one pass
    for key in keys:
        g = dict(zip(group, map(str, key), strict=True))
        for d in days:
            num, den = lookup.get((d, key), missing)
            value = (num / den if den else 0.0) if ratio else num
            points.append(
                {
                    "day": d,
                    "group": g,
                    "value": float(value),
                    "numerator": float(num),
                    "denominator": float(den),
                }
            )
    return MetricSeries.model_validate(
        {
            "metric": metric,
            "filters": flt,
            "group_by": group,
            "start": s,
            "end": e,
            "points": points,
        }
    )


def segment_daily_values(
    wh: Warehouse,
    metric: str,
    *,
    start: DateLike,
    end: DateLike,
    filters: Filters = None,
) -> list[float]:
    """Raw per-day values of one segment (for two-sample tests)."""
    return metric_series(wh, metric, start=start, end=end, filters=filters).values()
