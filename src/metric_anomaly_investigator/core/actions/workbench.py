"""What the actions share: the warehouse, the investigation context, cached queries, windows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import numpy as np

from ...warehouse import queries as q
from ...warehouse.types import Breakdown, MetricSeries
from ...warehouse.warehouse import Warehouse
from ..context import Anomaly, InvestigationContext
from ..segments import dimension_concentration, migration

BASELINE_DAYS = 28
DEFAULT_WINDOW_DAYS = 7
MAX_DRILL_DIMENSIONS = 4
MAX_DIMENSION_CARDINALITY = 30
MIGRATION_SHARE = 0.08  # a dimension whose values swapped this much traffic is "migrating"
SPANNED_SHARE = 0.5  # users counted under two values, as a share of the smaller values' users


class Workbench:
    """One warehouse under investigation; ``context`` persists across steps and follow-ups."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self.schema = warehouse.schema
        self.context = InvestigationContext()
        self._cache: dict[tuple[Any, ...], Any] = {}

    # -- names ---------------------------------------------------------------------------------
    def canonical(self, dimension: str, value: str) -> str | None:
        """The stored spelling of ``value`` (case-insensitive), or None when unknown."""
        info = self.schema.dimension(dimension)
        if value in info.values:
            return value
        for v in info.values:
            if v.lower() == str(value).lower():
                return v
        return None if info.cardinality <= len(info.values) else value

    def normal_filters(self, filters: dict[str, str]) -> dict[str, str]:
        return {k: self.canonical(k, v) or v for k, v in filters.items()}

    # -- windows -------------------------------------------------------------------------------
    def windows(
        self, metric: str | None = None
    ) -> tuple[tuple[date, date], tuple[date, date], bool]:
        """(baseline, current, from_anomaly): the detected windows, else ``metric``'s (or the
        investigation's) last week vs the weeks before."""
        ctx = self.context
        if ctx.window is not None and ctx.baseline is not None:
            return ctx.baseline, ctx.window, True
        # the days the metric's own table covers (a daily table beside events may end sooner)
        first, end = self._metric_range(metric)
        cur = (max(first, end - timedelta(days=DEFAULT_WINDOW_DAYS - 1)), end)
        base = (
            max(first, cur[0] - timedelta(days=BASELINE_DAYS)),
            max(first, cur[0] - timedelta(days=1)),
        )
        return base, cur, False

    def baseline_before(self, start: date) -> tuple[date, date]:
        """The baseline window: the ``BASELINE_DAYS`` before ``start`` (within the metric's
        data)."""
        end = start - timedelta(days=1)
        first = self._metric_range()[0]
        return max(first, end - timedelta(days=BASELINE_DAYS - 1)), end

    def _metric_range(self, metric: str | None = None) -> tuple[date, date]:
        metric = metric or self.context.metric
        return self.schema.metric_range(metric if metric in self.schema.metrics else None)

    def set_anomaly(self, anomaly: Anomaly) -> None:
        """Make ``anomaly`` the one the investigation is about (its windows, no findings yet)."""
        ctx = self.context
        ctx.anomaly = anomaly
        ctx.metric = anomaly.metric
        ctx.filters = dict(anomaly.filters)
        if anomaly.detected and anomaly.start is not None and anomaly.end is not None:
            ctx.window = (anomaly.start, anomaly.end)
            ctx.baseline = self.baseline_before(anomaly.start)
        else:
            ctx.window = ctx.baseline = None
        ctx.segments = []
        ctx.events = []

    # -- cached queries ------------------------------------------------------------------------
    def cached(self, key: tuple[Any, ...], fn: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    def breakdown(self, metric: str, dims: list[str], filters: dict[str, str]) -> Breakdown:
        """Baseline-vs-current breakdown over the current windows (cached)."""
        base, cur, _ = self.windows(metric)
        key = ("bd", metric, tuple(dims), tuple(sorted(filters.items())), base, cur)
        result: Breakdown = self.cached(
            key,
            lambda: q.breakdown(
                self.warehouse, metric, dims, baseline=base, current=cur, filters=filters or None
            ),
        )
        return result

    def series(self, metric: str, filters: dict[str, str]) -> tuple[list[date], list[float]]:
        """The metric's daily series over all the data (cached)."""
        key = ("series", metric, tuple(sorted(filters.items())))
        ms: MetricSeries = self.cached(
            key, lambda: q.metric_series(self.warehouse, metric, filters=filters or None)
        )
        return ms.days(), ms.values()

    def grouped(self, metric: str, dim: str, filters: dict[str, str] | None = None) -> MetricSeries:
        """The metric's daily series split by ``dim`` over all the data, within ``filters``
        (cached)."""
        result: MetricSeries = self.cached(
            ("grouped", metric, dim, *sorted((filters or {}).items())),
            lambda: q.metric_series(
                self.warehouse, metric, filters=filters or None, group_by=[dim]
            ),
        )
        return result

    # -- dimensions ----------------------------------------------------------------------------
    def candidate_dimensions(self, metric: str) -> list[str]:
        """Dimensions of the metric's own table small enough to break down, but not the metric's
        own filter columns; the event type only for an event count (a per-user ratio by event
        type changes its denominator too, hiding a type that vanished). Read from the schema
        only; :meth:`splitting_dimensions` also reads the data."""
        m = self.schema.metric(metric)
        own = self.schema.metric_dimensions(metric)
        return [
            d.name
            for d in self.schema.dimensions
            if d.name in own
            and d.cardinality <= MAX_DIMENSION_CARDINALITY
            and d.name not in m.filter_columns
            and (d.name != "event_type" or m.counts_events)
        ]

    def splitting_dimensions(self, metric: str) -> list[str]:
        """The candidate dimensions whose values split what ``metric`` counts (a metric of
        distinct users or sessions is not broken down by one its users span the same day)."""
        return [d for d in self.candidate_dimensions(metric) if not self.double_counts(metric, d)]

    def split_problem(self, metric: str, dim: str) -> str | None:
        """Why ``metric`` cannot be split (broken down, drilled or tested) by ``dim`` of its
        table: a column its own definition filters on, or one its users span the same day;
        None when it can."""
        if dim in self.schema.metric(metric).filter_columns:
            return (
                f"{metric} is defined by a filter on {dim}: a split by {dim} is degenerate. "
                "Choose another dimension."
            )
        if dim in self.schema.metric_dimensions(metric) and self.double_counts(metric, dim):
            return (
                f"{dim} describes events, not users (a user has several values the same day): "
                f"{metric} counts users, so a split by {dim} counts them twice. Use a metric of "
                "events, or another dimension."
            )
        return None

    def double_counts(self, metric: str, dim: str) -> bool:
        """Whether ``metric`` counts distinct users or sessions and ``dim``'s values do not split
        them (see :meth:`spans_users`)."""
        m = self.schema.metric(metric)
        return any(a.measure in ("users", "sessions") for a in m.sides) and self.spans_users(dim)

    def spans_users(self, dim: str) -> bool:
        """Whether ``dim`` describes events rather than users: most users of its smaller values
        are users of another value the same day (e.g. a request's status), so its values do not
        split the users and a per-user breakdown by it double-counts them."""
        if (
            "dau" not in self.schema.metrics
            or dim not in self.schema.metric_dimensions("dau")
            or self.schema.dimension(dim).level == "user"  # one value per user by construction
        ):
            return False
        ms = self.grouped("dau", dim)
        groups = ms.groups()
        if len(groups) < 2:
            return False
        by_value = np.array([[p.value for p in ms.for_group(g)] for g in groups], dtype=float)
        _, total = self.series("dau", {})
        if by_value.shape[1] != len(total):
            return False
        parts = by_value.sum(axis=0)
        minor = float((parts - by_value.max(axis=0)).sum())
        twice = float((parts - np.asarray(total, dtype=float)).sum())
        return minor > 0 and twice > SPANNED_SHARE * minor

    def activity(self, dim: str) -> str:
        """The metric that counts traffic along ``dim``: DAU, or the first additive metric
        having ``dim`` (aggregates)."""
        additive = [
            m
            for m in self.schema.metrics
            if not self.schema.is_ratio(m) and dim in self.schema.metric_dimensions(m)
        ]
        return "dau" if "dau" in additive or not additive else additive[0]

    def replacing(self, dim: str) -> bool:
        """Whether ``dim``'s values appear or vanish over the data (e.g. app versions)."""
        activity = self.activity(dim)
        if (
            dim == "event_type"
            or activity not in self.schema.metrics
            or dim not in self.schema.metric_dimensions(activity)
        ):
            return False
        return values_replace_each_other(self.grouped(activity, dim))

    def traffic_by(
        self, dim: str, filters: dict[str, str]
    ) -> tuple[list[date], dict[str, list[float]]]:
        """A segment's daily traffic (see :meth:`activity`) per value of ``dim`` (cached)."""
        ms = self.grouped(self.activity(dim), dim, filters)
        return ms.days(), {g[dim]: [p.value for p in ms.for_group(g)] for g in ms.groups()}

    def rank_dimensions(self, metric: str, filters: dict[str, str]) -> dict[str, float]:
        """How concentrated the change is along each dimension (0 = spread evenly, 1 = one value).

        Migrating dimensions (values replacing each other, like app versions) score 0: their
        breakdown reflects the rollout, not the anomaly; they are listed in ``context.migrating``.
        """
        scores: dict[str, float] = {}
        moving: list[str] = []
        ratio = self.schema.is_ratio(metric)
        for dim in self.splitting_dimensions(metric):
            if dim in filters:
                continue
            bd = self.breakdown(metric, [dim], filters)
            if migration(bd, ratio=ratio) >= MIGRATION_SHARE or self.replacing(dim):
                moving.append(dim)
                scores[dim] = 0.0
            else:
                scores[dim] = dimension_concentration(bd, ratio=ratio)
        self.context.dimension_scores = dict(scores)
        self.context.migrating = moving
        return scores

    def drill_dimensions(
        self, metric: str, filters: dict[str, str], requested: list[str]
    ) -> tuple[list[str], list[str]]:
        """(dimensions to search, migrating dimensions to refine with).

        The requested ones, else the most informative few (by one-dimensional breakdowns).
        """
        scores = self.rank_dimensions(metric, filters)
        moving = list(self.context.migrating)
        own = self.schema.metric_dimensions(metric)
        # never one the metric's table lacks, its own definition fixes or its users span
        requested = [d for d in requested if d in own and self.split_problem(metric, d) is None]
        if requested:
            search = [d for d in requested if d not in filters and d not in moving]
            return search or [d for d in requested if d not in filters], moving
        ranked = [d for d in sorted(scores, key=lambda d: -scores[d]) if d not in moving]
        keep = [d for d in ranked if scores[d] >= 0.1][:MAX_DRILL_DIMENSIONS]
        return keep or ranked[:2], moving


def values_replace_each_other(ms: MetricSeries, weeks: int = 4) -> bool:
    """Whether a dimension's values appear or vanish over the data (app versions rolling out)."""
    for g in ms.groups():
        v = np.array([p.value for p in ms.for_group(g)], dtype=float)
        if len(v) < 4 * weeks * 7 // 2:
            continue
        head, tail = float(v[: 7 * weeks].mean()), float(v[-7 * weeks :].mean())
        if max(head, tail) > 0 and min(head, tail) < 0.25 * max(head, tail):
            return True
    return False
