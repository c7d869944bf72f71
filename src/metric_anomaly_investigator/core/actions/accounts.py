"""``profile_accounts``: the accounts behind a segment's change.

Splits the change of a segment's daily events into its users and its events per user, and its
users into accounts first seen during the anomaly window ("new": no event anywhere before it)
and the others, with the events per active account-day of each. From these numbers it reads how
the change happened (a :class:`~..context.MechanismFinding` in the context):

- *automated traffic*: a spike carried by new accounts whose activity per day is beyond what
  people do (above the 99th percentile of the accounts seen before);
- *outage*: users and events vanish together (users carry most of the events' change) in a
  step;
- *behaviour*: the users stay, each does less (or more); or users carry the change without
  breaking — a gradual drift (the same people come less or more often), or a rise carried by
  the accounts seen before at their usual activity per account.

For a rate or a mean (an error rate, a latency, a conversion) the account split says nothing of
how it moved: its two sides do (:mod:`..mechanisms`: a step in the bad direction with the
denominator held and every part of the segment moving is an outage).

A segment containing a dimension whose values replace each other (an app version rolling out)
is profiled through its stable part, as ``statistical_test`` does: the version's users came
from the older versions of the same people.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from datetime import date

import ibis
import ibis.expr.types as ir
import pandas as pd

from ...warehouse.query_plan import WindowParams, check_filters, run_shape, user_day_base
from ...warehouse.warehouse import ParamFn
from ..context import EventFinding, InvestigationContext, MechanismFinding
from ..mechanisms import SAYS_HOW, RatePart, RateProfile
from ..models import Mechanism, ProfileAccounts, StepResult
from ..outcomes import AccountsProfiled, DimensionSplit
from ..report_markdown import format_filters
from .charts import bars
from .formatting import fmt, pct, plural
from .workbench import Workbench

# A cause "carries" a change when it accounts for at least half of it: then no other part can
# account for more.
CARRIES = 0.5
# Users are flat next to events when they carry less than a quarter of the events' (log)
# change, or moved the other way: the per-user part then carries three quarters or more.
FLAT_SHARE = 0.25
# A change smaller than this (relative) is within a day-to-day wobble of a segment's activity.
MOVED = 0.05
# Human activity per account-day: the accounts seen before the window set the range; new
# accounts beyond its 99th percentile are outside what 99 in 100 people do.
EXTREME_QUANTILE = 0.99
MIN_ACCOUNTS = 5  # fewer new accounts than this are anecdotes, not a population
# People using the product as they did: events per user within 10% of before (more of the same
# people, not a different kind of activity).
SAME_USE = 0.1
EVENT_TYPE = "event_type"


@dataclass(frozen=True)
class AccountProfile:
    """A segment's activity before vs during the anomaly window, per day, and its accounts."""

    segment: dict[str, str]  # as asked
    tested: dict[str, str]  # the part profiled (without a dimension changing hands)
    users_before: float
    users_after: float
    events_before: float
    events_after: float
    new_accounts: int  # active in the window, no event anywhere before it
    existing_accounts: int  # active in the window, seen before it
    new_events_per_day: float
    new_users_per_day: float  # the new accounts' share of the users/day during the window
    existing_events_before: float  # events/day of the accounts seen before (before the window)
    existing_events_after: float  # and during it
    new_events_per_account_day: float | None
    typical_events_per_account_day: float | None  # median over the accounts seen before
    extreme_events_per_account_day: float | None  # their 99th percentile
    first_seen: tuple[str, str] | None  # the new accounts' first and last first-seen days
    gradual: bool = False  # the anomaly is a drift (the trend bent), not a step
    # the segment's change against its trend (the drill-down's or the anomaly's), when known:
    # raw before/after counts of a drifting segment also carry the data's growth
    adjusted_change: float | None = None

    @property
    def users_change(self) -> float | None:
        return _rel(self.users_before, self.users_after)

    @property
    def events_change(self) -> float | None:
        return _rel(self.events_before, self.events_after)

    @property
    def per_user_change(self) -> float | None:
        before = self.events_before / self.users_before if self.users_before else None
        after = self.events_after / self.users_after if self.users_after else None
        return None if before is None or after is None else _rel(before, after)

    @property
    def users_share(self) -> float | None:
        """The users' part of the events' log change (events = users x events per user)."""
        e = _log_ratio(self.events_before, self.events_after)
        u = _log_ratio(self.users_before, self.users_after)
        if e is None or u is None or abs(e) < math.log1p(MOVED):
            return None
        return u / e

    @property
    def new_share_of_increase(self) -> float | None:
        """The new accounts' part of the extra events per day (a spike only)."""
        extra = self.events_after - self.events_before
        return self.new_events_per_day / extra if extra > 0 else None

    def mechanism(self) -> tuple[Mechanism, str] | None:
        """How the change happened, with the numbers, when the profile shows it."""
        share = self.users_share
        events, users, per_user = self.events_change, self.users_change, self.per_user_change
        if self.automated():
            return "automated_traffic", self._automated_evidence()
        if events is None or users is None or per_user is None:
            return None
        together = (
            f"users {pct(100 * users)} and events {pct(100 * events)} together "
            f"({fmt(self.users_before)} → {fmt(self.users_after)} users/day)"
        )
        drift = self.adjusted_change
        if self.gradual and drift is not None and abs(drift) >= MOVED:
            return "behaviour", (
                f"a gradual drift, no day broke: {together}, events per user "
                f"{pct(100 * per_user)} — the same people "
                f"{'less' if drift < 0 else 'more'} active week after week"
            )
        if share is None:
            return None
        if events < 0 and users <= -MOVED and share >= CARRIES:
            return "outage", together
        if self.existing_carry_rise() and share >= CARRIES:
            return "behaviour", (
                f"{together}, carried by the accounts seen before "
                f"({fmt(self.existing_events_before)} → {fmt(self.existing_events_after)} "
                f"events/day; new accounts {100 * (self.new_share_of_increase or 0):.0f}% of "
                f"the increase), events per user {pct(100 * per_user)}"
            )
        if share < CARRIES and abs(per_user) >= MOVED:
            return "behaviour", (
                f"events {pct(100 * events)} while users {pct(100 * users)}: "
                f"events per user {pct(100 * per_user)}"
            )
        return None

    def existing_carry_rise(self) -> bool:
        """A rise of users carried by the accounts seen before (real people coming more), not by
        new accounts (under ``FLAT_SHARE`` of the extra events), each as active as before
        (``SAME_USE``) and none beyond what people do; the users' rise must carry the segment's
        own (trend-adjusted) rise, else the metric moved for another reason than more people."""
        users, carried = self.users_change, self.new_share_of_increase
        epa, extreme = self.new_events_per_account_day, self.extreme_events_per_account_day
        per_user, rise = self.per_user_change, self.adjusted_change
        return (
            users is not None
            and rise is not None
            and rise >= MOVED
            and users >= CARRIES * rise
            and per_user is not None
            and abs(per_user) < SAME_USE
            and carried is not None
            and carried < FLAT_SHARE
            and (epa is None or extreme is None or epa <= extreme)
        )

    def users_flat(self) -> bool:
        """Events moved while the users behind them did not move with them (see ``FLAT_SHARE``;
        users moving the other way carry none of it)."""
        share = self.users_share
        return share is not None and share < FLAT_SHARE

    def automated(self) -> bool:
        """A spike carried by new accounts active beyond what the earlier accounts ever do."""
        carried = self.new_share_of_increase
        epa, extreme = self.new_events_per_account_day, self.extreme_events_per_account_day
        return (
            self.new_accounts >= MIN_ACCOUNTS
            and carried is not None
            and carried >= CARRIES
            and epa is not None
            and extreme is not None
            and epa > extreme
        )

    def _automated_evidence(self) -> str:
        since = f" (first seen {self.first_seen[0]})" if self.first_seen else ""
        return (
            f"{plural(self.new_accounts, 'new account')}{since} add "
            f"{fmt(self.new_events_per_day)} events/day, "
            f"{100 * (self.new_share_of_increase or 0):.0f}% of the increase, at "
            f"{fmt(self.new_events_per_account_day)} events per account per day vs "
            f"{fmt(self.typical_events_per_account_day)} typical "
            f"(99th percentile {fmt(self.extreme_events_per_account_day)})"
        )


