"""Which figure explains a step: the chart it recorded, or a better one built from its data.

- deployments and annotations: the metric's series (from an earlier step) with each change as
  a vertical marker on its date;
- a drill-down, or any one-series bar chart: a ranked bar chart with full labels;
- every other chart as recorded (a retention chart gets its legend outside the plot).
Pure functions of the session's steps, so they are tested without a screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.report_markdown import format_filters, format_pct, format_share
from .render import format_value

if TYPE_CHECKING:
    from ..core.models import Chart
    from .state import StepView


@dataclass(frozen=True)
class Marker:
    """A change (deployment or annotation) drawn as a vertical line at ``x`` (an ISO date)."""

    x: str
    label: str
    explains: bool


@dataclass(frozen=True)
class RankedBar:
    label: str
    value: float
    note: str


@dataclass(frozen=True)
class Figure:
    """A recorded ``chart`` (with ``markers``), or ``bars`` drawn as a ranked bar chart."""

    title: str
    source: int
    chart: Chart | None = None
    markers: tuple[Marker, ...] = ()
    bars: tuple[RankedBar, ...] = field(default_factory=tuple)
    note: str = ""


def figure_for(view: StepView, steps: Sequence[StepView]) -> Figure | None:
    """The figure for ``view``: its own, else the latest earlier step's (the report step keeps
    the evidence in view)."""
    earlier = list(steps[: steps.index(view) + 1]) if view in steps else [view]
    for candidate in reversed(earlier):
        figure = _own_figure(candidate, earlier)
        if figure is not None:
            return figure
    return None


def _own_figure(view: StepView, steps: Sequence[StepView]) -> Figure | None:
    step = view.step
    if step is None:
        return None
    data = step.data or {}
    if view.action == "check_deployments" and data.get("events"):
        return _deployments(view, steps, data["events"])
    if view.action == "drill_down" and data.get("elements"):
        return _drill_down(view, data)
    chart = step.chart
    if chart is None:
        return None
    if chart.kind == "bar" and len([s for s in chart.series if s.x]) == 1:
        return _ranked_chart(view, chart)
    return Figure(title=chart_title(chart), source=view.index, chart=chart)


def chart_title(chart: Chart) -> str:
    """The title with its unit (plotext drops titles of some plots, so the border shows it)."""
    unit = chart.y_label and chart.y_label not in chart.title
    return f"{chart.title} ({chart.y_label})" if unit else chart.title


def _metric_chart(steps: Sequence[StepView]) -> Chart | None:
    """The latest daily series of the metric (with its baseline and anomaly window if found)."""
    for view in reversed(steps):
        chart = view.step.chart if view.step is not None else None
        if (
            chart is not None
            and chart.kind == "line"
            and any(s.style == "actual" for s in chart.series)
        ):
            return chart
    return None


def _deployments(view: StepView, steps: Sequence[StepView], events: list[Any]) -> Figure:
    markers = tuple(
        Marker(
            x=str(event.get("at", ""))[:10],
            label=str(event.get("id", "")),
            explains=bool(event.get("explains")),
        )
        for event in events
        if isinstance(event, dict)
    )
    metric = _metric_chart(steps)
    if metric is not None:
        axis = {x for s in metric.series for x in s.x}
        shown = tuple(m for m in markers if m.x in axis)
        if shown:
            return Figure(
                title=f"{metric.title} · changes marked",
                source=view.index,
                chart=metric,
                markers=shown,
                note=_outside_note(len(markers) - len(shown)),
            )
    bars = tuple(
        RankedBar(
            label=f"{event.get('id')} · {str(event.get('at', ''))[:10]} · "
            f"{event.get('description') or ''}".rstrip(" ·"),
            value=float(event.get("score") or 0.0),
            note=f"score {format_value(event.get('score'))}"
            + (" · explains the change" if event.get("explains") else ""),
        )
        for event in events
        if isinstance(event, dict)
    )
    return Figure(title="Changes near the anomaly, by score", source=view.index, bars=bars)


def _outside_note(outside: int) -> str:
    if not outside:
        return ""
    return f"{outside} more change{'s' if outside > 1 else ''} outside the plotted days"


def _drill_down(view: StepView, data: dict[str, Any]) -> Figure:
    bars = []
    for element in data["elements"]:
        share = element.get("share_of_change")
        change = element.get("change_pct")
        parts = [f"{format_share(share)} of the change" if share is not None else ""]
        if change is not None:
            parts.append(f"segment {format_pct(change)}")
        bars.append(
            RankedBar(
                label=format_filters(element.get("filters") or {}),
                value=100 * float(share or 0.0),
                note=" · ".join(p for p in parts if p),
            )
        )
    rest = data.get("rest_change_pct")
    note = f"the rest of the metric: {format_pct(rest)}" if isinstance(rest, int | float) else ""
    return Figure(
        title=f"{data.get('metric', 'metric')}: root-cause segments, ranked by share of change",
        source=view.index,
        bars=tuple(sorted(bars, key=lambda b: -abs(b.value))),
        note=note,
    )


def _ranked_chart(view: StepView, chart: Chart) -> Figure:
    series = next(s for s in chart.series if s.x)
    bars = [
        RankedBar(label=x, value=float(y or 0.0), note=format_value(y))
        for x, y in zip(series.x, series.y, strict=False)
    ]
    return Figure(
        title=chart_title(chart),
        source=view.index,
        bars=tuple(sorted(bars, key=lambda b: -abs(b.value))),
    )
