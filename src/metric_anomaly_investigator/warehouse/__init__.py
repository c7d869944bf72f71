"""Data access: open a warehouse, discover its schema, run typed metric queries."""

from .connect import open_warehouse
from .demo import default_warehouse_path, ensure_default_warehouse
from .queries import (
    annotations,
    breakdown,
    deployments,
    metric_series,
    retention,
    segment_daily_values,
)
from .scenarios import (
    SCENARIOS,
    GroundTruth,
    Scenario,
    generate_scenario,
    get_scenario,
    list_scenarios,
)
from .types import (
    Annotation,
    Breakdown,
    BreakdownRow,
    CohortRetention,
    Deployment,
    DimensionInfo,
    MetricSeries,
    Retention,
    SeriesPoint,
    WarehouseError,
    WarehouseSchema,
)
from .warehouse import Warehouse

__all__ = [
    "SCENARIOS",
    "Annotation",
    "Breakdown",
    "BreakdownRow",
    "CohortRetention",
    "Deployment",
    "DimensionInfo",
    "GroundTruth",
    "MetricSeries",
    "Retention",
    "Scenario",
    "SeriesPoint",
    "Warehouse",
    "WarehouseError",
    "WarehouseSchema",
    "annotations",
    "breakdown",
    "default_warehouse_path",
    "deployments",
    "ensure_default_warehouse",
    "generate_scenario",
    "get_scenario",
    "list_scenarios",
    "metric_series",
    "open_warehouse",
    "retention",
    "segment_daily_values",
]