def _rel(before: float, after: float) -> float | None:
    return after / before - 1 if before > 0 else None


def _log_ratio(before: float, after: float) -> float | None:
    return math.log(after / before) if before > 0 and after > 0 else None


def run(bench: Workbench, a: ProfileAccounts) -> StepResult:
    segment = bench.normal_filters(a.segment)
    # the people of the segment: an event type names what they did, not who they are
    tested = {
        k: v for k, v in segment.items() if k not in bench.context.migrating and k != EVENT_TYPE
    }
    base, cur, _ = bench.windows()
    anomaly = bench.context.anomaly
    profile = replace(
        profile_accounts(bench, segment, tested, base, cur),
        gradual=anomaly is not None and anomaly.kind == "drift",
        adjusted_change=_adjusted_change(bench.context, segment),
    )
    where = format_filters(tested) if tested else "all traffic"
    rate = rate_profile(bench, tested) if anomaly is not None else None
    found = rate.mechanism() if rate is not None else profile.mechanism()
    findings = [
        f"{where}: events {fmt(profile.events_before)} → {fmt(profile.events_after)}/day "
        f"({pct(_pct(profile.events_change))}), users {fmt(profile.users_before)} → "
        f"{fmt(profile.users_after)}/day ({pct(_pct(profile.users_change))}), events per user "
        f"{pct(_pct(profile.per_user_change))}.",
        f"{plural(profile.new_accounts, 'new account')} (no event before {cur[0]}) add "
        f"{fmt(profile.new_users_per_day)} users/day and {fmt(profile.new_events_per_day)} "
        "events/day"
        + (
            f" at {fmt(profile.new_events_per_account_day)} per account-day"
            if profile.new_events_per_account_day is not None
            else ""
        )
        + f"; the {plural(profile.existing_accounts, 'account')} seen before went "
        f"{fmt(profile.existing_events_before)} → {fmt(profile.existing_events_after)} events/day"
        + (
            f" (typically {fmt(profile.typical_events_per_account_day)} per account-day, "
            f"99th percentile {fmt(profile.extreme_events_per_account_day)})."
            if profile.typical_events_per_account_day is not None
            else "."
        ),
    ]
    ruled_out: list[str] = []
    marked = [
        e
        for e in _explaining(bench.context, segment, deployments=False)
        if e.kind.lower() in SAYS_HOW
    ]
    if found is not None and marked and found[0] != "automated_traffic":
        found = None  # a holiday or an incident the annotations name says how it happened
    if found is not None:
        mechanism, evidence = found
        deploys = _explaining(bench.context, segment, deployments=True)
        if mechanism == "automated_traffic":
            ruled_out = _confounded(bench.context, profile, deploys)
        elif deploys and mechanism == "outage" and _ended(bench):
            evidence = f"{evidence}, after {deploys[0].id}, back by {cur[1]}"
        elif deploys:  # people left or do less after a release in the segment's scope
            mechanism, evidence = "deployment", f"{evidence}, after {deploys[0].id}"
        record(bench.context, segment, mechanism, evidence)
        findings.append(f"Mechanism: {mechanism.replace('_', ' ')} — {evidence}.")
    if ruled_out:
        moved = _rel(profile.existing_events_before, profile.existing_events_after)
        findings.append(
            f"The accounts seen before went {pct(_pct(moved))}: the new accounts, not a release, "
            "carry the "
            f"change; {', '.join(ruled_out)} (rolling out anyway) does not explain it."
        )
    if tested != segment:
        findings.append(
            f"Profiled the accounts of {where}: "
            f"{', '.join(k for k in segment if k not in tested)} changed hands during the "
            "window or names what they did, not who they are."
        )
    if rate is not None:
        findings.append(_rate_finding(rate))
    outcome = AccountsProfiled(
        segment=profile.segment,
        tested=profile.tested,
        events_before=profile.events_before,
        events_after=profile.events_after,
        existing_events_before=profile.existing_events_before,
        existing_events_after=profile.existing_events_after,
        users_change=profile.users_change,
        events_change=profile.events_change,
        per_user_change=profile.per_user_change,
        users_flat=profile.users_flat(),
        new_accounts=profile.new_accounts,
        new_share_of_increase=profile.new_share_of_increase,
        mechanism=found[0] if found else None,
        evidence=found[1] if found else None,
        deployments_ruled_out=ruled_out,
    )
    data = asdict(profile)  # the raw measurements beside the outcome
    data.update(
        outcome.as_data(),
        baseline=[base[0].isoformat(), base[1].isoformat()],
        current=[cur[0].isoformat(), cur[1].isoformat()],
        users_share=profile.users_share,
        rate=asdict(rate) if rate is not None else None,
    )
    return StepResult(
        success=True,
        findings=findings,
        outcome=outcome,
        data=data,
        chart=bars(
            f"Accounts behind the change: {where}",
            ["users/day", "events/day", "new accounts' events/day"],
            {
                "baseline": (
                    [profile.users_before, profile.events_before, 0.0],
                    "baseline",
                ),
                "anomaly window": (
                    [profile.users_after, profile.events_after, profile.new_events_per_day],
                    "actual",
                ),
            },
            x_label="measure",
            y_label="per day",
        ),
    )


