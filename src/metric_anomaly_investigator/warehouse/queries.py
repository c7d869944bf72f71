"""Metric queries over an open :class:`Warehouse`, written as Ibis expressions.

Conventions:
- dates are ``datetime.date`` (ISO strings are accepted too); windows are inclusive;
- a window is clipped to the data's date range; a window wholly outside it, or inverted, raises
  :class:`WarehouseError` naming the data's range;
- identifiers (metrics, dimensions) are checked against the discovered schema before any
  expression is built; values (dates, filter values) are bound parameters: each query shape is
  built once per warehouse (see :meth:`Warehouse.run`) and only its parameters change;
- series are contiguous: days without activity in the window are reported as 0;
- what a metric is comes from the catalogue (:mod:`.metrics`): its numerator and denominator
  measures; ratio metrics report numerator and denominator; over a window their value is the
  ratio of the daily means (sum of numerators / sum of denominators), which keeps segment
  contributions additive.
"""

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from . import metrics as catalogue
from .connect import (
    DEPLOYED_RAW,
    SPAN_COMBO,
    SPAN_USER,
    WAU_DAYS,
    ParamFn,
    ParamValue,
    ShapeBuilder,
    Warehouse,
)
from .types import (
    Annotation,
    Breakdown,
    BreakdownRow,
    CohortRetention,
    Deployment,
    MetricSeries,
    Retention,
    WarehouseError,
    show_name,
)

__all__ = [
    "annotations",
    "breakdown",
    "deployments",
    "metric_series",
    "retention",
    "segment_daily_values",
    "undated_deployments",
]

Filters = Mapping[str, str | Sequence[str]] | None
DateLike = date | datetime | str
NULL_LABEL = "(null)"


