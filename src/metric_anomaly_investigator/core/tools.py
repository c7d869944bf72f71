"""The Tool Executor: one action -> validation -> its analysis -> a :class:`StepResult`.

Every action is validated against the live schema first (:meth:`ToolExecutor.validate` raises
:class:`InvalidAction` with a message a model can act on). The analysis of each action lives in
:mod:`.actions` and runs in a worker thread. The :class:`~.context.InvestigationContext` carries
what earlier steps established (metric, anomaly window, baseline window, affected segments…)
and supplies the defaults of later actions.
"""

from __future__ import annotations

import asyncio
import difflib
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

from ..warehouse.types import WarehouseError
from ..warehouse.warehouse import Warehouse
from .actions import (
    accounts,
    anomaly,
    breakdown,
    deployments,
    drilldown,
    insights,
    metric,
    retention,
    significance,
)
from .actions.workbench import Workbench
from .context import HistoryEntry, InvestigationContext
from .models import (
    Action,
    AnalyzeRetention,
    CheckDeployments,
    DetectAnomaly,
    DrillDown,
    GenerateInsights,
    ProfileAccounts,
    QueryMetric,
    SegmentByDimension,
    StatisticalTest,
    StepResult,
)

COHORT_LOOKBACK_DAYS = 366  # signup cohorts may start this long before the events do
MAX_VALUES_LISTED = 12

_HANDLERS: dict[type, Callable[[Workbench, Any], StepResult]] = {
    QueryMetric: metric.run,
    DetectAnomaly: anomaly.run,
    SegmentByDimension: breakdown.run,
    DrillDown: drilldown.run,
    CheckDeployments: deployments.run,
    AnalyzeRetention: retention.run,
    StatisticalTest: significance.run,
    ProfileAccounts: accounts.run,
    GenerateInsights: insights.run,
}


class InvalidAction(ValueError):
    """An action whose parameters do not fit the warehouse; the message says how to fix it."""


def _closest(word: str, options: Sequence[str]) -> str:
    low = {o.lower(): o for o in options}
    close = difflib.get_close_matches(word.lower(), list(low), n=3, cutoff=0.5)
    return f" Did you mean {', '.join(repr(low[c]) for c in close)}?" if close else ""


class ToolExecutor:
    """Runs actions against one warehouse; ``context`` persists across steps and follow-ups."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self.schema = warehouse.schema
        self.workbench = Workbench(warehouse)

    @property
    def context(self) -> InvestigationContext:
        return self.workbench.context

    def reset(self) -> None:
        """Forget the current investigation (a new root question)."""
        self.workbench.context = InvestigationContext()

    # -- prompts -------------------------------------------------------------------------------
    def schema_summary(self) -> str:
        """The warehouse's real schema for prompts: metrics, dimensions, dates, tables."""
        s = self.schema
        ratios = [m for m in s.metrics if s.is_ratio(m)]
        lines = [
            f"Warehouse: {self.warehouse.label}",
            f"Data: {s.start_date} .. {s.end_date} (daily), {s.row_count:,} events",
            *s.coverage_notes(),
            "Metrics: "
            + ", ".join(s.metrics)
            + (" (ratio metrics: " + ", ".join(ratios) + ")" if ratios else ""),
            "Dimensions (name [level, distinct values]: examples):",
        ]
        for d in s.dimensions:
            more = f", … ({d.cardinality} in all)" if d.cardinality > 8 else ""
            lines.append(
                f"- {d.name} [{d.level}, {d.cardinality}]: {', '.join(d.values[:8])}{more}"
            )
        if not s.dimensions:
            lines.append("- (none)")
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
        metric_name = getattr(action, "metric", None)
        if metric_name is not None:
            self._check_metric(metric_name)
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
        if metric_name is not None:
            self._check_metric_dimensions(metric_name, action)
        for field in ("start", "end", "hint_date", "around", "cohort_start", "cohort_end"):
            value = getattr(action, field, None)
            if value is not None:
                self._check_date(field, value)
        for lo, hi in (("start", "end"), ("cohort_start", "cohort_end")):
            first, last = getattr(action, lo, None), getattr(action, hi, None)
            if first is not None and last is not None and first > last:
                raise InvalidAction(f"{lo} {first} is after {hi} {last}: swap them.")
        if isinstance(action, AnalyzeRetention) and not self.schema.has_users:
            raise InvalidAction(
                "analyze_retention needs a users table with signup dates; this warehouse has "
                "none. Use query_metric or segment_by_dimension instead."
            )

    def _check_metric(self, name: str) -> None:
        if name not in self.schema.metrics:
            raise InvalidAction(
                f"Unknown metric {name!r}. Valid metrics: {', '.join(self.schema.metrics)}."
                + _closest(name, self.schema.metrics)
            )

    def _check_dimension(self, name: str) -> None:
        names = self.schema.dimension_names
        if name not in names:
            valid = ", ".join(names) if names else "none (this warehouse has no dimensions)"
            raise InvalidAction(
                f"Unknown dimension {name!r}. Valid dimensions: {valid}." + _closest(name, names)
            )

    def _check_metric_dimensions(self, metric_name: str, action: Action) -> None:
        """Every dimension the action breaks down or filters by is on the metric's own table."""
        dims: list[str] = []
        for field in ("dimension", "group_by"):
            value = getattr(action, field, None)
            if isinstance(value, str):
                dims.append(value)
        dims += list(getattr(action, "dimensions", None) or [])
        for field in ("filters", "segment"):
            dims += list(getattr(action, field, None) or {})
        for dim in dims:
            problem = self.schema.dimension_problem(metric_name, dim)
            if problem is not None:
                raise InvalidAction(problem)

    def _check_filters(self, filters: dict[str, str]) -> None:
        for name, value in filters.items():
            self._check_dimension(name)
            info = self.schema.dimension(name)
            if self.workbench.canonical(name, value) is None:
                shown = ", ".join(info.values[:MAX_VALUES_LISTED])
                more = (
                    f" (and {info.cardinality - MAX_VALUES_LISTED} more)"
                    if (info.cardinality > MAX_VALUES_LISTED)
                    else ""
                )
                raise InvalidAction(
                    f"{value!r} is not a value of {name!r}. Its values: {shown}{more}."
                    + _closest(str(value), info.values)
                )

    def _check_date(self, field: str, value: date) -> None:
        s = self.schema
        lo = (
            s.start_date - timedelta(days=COHORT_LOOKBACK_DAYS)
            if field.startswith("cohort")
            else s.start_date
        )
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
            handler = _HANDLERS[type(action)]
            result = await asyncio.to_thread(handler, self.workbench, action)
        except (InvalidAction, WarehouseError) as exc:
            result = StepResult(success=False, error=str(exc))
        except Exception as exc:  # a bug in one analysis: a failed step, kept in the history
            result = StepResult(success=False, error=f"{type(exc).__name__}: {exc}".strip())
        self.context.history.append(HistoryEntry(action=action, result=result))
        return result

    def run(self, action: Action) -> StepResult:
        """Synchronous :meth:`execute` (scripts, benchmarks)."""
        return asyncio.run(self.execute(action))

    def rank_dimensions(self, metric_name: str, filters: dict[str, str]) -> dict[str, float]:
        """How concentrated the change is along each dimension (see :class:`Workbench`)."""
        return self.workbench.rank_dimensions(metric_name, filters)
