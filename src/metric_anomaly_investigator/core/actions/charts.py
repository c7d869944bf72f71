"""Chart builders for step results: daily lines and categorical bars."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Literal

from ..models import Chart, ChartSeries

Style = Literal["actual", "baseline", "segment"]


def days_axis(days: Sequence[date]) -> list[str]:
    return [d.isoformat() for d in days]


def line(
    title: str,
    series: list[ChartSeries],
    y_label: str,
    highlight: tuple[str, str] | None = None,
) -> Chart:
    """A daily line chart."""
    return Chart(
        title=title, kind="line", series=series, x_label="day", y_label=y_label, highlight=highlight
    )


def bars(
    title: str,
    labels: list[str],
    series: dict[str, tuple[Sequence[float | None], Style]],
    x_label: str,
    y_label: str,
) -> Chart:
    """A bar chart of named series (values, style) over ``labels``."""
    return Chart(
        title=title,
        kind="bar",
        series=[
            ChartSeries(label=name, x=labels, y=list(ys), style=style)
            for name, (ys, style) in series.items()
        ],
        x_label=x_label,
        y_label=y_label,
    )
