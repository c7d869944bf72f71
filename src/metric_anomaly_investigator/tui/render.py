"""Pure text formatting for the TUI: labels, numbers, step tables, example questions.

The report itself is rendered by ``core.report_markdown`` (shared with the export).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..core.report_markdown import format_filters

if TYPE_CHECKING:
    from ..core.models import Step, Usage
    from ..warehouse.types import WarehouseSchema

ACTION_LABELS: dict[str, str] = {
    "query_metric": "Query metric",
    "detect_anomaly": "Detect anomaly",
    "segment_by_dimension": "Segment by dimension",
    "drill_down": "Drill down",
    "check_deployments": "Check deployments",
    "analyze_retention": "Analyze retention",
    "statistical_test": "Statistical test",
    "generate_insights": "Write the report",
}
MAX_TABLE_ROWS = 200
FILTER_KEYS = frozenset({"filters", "segment", "scope"})
"""Record fields that hold a segment (``{"platform": "android"}``): shown as one filter cell."""
RATE_KEYS = frozenset({"retention"})
"""Nested measures that are rates (0-1), shown as percentages."""


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action.replace("_", " ").capitalize())


def format_duration(ms: float) -> str:
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return f"{int(ms // 60_000)} m {int(ms % 60_000) // 1000:02d} s"


def format_elapsed(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def format_tokens(usage: Usage) -> str:
    tokens = usage.input_tokens + usage.output_tokens
    text = f"{tokens / 1000:.1f}k tok" if tokens >= 1000 else f"{tokens} tok"
    if usage.cost_usd is not None:
        text += f" · ${usage.cost_usd:.3f}"
    return text


def format_value(value: Any) -> str:
    """A compact cell for a table or a parameter list."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, dict):
        return format_filters(value) if value else "–"
    if isinstance(value, list | tuple):
        return ", ".join(format_value(v) for v in value) or "–"
    return str(value)


def format_when(moment: datetime | date | None) -> str:
    if moment is None:
        return "–"
    if isinstance(moment, datetime):
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.isoformat()


def step_table(step: Step) -> tuple[list[str], list[list[str]]] | None:
    """The step's data as a table: its first list of records, else its chart's series."""
    data = step.data or {}
    for key, value in data.items():
        if key == "chart" or not isinstance(value, list) or not value:
            continue
        if all(isinstance(row, dict) for row in value):
            flat = [_flatten(row) for row in value]
            columns: list[str] = []
            for row in flat:
                columns.extend(c for c in row if c not in columns)
            rows = [[format_value(row.get(c)) for c in columns] for row in flat]
            return columns, rows[:MAX_TABLE_ROWS]
    chart = step.chart
    if chart is None or not chart.series:
        return None
    columns = [chart.x_label or "x", *(s.label for s in chart.series)]
    xs: list[str] = []
    for series in chart.series:
        xs.extend(x for x in series.x if x not in xs)
    lookup = [dict(zip(s.x, s.y, strict=False)) for s in chart.series]
    rows = [[x, *(format_value(values.get(x)) for values in lookup)] for x in xs]
    return columns, rows[:MAX_TABLE_ROWS]


def _flatten(row: dict[str, Any]) -> dict[str, Any]:
    """A record with its nested measures as columns of their own: ``retention`` ``{"1": 0.62,
    "7": 0.41}`` becomes ``retention d1`` 62.0% and ``retention d7`` 41.0% (filters stay one
    cell)."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        nested = isinstance(value, dict) and value and key not in FILTER_KEYS
        if nested and all(not isinstance(v, dict | list) for v in value.values()):
            for sub, cell in value.items():
                name = f"{key} d{sub}" if str(sub).isdigit() else f"{key} {sub}"
                rate = key in RATE_KEYS and isinstance(cell, int | float)
                flat[name] = f"{100 * cell:.1f}%" if rate else cell
        else:
            flat[key] = value
    return flat


def example_questions(schema: WarehouseSchema, limit: int = 4) -> list[str]:
    """Questions a user could ask of *this* warehouse: its metrics, values and dates."""
    metrics = schema.metrics or ["events"]
    primary = "dau" if "dau" in metrics else metrics[0]
    # a ratio metric reads best in a question about engagement; else any other metric
    others = [m for m in metrics if m != primary]
    ratio = next((m for m in others if schema.is_ratio(m)), others[0] if others else primary)
    end = schema.end_date
    since = max(schema.start_date, end - timedelta(days=14))
    questions = [f"Why did {primary} change over the last two weeks (to {end:%b %d})?"]
    dims = [d for d in schema.dimensions if d.values]
    if dims:
        first = dims[0]
        questions.append(
            f"Is {primary} down for {first.name} {first.values[0]} since {since:%b %d}?"
        )
    if len(dims) > 1:
        questions.append(f"Which {dims[1].name} explains the change in {ratio}?")
    if schema.has_deployments:
        questions.append(f"Did a deployment in {end:%B %Y} hurt {ratio}?")
    if schema.has_users:
        questions.append(f"Has retention of new users changed since {since:%b %d}?")
    return questions[:limit]