def _adjusted_change(ctx: InvestigationContext, segment: dict[str, str]) -> float | None:
    """The segment's change against its trend: the drill-down's figure for it, else the
    anomaly's own when the segment is the anomaly's."""
    for s in ctx.segments:
        if s.filters == segment and s.change_pct is not None:
            return s.change_pct / 100
    a = ctx.anomaly
    if a is not None and a.filters == segment and a.change_pct is not None:
        return a.change_pct / 100
    return None


# Parts of a segment a rate is judged on: the values of at most this many other dimensions.
MAX_PART_DIMENSIONS = 3


def rate_profile(bench: Workbench, segment: dict[str, str]) -> RateProfile | None:
    """The anomaly's rate or mean in ``segment``, before vs during the window, with its parts
    along the other stable dimensions (None for an activity metric: its accounts say how)."""
    a = bench.context.anomaly
    schema = bench.schema
    if a is None or not schema.is_ratio(a.metric):
        return None
    metric = schema.metric(a.metric)
    if metric.plain or metric.denominator is None:
        return None  # events or users per user: an activity metric
    # the metric's own filter columns split its sides, not its segments ("errors" of an error
    # rate are its numerator)
    segment = {k: v for k, v in segment.items() if k not in metric.filter_columns}
    ctx = bench.context
    dims = [
        d
        for d in bench.candidate_dimensions(a.metric)
        if d not in segment and d not in ctx.migrating and not bench.replacing(d)
    ][:MAX_PART_DIMENSIONS]
    anchor = dims[:1] or list(segment)[:1]
    if not anchor:
        return None
    parts: list[RatePart] = []
    totals: tuple[float, float, float, float] | None = None
    for dim in anchor + dims[1:]:
        bd = bench.breakdown(a.metric, [dim], segment)
        den_before = sum(r.before_den for r in bd.rows)
        if totals is None:
            totals = (
                sum(r.before_num for r in bd.rows),
                den_before,
                sum(r.after_num for r in bd.rows),
                sum(r.after_den for r in bd.rows),
            )
        if dim in segment:
            continue
        parts += [
            RatePart(
                dim,
                str(r.segment[dim]),
                r.before,
                r.after,
                r.before_den / den_before if den_before else 0.0,
            )
            for r in bd.rows
        ]
    assert totals is not None
    num_b, den_b, num_a, den_a = totals
    if den_b <= 0 or den_a <= 0:
        return None
    return RateProfile(
        metric=metric.label,
        bad=metric.bad_direction,
        kind=a.kind,
        start=a.start,
        before=num_b / den_b,
        after=num_a / den_a,
        den_before=den_b,
        den_after=den_a,
        den_label=metric.denominator.describe(),
        parts=tuple(sorted(parts, key=lambda p: (p.dimension, -p.share))),
    )


