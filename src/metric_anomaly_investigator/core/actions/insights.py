"""``generate_insights``: what the investigation has established, as findings."""

from __future__ import annotations

from ..models import GenerateInsights, StepResult
from .formatting import pct, seg_text
from .workbench import Workbench


def run(bench: Workbench, _a: GenerateInsights) -> StepResult:
    ctx = bench.context
    findings = []
    if ctx.anomaly is not None:
        findings.append(
            f"Anomaly: {ctx.anomaly.metric} {ctx.anomaly.direction} "
            f"{pct(ctx.anomaly.change_pct)} from {ctx.anomaly.start}."
        )
    findings += [f"Segment: {seg_text(s.filters)}" for s in ctx.segments]
    findings += [f"Explained by {e.kind} {e.id}" for e in ctx.events if e.explains]
    return StepResult(success=True, findings=findings or ["Nothing established yet."])
