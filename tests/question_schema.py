"""The warehouse schema the question parser's tests read questions against."""

from __future__ import annotations

from datetime import date

from metric_anomaly_investigator.warehouse.types import DimensionInfo, WarehouseSchema

START, END = date(2025, 12, 1), date(2026, 2, 14)  # END is a Saturday

DIMENSIONS = {
    "platform": ["android", "ios", "web"],
    "country": ["US", "IN", "BR", "DE", "GB"],
    "app_version": ["2.2.0", "2.3.0", "2.1.0"],
    "event_type": ["app_open", "page_view", "purchase"],
}


def question_schema(
    dimensions: dict[str, list[str]] | None = None, start: date = START, end: date = END
) -> WarehouseSchema:
    """The built-in metrics and these event-level dimensions (default :data:`DIMENSIONS`)."""
    dims = DIMENSIONS if dimensions is None else dimensions
    return WarehouseSchema(
        metrics=["dau", "wau", "events", "events_per_user", "sessions_per_user"],
        dimensions=[
            DimensionInfo(name=n, level="event", values=v, cardinality=len(v))
            for n, v in dims.items()
        ],
        start_date=start,
        end_date=end,
        event_types=DIMENSIONS["event_type"],
        has_users=True,
        has_deployments=True,
        has_annotations=True,
        row_count=1000,
    )
