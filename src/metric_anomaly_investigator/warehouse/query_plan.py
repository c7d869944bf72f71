"""Prepared-query plans: validating identifiers and windows, binding values, and the
per-(user, day) base every metric query starts from (see :mod:`.queries` for the conventions)."""

from collections.abc import Hashable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta

import ibis
import ibis.expr.types as ir
import pandas as pd

from . import metrics as catalogue
from .types import (
    WarehouseError,
    show_name,
)
from .warehouse import ParamFn, ParamValue, ShapeBuilder, Warehouse

Filters = Mapping[str, str | Sequence[str]] | None
DateLike = date | datetime | str
NULL_LABEL = "(null)"


# -- validation ---------------------------------------------------------------------------------
def to_date(value: DateLike, what: str) -> date:
    """A date, datetime or ISO text as a date (``what`` names it in the error)."""
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


def clip_window(
    wh: Warehouse,
    start: DateLike | None,
    end: DateLike | None,
    what: str = "window",
    metric: str | None = None,
) -> tuple[date, date]:
    """The window ``start..end`` (the data's edges by default) clipped to the data's range:
    the days ``metric``'s own table covers, if given."""
    lo, hi = wh.schema.metric_range(metric)
    s = lo if start is None else to_date(start, f"The {what} start")
    e = hi if end is None else to_date(end, f"The {what} end")
    if s > e:
        raise WarehouseError(f"The {what} is inverted: it starts {s} after it ends {e}.")
    if e < lo or s > hi:
        left_out = "".join(f" {note}" for note in wh.schema.coverage_notes())
        whole = (lo, hi) == (wh.schema.start_date, wh.schema.end_date)
        data = "the data" if whole else f"the data of {metric}"
        raise WarehouseError(
            f"The {what} {s}..{e} is outside {data}, which covers {lo}..{hi}.{left_out}"
        )
    return max(s, lo), min(e, hi)


def check_dims(wh: Warehouse, dims: Iterable[str] | None, metric: str | None = None) -> list[str]:
    """The schema's dimensions named, without repeats (an unknown name raises, and so does one
    the table ``metric`` reads lacks)."""
    out: list[str] = []
    for d in dims or []:
        if not isinstance(d, str):
            raise WarehouseError(f"Dimension names must be text, got {show_name(d)}.")
        wh.schema.dimension(d)
        problem = None if metric is None else wh.schema.dimension_problem(metric, d)
        if problem is not None:
            raise WarehouseError(problem)
        if d not in out:
            out.append(d)
    return out


def check_filters(
    wh: Warehouse, filters: Filters, metric: str | None = None
) -> dict[str, list[str]]:
    """Filters on known dimensions (of ``metric``'s table), each as a list of text values."""
    out: dict[str, list[str]] = {}
    for name, value in (filters or {}).items():
        check_dims(wh, [name], metric)
        values = [value] if isinstance(value, str | int | float) else list(value)
        if not values:
            raise WarehouseError(f"The filter on {show_name(name)} has no values.")
        if not all(isinstance(v, str | int | float) for v in values):
            raise WarehouseError(f"Filter values for {show_name(name)} must be text.")
        out[name] = [str(v) for v in values]
    return out


# -- query shapes and their bound values --------------------------------------------------------
class WindowParams:
    """A date window's parameters (named by ``prefix``): its days, and as timestamps.

    Each is made on first use, not up front: a plan whose expression misses a parameter it
    made cannot be prepared (see ``Warehouse._prepare``), so only those read are made.
    """

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


def run_shape(
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
def user_dims_needed(wh: Warehouse, names: Iterable[str]) -> list[str]:
    """The user-level dimensions among ``names`` (they need the users table joined)."""
    return [n for n in names if n in wh.user_dims]


def apply_filters(
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


def user_day_base(
    wh: Warehouse,
    group: list[str],
    filters: dict[str, list[str]],
    win: WindowParams,
    param: ParamFn,
    *,
    sessions: bool = True,
) -> ir.Table:
    """One row per (user_id, day, *group) with ``events`` and ``sessions``.

    ``sessions=False`` lets the raw-events path skip counting distinct sessions (then 0).
    """
    r, unique, _ = base_route(wh, group, filters, sessions=sessions)
    if r is not None:
        r = r.filter(r.day >= win.start, r.day <= win.end)
        r = apply_filters(r, filters, param)
        if unique:
            return r.select("user_id", "day", *group, "events", "sessions")
        return r.group_by(["user_id", "day", *group]).agg(
            events=r.events.sum(), sessions=r.sessions.sum()
        )
    used = set(group) | set(filters)
    ev = wh.events
    ev = ev.filter(ev.event_timestamp >= win.lo, ev.event_timestamp < win.hi)
    need_users = user_dims_needed(wh, used)
    if need_users and wh.users is not None:
        us = wh.users.select("user_id", *need_users)
        ev = ev.inner_join(us, "user_id")
    ev = apply_filters(ev, filters, param)
    ev = ev.mutate(day=ev.event_timestamp.date())
    n_sessions = ev.session_id.nunique() if wh.has_sessions and sessions else ibis.literal(0)
    return ev.group_by(["user_id", "day", *group]).agg(events=ev.count(), sessions=n_sessions)


def base_route(
    wh: Warehouse, group: list[str], filters: dict[str, list[str]], *, sessions: bool
) -> tuple[ir.Table | None, bool, bool]:
    """How :func:`user_day_base` reads: the rollup (None: raw events), whether its rows are
    already one per (user_id, day, *group), and whether every (user, day) falls in exactly one
    group (so totals add up)."""
    typed = "event_type" in set(group) | set(filters)
    r = wh.type_rollup if typed else wh.rollup
    one_type = "event_type" in group or len(filters.get("event_type", [])) == 1
    # with several event types per row group, distinct sessions do not add up: raw events
    if r is None or (typed and sessions and not one_type):
        return None, False, not group
    if (wh.type_rollup_unique and one_type) if typed else wh.rollup_unique:
        return r, True, not (typed and group)
    return r, False, not group


def label_nulls(df: pd.DataFrame, group: list[str]) -> pd.DataFrame:
    """The ``group`` columns as text, nulls as :data:`NULL_LABEL`."""
    for g in group:
        df[g] = df[g].astype(object).where(df[g].notna(), NULL_LABEL).astype(str)
    return df


def num_den(m: catalogue.Metric, df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The metric's numerator and denominator columns (ones when it has no denominator)."""
    num = df[m.numerator.measure].astype(float)
    if m.denominator is None:
        return num, pd.Series(1.0, index=df.index)
    return num, df[m.denominator.measure].astype(float)
