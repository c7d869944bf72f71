"""Day-N retention by signup cohort."""

from collections.abc import Sequence
from datetime import timedelta
from typing import Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from .query_plan import (
    DateLike,
    Filters,
    WindowParams,
    apply_filters,
    check_filters,
    run_shape,
    to_date,
    user_day_base,
)
from .types import (
    CohortRetention,
    Retention,
    WarehouseError,
    show_name,
)
from .warehouse import ParamFn, Warehouse


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
    flt = check_filters(wh, filters)
    cs = to_date(cohort_start, "The cohort start")
    ce = to_date(cohort_end, "The cohort end")
    if cs > ce:
        raise WarehouseError(f"The cohort window is inverted: it starts {cs} after it ends {ce}.")
    data_end = wh.schema.end_date
    if cs > data_end or ce < wh.schema.start_date - timedelta(days=max(n_days)):
        return Retention(cohort_grain=cohort_grain, days=n_days, filters=flt, cohorts=[])
    users = wh.users
    user_flt = [k for k in flt if k in wh.user_dims]
    event_flt = [k for k in flt if k not in wh.user_dims]

    def activity(param: ParamFn) -> ir.Table:
        a = user_day_base(wh, [], flt, WindowParams(param, "a"), param, sessions=False)
        return a.select("user_id", "day")

    def members(param: ParamFn) -> ir.Table:
        cohort = WindowParams(param, "k")
        m = users.filter(users.signup_date >= cohort.start, users.signup_date <= cohort.end)
        m = apply_filters(m, flt, param, only=user_flt).select("user_id", "signup_date")
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
    sizes = run_shape(wh, ("retention sizes",), build_sizes, flt, **windows)
    act = run_shape(wh, ("retention hits", tuple(n_days)), build_hits, flt, **windows)
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
