"""Metric queries over an open :class:`Warehouse`, written as Ibis expressions.

Conventions:
- dates are ``datetime.date`` (ISO strings are accepted too); windows are inclusive;
- a window is clipped to the data's date range; a window wholly outside it, or inverted, raises
  :class:`WarehouseError` naming the data's range;
- identifiers (metrics, dimensions) are checked against the discovered schema before any
  expression is built; values (dates, filter values) are bound parameters: each query shape is
  built once per warehouse (see :meth:`Warehouse.run`) and only its parameters change;
- series are contiguous: days without activity in the window are reported as 0;
- what a metric is comes from the catalogue (:mod:`.metrics`): its numerator and denominator
  measures; ratio metrics report numerator and denominator; over a window their value is the
  ratio of the daily means (sum of numerators / sum of denominators), which keeps segment
  contributions additive.
"""

from .breakdowns import breakdown
from .changes import annotations, deployments, undated_deployments
from .retention import retention
from .series import metric_series, segment_daily_values

__all__ = [
    "annotations",
    "breakdown",
    "deployments",
    "metric_series",
    "retention",
    "segment_daily_values",
    "undated_deployments",
]
