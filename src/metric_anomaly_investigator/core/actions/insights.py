"""``generate_insights``: what the investigation has established, as findings."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .. import stats
from ..context import InvestigationContext
from ..models import DetectAnomaly, GenerateInsights, StepResult
from ..report_markdown import format_filters
from .formatting import pct, plural
from .workbench import Workbench

# days a seasonal baseline needs: the detector's default history plus the day under test
MIN_HISTORY_DAYS = stats.MIN_HISTORY + 1


@dataclass(frozen=True)
class HistoryShortfall:
    """The anomaly checks ran on too few days to tell a break from normal variation."""

    usable_days: int
    needed_days: int

    def finding(self) -> str:
        return (
            f"Not enough history to judge: the metrics have only "
            f"{plural(self.usable_days, 'usable day')}, and telling a break from the usual "
            f"weekly ups and downs takes at least {self.needed_days}."
        )


def history_shortfall(ctx: InvestigationContext) -> HistoryShortfall | None:
    """A shortfall when every anomaly check on all traffic had too short a series, else None.

    Computed from the steps' own data (the points of each check's metric series), so it holds
    whatever the detector said about them.
    """
    usable: list[int] = []
    for h in ctx.history:
        if not isinstance(h.action, DetectAnomaly) or h.action.filters or not h.result.success:
            continue
        chart = h.result.chart
        actual = [s for s in chart.series if s.style == "actual"] if chart else []
        if actual:
            usable.append(sum(v is not None and math.isfinite(v) for v in actual[0].y))
    if not usable or max(usable) >= MIN_HISTORY_DAYS:
        return None
    return HistoryShortfall(max(usable), MIN_HISTORY_DAYS)


def run(bench: Workbench, _a: GenerateInsights) -> StepResult:
    ctx = bench.context
    findings = list(bench.schema.coverage_notes())
    if ctx.anomaly is not None and ctx.anomaly.detected:
        findings.append(
            f"Anomaly: {ctx.anomaly.metric} {ctx.anomaly.direction} "
            f"{pct(ctx.anomaly.change_pct)} from {ctx.anomaly.start}."
        )
    elif (shortfall := history_shortfall(ctx)) is not None:
        findings.append(shortfall.finding())
    elif ctx.anomaly is not None:
        findings.append(f"No anomaly: {ctx.anomaly.metric} stayed within its normal range.")
    findings += [f"Segment: {format_filters(s.filters)}" for s in ctx.segments]
    findings += [f"Explained by {e.kind} {e.id}" for e in ctx.events if e.explains]
    return StepResult(success=True, findings=findings or ["Nothing established yet."])
