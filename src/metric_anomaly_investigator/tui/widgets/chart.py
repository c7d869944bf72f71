"""The chart pane: a step's :class:`Figure` in the app's theme colours.

Series are drawn with plotext, their legend kept outside the plot (under it) so it never covers
the data; deployments are vertical markers on the metric's series; rankings are text bars with
full labels. ``textual_plotext`` (and plotext) are imported on the first plot, not at start-up.
The plot is redrawn on resize (plotext re-lays out on every render) and on theme change.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.color import Color
from textual.containers import Container, VerticalScroll
from textual.content import Content
from textual.widgets import Static

from ..figures import Figure, Marker, RankedBar

if TYPE_CHECKING:
    from ...core.models import Chart

RGB = tuple[int, int, int]
Legend = list[tuple[str, RGB]]
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


def draw(
    plt: Any, chart: Chart, palette: dict[str, RGB], markers: tuple[Marker, ...] = ()
) -> Legend:
    """Draw ``chart`` (and ``markers``) on a plotext figure, replacing what was there; return
    the legend, which the pane shows under the plot rather than over the data."""
    plt.clear_data()
    plt.clear_figure()
    segment_colours = [
        palette["accent"],
        palette["secondary"],
        palette["success"],
        palette["warning"],
    ]
    if chart.kind == "bar":
        return _draw_bars(plt, chart, palette, segment_colours)
    labels: list[str] = []
    for series in chart.series:
        labels.extend(x for x in series.x if x not in labels)
    position = {x: i for i, x in enumerate(labels)}
    legend: Legend = []
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
        elif series.style != "actual" or chart.kind == "retention":
            colour = segment_colours[segment % len(segment_colours)]
            segment += 1
        else:
            colour = palette["primary"]
        plt.plot(xs, ys, color=colour, marker="braille")
        legend.append((series.label, colour))
    if chart.kind == "retention":
        legend = _group_baselines(legend, palette["muted"])
    values = [y for s in chart.series for y in s.y if y is not None]
    if chart.highlight and chart.kind == "line":
        legend += _draw_window(plt, chart, position, palette["error"])
    if markers and values:
        legend += _draw_markers(plt, markers, position, values, palette)
    positions, tick_labels = _ticks(labels)
    if chart.kind == "retention":
        tick_labels = [f"day {label.lstrip('D')}" for label in tick_labels]
    plt.xticks(positions, tick_labels)
    _value_ticks(plt.yticks, values)
    return legend


def _group_baselines(legend: Legend, muted: RGB) -> Legend:
    """One legend entry for every baseline series (the earlier cohorts), the others as they are."""
    earlier = [name for name, colour in legend if colour == muted]
    if len(earlier) < 2:
        return legend
    first, last = earlier[0].removeprefix("cohort "), earlier[-1].removeprefix("cohort ")
    grouped = (f"{len(earlier)} earlier cohorts {first} … {last}", muted)
    return [grouped, *((name, colour) for name, colour in legend if colour != muted)]


def _draw_window(plt: Any, chart: Chart, position: dict[str, int], colour: RGB) -> Legend:
    """Mark the anomaly window: its edges, and the actual series inside it in the alert colour."""
    assert chart.highlight is not None
    first, last = chart.highlight
    start = position.get(first)
    end = position.get(last, max(position.values(), default=0))
    if start is None:
        return []
    plt.vline(start, color=colour)
    if end != start:
        plt.vline(end, color=colour)
    actual = next((s for s in chart.series if s.style == "actual"), None)
    if actual is None:
        return []
    inside = [
        (position[x], y)
        for x, y in zip(actual.x, actual.y, strict=False)
        if y is not None and start <= position[x] <= end
    ]
    if not inside:
        return []
    plt.plot([p[0] for p in inside], [p[1] for p in inside], color=colour, marker="braille")
    return [("anomaly window", colour)]


def _draw_markers(
    plt: Any,
    markers: tuple[Marker, ...],
    position: dict[str, int],
    values: list[float],
    palette: dict[str, RGB],
) -> Legend:
    """Each change as a vertical line on its day, its id written at the top of the plot."""
    legend: Legend = []
    top, step = max(values), (max(values) - min(values)) / 8
    right_half = len(position) / 2
    for row, marker in enumerate(markers):
        x = position.get(marker.x)
        if x is None:
            continue
        colour = palette["warning"] if marker.explains else palette["muted"]
        plt.vline(x, color=colour)
        # labels step down so neighbours do not overwrite each other, and point inwards
        y = top - row * step
        plt.text(marker.label, x, y, color=colour, alignment="right" if x > right_half else "left")
        legend.append((f"{marker.label} {marker.x}", colour))
    return legend


def _draw_bars(plt: Any, chart: Chart, palette: dict[str, RGB], colours: list[RGB]) -> Legend:
    """Grouped vertical bars (e.g. each segment before and during the anomaly)."""
    series = [s for s in chart.series if s.x][:4]
    if not series:
        return []
    categories = series[0].x[:MAX_BARS]
    labels = [_clip(c) for c in categories]
    values = [
        [float(dict(zip(s.x, s.y, strict=False)).get(c) or 0.0) for c in categories] for s in series
    ]
    bar_colours = [palette["muted"], palette["primary"], *colours][: len(series)]
    plt.multiple_bar(labels, values, color=bar_colours, width=0.8)
    _value_ticks(plt.yticks, [0.0, *(v for row in values for v in row)])
    return [(s.label, c) for s, c in zip(series, bar_colours, strict=False)]


def ranked_bars(bars: tuple[RankedBar, ...], width: int) -> Content:
    """One bar per entry, largest first: its full label on one line, the bar and its value
    under it (a decrease in the alert colour, the sign in the note)."""
    room = max(4, width - 5 - max((len(b.note) for b in bars), default=0))
    largest = max((abs(b.value) for b in bars), default=0.0) or 1.0
    lines: list[Content] = []
    for bar in bars:
        cells = max(1, round(room * abs(bar.value) / largest))
        colour = "$error" if bar.value < 0 else "$primary"
        lines.append(Content.from_markup("[b]$label[/]", label=bar.label))
        lines.append(
            Content.from_markup(
                f"[{colour}]$bar[/] [$text-muted]$note[/]", bar="█" * cells, note=bar.note
            )
        )
    return Content("\n").join(lines)


def legend_text(legend: Legend, note: str = "") -> Content:
    """``── name`` in each series' colour, then an optional note."""
    parts = [
        Content.from_markup(f"[rgb({r},{g},{b})]━━[/] $name", name=name)
        for name, (r, g, b) in legend
    ]
    text = Content("   ").join(parts)
    return text + Content.from_markup("   [$text-muted]$n[/]", n=note) if note else text