def _rate_finding(rate: RateProfile) -> str:
    """The rate's own numbers: its two sides, and each judged part."""
    parts = "; ".join(
        f"{p.dimension}={p.value} {fmt(p.before)} → {fmt(p.after)}" for p in rate.judged()
    )
    return (
        f"{rate.metric} {fmt(rate.before)} → {fmt(rate.after)}, its {rate.den_label} "
        f"{fmt(rate.den_before)} → {fmt(rate.den_after)}/day"
        + (f"; by part: {parts}." if parts else ".")
    )


def _ended(bench: Workbench) -> bool:
    """The anomaly ended before the data does: the segment came back (an outage, not a release
    people left)."""
    window = bench.context.window
    return window is not None and window[1] < bench.schema.end_date


def _explaining(
    ctx: InvestigationContext, segment: dict[str, str], *, deployments: bool
) -> list[EventFinding]:
    """The deployments (or the other events) found to explain this segment."""
    return [
        e
        for e in ctx.events
        if (e.kind == "deployment") == deployments and e.explains and e.segment == segment
    ]


def _confounded(
    ctx: InvestigationContext, profile: AccountProfile, deploys: list[EventFinding]
) -> list[str]:
    """Deployments matched to a segment whose change new accounts carry, compared like with
    like: when the accounts seen before (who took the release too) moved less than
    ``FLAT_SHARE`` of the segment's change, the release did not change them; it only is what
    the new accounts run. Those deployments stop explaining the segment (ids returned)."""
    total = profile.events_after - profile.events_before
    existing = profile.existing_events_after - profile.existing_events_before
    if not deploys or total == 0 or abs(existing / total) >= FLAT_SHARE:
        return []
    for e in deploys:
        e.explains = False
    return [e.id for e in deploys]


