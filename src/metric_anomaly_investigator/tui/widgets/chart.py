"""The chart pane: a step's :class:`Chart` drawn with plotext in the app's theme colours.

``textual_plotext`` (and plotext) are imported on the first chart, not at start-up. The plot is
redrawn on resize (plotext re-lays out on every render) and re-coloured on theme change.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.color import Color
from textual.containers import Container
from textual.widgets import Static

from ..render import format_value

if TYPE_CHECKING:
    from ...core.models import Chart

RGB = tuple[int, int, int]
MAX_TICKS = 6
MAX_BAR_LABEL = 22
MAX_BARS = 12


def _rgb(variables: dict[str, str], name: str, fallback: str) -> RGB:
    """A theme colour as RGB, translucent ones composited over the surface."""
    surface = Color.parse(variables.get("surface", "#1e1e1e"))
    return (surface + Color.parse(variables.get(name, fallback))).rgb


def _short_date(label: str) -> str:
    try:
        return date.fromisoformat(label).strftime("%b %d")
    except ValueError:
        return label


def _ticks(labels: list[str]) -> tuple[list[int], list[str]]:
    """At most ``MAX_TICKS`` evenly spaced x ticks, dates shortened to ``Jan 28``."""
    if not labels:
        return [], []
    step = max(1, (len(labels) - 1) // (MAX_TICKS - 1) or 1)
    positions = list(range(0, len(labels), step))
    if positions[-1] != len(labels) - 1 and len(labels) - 1 - positions[-1] >= step / 2:
        positions.append(len(labels) - 1)
    return positions, [_short_date(labels[i]) for i in positions]


def _tick_label(value: float, span: float) -> str:
    """``13,432`` rather than ``13432.4``: only the decimals the axis' span needs."""
    decimals = 0 if span >= 10 else 1 if span >= 1 else 2 if span >= 0.1 else 3
    return f"{value:,.{decimals}f}"


def _value_ticks(set_ticks: Any, values: list[float], count: int = 5) -> None:
    """Evenly spaced ticks over the plotted values (``plt.yticks`` or, for horizontal bars,
    ``plt.xticks``), labelled readably."""
    if not values:
        return
    low, high = min(values), max(values)
    if high == low:
        return
    ticks = [low + (high - low) * i / (count - 1) for i in range(count)]
    set_ticks(ticks, [_tick_label(t, high - low) for t in ticks])


def _clip(label: str) -> str:
    return label if len(label) <= MAX_BAR_LABEL else label[: MAX_BAR_LABEL - 1] + "…"


def chart_title(chart: Chart) -> str:
    """The title with its unit, for the pane's border (plotext drops titles of some plots)."""
    unit = chart.y_label and chart.y_label not in chart.title
    return f"{chart.title} ({chart.y_label})" if unit else chart.title


def draw(plt: Any, chart: Chart, palette: dict[str, RGB]) -> None:
    """Draw ``chart`` on a plotext figure (the widget's ``plt``), replacing what was there."""
    plt.clear_data()
    plt.clear_figure()
    segment_colours = [
        palette["accent"],
        palette["secondary"],
        palette["success"],
        palette["warning"],
    ]
    if chart.kind == "bar":
        _draw_bars(plt, chart, palette, segment_colours)
        return
    labels: list[str] = []
    for series in chart.series:
        labels.extend(x for x in series.x if x not in labels)
    position = {x: i for i, x in enumerate(labels)}
    segment = 0
    # Baselines first so the actual series is drawn over them.
    ordered = sorted(chart.series, key=lambda s: s.style != "baseline")
    for series in ordered:
        points = [
            (position[x], y) for x, y in zip(series.x, series.y, strict=False) if y is not None
        ]
        if not points:
            continue
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        if series.style == "baseline":
            colour = palette["muted"]
        elif series.style == "segment" or chart.kind == "retention":
            colour = segment_colours[segment % len(segment_colours)]
            segment += 1
        else:
            colour = palette["primary"]
        plt.plot(xs, ys, label=series.label, color=colour, marker="braille")
    if chart.highlight and chart.kind == "line":
        _draw_window(plt, chart, position, palette["error"])
    positions, tick_labels = _ticks(labels)
    if chart.kind == "retention":
        tick_labels = [f"day {label}" for label in tick_labels]
    plt.xticks(positions, tick_labels)
    _value_ticks(plt.yticks, [y for s in chart.series for y in s.y if y is not None])