class ChartView(Container):
    """Shows the selected step's figure, or a hint when it has none."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._figure: Figure | None = None
        self._plot: Any = None

    def compose(self) -> ComposeResult:
        yield Static(
            "Charts appear here: select a step in the timeline to plot it.", classes="empty"
        )
        with VerticalScroll(id="ranked-box"):
            yield Static(id="ranked")
        yield Static(id="legend")

    def on_mount(self) -> None:
        self.query_one("#ranked-box").display = False
        self.query_one("#legend").display = False
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._redraw())

    @property
    def figure(self) -> Figure | None:
        return self._figure

    @property
    def chart(self) -> Chart | None:
        """The plotted chart (None for a ranking or an empty pane)."""
        return self._figure.chart if self._figure is not None else None

    def show_figure(self, figure: Figure | None, *, empty: str | None = None) -> None:
        """Draw ``figure``; with None, show the ``empty`` message instead."""
        self._figure = figure
        self.border_title = "Chart" if figure is None else f"Chart · {figure.title}"
        hint = self.query_one(".empty", Static)
        hint.display = figure is None
        self.query_one("#ranked-box").display = figure is not None and figure.chart is None
        self.query_one("#legend").display = figure is not None
        if figure is None:
            hint.update(empty or "This step has no chart.")
        if self._plot is not None:
            self._plot.display = figure is not None and figure.chart is not None
        elif figure is not None and figure.chart is not None:
            from textual_plotext import PlotextPlot

            self._plot = PlotextPlot()
            self.mount(self._plot, before=self.query_one("#legend"))
        self._redraw()

    def on_resize(self) -> None:
        if self._figure is not None and self._figure.chart is None:
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
        figure = self._figure
        if figure is None:
            return
        legend = self.query_one("#legend", Static)
        if figure.chart is None:
            width = self.scrollable_content_region.width or 60
            self.query_one("#ranked", Static).update(ranked_bars(figure.bars, width))
            legend.update(Content.from_markup("[$text-muted]$n[/]", n=figure.note))
            legend.display = bool(figure.note)
            return
        if self._plot is None:
            return
        entries = draw(self._plot.plt, figure.chart, self._palette(), figure.markers)
        legend.update(legend_text(entries, figure.note))
        legend.display = bool(entries or figure.note)
        self._plot.refresh()