def _pct(rel: float | None) -> float | None:
    return None if rel is None else 100 * rel


def record(
    ctx: InvestigationContext, segment: dict[str, str], mechanism: Mechanism, evidence: str
) -> None:
    """Keep one mechanism per segment: a later, more specific check replaces an earlier one."""
    ctx.mechanisms = [m for m in ctx.mechanisms if m.filters != segment]
    ctx.mechanisms.append(MechanismFinding(dict(segment), mechanism, evidence))


def profile_accounts(
    bench: Workbench,
    segment: dict[str, str],
    tested: dict[str, str],
    base: tuple[date, date],
    cur: tuple[date, date],
) -> AccountProfile:
    """The profile of ``tested`` (``segment`` without dimensions changing hands)."""
    per_user = _per_user(bench, tested, base, cur)
    first = _first_seen(bench, cur[1])
    per_user = per_user.join(first, on="user_id", how="left")
    n_base = (base[1] - base[0]).days + 1
    n_cur = (cur[1] - cur[0]).days + 1
    active = per_user[per_user["cur_days"] > 0]
    new_mask = pd.to_datetime(active["first_day"]).dt.date >= cur[0]
    new, old = active[new_mask], active[~new_mask]
    seen = per_user[per_user["base_days"] > 0]
    rates = seen["base_events"] / seen["base_days"]
    new_days = float(new["cur_days"].sum())
    firsts = sorted(pd.to_datetime(new["first_day"]).dt.date)
    return AccountProfile(
        segment=segment,
        tested=tested,
        users_before=float(per_user["base_days"].sum()) / n_base,
        users_after=float(per_user["cur_days"].sum()) / n_cur,
        events_before=float(per_user["base_events"].sum()) / n_base,
        events_after=float(per_user["cur_events"].sum()) / n_cur,
        new_accounts=len(new),
        existing_accounts=len(old),
        new_events_per_day=float(new["cur_events"].sum()) / n_cur,
        new_users_per_day=new_days / n_cur,
        existing_events_before=float(per_user["base_events"].sum()) / n_base,
        existing_events_after=float(old["cur_events"].sum()) / n_cur,
        new_events_per_account_day=float(new["cur_events"].sum()) / new_days if new_days else None,
        typical_events_per_account_day=float(rates.median()) if len(rates) else None,
        extreme_events_per_account_day=(
            float(rates.quantile(EXTREME_QUANTILE)) if len(rates) else None
        ),
        first_seen=(firsts[0].isoformat(), firsts[-1].isoformat()) if firsts else None,
    )


