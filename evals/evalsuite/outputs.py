"""What a case's task returns: the run's status, its report and its error."""

from __future__ import annotations

from dataclasses import dataclass

from metric_anomaly_investigator.core.models import Report


@dataclass
class EvalOutput:
    status: str
    report: Report | None
    error: str | None = None
    seconds: float = 0.0  # the investigation's own time, in its worker
