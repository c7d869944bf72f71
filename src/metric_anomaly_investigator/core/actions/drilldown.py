"""``drill_down``: the smallest segments, across dimension combinations, that explain the change."""

from __future__ import annotations

from datetime import date

from .. import stats
from ..context import SegmentFinding
from ..models import DrillDown, StepResult
from ..report_markdown import format_filters
from ..segments import MissingValue, localize_segments, missing_value
from .charts import bars
from .formatting import fmt, no_window_note, pct, share_text
from .workbench import Workbench

MAX_START_SHIFT_DAYS = 3  # half a week: further off is another break, not a sharper one
MAX_DRIFT_LEAD_DAYS = 7  # a drift diluted in the total crosses its noise up to a week later


def run(bench: Workbench, a: DrillDown) -> StepResult:
    filters = bench.normal_filters(a.filters)
    base, cur, from_anomaly = bench.windows(a.metric)
    dims, moving = bench.drill_dimensions(a.metric, filters, a.dimensions)
    if not dims:
        return StepResult(success=False, error="No dimension left to drill into: remove a filter.")
    bd = bench.breakdown(a.metric, [*dims, *moving], filters)
    ctx = bench.context
    direction = ctx.anomaly.direction if ctx.anomaly else None
    result = localize_segments(
        bd, dims, ratio=bench.schema.is_ratio(a.metric), direction=direction, migrating=moving
    )
    segs: list[SegmentFinding] = []
    narrowings: list[str] = []
    for e in result.elements:
        segment = {**filters, **e.filters}
        narrow = narrowed(bench, segment, moving, cur, direction)
        if narrow is not None:
            dim, found = narrow
            narrowings.append(
                f"Within {format_filters(segment)}, {dim}={found.value} had "
                f"{fmt(found.observed)} of the {fmt(found.expected)} "
                f"{bench.activity(dim)} (summed over the window) its rollout gave it (its share "
                "of the segment on the days either side of the window): its traffic alone moved."
            )
            segment = {**segment, dim: found.value}
        segs.append(
            SegmentFinding(
                filters=segment,
                change_pct=e.change_pct,
                share_of_change=e.share_of_change,
                score=e.score,
            )
        )
    ctx.segments = segs
    findings = []
    moved = sharpen_start(bench, a.metric, segs[0].filters) if segs and from_anomaly else None
    if segs:
        lead = segs[0]
        findings.append(
            f"Root cause: {format_filters(lead.filters)} changed {pct(lead.change_pct)} and "
            f"explains {share_text(lead.share_of_change)}% of the change."
        )
        findings += [
            f"Also: {format_filters(s.filters)} {pct(s.change_pct)}, "
            f"{share_text(s.share_of_change)}% of the change."
            for s in segs[1:]
        ]
        findings.append(
            f"Together they explain {share_text(result.explained_share)}% of the change "
            f"(searched {', '.join(dims)}); the rest moved {pct(result.rest_change_pct)}."
        )
        findings += narrowings
        if moving:
            findings.append(
                f"{', '.join(moving)} changed hands during the window (a rollout): used only "
                "to name the value that replaced the others in the segment, or the one whose "
                "traffic alone moved."
            )
    else:
        findings.append(
            f"No segment stands out across {', '.join(dims)}: the change is spread evenly."
        )
    if moved:
        findings.append(moved)
    if not from_anomaly:
        findings.append(no_window_note(base, cur))
    return StepResult(
        success=True,
        findings=findings,
        data={
            "metric": a.metric,
            "dimensions": dims,
            "migrating": moving,
            "filters": filters,
            "elements": [
                {
                    "filters": s.filters,
                    "change_pct": s.change_pct,
                    "share_of_change": s.share_of_change,
                    "score": s.score,
                }
                for s in segs
            ],
            "explained_share": result.explained_share,
            "rest_change_pct": result.rest_change_pct,
            "dimension_scores": {d: ctx.dimension_scores.get(d) for d in dims},
        },
        chart=bars(
            f"{a.metric}: root-cause segments",
            [format_filters(s.filters) for s in segs],
            {"share of change %": ([100 * (s.share_of_change or 0) for s in segs], "segment")},
            x_label="segment",
            y_label="% of change",
        )
        if segs
        else None,
    )


def narrowed(
    bench: Workbench,
    segment: dict[str, str],
    moving: list[str],
    window: tuple[date, date],
    direction: str | None,
) -> tuple[str, MissingValue] | None:
    """The migrating dimension and its value whose traffic alone went missing from the segment
    (a release that broke while rolling out), when no value that replaced the others names it."""
    if any(d in segment for d in moving):
        return None
    for dim in moving:
        if not set(segment) <= set(bench.schema.metric_dimensions(bench.activity(dim))):
            continue  # its traffic cannot be read along the segment's dimensions
        days, by_value = bench.traffic_by(dim, segment)
        found = missing_value(days, by_value, window, direction=direction)
        if found is not None:
            return dim, found
    return None


def sharpen_start(bench: Workbench, metric: str, segment: dict[str, str]) -> str | None:
    """Date the anomaly on the root-cause segment's own series, where the break is sharper.

    Only a start within half a week of the one found on the total, in the same direction, is taken
    (up to a week earlier for a gradual drift, which shows in its segment before the total); the
    windows (and so later steps) follow it. Returns the finding that says so.
    """
    ctx = bench.context
    anomaly = ctx.anomaly
    if anomaly is None or anomaly.start is None or ctx.window is None:
        return None
    stable = {k: v for k, v in segment.items() if k not in ctx.migrating}
    days, values = bench.series(metric, {**anomaly.filters, **stable})
    if anomaly.start not in days:
        return None
    res = stats.detect_anomaly(values, hint_index=days.index(anomaly.start))
    if not res.detected or res.start_index is None or res.direction != anomaly.direction:
        return None
    start = days[res.start_index]
    lead = MAX_DRIFT_LEAD_DAYS if res.kind == "drift" else MAX_START_SHIFT_DAYS
    if (
        start == anomaly.start
        or (start - anomaly.start).days > MAX_START_SHIFT_DAYS
        or (anomaly.start - start).days > lead
        or start > ctx.window[1]
    ):
        return None
    old = anomaly.start
    anomaly.start = start
    ctx.window = (start, ctx.window[1])
    ctx.baseline = bench.baseline_before(start)
    return (
        f"The break is sharper in {format_filters(stable)}: it starts on {start}, not {old}; "
        "the anomaly window now starts there."
    )
