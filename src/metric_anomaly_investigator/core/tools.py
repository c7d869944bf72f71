"""The Tool Executor: one action -> warehouse queries + statistics -> a :class:`StepResult`.

Every action is validated against the live schema first (:meth:`ToolExecutor.validate` raises
:class:`InvalidAction` with a message a model can act on). Blocking work runs in a thread. The
:class:`~.context.InvestigationContext` carries what earlier steps established (metric, anomaly
window, baseline window, affected segments…) and supplies the defaults of later actions.
"""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
import math
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from ..warehouse import queries as q
from ..warehouse.connect import Warehouse
from ..warehouse.types import RATIO_METRICS, Breakdown, MetricSeries, WarehouseError
from . import detection, stats
from .context import (
    Anomaly,
    EventFinding,
    HistoryEntry,
    InvestigationContext,
    SegmentFinding,
)
from .models import (
    Action,
    AnalyzeRetention,
    Chart,
    ChartSeries,
    CheckDeployments,
    DetectAnomaly,
    DrillDown,
    GenerateInsights,
    QueryMetric,
    SegmentByDimension,
    StatisticalTest,
    StepResult,
)
from .segments import dimension_concentration, localize_segments, migration

BASELINE_DAYS = 28
DEFAULT_WINDOW_DAYS = 7
MAX_DRILL_DIMENSIONS = 4
MAX_DIMENSION_CARDINALITY = 30
MIGRATION_SHARE = 0.08  # a dimension whose values swapped this much traffic is "migrating"
HIDDEN_MIN_IMPACT = 0.04  # a segment's break must move the total by 4% to be reported
EVENT_COUNT_METRICS = frozenset({"events"})  # additive over event types
RETENTION_DAYS = (1, 7, 14, 28)
RETENTION_PROBE = 7  # the day-N retention that cohorts are compared on


