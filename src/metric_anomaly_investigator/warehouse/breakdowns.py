"""Baseline-vs-current breakdowns of a metric by dimension values."""

from dataclasses import dataclass
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from . import metrics as catalogue
from .direct import direct_window
from .query_plan import (
    NULL_LABEL,
    DateLike,
    Filters,
    WindowParams,
    base_route,
    check_dims,
    check_filters,
    clip_window,
    num_den,
    run_shape,
    user_day_base,
)
from .series import wau_frame
from .types import (
    Breakdown,
    BreakdownRow,
    WarehouseError,
)
from .warehouse import ParamFn, Warehouse


def _counts_events(m: catalogue.Metric) -> bool:
    """An event count (not per user): its sample size is events, and segments add up."""
    return m.denominator is None and m.numerator.measure == "events"


def _ratio(num: Any, den: Any) -> Any:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(np.asarray(den) > 0, np.asarray(num) / np.asarray(den), 0.0)
    return out


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
    flt = check_filters(wh, filters, metric)
    group = check_dims(wh, dimensions, metric)
    if not group:
        raise WarehouseError(
            f"Give at least one dimension to break down by. Valid dimensions: "
            f"{', '.join(wh.schema.dimension_names)}."
        )
    bs, be = clip_window(wh, baseline[0], baseline[1], "baseline window", metric)
    cs, ce = clip_window(wh, current[0], current[1], "current window", metric)
    n_b, n_c = _days((bs, be)), _days((cs, ce))
    m = wh.schema.metric(metric)
    if m.rolling:
        seg, totals = _wau_breakdown(wh, group, flt, (bs, be), (cs, ce))
    elif not m.plain:
        seg, totals = _direct_aggregates(wh, m, group, flt, (bs, be), (cs, ce))
    else:
        seg, totals = _window_aggregates(wh, metric, group, flt, (bs, be), (cs, ce))
    ratio = m.is_ratio
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


def _days(win: tuple[date, date]) -> int:
    return (win[1] - win[0]).days + 1


def _keys(group: list[str]) -> list[str]:
    """The segment key columns: ``g0``, ``g1``… for the dimensions of ``group``."""
    return [f"g{i}" for i in range(len(group))]


def _side_by_side(base: pd.DataFrame, cur: pd.DataFrame) -> pd.DataFrame:
    """Per-segment sums over the two windows as columns ``{col}_b`` and ``{col}_c`` (0 where a
    segment is absent), the segment keys as columns."""
    seg = pd.concat({"b": base, "c": cur}, axis=1).fillna(0.0)
    seg.columns = [f"{c[1]}_{c[0]}" for c in seg.columns]  # (window, column) pairs
    return seg.reset_index()


def _label(col: ir.Value) -> ir.StringValue:
    """A dimension value as text, nulls as :data:`NULL_LABEL` (as :func:`label_nulls` does)."""
    text: ir.StringValue = col.cast("string").fill_null(NULL_LABEL)
    return text


def _num_den_exprs(
    m: catalogue.Metric, t: ir.Table
) -> tuple[ir.NumericColumn, ir.NumericColumn | None]:
    """The numerator and (ratio metrics) denominator columns, as :func:`num_den` picks them."""
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
    m = wh.schema.metric(metric)
    sessions = m.uses_sessions
    counted = _counts_events(m)
    keys = _keys(group)

    def build(param: ParamFn) -> ir.Table:
        parts = []
        for w, prefix in enumerate(("b", "c")):
            b = user_day_base(wh, group, flt, WindowParams(param, prefix), param, sessions=sessions)
            parts.append(b.mutate(w=ibis.literal(w)))
        u = parts[0].union(parts[1])
        # the sample size is the event count for "events", else distinct users (the costly part)
        n_users = u.events.sum() if counted else u.user_id.approx_nunique()
        agg = u.group_by([*group, "w"]).agg(
            users=u.count(), n=n_users, events=u.events.sum(), sessions=u.sessions.sum()
        )
        num, den = _num_den_exprs(m, agg)
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
    seg = _Segments.from_frame(
        run_shape(wh, shape, build, flt, b=base_win, c=cur_win), keys, sort=True
    )
    if not (base_route(wh, group, flt, sessions=sessions)[2] or counted):
        # segments may overlap within a user-day: take the totals from an ungrouped query

        def build_totals(param: ParamFn) -> ir.Table:
            parts = [
                user_day_base(wh, [], flt, WindowParams(param, prefix), param).mutate(
                    w=ibis.literal(w)
                )
                for w, prefix in enumerate(("b", "c"))
            ]
            u = parts[0].union(parts[1])
            return u.group_by("w").agg(
                users=u.count(), events=u.events.sum(), sessions=u.sessions.sum()
            )

        df = run_shape(wh, ("breakdown totals",), build_totals, flt, b=base_win, c=cur_win)
        df["num"], df["den"] = num_den(m, df)
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


def _direct_aggregates(
    wh: Warehouse,
    m: catalogue.Metric,
    group: list[str],
    flt: dict[str, list[str]],
    base_win: tuple[date, date],
    cur_win: tuple[date, date],
) -> tuple[_Segments, tuple[float, float, float, float]]:
    """Per segment, summed daily numerators/denominators and events of a metric computed from
    the events (:mod:`.direct`), and the totals (see :func:`.direct.direct_window`)."""
    keys = _keys(group)
    sums, totals = [], []
    for s, e in (base_win, cur_win):
        df, window_totals = direct_window(wh, m, group, flt, s, e)
        df = df.rename(columns=dict(zip(group, keys, strict=True)))
        sums.append(df.groupby(keys)[["num", "den", "n"]].sum())
        totals += window_totals
    seg = _side_by_side(*sums)
    if m.denominator is None:
        seg["den_b"], seg["den_c"] = float(_days(base_win)), float(_days(cur_win))
    return _Segments.from_frame(seg, keys, sort=True), (totals[0], totals[1], totals[2], totals[3])


def _wau_breakdown(
    wh: Warehouse,
    group: list[str],
    flt: dict[str, list[str]],
    base_win: tuple[date, date],
    cur_win: tuple[date, date],
) -> tuple[_Segments, tuple[float, float, float, float]]:
    """WAU daily means per segment; sample size is the rounded mean WAU."""
    keys = _keys(group)
    sums = []
    for s, e in (base_win, cur_win):
        df = wau_frame(wh, group, flt, s, e).rename(columns=dict(zip(group, keys, strict=True)))
        sums.append(df.groupby(keys)[["num"]].sum())
    seg = _side_by_side(*sums)
    n_b, n_c = _days(base_win), _days(cur_win)
    seg["den_b"], seg["den_c"] = float(n_b), float(n_c)
    seg["n_b"] = (seg["num_b"] / n_b).round()
    seg["n_c"] = (seg["num_c"] / n_c).round()
    totb = wau_frame(wh, [], flt, *base_win)["num"].sum()
    totc = wau_frame(wh, [], flt, *cur_win)["num"].sum()
    return _Segments.from_frame(seg, keys, sort=False), (float(totb), 1.0, float(totc), 1.0)