# -- validation ---------------------------------------------------------------------------------
def _to_date(value: DateLike, what: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise WarehouseError(f"{what} must be a date (YYYY-MM-DD), got {show_name(value)}.")


def _window(
    wh: Warehouse, start: DateLike | None, end: DateLike | None, what: str = "window"
) -> tuple[date, date]:
    lo, hi = wh.schema.start_date, wh.schema.end_date
    s = lo if start is None else _to_date(start, f"The {what} start")
    e = hi if end is None else _to_date(end, f"The {what} end")
    if s > e:
        raise WarehouseError(f"The {what} is inverted: it starts {s} after it ends {e}.")
    if e < lo or s > hi:
        left_out = "".join(f" {note}" for note in wh.schema.coverage_notes())
        raise WarehouseError(
            f"The {what} {s}..{e} is outside the data, which covers {lo}..{hi}.{left_out}"
        )
    return max(s, lo), min(e, hi)


def _check_dims(wh: Warehouse, dims: Iterable[str] | None) -> list[str]:
    out: list[str] = []
    for d in dims or []:
        if not isinstance(d, str):
            raise WarehouseError(f"Dimension names must be text, got {show_name(d)}.")
        wh.schema.dimension(d)
        if d not in out:
            out.append(d)
    return out


def _check_filters(wh: Warehouse, filters: Filters) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in (filters or {}).items():
        _check_dims(wh, [name])
        values = [value] if isinstance(value, str | int | float) else list(value)
        if not values:
            raise WarehouseError(f"The filter on {show_name(name)} has no values.")
        if not all(isinstance(v, str | int | float) for v in values):
            raise WarehouseError(f"Filter values for {show_name(name)} must be text.")
        out[name] = [str(v) for v in values]
    return out


# -- query shapes and their bound values --------------------------------------------------------
class _Window:
    """A date window's parameters (named by ``prefix``): its days, and as timestamps."""

    def __init__(self, param: ParamFn, prefix: str) -> None:
        self._param, self._prefix = param, prefix

    @property
    def start(self) -> ir.Scalar:
        return self._param(f"{self._prefix}_start")

    @property
    def end(self) -> ir.Scalar:
        return self._param(f"{self._prefix}_end")

    @property
    def lo(self) -> ir.Scalar:
        """The start's midnight."""
        return self._param(f"{self._prefix}_lo")

    @property
    def hi(self) -> ir.Scalar:
        """The midnight after the end."""
        return self._param(f"{self._prefix}_hi")


def _window_values(prefix: str, start: date, end: date) -> dict[str, ParamValue]:
    return {
        f"{prefix}_start": start,
        f"{prefix}_end": end,
        f"{prefix}_lo": datetime.combine(start, datetime.min.time()),
        f"{prefix}_hi": datetime.combine(end + timedelta(days=1), datetime.min.time()),
    }


def _filter_shape(filters: dict[str, list[str]]) -> tuple[tuple[str, int], ...]:
    return tuple((name, len(values)) for name, values in filters.items())


def _filter_values(filters: dict[str, list[str]]) -> dict[str, ParamValue]:
    return {
        f"f{i}_{j}": v for i, values in enumerate(filters.values()) for j, v in enumerate(values)
    }


def _run(
    wh: Warehouse,
    shape: tuple[Hashable, ...],
    build: ShapeBuilder,
    flt: dict[str, list[str]],
    **windows: tuple[date, date],
) -> pd.DataFrame:
    """Run a query shape with the filters' values and the named windows bound."""
    values = _filter_values(flt)
    for prefix, (s, e) in windows.items():
        values.update(_window_values(prefix, s, e))
    # the warehouse's fast-path switches change the expressions: part of the shape
    state = (
        wh.rollup is not None,
        wh.rollup_unique,
        wh.type_rollup is not None,
        wh.type_rollup_unique,
        wh.wau_spans,
    )
    return wh.run((*shape, _filter_shape(flt), state), build, values)


# -- the per-user-per-day base ------------------------------------------------------------------
def _user_dim_needed(wh: Warehouse, names: Iterable[str]) -> list[str]:
    return [n for n in names if n in wh.user_dims]


def _apply_filters(
    t: ir.Table,
    filters: dict[str, list[str]],
    param: ParamFn,
    only: Iterable[str] | None = None,
) -> ir.Table:
    """Filter on dimension values (those in ``only`` if given), bound as the parameters named
    by :func:`_filter_values`."""
    keep = set(filters if only is None else only)
    preds = []
    for i, (name, values) in enumerate(filters.items()):
        if name not in keep:
            continue
        col = t[name].cast("string")
        bound = [param(f"f{i}_{j}") for j in range(len(values))]
        preds.append(col == bound[0] if len(bound) == 1 else col.isin(bound))
    return t.filter(*preds) if preds else t


def _base(
    wh: Warehouse,
    group: list[str],
    filters: dict[str, list[str]],
    win: _Window,
    param: ParamFn,
    *,
    sessions: bool = True,
) -> ir.Table:
    """One row per (user_id, day, *group) with ``events`` and ``sessions``.

    ``sessions=False`` lets the raw-events path skip counting distinct sessions (then 0).
    """
    r, unique, _ = _base_route(wh, group, filters, sessions=sessions)
    if r is not None:
        r = r.filter(r.day >= win.start, r.day <= win.end)
        r = _apply_filters(r, filters, param)
        if unique:
            return r.select("user_id", "day", *group, "events", "sessions")
        return r.group_by(["user_id", "day", *group]).agg(
            events=r.events.sum(), sessions=r.sessions.sum()
        )
    used = set(group) | set(filters)
    ev = wh.events
    ev = ev.filter(ev.event_timestamp >= win.lo, ev.event_timestamp < win.hi)
    need_users = _user_dim_needed(wh, used)
    if need_users and wh.users is not None:
        us = wh.users.select("user_id", *need_users)
        ev = ev.inner_join(us, "user_id")
    ev = _apply_filters(ev, filters, param)
    ev = ev.mutate(day=ev.event_timestamp.date())
    n_sessions = ev.session_id.nunique() if wh.has_sessions and sessions else ibis.literal(0)
    return ev.group_by(["user_id", "day", *group]).agg(events=ev.count(), sessions=n_sessions)


def _base_route(
    wh: Warehouse, group: list[str], filters: dict[str, list[str]], *, sessions: bool
) -> tuple[ir.Table | None, bool, bool]:
    """How :func:`_base` reads: the rollup (None: raw events), whether its rows are already one
    per (user_id, day, *group), and whether every (user, day) falls in exactly one group (so
    totals add up)."""
    typed = "event_type" in set(group) | set(filters)
    r = wh.type_rollup if typed else wh.rollup
    one_type = "event_type" in group or len(filters.get("event_type", [])) == 1
    # with several event types per row group, distinct sessions do not add up: raw events
    if r is None or (typed and sessions and not one_type):
        return None, False, not group
    if (wh.type_rollup_unique and one_type) if typed else wh.rollup_unique:
        return r, True, not (typed and group)
    return r, False, not group


def _labels(df: pd.DataFrame, group: list[str]) -> pd.DataFrame:
    for g in group:
        df[g] = df[g].astype(object).where(df[g].notna(), NULL_LABEL).astype(str)
    return df


def _num_den(metric: str, df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The metric's numerator and denominator columns (ones when it has no denominator)."""
    m = catalogue.get(metric)
    num = df[m.numerator.measure].astype(float)
    if m.denominator is None:
        return num, pd.Series(1.0, index=df.index)
    return num, df[m.denominator.measure].astype(float)


def _uses_sessions(metric: str) -> bool:
    m = catalogue.get(metric)
    return any(a.measure == "sessions" for a in (m.numerator, m.denominator) if a is not None)


def _rolling(metric: str) -> bool:
    return catalogue.get(metric).kind == "rolling_distinct"


def _counts_events(metric: str) -> bool:
    """An event count (not per user): its sample size is events, and segments add up."""
    m = catalogue.get(metric)
    return m.denominator is None and m.numerator.measure == "events"


def _ratio(num: Any, den: Any) -> Any:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(np.asarray(den) > 0, np.asarray(num) / np.asarray(den), 0.0)
    return out


# -- series -------------------------------------------------------------------------------------
def _daily_frame(
    wh: Warehouse, metric: str, group: list[str], flt: dict[str, list[str]], s: date, e: date
) -> pd.DataFrame:
    """Columns: day, *group, num, den (only days with activity)."""
    if _rolling(metric):
        return _wau_frame(wh, group, flt, s, e)

    def build(param: ParamFn) -> ir.Table:
        w = _Window(param, "w")
        b = _base(wh, group, flt, w, param, sessions=_uses_sessions(metric))
        return b.group_by(["day", *group]).agg(
            users=b.count(), events=b.events.sum(), sessions=b.sessions.sum()
        )

    shape = ("daily", _uses_sessions(metric), tuple(group))
    df = _labels(_run(wh, shape, build, flt, w=(s, e)), group)
    num, den = _num_den(metric, df)
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


def _wau_frame(
    wh: Warehouse, group: list[str], flt: dict[str, list[str]], s: date, e: date
) -> pd.DataFrame:
    """Trailing-7-day distinct users: each active day covers the days up to the next one (max 7)."""
    span_col = _stored_span(wh, group, flt)

    def build(param: ParamFn) -> ir.Table:
        w = _Window(param, "w")
        if span_col is not None and wh.rollup is not None:
            r = wh.rollup
            r = _apply_filters(r.filter(r.day >= w.start, r.day <= w.end), flt, param)
            b = r.select("day", *group, span=r[span_col])
        else:
            b = _base(wh, group, flt, w, param, sessions=False)
            if not wh.rollup_unique or wh.rollup is None or "event_type" in set(group) | set(flt):
                b = b.select("user_id", "day", *group).distinct()
            win = ibis.window(group_by=["user_id", *group], order_by="day")
            gap = b.day.lead().over(win).delta(b.day, unit="day")
            b = b.mutate(span=ibis.least(gap.fill_null(WAU_DAYS), WAU_DAYS))
        return b.group_by(["day", *group, "span"]).agg(n=lambda t: t.count())

    win_start = s - timedelta(days=WAU_DAYS - 1)
    df = _labels(_run(wh, ("wau", tuple(group)), build, flt, w=(win_start, e)), group)
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
    full_days = pd.date_range(s - timedelta(days=6), e, freq="D")
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
    flt = _check_filters(wh, filters)
    group = _check_dims(wh, group_by)
    s, e = _window(wh, start, end)
    df = _daily_frame(wh, metric, group, flt, s, e)
    days = [s + timedelta(days=i) for i in range((e - s).days + 1)]
    columns = [df[c].tolist() for c in ("day", *group, "num", "den")]
    lookup = {(row[0], tuple(row[1:-2])): (row[-2], row[-1]) for row in zip(*columns, strict=True)}
    keys = sorted({key for _, key in lookup}) if group else [()]
    ratio = catalogue.is_ratio(metric)
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


# -- breakdown ----------------------------------------------------------------------------------
@dataclass
class _Segments:
    """Per segment (dimension values ``keys``): summed numerators, denominators and sample sizes
    over the baseline (``_b``) and current (``_c``) windows, as float arrays."""

    keys: list[tuple[str, ...]]
    num_b: np.ndarray
    den_b: np.ndarray
    num_c: np.ndarray
    den_c: np.ndarray
    n_b: np.ndarray
    n_c: np.ndarray

    @classmethod
    def from_frame(cls, df: pd.DataFrame, keys: list[str], *, sort: bool) -> "_Segments":
        """From a frame with columns ``keys`` + num_b … n_c (rows sorted by keys if ``sort``)."""
        key_rows = list(zip(*(df[k].tolist() for k in keys), strict=True))
        order = np.arange(len(key_rows))
        if sort:
            order = np.array(sorted(order.tolist(), key=key_rows.__getitem__), dtype=int)

        def col(name: str) -> np.ndarray:
            return np.asarray(df[name].to_numpy(dtype=float, na_value=0.0)[order])

        return cls(
            keys=[key_rows[i] for i in order],
            num_b=col("num_b"),
            den_b=col("den_b"),
            num_c=col("num_c"),
            den_c=col("den_c"),
            n_b=col("n_b"),
            n_c=col("n_c"),
        )


def breakdown(
    wh: Warehouse,
    metric: str,
    dimensions: list[str],
    *,
    baseline: tuple[DateLike, DateLike],
    current: tuple[DateLike, DateLike],
    filters: Filters = None,
    min_size: int = 0,
) -> Breakdown:
    """Baseline-vs-current daily means per segment (one row per combination of dimension values).

    Rows are sorted by absolute contribution, largest first. ``share_of_change`` is computed over
    all segments before ``min_size`` (minimum of the larger sample size) drops small ones.
    """
    wh.schema.check_metric(metric)
    flt = _check_filters(wh, filters)
    group = _check_dims(wh, dimensions)
    if not group:
        raise WarehouseError(
            f"Give at least one dimension to break down by. Valid dimensions: "
            f"{', '.join(wh.schema.dimension_names)}."
        )
    bs, be = _window(wh, baseline[0], baseline[1], "baseline window")
    cs, ce = _window(wh, current[0], current[1], "current window")
    n_b, n_c = (be - bs).days + 1, (ce - cs).days + 1
    if _rolling(metric):
        seg, totals = _wau_breakdown(wh, group, flt, (bs, be), (cs, ce))
    else:
        seg, totals = _window_aggregates(wh, metric, group, flt, (bs, be), (cs, ce))
    ratio = catalogue.is_ratio(metric)
    bn, an = seg.num_b / n_b, seg.num_c / n_c
    one = np.ones(len(seg.keys))
    bd = seg.den_b / n_b if ratio else one
    ad = seg.den_c / n_c if ratio else one
    before = _ratio(bn, bd) if ratio else bn
    after = _ratio(an, ad) if ratio else an
    if ratio:
        sum_bn, sum_bd, sum_ad = bn.sum(), bd.sum(), ad.sum()
        r_b = sum_bn / sum_bd if sum_bd else 0.0
        contrib = (an - r_b * ad) / (sum_ad or 1.0) - (bn - r_b * bd) / (sum_bd or 1.0)
    else:
        contrib = after - before
    total_contrib = float(np.sum(contrib))
    tb_num, tb_den, ta_num, ta_den = totals
    total_before = (tb_num / tb_den if tb_den else 0.0) if ratio else tb_num / n_b
    total_after = (ta_num / ta_den if ta_den else 0.0) if ratio else ta_num / n_c
    rows: list[BreakdownRow] = []
    columns = (before, after, contrib, bn, bd, an, ad, seg.n_b, seg.n_c)
    for key, b_val, a_val, part, b_num, b_den, a_num, a_den, nb, nc in zip(
        seg.keys, *(c.tolist() for c in columns), strict=True
    ):
        n_before, n_after = int(nb), int(nc)
        if max(n_before, n_after) < min_size:
            continue
        rows.append(
            BreakdownRow(
                segment=dict(zip(group, key, strict=True)),
                before=b_val,
                after=a_val,
                abs_change=a_val - b_val,
                rel_change=(a_val - b_val) / b_val if b_val else None,
                contribution=part,
                share_of_change=part / total_contrib if total_contrib else None,
                before_num=b_num,
                before_den=b_den,
                after_num=a_num,
                after_den=a_den,
                n_before=n_before,
                n_after=n_after,
            )
        )
    rows.sort(key=lambda r: (-abs(r.contribution), -r.before))
    return Breakdown(
        metric=metric,
        dimensions=group,
        filters=flt,
        baseline=(bs, be),
        current=(cs, ce),
        total_before=float(total_before),
        total_after=float(total_after),
        rows=rows,
    )


def _label(col: ir.Value) -> ir.StringValue:
    """A dimension value as text, nulls as :data:`NULL_LABEL` (as :func:`_labels` does)."""
    text: ir.StringValue = col.cast("string").fill_null(NULL_LABEL)
    return text


def _num_den_exprs(metric: str, t: ir.Table) -> tuple[ir.NumericColumn, ir.NumericColumn | None]:
    """The numerator and (ratio metrics) denominator columns, as :func:`_num_den` picks them."""
    m = catalogue.get(metric)
    den = None if m.denominator is None else t[m.denominator.measure]
    return t[m.numerator.measure], den


def _window_aggregates(
    wh: Warehouse,
    metric: str,
    group: list[str],
    flt: dict[str, list[str]],
    base_win: tuple[date, date],
    cur_win: tuple[date, date],
) -> tuple[_Segments, tuple[float, float, float, float]]:
    """Per segment: summed numerators/denominators and sample sizes over each window.

    One query: the per-(segment, window) aggregates, pivoted to one row per segment.
    """
    sessions = _uses_sessions(metric)
    counted = _counts_events(metric)
    keys = [f"g{i}" for i in range(len(group))]

    def build(param: ParamFn) -> ir.Table:
        parts = []
        for w, prefix in enumerate(("b", "c")):
            b = _base(wh, group, flt, _Window(param, prefix), param, sessions=sessions)
            parts.append(b.mutate(w=ibis.literal(w)))
        u = parts[0].union(parts[1])
        # the sample size is the event count for "events", else distinct users (the costly part)
        n_users = u.events.sum() if counted else u.user_id.approx_nunique()
        agg = u.group_by([*group, "w"]).agg(
            users=u.count(), n=n_users, events=u.events.sum(), sessions=u.sessions.sum()
        )
        num, den = _num_den_exprs(metric, agg)
        cols: dict[str, ir.Scalar] = {}
        for w, suffix in enumerate(("b", "c")):
            in_w = agg.w == w
            cols[f"num_{suffix}"] = num.sum(where=in_w).fill_null(0)
            cols[f"den_{suffix}"] = (
                den.sum(where=in_w) if den is not None else agg.count(where=in_w)
            ).fill_null(0)
            cols[f"n_{suffix}"] = agg.n.sum(where=in_w).fill_null(0)
        labels = {k: _label(agg[g]) for k, g in zip(keys, group, strict=True)}
        return agg.group_by(**labels).agg(**cols)

    shape = ("breakdown", metric, tuple(group))
    seg = _Segments.from_frame(_run(wh, shape, build, flt, b=base_win, c=cur_win), keys, sort=True)
    if not (_base_route(wh, group, flt, sessions=sessions)[2] or counted):
        # segments may overlap within a user-day: take the totals from an ungrouped query

        def build_totals(param: ParamFn) -> ir.Table:
            parts = [
                _base(wh, [], flt, _Window(param, prefix), param).mutate(w=ibis.literal(w))
                for w, prefix in enumerate(("b", "c"))
            ]
            u = parts[0].union(parts[1])
            return u.group_by("w").agg(
                users=u.count(), events=u.events.sum(), sessions=u.sessions.sum()
            )

        df = _run(wh, ("breakdown totals",), build_totals, flt, b=base_win, c=cur_win)
        df["num"], df["den"] = _num_den(metric, df)
        by_w = df.groupby("w")[["num", "den"]].sum()
        by_w = by_w.reindex([0, 1]).fillna(0.0)
        num_w, den_w = by_w["num"].to_numpy(), by_w["den"].to_numpy()
        totals = (float(num_w[0]), float(den_w[0]), float(num_w[1]), float(den_w[1]))
    else:
        totals = (
            float(seg.num_b.sum()),
            float(seg.den_b.sum()),
            float(seg.num_c.sum()),
            float(seg.den_c.sum()),
        )
    return seg, totals


def _wau_breakdown(
    wh: Warehouse,
    group: list[str],
    flt: dict[str, list[str]],
    base_win: tuple[date, date],
    cur_win: tuple[date, date],
) -> tuple[_Segments, tuple[float, float, float, float]]:
    """WAU daily means per segment; sample size is the rounded mean WAU."""
    out = []
    for s, e in (base_win, cur_win):
        df = _wau_frame(wh, group, flt, s, e)
        df = df.rename(columns={g: f"g{i}" for i, g in enumerate(group)})
        out.append(df.groupby([f"g{i}" for i in range(len(group))])["num"].sum())
    n_b = (base_win[1] - base_win[0]).days + 1
    n_c = (cur_win[1] - cur_win[0]).days + 1
    seg = pd.concat({"num_b": out[0], "num_c": out[1]}, axis=1).fillna(0.0).reset_index()
    seg["den_b"], seg["den_c"] = float(n_b), float(n_c)
    seg["n_b"] = (seg["num_b"] / n_b).round()
    seg["n_c"] = (seg["num_c"] / n_c).round()
    totb = _wau_frame(wh, [], flt, *base_win)["num"].sum()
    totc = _wau_frame(wh, [], flt, *cur_win)["num"].sum()
    keys = [f"g{i}" for i in range(len(group))]
    return _Segments.from_frame(seg, keys, sort=False), (float(totb), 1.0, float(totc), 1.0)


# -- deployments and annotations ----------------------------------------------------------------
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
    s = None if start is None else _to_date(start, "The start")
    e = None if end is None else _to_date(end, "The end")
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


# -- retention ----------------------------------------------------------------------------------
def retention(
    wh: Warehouse,
    *,
    cohort_start: DateLike,
    cohort_end: DateLike,
    days: Sequence[int] = (1, 7, 14, 28),
    filters: Filters = None,
    cohort_grain: Literal["day", "week"] = "week",
) -> Retention:
    """Day-N retention by signup cohort.

    A cohort is the users who signed up in it (and match the user-level filters; with
    event-level filters, only users with matching activity). Day-N retention is the share of the
    cohort active (matching the filters) exactly N days after signup, among members whose day N
    is within the data; ``None`` when no member's day N is observable yet.
    """
    if wh.users is None:
        raise WarehouseError(
            f"Retention needs a users table with user_id and signup_date; {wh.label} has none."
        )
    if cohort_grain not in ("day", "week"):
        raise WarehouseError(
            f"cohort_grain must be 'day' or 'week', got {show_name(cohort_grain)}."
        )
    n_days = sorted({int(d) for d in days})
    if not n_days or n_days[0] < 0:
        raise WarehouseError("Retention days must be a non-empty list of numbers >= 0.")
    flt = _check_filters(wh, filters)
    cs = _to_date(cohort_start, "The cohort start")
    ce = _to_date(cohort_end, "The cohort end")
    if cs > ce:
        raise WarehouseError(f"The cohort window is inverted: it starts {cs} after it ends {ce}.")
    data_end = wh.schema.end_date
    if cs > data_end or ce < wh.schema.start_date - timedelta(days=max(n_days)):
        return Retention(cohort_grain=cohort_grain, days=n_days, filters=flt, cohorts=[])
    users = wh.users
    user_flt = [k for k in flt if k in wh.user_dims]
    event_flt = [k for k in flt if k not in wh.user_dims]

    def activity(param: ParamFn) -> ir.Table:
        a = _base(wh, [], flt, _Window(param, "a"), param, sessions=False)
        return a.select("user_id", "day")

    def members(param: ParamFn) -> ir.Table:
        cohort = _Window(param, "k")
        m = users.filter(users.signup_date >= cohort.start, users.signup_date <= cohort.end)
        m = _apply_filters(m, flt, param, only=user_flt).select("user_id", "signup_date")
        return m.semi_join(activity(param), "user_id") if event_flt else m

    def build_sizes(param: ParamFn) -> ir.Table:
        m = members(param)
        return m.group_by("signup_date").agg(size=m.count())

    def build_hits(param: ParamFn) -> ir.Table:
        m = members(param)
        # one target (member, day N) per retention day, kept when the member was active that day
        targets = ibis.union(
            *(
                m.mutate(
                    k=ibis.literal(n), day=(m.signup_date + ibis.interval(days=n)).cast("date")
                )
                for n in n_days
            )
        )
        hits = targets.semi_join(activity(param), ["user_id", "day"])
        return hits.group_by(["signup_date", "k"]).agg(n=hits.count())

    windows = {
        "k": (cs, ce),
        "a": (max(cs, wh.schema.start_date), min(data_end, ce + timedelta(days=max(n_days)))),
    }
    sizes = _run(wh, ("retention sizes",), build_sizes, flt, **windows)
    act = _run(wh, ("retention hits", tuple(n_days)), build_hits, flt, **windows)
    if sizes.empty:
        return Retention(cohort_grain=cohort_grain, days=n_days, filters=flt, cohorts=[])
    sizes["signup_date"] = pd.to_datetime(sizes["signup_date"])
    act["signup_date"] = pd.to_datetime(act["signup_date"])
    grain = "D" if cohort_grain == "day" else "W-SUN"
    sizes["cohort"] = sizes["signup_date"].dt.to_period(grain).dt.start_time
    cohort_of = sizes.set_index("signup_date")["cohort"]
    # hits only exist on observable days (within the data), so no extra filter is needed
    act["cohort"] = act["signup_date"].map(cohort_of)
    hits = act.groupby(["cohort", "k"])["n"].sum()
    totals = sizes.groupby("cohort")["size"].sum()
    observable = {
        n: sizes[sizes["signup_date"] + pd.Timedelta(days=n) <= pd.Timestamp(data_end)]
        .groupby("cohort")["size"]
        .sum()
        for n in n_days
    }
    cohorts = []
    for cohort, size in zip(totals.index.tolist(), totals.tolist(), strict=True):
        rates: dict[int, float | None] = {}
        for n in n_days:
            denom = int(observable[n].get(cohort, 0))
            rates[n] = int(hits.get((cohort, n), 0)) / denom if denom else None
        cohorts.append(
            CohortRetention(cohort=pd.Timestamp(cohort).date(), size=int(size), retention=rates)
        )
    return Retention(cohort_grain=cohort_grain, days=n_days, filters=flt, cohorts=cohorts)