def _draw_window(plt: Any, chart: Chart, position: dict[str, int], colour: RGB) -> None:
    """Mark the anomaly window: its edges, and the actual series inside it in the alert colour."""
    assert chart.highlight is not None
    first, last = chart.highlight
    start = position.get(first)
    end = position.get(last, max(position.values(), default=0))
    if start is None:
        return
    plt.vline(start, color=colour)
    if end != start:
        plt.vline(end, color=colour)
    actual = next((s for s in chart.series if s.style == "actual"), None)
    if actual is None:
        return
    inside = [
        (position[x], y)
        for x, y in zip(actual.x, actual.y, strict=False)
        if y is not None and start <= position[x] <= end
    ]
    if inside:
        plt.plot(
            [p[0] for p in inside],
            [p[1] for p in inside],
            label="anomaly window",
            color=colour,
            marker="braille",
        )


def _draw_bars(plt: Any, chart: Chart, palette: dict[str, RGB], colours: list[RGB]) -> None:
    series = [s for s in chart.series if s.x][:4]
    if not series:
        return
    categories = series[0].x[:MAX_BARS]
    labels = [_clip(c) for c in categories]
    values = [
        [float(dict(zip(s.x, s.y, strict=False)).get(c) or 0.0) for c in categories] for s in series
    ]
    if len(series) == 1:
        _draw_changes(plt, labels, values[0], palette)
        return
    bar_colours = [palette["muted"], palette["primary"], *colours][: len(series)]
    plt.multiple_bar(labels, values, labels=[s.label for s in series], color=bar_colours, width=0.8)
    _value_ticks(plt.yticks, [0.0, *(v for row in values for v in row)])


def _draw_changes(
    plt: Any, labels: list[str], values: list[float], palette: dict[str, RGB]
) -> None:
    """One value per segment as horizontal bars from a zero edge, labelled with their values.

    Segments keep the chart's order, top to bottom. Bars have the value's magnitude, so a
    decrease grows from the axis as an increase does (plotext would draw all-negative bars from
    the right edge); the sign is in the label.
    """
    signed = any(v < 0 for v in values)
    named = [
        f"{label} {'+' if signed and v > 0 else ''}{format_value(v)}"
        for label, v in zip(labels, values, strict=True)
    ]
    colour = palette["error"] if signed and all(v <= 0 for v in values) else palette["primary"]
    # plotext stacks horizontal bars bottom-up: reverse so the first (largest) is on top
    plt.bar(
        named[::-1],
        [abs(v) for v in values[::-1]],
        color=colour,
        orientation="horizontal",
        width=0.6,
    )
    _value_ticks(plt.xticks, [0.0, *(abs(v) for v in values)], count=3)
    if signed:
        plt.xlabel("size of the change (sign in the label)")


class ChartView(Container):
    """Shows the selected step's chart, or a hint when it has none."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._chart: Chart | None = None
        self._plot: Any = None

    def compose(self) -> ComposeResult:
        yield Static(
            "Charts appear here: select a step in the timeline to plot it.", classes="empty"
        )

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._redraw())

    @property
    def chart(self) -> Chart | None:
        return self._chart

    def show_chart(self, chart: Chart | None, *, empty: str | None = None) -> None:
        """Plot ``chart``; with None, show the ``empty`` message instead."""
        self._chart = chart
        self.border_title = "Chart" if chart is None else f"Chart · {chart_title(chart)}"
        hint = self.query_one(".empty", Static)
        if chart is None:
            hint.update(empty or "This step has no chart.")
            hint.display = True
            if self._plot is not None:
                self._plot.display = False
            return
        hint.display = False
        if self._plot is None:
            from textual_plotext import PlotextPlot

            self._plot = PlotextPlot()
            self.mount(self._plot)
        self._plot.display = True
        self._redraw()

    def _palette(self) -> dict[str, RGB]:
        variables = self.app.theme_variables
        return {
            "primary": _rgb(variables, "primary", "#0178D4"),
            "secondary": _rgb(variables, "secondary", "#004578"),
            "accent": _rgb(variables, "accent", "#ffa62b"),
            "success": _rgb(variables, "success", "#4EBF71"),
            "warning": _rgb(variables, "warning", "#ffa62b"),
            "error": _rgb(variables, "error", "#ba3c5b"),
            "muted": _rgb(variables, "foreground-muted", "#888888"),
        }

    def _redraw(self) -> None:
        if self._plot is None or self._chart is None:
            return
        draw(self._plot.plt, self._chart, self._palette())
        self._plot.refresh()