def _per_user(
    bench: Workbench, filters: dict[str, str], base: tuple[date, date], cur: tuple[date, date]
) -> pd.DataFrame:
    """Per user of the segment: active days and events before (``base``) and during ``cur``."""
    wh = bench.warehouse
    flt = check_filters(wh, filters)

    def build(param: ParamFn) -> ir.Table:
        b = user_day_base(wh, [], flt, WindowParams(param, "w"), param, sessions=False)
        during = b.day >= WindowParams(param, "c").start
        return b.group_by("user_id").agg(
            base_days=ibis.cases((~during, 1), else_=0).sum(),
            base_events=ibis.cases((~during, b.events), else_=0).sum(),
            cur_days=ibis.cases((during, 1), else_=0).sum(),
            cur_events=ibis.cases((during, b.events), else_=0).sum(),
        )

    key = ("accounts", tuple(sorted(filters.items())), base, cur)
    df: pd.DataFrame = bench.cached(
        key, lambda: run_shape(wh, ("accounts",), build, flt, w=(base[0], cur[1]), c=cur)
    )
    return df.set_index("user_id")


def _first_seen(bench: Workbench, end: date) -> pd.DataFrame:
    """Each user's first active day in the data (over all traffic, up to ``end``)."""
    wh = bench.warehouse

    def build(param: ParamFn) -> ir.Table:
        b = user_day_base(wh, [], {}, WindowParams(param, "w"), param, sessions=False)
        return b.group_by("user_id").agg(first_day=b.day.min())

    df: pd.DataFrame = bench.cached(
        ("first_seen", end),
        lambda: run_shape(wh, ("first_seen",), build, {}, w=(wh.schema.start_date, end)),
    )
    return df.set_index("user_id")


# Behaviour scales a segment's actions together; broken logging removes one kind of event. One
# event type carrying at least half of the change (``CARRIES``) while the other types together
# moved less than a quarter as much (relative) is a logging change, not people.
OTHER_TYPES_SHARE = 0.25


def event_type_mechanism(split: DimensionSplit) -> tuple[Mechanism, str] | None:
    """Instrumentation or behaviour from an event-type split of a segment's events (a
    ``segment_by_dimension`` step by ``event_type``, largest share of the change first)."""
    rows, total_before, total_after = split.rows, split.total_before, split.total_after
    if not rows or total_before <= 0:
        return None
    top = rows[0]
    before, after = float(top.before or 0.0), float(top.after or 0.0)
    rest_before, rest_after = total_before - before, total_after - after
    own = _rel(before, after)
    rest = _rel(rest_before, rest_after) or 0.0
    total = _rel(total_before, total_after) or 0.0
    if own is None or abs(own) < MOVED:  # the trigger (events without users) came first
        return None
    carries = (top.share_of_change or 0.0) >= CARRIES
    if carries and (own * rest <= 0 or abs(rest) < OTHER_TYPES_SHARE * abs(own)):
        return "instrumentation", (
            f"{top.value} events {pct(100 * own)} ({fmt(before)} → {fmt(after)}/day) while "
            f"the other event types {pct(100 * rest)}"
        )
    return "behaviour", (
        f"every event type moved together (events {pct(100 * total)}; "
        f"{top.value} {pct(100 * own)}, the others {pct(100 * rest)})"
    )