class InvalidAction(ValueError):
    """An action whose parameters do not fit the warehouse; the message says how to fix it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f}%"


def _seg_text(filters: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in filters.items()) if filters else "all traffic"


def _closest(word: str, options: Sequence[str]) -> str:
    low = {o.lower(): o for o in options}
    close = difflib.get_close_matches(word.lower(), list(low), n=3, cutoff=0.5)
    return f" Did you mean {', '.join(repr(low[c]) for c in close)}?" if close else ""


class ToolExecutor:
    """Runs actions against one warehouse; ``context`` persists across steps and follow-ups."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self.schema = warehouse.schema
        self.context = InvestigationContext()
        self._cache: dict[tuple[Any, ...], Any] = {}

    def reset(self) -> None:
        """Forget the current investigation (a new root question)."""
        self.context = InvestigationContext()

    # -- prompts -------------------------------------------------------------------------------
    def schema_summary(self) -> str:
        """The warehouse's real schema for prompts: metrics, dimensions, dates, tables."""
        s = self.schema
        lines = [
            f"Warehouse: {self.warehouse.label}",
            f"Data: {s.start_date} .. {s.end_date} (daily), {s.row_count:,} events",
            "Metrics: "
            + ", ".join(s.metrics)
            + (" (ratio metrics: " + ", ".join(m for m in s.metrics if m in RATIO_METRICS) + ")"),
            "Dimensions (name [level, distinct values]: examples):",
        ]
        for d in s.dimensions:
            more = f", … ({d.cardinality} in all)" if d.cardinality > 8 else ""
            lines.append(
                f"- {d.name} [{d.level}, {d.cardinality}]: {', '.join(d.values[:8])}{more}"
            )
        tables = [
            name
            for name, present in (
                ("users (signup cohorts, user-level dimensions)", s.has_users),
                ("deployments", s.has_deployments),
                ("annotations (holidays, campaigns, incidents)", s.has_annotations),
            )
            if present
        ]
        lines.append("Optional tables: " + (", ".join(tables) if tables else "none"))
        return "\n".join(lines)

    # -- validation ----------------------------------------------------------------------------
    def validate(self, action: Action) -> None:
        """Raise :class:`InvalidAction` unless every name, value and date exists in the data."""
        metric = getattr(action, "metric", None)
        if metric is not None:
            self._check_metric(metric)
        if isinstance(action, SegmentByDimension):
            self._check_dimension(action.dimension)
        if isinstance(action, QueryMetric) and action.group_by:
            self._check_dimension(action.group_by)
        if isinstance(action, DrillDown):
            for d in action.dimensions:
                self._check_dimension(d)
        for field in ("filters", "segment"):
            flt = getattr(action, field, None)
            if flt:
                self._check_filters(flt)
        for field in ("start", "end", "hint_date", "around", "cohort_start", "cohort_end"):
            value = getattr(action, field, None)
            if value is not None:
                self._check_date(field, value)
        if (
            isinstance(action, QueryMetric)
            and action.start
            and action.end
            and action.start > action.end
        ):
            raise InvalidAction(f"start {action.start} is after end {action.end}.")
        if isinstance(action, AnalyzeRetention) and not self.schema.has_users:
            raise InvalidAction(
                "analyze_retention needs a users table with signup dates; this warehouse has "
                "none. Use query_metric or segment_by_dimension instead."
            )

    def _check_metric(self, metric: str) -> None:
        if metric not in self.schema.metrics:
            raise InvalidAction(
                f"Unknown metric {metric!r}. Valid metrics: {', '.join(self.schema.metrics)}."
                + _closest(metric, self.schema.metrics)
            )

    def _check_dimension(self, name: str) -> None:
        if name not in self.schema.dimension_names:
            raise InvalidAction(
                f"Unknown dimension {name!r}. Valid dimensions: "
                f"{', '.join(self.schema.dimension_names)}."
                + _closest(name, self.schema.dimension_names)
            )

    def _check_filters(self, filters: dict[str, str]) -> None:
        for name, value in filters.items():
            self._check_dimension(name)
            info = self.schema.dimension(name)
            if self._canonical(name, value) is None and info.cardinality <= len(info.values):
                shown = ", ".join(info.values[:12])
                raise InvalidAction(
                    f"{value!r} is not a value of {name!r}. Its values: {shown}."
                    + _closest(str(value), info.values)
                )

    def _canonical(self, dimension: str, value: str) -> str | None:
        """The stored spelling of ``value`` (case-insensitive), or None when unknown."""
        info = self.schema.dimension(dimension)
        if value in info.values:
            return value
        for v in info.values:
            if v.lower() == str(value).lower():
                return v
        return None if info.cardinality <= len(info.values) else value

    def _normal_filters(self, filters: dict[str, str]) -> dict[str, str]:
        return {k: self._canonical(k, v) or v for k, v in filters.items()}

    def _check_date(self, field: str, value: date) -> None:
        s = self.schema
        lo = s.start_date - timedelta(days=366) if field.startswith("cohort") else s.start_date
        if not lo <= value <= s.end_date:
            raise InvalidAction(
                f"{field} {value} is outside the data, which covers {s.start_date} .. "
                f"{s.end_date}. Use a date in that range."
            )

    # -- execution -----------------------------------------------------------------------------
    async def execute(self, action: Action) -> StepResult:
        """Run one action (in a worker thread); bad input becomes a failed result, never a raise."""
        try:
            self.validate(action)
            result = await asyncio.to_thread(self._dispatch(action))
        except (InvalidAction, WarehouseError) as exc:
            result = StepResult(success=False, error=str(exc))
        self.context.history.append(HistoryEntry(action=action, result=result))
        return result

    def run(self, action: Action) -> StepResult:
        """Synchronous :meth:`execute` (scripts, benchmarks)."""
        return asyncio.run(self.execute(action))

    def _dispatch(self, action: Action) -> Callable[[], StepResult]:
        handlers: dict[type, Callable[[Any], StepResult]] = {
            QueryMetric: self._query_metric,
            DetectAnomaly: self._detect_anomaly,
            SegmentByDimension: self._segment_by_dimension,
            DrillDown: self._drill_down,
            CheckDeployments: self._check_deployments,
            AnalyzeRetention: self._analyze_retention,
            StatisticalTest: self._statistical_test,
            GenerateInsights: self._generate_insights,
        }
        handler = handlers[type(action)]
        return lambda: handler(action)

    # -- windows -------------------------------------------------------------------------------
    def windows(self) -> tuple[tuple[date, date], tuple[date, date], bool]:
        """(baseline, current, from_anomaly): the detected windows, else the last week vs before."""
        ctx = self.context
        if ctx.window is not None and ctx.baseline is not None:
            return ctx.baseline, ctx.window, True
        end = self.schema.end_date
        cur = (end - timedelta(days=DEFAULT_WINDOW_DAYS - 1), end)
        base = (
            max(self.schema.start_date, cur[0] - timedelta(days=BASELINE_DAYS)),
            cur[0] - timedelta(days=1),
        )
        return base, cur, False

    def _cached(self, key: tuple[Any, ...], fn: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    def breakdown(self, metric: str, dims: list[str], filters: dict[str, str]) -> Breakdown:
        """Baseline-vs-current breakdown over the current windows (cached)."""
        base, cur, _ = self.windows()
        key = ("bd", metric, tuple(dims), tuple(sorted(filters.items())), base, cur)
        return self._cached(
            key,
            lambda: q.breakdown(
                self.warehouse, metric, dims, baseline=base, current=cur, filters=filters or None
            ),
        )

    def series(self, metric: str, filters: dict[str, str]) -> tuple[list[date], list[float]]:
        key = ("series", metric, tuple(sorted(filters.items())))
        ms = self._cached(
            key, lambda: q.metric_series(self.warehouse, metric, filters=filters or None)
        )
        return ms.days(), ms.values()

    def candidate_dimensions(self, metric: str) -> list[str]:
        """Dimensions small enough to break down; the event type only for the event count (a
        per-user ratio by event type changes its denominator too, hiding a type that vanished)."""
        return [
            d.name
            for d in self.schema.dimensions
            if d.cardinality <= MAX_DIMENSION_CARDINALITY
            and (d.name != "event_type" or metric in EVENT_COUNT_METRICS)
        ]

    def rank_dimensions(self, metric: str, filters: dict[str, str]) -> dict[str, float]:
        """How concentrated the change is along each dimension (0 = spread evenly, 1 = one value).

        Migrating dimensions (values replacing each other, like app versions) score 0: their
        breakdown reflects the rollout, not the anomaly; they are listed in ``context.migrating``.
        """
        scores: dict[str, float] = {}
        moving: list[str] = []
        ratio = metric in RATIO_METRICS
        for dim in self.candidate_dimensions(metric):
            if dim in filters:
                continue
            bd = self.breakdown(metric, [dim], filters)
            if migration(bd, ratio=ratio) >= MIGRATION_SHARE or self._replacing(dim):
                moving.append(dim)
                scores[dim] = 0.0
            else:
                scores[dim] = dimension_concentration(bd, ratio=ratio)
        self.context.dimension_scores = dict(scores)
        self.context.migrating = moving
        return scores

    # -- actions -------------------------------------------------------------------------------
    def _query_metric(self, a: QueryMetric) -> StepResult:
        filters = self._normal_filters(a.filters)
        ms = q.metric_series(
            self.warehouse,
            a.metric,
            start=a.start,
            end=a.end,
            filters=filters or None,
            group_by=[a.group_by] if a.group_by else None,
        )
        series: list[ChartSeries] = []
        summary: list[dict[str, Any]] = []
        for g in ms.groups() or [{}]:
            pts = ms.for_group(g)
            vals = [p.value for p in pts]
            label = _seg_text(g) if g else a.metric
            series.append(
                ChartSeries(
                    label=label,
                    x=[p.day.isoformat() for p in pts],
                    y=vals,
                    style="segment" if g else "actual",
                )
            )
            if vals:
                summary.append(
                    {
                        "group": g,
                        "mean": float(np.mean(vals)),
                        "first": vals[0],
                        "last": vals[-1],
                        "min": min(vals),
                        "max": max(vals),
                    }
                )
        summary.sort(key=lambda r: -r["mean"])
        series = sorted(series, key=lambda s: -float(np.mean([v or 0 for v in s.y] or [0])))[:8]
        findings = [
            f"{a.metric} for {_seg_text(filters)} from {ms.start} to {ms.end}: "
            + "; ".join(
                f"{_seg_text(r['group']) if r['group'] else 'overall'} mean {_fmt(r['mean'])} "
                f"(first {_fmt(r['first'])}, last {_fmt(r['last'])})"
                for r in summary[:4]
            )
        ]
        self.context.metric = self.context.metric or a.metric
        return StepResult(
            success=True,
            findings=findings,
            data={
                "metric": a.metric,
                "filters": filters,
                "start": ms.start.isoformat(),
                "end": ms.end.isoformat(),
                "group_by": a.group_by,
                "groups": summary[:10],
            },
            chart=Chart(
                title=f"{a.metric} ({_seg_text(filters)})",
                kind="line",
                series=series,
                x_label="day",
                y_label=a.metric,
            ),
        )

    def _detect_anomaly(self, a: DetectAnomaly) -> StepResult:
        filters = self._normal_filters(a.filters)
        days, values = self.series(a.metric, filters)
        hint = None
        if a.hint_date is not None and days:
            hint = min(range(len(days)), key=lambda i: abs((days[i] - a.hint_date).days))  # type: ignore[operator]
        trend = detection.trend(values)
        flat = list(np.asarray(values, dtype=float) - trend)
        res = stats.detect_anomaly(
            flat, hint_index=hint if hint is not None else detection.sharpest_step(flat)
        )
        res = detection.with_trend(res, values, trend)
        x = [d.isoformat() for d in days]
        series = [
            ChartSeries(label=a.metric, x=x, y=list(values), style="actual"),
            ChartSeries(
                label="seasonal baseline", x=x, y=[float(v) for v in res.baseline], style="baseline"
            ),
        ]
        ctx = self.context
        hidden = None
        if (not res.detected or res.start_index is None) and not filters:
            hidden = self._scan_segments(a.metric, days, values, hint)
            if hidden is not None:
                res = hidden[0]
        if not res.detected or res.start_index is None:
            anomaly = Anomaly(
                a.metric, filters, "none", "none", None, None, None, res.p_value, res.reason
            )
            findings = [f"No anomaly in {a.metric} ({_seg_text(filters)}): {res.reason}."]
            if hint is not None:
                findings.append(self._hint_note(days, values, res.baseline, hint))
            highlight = None
            data: dict[str, Any] = {
                "metric": a.metric,
                "filters": filters,
                "detected": False,
                "direction": "none",
                "p_value": res.p_value,
                "reason": res.reason,
            }
        else:
            onset = detection.onset(flat, res.start_index, res.direction)
            if onset != res.start_index:
                res = detection.restart(res, values, onset)
            i0 = onset
            i1 = res.end_index if res.end_index is not None else len(days) - 1
            start, end = days[i0], days[i1]
            anomaly = Anomaly(
                a.metric,
                filters,
                res.direction,
                res.kind,
                start,
                end,
                res.change_pct,
                res.p_value,
                res.reason,
            )
            until = "to the end of the data" if res.end_index is None else f"until {end}"
            word = "dropped" if res.direction == "drop" else "spiked"
            findings = [
                f"{a.metric} ({_seg_text(filters)}) {word} {_pct(res.change_pct)} vs its seasonal "
                f"baseline from {start} {until} (p={_fmt(res.p_value, 2)}, {res.kind})."
            ]
            seg_vals = values[i0 : i1 + 1]
            exp_vals = res.baseline[i0 : i1 + 1]
            findings.append(
                f"Mean {_fmt(float(np.mean(seg_vals)))}/day in the window vs "
                f"{_fmt(float(np.mean(exp_vals)))} expected."
            )
            if hint is not None and not (i0 - 1 <= hint <= i1):
                findings.append(
                    f"The date mentioned ({days[hint]}) is not where the break is: "
                    f"it starts {start}."
                )
            if hidden is not None:
                findings.insert(0, hidden[1])
            highlight = (start.isoformat(), end.isoformat())
            data = {
                "metric": a.metric,
                "filters": filters,
                "detected": True,
                "direction": res.direction,
                "kind": res.kind,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "ongoing": res.end_index is None,
                "change_pct": res.change_pct,
                "p_value": res.p_value,
                "expected_mean": float(np.mean(exp_vals)),
                "actual_mean": float(np.mean(seg_vals)),
            }
        ctx.checked[a.metric + "|" + _seg_text(filters)] = anomaly
        replace = (
            ctx.anomaly is None
            or (anomaly.detected and not ctx.anomaly.detected)
            or (ctx.anomaly.metric == a.metric and ctx.anomaly.filters == filters)
        )
        if replace and not (
            filters and ctx.anomaly is not None and ctx.anomaly.detected and not ctx.anomaly.filters
        ):
            self._set_anomaly(anomaly)
        if ctx.window is not None:
            data["baseline_window"] = (
                [ctx.baseline[0].isoformat(), ctx.baseline[1].isoformat()] if ctx.baseline else None
            )
        return StepResult(
            success=True,
            findings=findings,
            data=data,
            chart=Chart(
                title=f"{a.metric} vs seasonal baseline",
                kind="line",
                series=series,
                x_label="day",
                y_label=a.metric,
                highlight=highlight,
            ),
        )

    def _grouped(self, metric: str, dim: str) -> MetricSeries:
        """The metric's daily series split by ``dim`` over all the data (cached)."""
        key = ("grouped", metric, dim)
        if key not in self._cache:
            self._cache[key] = q.metric_series(self.warehouse, metric, group_by=[dim])
        result: MetricSeries = self._cache[key]
        return result

    def _replacing(self, dim: str) -> bool:
        """Whether ``dim``'s values appear or vanish over the data (e.g. app versions)."""
        if dim == "event_type":
            return False
        ms = self._grouped("dau", dim)
        return detection.values_replace_each_other(ms)

    def _scan_segments(
        self, metric: str, days: list[date], values: list[float], hint: int | None
    ) -> tuple[stats.AnomalyResult, str] | None:
        """Look for a break hidden in one segment when the total shows none.

        Each value (≥ 2% of the traffic) of each breakdown dimension is tested on its own
        series; the break with the largest weight on the total wins when it moved the total by
        at least ``HIDDEN_MIN_IMPACT`` over its window. The result is re-expressed on the total
        (window, change vs the total's seasonal baseline) with the segment's p-value.
        """
        total = np.asarray(values, dtype=float)
        best: tuple[float, int, int, stats.AnomalyResult, str] | None = None
        for dim in self.candidate_dimensions(metric):
            if dim == "event_type" or metric in RATIO_METRICS:
                continue
            ms = self._grouped(metric, dim)
            if detection.values_replace_each_other(ms):
                continue
            for g in ms.groups():
                seg = np.array([p.value for p in ms.for_group(g)], dtype=float)
                if len(seg) != len(total) or seg.sum() < 0.02 * total.sum():
                    continue
                seg_trend = detection.trend(seg)
                r = detection.with_trend(
                    stats.detect_anomaly(seg - seg_trend, hint_index=hint), seg, seg_trend
                )
                if not r.detected or r.start_index is None or (r.p_value or 1) > 0.001:
                    continue
                i0 = r.start_index
                i1 = r.end_index if r.end_index is not None else len(seg) - 1
                dev = float(np.sum(seg[i0 : i1 + 1] - np.asarray(r.baseline[i0 : i1 + 1])))
                impact = abs(dev) / max(float(np.sum(total[i0 : i1 + 1])), 1e-9)
                if impact >= HIDDEN_MIN_IMPACT and (best is None or impact > best[0]):
                    best = (impact, i0, i1, r, _seg_text(g))
        if best is None:
            return None
        _, i0, i1, r, where = best
        trend = detection.trend(total)
        base = stats.seasonal_baseline(total - trend, train_end=i0) + trend
        win_dev = total[i0 : i1 + 1] - base[i0 : i1 + 1]
        change = float(np.mean(win_dev / np.where(base[i0 : i1 + 1] != 0, base[i0 : i1 + 1], 1.0)))
        direction: stats.Direction = "drop" if float(np.mean(win_dev)) < 0 else "spike"
        if abs(change) < HIDDEN_MIN_IMPACT / 2:
            return None
        result = dataclasses.replace(
            r,
            direction=direction,
            change_pct=100 * change,
            baseline=[float(b) for b in base],
            end_index=r.end_index,
        )
        note = (
            f"The total alone shows no significant break, but {where} broke on {days[i0]}: "
            f"{r.reason}."
        )
        return result, note

    def _set_anomaly(self, anomaly: Anomaly) -> None:
        ctx = self.context
        ctx.anomaly = anomaly
        ctx.metric = anomaly.metric
        ctx.filters = dict(anomaly.filters)
        if anomaly.detected and anomaly.start is not None and anomaly.end is not None:
            ctx.window = (anomaly.start, anomaly.end)
            b_end = anomaly.start - timedelta(days=1)
            ctx.baseline = (
                max(self.schema.start_date, b_end - timedelta(days=BASELINE_DAYS - 1)),
                b_end,
            )
        else:
            ctx.window = ctx.baseline = None
        ctx.segments = []
        ctx.events = []

    def _hint_note(self, days: list[date], values: list[float], base: list[float], i: int) -> str:
        d = days[i]
        exp = base[i] if i < len(base) else None
        rel = (values[i] / exp - 1) * 100 if exp else None
        same = [values[j] for j in range(i % 7, len(values), 7) if j != i][-4:]
        typical = f"; the same weekday usually reads {_fmt(float(np.mean(same)))}" if same else ""
        return (
            f"{d} ({d:%A}) reads {_fmt(values[i])} vs {_fmt(exp)} expected for that weekday "
            f"({_pct(rel)}){typical}: within the usual weekly pattern."
        )

    def _segment_by_dimension(self, a: SegmentByDimension) -> StepResult:
        filters = self._normal_filters(a.filters)
        base, cur, from_anomaly = self.windows()
        bd = self.breakdown(a.metric, [a.dimension], filters)
        ratio = a.metric in RATIO_METRICS
        conc = dimension_concentration(bd, ratio=ratio)
        self.context.dimension_scores[a.dimension] = conc
        rows: list[dict[str, Any]] = [
            {
                "value": r.segment[a.dimension],
                "before": r.before,
                "after": r.after,
                "change_pct": None if r.rel_change is None else 100 * r.rel_change,
                "share_of_change": r.share_of_change,
            }
            for r in bd.rows
        ]
        total_rel = (bd.total_after / bd.total_before - 1) * 100 if bd.total_before else None
        findings = []
        if rows:
            top = rows[0]
            findings.append(
                f"By {a.dimension}, {top['value']} moved most: {_fmt(top['before'])} → "
                f"{_fmt(top['after'])}/day ({_pct(top['change_pct'])}), "
                f"{_fmt(100 * (top['share_of_change'] or 0), 3)}% of the change "
                f"(total {_pct(total_rel)})."
            )
            others = [
                f"{r['value']} {_pct(r['change_pct'])} "
                f"({_fmt(100 * (r['share_of_change'] or 0), 2)}%)"
                for r in rows[1:5]
            ]
            if others:
                findings.append("Others: " + "; ".join(others) + ".")
            findings.append(
                f"Concentration along {a.dimension}: {conc:.2f} "
                + ("(the change is concentrated)" if conc >= 0.15 else "(spread evenly)")
                + "."
            )
        else:
            findings.append(f"No data for {a.metric} by {a.dimension} in these windows.")
        if not from_anomaly:
            findings.append(
                f"No anomaly window yet: compared {cur[0]}..{cur[1]} with {base[0]}..{base[1]}."
            )
        top_rows = rows[:12]
        return StepResult(
            success=True,
            findings=findings,
            data={
                "metric": a.metric,
                "dimension": a.dimension,
                "filters": filters,
                "baseline": [base[0].isoformat(), base[1].isoformat()],
                "current": [cur[0].isoformat(), cur[1].isoformat()],
                "total_before": bd.total_before,
                "total_after": bd.total_after,
                "concentration": conc,
                "rows": top_rows,
            },
            chart=Chart(
                title=f"{a.metric} by {a.dimension}: baseline vs anomaly",
                kind="bar",
                series=[
                    ChartSeries(
                        label="baseline",
                        x=[r["value"] for r in top_rows],
                        y=[r["before"] for r in top_rows],
                        style="baseline",
                    ),
                    ChartSeries(
                        label="anomaly window",
                        x=[r["value"] for r in top_rows],
                        y=[r["after"] for r in top_rows],
                        style="actual",
                    ),
                ],
                x_label=a.dimension,
                y_label=a.metric,
            ),
        )

    def drill_dimensions(
        self, metric: str, filters: dict[str, str], requested: list[str]
    ) -> tuple[list[str], list[str]]:
        """(dimensions to search, migrating dimensions to refine with).

        The requested ones, else the most informative few (by one-dimensional breakdowns).
        """
        scores = self.rank_dimensions(metric, filters)
        moving = list(self.context.migrating)
        if requested:
            search = [d for d in requested if d not in filters and d not in moving]
            return search or [d for d in requested if d not in filters], moving
        ranked = [d for d in sorted(scores, key=lambda d: -scores[d]) if d not in moving]
        keep = [d for d in ranked if scores[d] >= 0.1][:MAX_DRILL_DIMENSIONS]
        return keep or ranked[:2], moving

    def _drill_down(self, a: DrillDown) -> StepResult:
        filters = self._normal_filters(a.filters)
        base, cur, from_anomaly = self.windows()
        dims, moving = self.drill_dimensions(a.metric, filters, a.dimensions)
        if not dims:
            return StepResult(
                success=False, error="No dimension left to drill into: remove a filter."
            )
        bd = self.breakdown(a.metric, [*dims, *moving], filters)
        ratio = a.metric in RATIO_METRICS
        direction = self.context.anomaly.direction if self.context.anomaly else None
        result = localize_segments(bd, dims, ratio=ratio, direction=direction, migrating=moving)
        segs = [
            SegmentFinding(
                filters={**filters, **e.filters},
                change_pct=e.change_pct,
                share_of_change=e.share_of_change,
                score=e.score,
            )
            for e in result.elements
        ]
        self.context.segments = segs
        findings = []
        moved = self._sharpen_start(a.metric, segs[0].filters) if segs and from_anomaly else None
        if segs:
            lead = segs[0]
            findings.append(
                f"Root cause: {_seg_text(lead.filters)} changed {_pct(lead.change_pct)} and "
                f"explains {_fmt(100 * (lead.share_of_change or 0), 3)}% of the change."
            )
            for s in segs[1:]:
                findings.append(
                    f"Also: {_seg_text(s.filters)} {_pct(s.change_pct)}, "
                    f"{_fmt(100 * (s.share_of_change or 0), 3)}% of the change."
                )
            findings.append(
                f"Together they explain {_fmt(100 * result.explained_share, 3)}% of the change "
                f"(searched {', '.join(dims)}); the rest moved {_pct(result.rest_change_pct)}."
            )
            if moving:
                findings.append(
                    f"{', '.join(moving)} changed hands during the window (a rollout): used only "
                    "to name the value that replaced the others in the segment."
                )
        else:
            findings.append(
                f"No segment stands out across {', '.join(dims)}: the change is spread evenly."
            )
        if moved:
            findings.append(moved)
        if not from_anomaly:
            findings.append(
                f"No anomaly window yet: compared {cur[0]}..{cur[1]} with {base[0]}..{base[1]}."
            )
        elements = [
            {
                "filters": s.filters,
                "change_pct": s.change_pct,
                "share_of_change": s.share_of_change,
                "score": s.score,
            }
            for s in segs
        ]
        labels = [_seg_text(s.filters) for s in segs]
        return StepResult(
            success=True,
            findings=findings,
            data={
                "metric": a.metric,
                "dimensions": dims,
                "migrating": moving,
                "filters": filters,
                "elements": elements,
                "explained_share": result.explained_share,
                "rest_change_pct": result.rest_change_pct,
                "dimension_scores": {d: self.context.dimension_scores.get(d) for d in dims},
            },
            chart=Chart(
                title=f"{a.metric}: root-cause segments (share of change)",
                kind="bar",
                series=[
                    ChartSeries(
                        label="share of change %",
                        x=labels,
                        y=[100 * (s.share_of_change or 0) for s in segs],
                        style="segment",
                    )
                ],
                x_label="segment",
                y_label="% of change",
            )
            if segs
            else None,
        )

    def _sharpen_start(self, metric: str, segment: dict[str, str]) -> str | None:
        """Date the anomaly on the root-cause segment's own series, where the break is sharper.

        Only a start within a week of the one found on the total, in the same direction, is
        taken; the windows (and so later steps) follow it.
        """
        ctx = self.context
        anomaly = ctx.anomaly
        if anomaly is None or anomaly.start is None or ctx.window is None:
            return None
        stable = {k: v for k, v in segment.items() if k not in ctx.migrating}
        days, values = self.series(metric, {**anomaly.filters, **stable})
        if anomaly.start not in days:
            return None
        trend = detection.trend(values)
        flat = np.asarray(values, dtype=float) - trend
        res = stats.detect_anomaly(flat, hint_index=days.index(anomaly.start))
        if not res.detected or res.start_index is None or res.direction != anomaly.direction:
            return None
        start_index = detection.onset(flat, res.start_index, res.direction)
        start = days[start_index]
        if start == anomaly.start or abs((start - anomaly.start).days) > 7 or start > ctx.window[1]:
            return None
        old = anomaly.start
        anomaly.start = start
        ctx.window = (start, ctx.window[1])
        b_end = start - timedelta(days=1)
        ctx.baseline = (
            max(self.schema.start_date, b_end - timedelta(days=BASELINE_DAYS - 1)),
            b_end,
        )
        return (
            f"The break is sharper in {_seg_text(stable)}: it starts on {start}, not {old}; "
            "the anomaly window now starts there."
        )

    def _check_deployments(self, a: CheckDeployments) -> StepResult:
        ctx = self.context
        around = a.around or (ctx.anomaly.start if ctx.anomaly and ctx.anomaly.start else None)
        if around is None:
            around = self.windows()[1][0]
        segments = [self._normal_filters(a.segment)] if a.segment else ctx.affected_segments[:3]
        lo, hi = around - timedelta(days=a.days_before), around + timedelta(days=a.days_after)
        deps = q.deployments(self.warehouse, start=lo, end=hi)
        anns = q.annotations(self.warehouse, start=lo, end=hi)
        scored: list[EventFinding] = []
        for d in deps:
            fields = [v for v in (d.platform, d.app_version) if v] + [
                r for r in d.regions if r.lower() != "all"
            ]
            overlap, matched = self._best_overlap(fields, {}, segments)
            prox = _proximity(d.deployed_at, around)
            desc = d.description or ""
            scope = ", ".join(fields) or "global"
            scored.append(
                self._event(
                    "deployment",
                    d.deployment_id,
                    d.deployed_at,
                    f"{scope}: {desc}".strip(": "),
                    prox,
                    overlap,
                    bool(fields),
                    matched,
                )
            )
        for an in anns:
            overlap, matched = self._best_overlap([], an.scope, segments)
            prox = _proximity(an.starts_at, around)
            scope = _seg_text(an.scope) if an.scope else "global"
            scored.append(
                self._event(
                    an.kind,
                    an.name,
                    an.starts_at,
                    f"{an.name} ({scope})",
                    prox,
                    overlap,
                    bool(an.scope),
                    matched,
                )
            )
        scored.sort(key=lambda e: -e.score)
        ctx.events = scored
        explaining = [e for e in scored if e.explains]
        seg_txt = "; ".join(_seg_text(s) for s in segments) or "the whole metric"
        findings = []
        if explaining:
            e = explaining[0]
            findings.append(
                f"{e.kind} {e.id} at {e.at} explains it: {e.description} — "
                f"{'matches' if e.overlap >= 0.99 else 'overlaps'} "
                f"{_seg_text(e.segment) if e.segment else seg_txt}, "
                f"{_days_between(e.at, around)} the anomaly start {around}."
            )
            findings += [
                f"Also plausible: {o.kind} {o.id} ({o.description})." for o in explaining[1:3]
            ]
        if not any(e.kind == "deployment" for e in explaining):
            findings.append(f"No deployment explains it: none near {around} overlaps {seg_txt}.")
        others = [e for e in scored if not e.explains][:4]
        if others:
            findings.append(
                "Checked and ruled out: "
                + "; ".join(
                    f"{e.kind} {e.id} ({e.description}, score {e.score:.2f})" for e in others
                )
                + "."
            )
        if not deps and not anns:
            findings.append(f"No deployments or annotations between {lo} and {hi}.")
        data = {
            "around": around.isoformat(),
            "window": [lo.isoformat(), hi.isoformat()],
            "segments": segments,
            "events": [
                {
                    "kind": e.kind,
                    "id": e.id,
                    "at": e.at,
                    "description": e.description,
                    "proximity": round(e.proximity, 3),
                    "overlap": round(e.overlap, 3),
                    "score": round(e.score, 3),
                    "explains": e.explains,
                }
                for e in scored[:10]
            ],
        }
        return StepResult(
            success=True,
            findings=[f for f in findings if f],
            data=data,
            chart=Chart(
                title="Changes near the anomaly (score)",
                kind="bar",
                series=[
                    ChartSeries(
                        label="score",
                        x=[e.id for e in scored[:10]],
                        y=[e.score for e in scored[:10]],
                        style="segment",
                    )
                ],
                x_label="deployment / annotation",
                y_label="score",
            )
            if scored
            else None,
        )

    def _best_overlap(
        self, fields: list[str], scope: dict[str, str], segments: list[dict[str, str]]
    ) -> tuple[float | None, dict[str, str]]:
        """The best overlap with any of the segments, and that segment."""
        scored = [(self._overlap(fields, scope, seg), seg) for seg in segments]
        if not scored:
            return None, {}
        best = max(scored, key=lambda x: x[0])
        return best[0], best[1]

    def _overlap(self, fields: list[str], scope: dict[str, str], segment: dict[str, str]) -> float:
        """How well a change's scope matches a segment: 1 = every part agrees, 0 = a conflict.

        Deployment fields (platform, version, regions) are matched to whichever dimension holds
        that value; annotation scopes are matched by dimension name. No segment = global change.
        """
        claims: dict[str, set[str]] = {}
        for f in fields:
            for dim in self.schema.dimensions:
                if any(v.lower() == f.lower() for v in dim.values):
                    claims.setdefault(dim.name, set()).add(f.lower())
        for k, v in scope.items():
            claims.setdefault(k, set()).add(v.lower())
        if not segment:
            return 1.0 if not claims else 0.3
        if not claims:
            return 0.5
        matched = 0
        for name, claimed in claims.items():
            if name in segment:
                if segment[name].lower() not in claimed:
                    return 0.0
                matched += 1
        if not matched:
            return 0.1
        return min(1.0, 0.4 + 0.6 * matched / len(segment))

    def _event(
        self,
        kind: str,
        ident: str,
        at: datetime,
        desc: str,
        proximity: float,
        overlap: float | None,
        scoped: bool,
        segment: dict[str, str],
    ) -> EventFinding:
        ov = overlap if overlap is not None else (0.3 if scoped else 1.0)
        score = proximity * ov
        return EventFinding(
            kind=kind,
            id=ident,
            at=at.isoformat(),
            description=desc,
            proximity=proximity,
            overlap=ov,
            score=score,
            explains=score >= 0.45 and ov >= 0.5,
            segment=segment,
        )

    def _analyze_retention(self, a: AnalyzeRetention) -> StepResult:
        ctx = self.context
        filters = self._normal_filters(a.filters)
        start_ref = ctx.window[0] if ctx.window else self.schema.end_date - timedelta(days=14)
        cs = a.cohort_start or max(self.schema.start_date, start_ref - timedelta(days=42))
        ce = a.cohort_end or self.schema.end_date
        ret = q.retention(
            self.warehouse,
            cohort_start=cs,
            cohort_end=ce,
            days=list(RETENTION_DAYS),
            filters=filters or None,
            cohort_grain="week",
        )
        cohorts = [c for c in ret.cohorts if c.size > 0]
        recent = [c for c in cohorts if c.cohort + timedelta(days=6) >= start_ref]
        earlier = [c for c in cohorts if c.cohort + timedelta(days=6) < start_ref]
        comp: dict[str, Any] = {}
        findings: list[str] = []
        for n in (1, 7):
            r = _weighted(recent, n)
            e = _weighted(earlier, n)
            comp[f"d{n}_recent"], comp[f"d{n}_earlier"] = r, e
            if r is not None and e is not None and e > 0:
                comp[f"d{n}_change_pct"] = (r / e - 1) * 100
        d1 = comp.get("d1_change_pct")
        d7 = comp.get("d7_change_pct")
        key = d1 if d1 is not None else d7
        if key is None:
            findings.append(
                f"Not enough signup cohorts for {_seg_text(filters)} to compare retention."
            )
        elif key <= -15:
            findings.append(
                f"Retention fell for recent cohorts ({_seg_text(filters)}): day-1 "
                f"{_fmt(100 * (comp['d1_earlier'] or 0))}% → "
                f"{_fmt(100 * (comp['d1_recent'] or 0))}% "
                f"({_pct(d1)}): new users are churning."
            )
        else:
            findings.append(
                f"Retention of recent cohorts ({_seg_text(filters)}) is in line with earlier ones "
                f"(day-1 {_pct(d1)}, day-7 {_pct(d7)}): not a churn problem."
            )
        sizes_recent = float(np.mean([c.size for c in recent])) if recent else None
        sizes_earlier = float(np.mean([c.size for c in earlier])) if earlier else None
        if sizes_recent is not None and sizes_earlier:
            comp["cohort_size_change_pct"] = (sizes_recent / sizes_earlier - 1) * 100
            findings.append(
                f"Weekly signups: {_fmt(sizes_earlier)} before → {_fmt(sizes_recent)} recently "
                f"({_pct(comp['cohort_size_change_pct'])})."
            )
        if not filters:
            scan = self._retention_scan()
            if scan is not None:
                comp.update(scan)
                findings.insert(
                    0,
                    (
                        f"Retention fell for {_seg_text(scan['segment'])} users who signed up from "
                        f"{scan['start']} to {scan['end']}: day-7 retention "
                        f"{100 * scan['d7_before']:.0f}% → {100 * scan['d7_during']:.0f}% "
                        f"({_pct(scan['change_pct'])}, p={_fmt(scan['p_value'], 2)})."
                    ),
                )
        ctx.retention = comp
        labels = [f"D{n}" for n in ret.days]
        series = [
            ChartSeries(
                label=f"cohort {c.cohort}",
                x=labels,
                y=[
                    None if c.retention.get(n) is None else 100 * c.retention[n]  # type: ignore[operator]
                    for n in ret.days
                ],
                style="segment" if c in recent else "baseline",
            )
            for c in cohorts[-8:]
        ]
        return StepResult(
            success=True,
            findings=findings,
            data={
                "filters": filters,
                "cohort_start": cs.isoformat(),
                "cohort_end": ce.isoformat(),
                **comp,
                "cohorts": [
                    {
                        "cohort": c.cohort.isoformat(),
                        "size": c.size,
                        "retention": {str(k): v for k, v in c.retention.items()},
                    }
                    for c in cohorts[-8:]
                ],
            },
            chart=Chart(
                title=f"Retention by weekly cohort ({_seg_text(filters)})",
                kind="retention",
                series=series,
                x_label="days since signup",
                y_label="% retained",
            ),
        )

    def _retention_scan(self) -> dict[str, Any] | None:
        """The signup cohorts (and user segment) whose day-7 retention broke from their norm.

        Weekly cohorts of every value of every user-level dimension (and of everyone) are
        compared with their own median (binomial z); the strongest run of bad cohorts wins, and
        its first and last signup days are located on daily cohorts.
        """
        s = self.schema
        cs, ce = s.start_date, s.end_date - timedelta(days=RETENTION_PROBE)
        if ce <= cs + timedelta(days=21):
            return None
        candidates: list[dict[str, str]] = [{}] + [
            {d.name: v}
            for d in s.dimensions
            if d.level == "user" and d.cardinality <= MAX_DIMENSION_CARDINALITY
            for v in d.values
        ]
        best: tuple[float, dict[str, str], tuple[list[Any], list[Any]]] | None = None
        for seg in candidates:
            ret = q.retention(
                self.warehouse,
                cohort_start=cs,
                cohort_end=ce,
                days=[RETENTION_PROBE],
                filters=seg or None,
                cohort_grain="week",
            )
            run = _bad_run(ret.cohorts)
            if run is not None and (best is None or run[0] > best[0]):
                best = (run[0], seg, run[1])
        if best is None:
            return None
        score, seg, bad = best
        good = bad[0]
        daily = q.retention(
            self.warehouse,
            cohort_start=cs,
            cohort_end=ce,
            days=[RETENTION_PROBE],
            filters=seg or None,
            cohort_grain="day",
        ).cohorts
        first, last = bad[1][0].cohort, bad[1][-1].cohort + timedelta(days=6)
        start = _edge(daily, first, falling=True)
        end = _edge(daily, last + timedelta(days=1), falling=False) - timedelta(days=1)
        p0 = _weighted(good, RETENTION_PROBE) or 0.0
        p1 = _weighted(bad[1], RETENTION_PROBE) or 0.0
        n1 = sum(c.size for c in bad[1])
        se = math.sqrt(max(p0 * (1 - p0), 1e-9) / max(n1, 1))
        return {
            "declined": True,
            "segment": seg,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "d7_before": p0,
            "d7_during": p1,
            "change_pct": (p1 / p0 - 1) * 100 if p0 else None,
            "p_value": float(2 * sps.norm.sf(abs(p0 - p1) / se)),
            "score": score,
        }

    def _statistical_test(self, a: StatisticalTest) -> StepResult:
        segment = self._normal_filters(a.segment)
        base, cur, _ = self.windows()
        # a value that replaced the others during the anomaly (a new version) has no "before":
        # the segment's users are compared through its stable part
        stable = {k: v for k, v in segment.items() if k not in self.context.migrating}
        tested = stable if stable and stable != segment else segment
        ms = q.metric_series(
            self.warehouse, a.metric, start=base[0], end=cur[1], filters=tested or None
        )
        days, vals = ms.days(), ms.values()
        before = [v for d, v in zip(days, vals, strict=True) if base[0] <= d <= base[1]]
        during = [v for d, v in zip(days, vals, strict=True) if cur[0] <= d <= cur[1]]
        if a.compare_to == "rest" and segment:
            tot = q.metric_series(self.warehouse, a.metric, start=base[0], end=cur[1])
            rest = _rest_values(tot, ms, a.metric in RATIO_METRICS)
            rest_b = [v for d, v in zip(days, rest, strict=True) if base[0] <= d <= base[1]]
            rest_d = [v for d, v in zip(days, rest, strict=True) if cur[0] <= d <= cur[1]]
            ref_s = float(np.mean(before)) or 1.0
            ref_r = float(np.mean(rest_b)) or 1.0
            a_vals = [v / ref_r for v in rest_d]
            b_vals = [v / ref_s for v in during]
            comp = stats.compare_samples(a_vals, b_vals)
            what = (
                f"{_seg_text(tested)} vs the rest during {cur[0]}..{cur[1]} (indexed to baseline)"
            )
        else:
            comp = stats.compare_samples(before, during)
            what = f"{_seg_text(tested)}: {cur[0]}..{cur[1]} vs {base[0]}..{base[1]}"
        sig = comp.sufficient and comp.welch_p is not None and comp.welch_p < 0.05
        if not comp.sufficient:
            key = f"Not enough data to test {what}: {comp.message}."
        else:
            key = (
                f"{_seg_text(segment)} changed "
                f"{_pct(None if comp.rel_diff is None else 100 * comp.rel_diff)} "
                f"({_fmt(comp.mean_a)} → {_fmt(comp.mean_b)}/day), "
                + ("significant" if sig else "not significant")
                + f" (Welch p={_fmt(comp.welch_p, 2)}, effect size g={_fmt(comp.effect_size, 2)}, "
                f"95% CI of the difference [{_fmt(comp.ci_low)}, {_fmt(comp.ci_high)}])."
            )
        findings = [key, f"Compared {what}."]
        if tested != segment:
            findings.append(
                f"{', '.join(k for k in segment if k not in tested)} changed hands during the "
                f"window: tested the users of {_seg_text(tested)} before vs during."
            )
        for s in self.context.segments:
            if s.filters == segment:
                s.p_value, s.effect_size = comp.welch_p, comp.effect_size
        data = {
            "metric": a.metric,
            "segment": segment,
            "tested": tested,
            "compare_to": a.compare_to,
            "n_a": comp.n_a,
            "n_b": comp.n_b,
            "mean_a": comp.mean_a,
            "mean_b": comp.mean_b,
            "diff": comp.diff,
            "rel_diff": comp.rel_diff,
            "ci_low": comp.ci_low,
            "ci_high": comp.ci_high,
            "p_value": comp.welch_p,
            "mannwhitney_p": comp.mannwhitney_p,
            "effect_size": comp.effect_size,
            "significant": sig,
        }
        x = [d.isoformat() for d in days]
        return StepResult(
            success=True,
            findings=findings,
            data=data,
            chart=Chart(
                title=f"{a.metric}: {_seg_text(segment)}",
                kind="line",
                series=[ChartSeries(label=_seg_text(segment), x=x, y=list(vals), style="segment")],
                x_label="day",
                y_label=a.metric,
                highlight=(cur[0].isoformat(), cur[1].isoformat()),
            ),
        )

    def _generate_insights(self, a: GenerateInsights) -> StepResult:
        ctx = self.context
        findings = []
        if ctx.anomaly is not None:
            findings.append(
                f"Anomaly: {ctx.anomaly.metric} {ctx.anomaly.direction} "
                f"{_pct(ctx.anomaly.change_pct)} from {ctx.anomaly.start}."
            )
        findings += [f"Segment: {_seg_text(s.filters)}" for s in ctx.segments]
        findings += [f"Explained by {e.kind} {e.id}" for e in ctx.events if e.explains]
        return StepResult(success=True, findings=findings or ["Nothing established yet."])


def _proximity(at: datetime, start: date) -> float:
    """1 when the change lands on the anomaly start or the day before, decaying with distance."""
    delta = (start - at.date()).days  # > 0: the change came before the anomaly
    if delta in (0, 1):
        return 1.0
    if delta < 0:
        return max(0.0, 0.5 ** (-delta) * 0.5)
    return math.exp(-(delta - 1) / 3.0)


def _days_between(at_iso: str, start: date) -> str:
    delta = (start - datetime.fromisoformat(at_iso).date()).days
    if delta == 0:
        return "on the day of"
    return (
        f"{delta} day{'s' if abs(delta) != 1 else ''} before"
        if delta > 0
        else f"{-delta} days after"
    )


def _bad_run(
    cohorts: Sequence[Any], n: int = 7
) -> tuple[float, tuple[list[Any], list[Any]]] | None:
    """(strength, (normal cohorts, the run of consecutive cohorts retaining far below normal))."""
    rated = [c for c in cohorts if c.retention.get(n) is not None and c.size >= 10]
    if len(rated) < 5:
        return None
    p0 = float(np.median([c.retention[n] for c in rated]))
    if p0 <= 0:
        return None
    z = [
        (p0 - c.retention[n]) / math.sqrt(p0 * (1 - p0) / c.size) if p0 < 1 else 0.0 for c in rated
    ]
    bad = [zi >= 3.0 and rated[i].retention[n] <= 0.75 * p0 for i, zi in enumerate(z)]
    best: tuple[float, int, int] | None = None
    i = 0
    while i < len(rated):
        if bad[i]:
            j = i
            while j + 1 < len(rated) and bad[j + 1]:
                j += 1
            strength = float(sum(z[i : j + 1]))
            if best is None or strength > best[0]:
                best = (strength, i, j)
            i = j + 1
        else:
            i += 1
    if best is None or best[0] < 5.0:
        return None
    _, i, j = best
    return best[0], ([c for k, c in enumerate(rated) if not bad[k]], rated[i : j + 1])


def _edge(daily: Sequence[Any], near: date, *, falling: bool, n: int = 7, reach: int = 6) -> date:
    """The signup day within ``reach`` days of ``near`` where day-n retention falls (or recovers)
    most sharply between the week of cohorts before it and the week from it."""
    rates = {c.cohort: (c.retention.get(n), c.size) for c in daily}

    def pooled(lo: date, hi: date) -> float | None:
        pairs = [
            rates[d]
            for d in (lo + timedelta(days=k) for k in range((hi - lo).days + 1))
            if d in rates and rates[d][0] is not None
        ]
        size = sum(sz for _, sz in pairs)
        return sum(r * sz for r, sz in pairs) / size if size else None

    best, best_day = -math.inf, near
    for k in range(-reach, reach + 1):
        d = near + timedelta(days=k)
        before = pooled(d - timedelta(days=7), d - timedelta(days=1))
        after = pooled(d, d + timedelta(days=6))
        if before is None or after is None:
            continue
        score = (before - after) if falling else (after - before)
        if score > best:
            best, best_day = score, d
    return best_day


def _weighted(cohorts: Sequence[Any], n: int) -> float | None:
    pairs = [(c.retention.get(n), c.size) for c in cohorts if c.retention.get(n) is not None]
    total = sum(s for _, s in pairs)
    return sum(r * s for r, s in pairs) / total if total else None


def _rest_values(total: Any, seg: Any, ratio: bool) -> list[float]:
    t = pd.DataFrame(
        [(p.day, p.numerator, p.denominator) for p in total.points], columns=["day", "num", "den"]
    ).set_index("day")
    s = (
        pd.DataFrame(
            [(p.day, p.numerator, p.denominator) for p in seg.points], columns=["day", "num", "den"]
        )
        .set_index("day")
        .reindex(t.index)
        .fillna(0.0)
    )
    num, den = t["num"] - s["num"], t["den"] - s["den"]
    if ratio:
        return [float(n / d) if d > 0 else 0.0 for n, d in zip(num, den, strict=True)]
    return [float(v) for v in num]
