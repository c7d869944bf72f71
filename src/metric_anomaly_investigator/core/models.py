"""Contracts of an investigation: actions, step results, the report, the saved record, events.

Everything here is plain Pydantic/dataclasses with no I/O, so the orchestrator, the agents,
the store, the CLI and the TUI all speak the same types. The JSON shape of
:class:`Investigation` is contract 2 of ``docs/architecture.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from .outcomes import Outcome

SCHEMA_VERSION = 1

Direction = Literal["drop", "spike", "none"]
# How a cause moves the metric (one per affected segment of a report)
Mechanism = Literal[
    "behaviour",  # people do less (or more) of what they did
    "outage",  # a segment stops working: users and events vanish together
    "deployment",  # a release inside the segment's scope changed it
    "instrumentation",  # logging changed: events move, the people behind them do not
    "automated_traffic",  # new accounts with extreme activity per account
    "calendar",  # a holiday or another calendar effect
    "cohort",  # recent signups retain worse than earlier ones
    "data_freshness",  # the latest days are not fully loaded
]
Status = Literal["running", "completed", "cancelled", "failed"]
Filters = dict[str, str]


# --------------------------------------------------------------------------------------------
# Actions: the Step Decision agent's vocabulary (a discriminated union on ``action``)
# --------------------------------------------------------------------------------------------


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def parameters(self) -> dict[str, Any]:
        """The action's parameters as JSON-able values (everything except its name)."""
        return self.model_dump(mode="json", exclude={"action"})


class QueryMetric(_Action):
    """Fetch a metric's daily series, optionally filtered and split by one dimension."""

    action: Literal["query_metric"] = "query_metric"
    metric: str
    start: date | None = None
    end: date | None = None
    filters: Filters = Field(default_factory=dict)
    group_by: str | None = None


class DetectAnomaly(_Action):
    """Find whether, when and how the metric broke from its seasonal baseline."""

    action: Literal["detect_anomaly"] = "detect_anomaly"
    metric: str
    filters: Filters = Field(default_factory=dict)
    hint_date: date | None = Field(
        default=None, description="A date the user mentioned, if any; guides but never forces."
    )


class SegmentByDimension(_Action):
    """Baseline-vs-anomaly breakdown of the metric by one dimension."""

    action: Literal["segment_by_dimension"] = "segment_by_dimension"
    metric: str
    dimension: str
    filters: Filters = Field(default_factory=dict)


class DrillDown(_Action):
    """Multi-dimensional root-cause search over combinations of dimensions."""

    action: Literal["drill_down"] = "drill_down"
    metric: str
    dimensions: list[str] = Field(
        default_factory=list, description="Dimensions to search; empty means all of them."
    )
    filters: Filters = Field(default_factory=dict)


class CheckDeployments(_Action):
    """Deployments and annotations near the anomaly, scored against the affected segment."""

    action: Literal["check_deployments"] = "check_deployments"
    around: date | None = Field(
        default=None, description="Centre of the search window; default: the anomaly start."
    )
    days_before: int = Field(default=7, ge=0, le=90)
    days_after: int = Field(default=2, ge=0, le=90)
    segment: Filters = Field(
        default_factory=dict, description="The affected segment, to score overlap against."
    )


class AnalyzeRetention(_Action):
    """Day-N retention by signup cohort, optionally for one segment."""

    action: Literal["analyze_retention"] = "analyze_retention"
    filters: Filters = Field(default_factory=dict)
    cohort_start: date | None = None
    cohort_end: date | None = None


class StatisticalTest(_Action):
    """Test whether a segment's change is significant (before vs during, or vs the rest)."""

    action: Literal["statistical_test"] = "statistical_test"
    metric: str
    segment: Filters
    compare_to: Literal["before", "rest"] = "before"


class ProfileAccounts(_Action):
    """The accounts behind a segment's change: users vs events, new vs existing accounts,
    events per account."""

    action: Literal["profile_accounts"] = "profile_accounts"
    segment: Filters = Field(
        default_factory=dict, description="The segment to profile; empty means all traffic."
    )


class GenerateInsights(_Action):
    """Stop investigating and write the report."""

    action: Literal["generate_insights"] = "generate_insights"


Action = Annotated[
    QueryMetric
    | DetectAnomaly
    | SegmentByDimension
    | DrillDown
    | CheckDeployments
    | AnalyzeRetention
    | StatisticalTest
    | ProfileAccounts
    | GenerateInsights,
    Field(discriminator="action"),
]
ActionName = Literal[
    "query_metric",
    "detect_anomaly",
    "segment_by_dimension",
    "drill_down",
    "check_deployments",
    "analyze_retention",
    "statistical_test",
    "profile_accounts",
    "generate_insights",
]


class StepDecision(BaseModel):
    """The Step Decision agent's output: one next action and why."""

    reasoning: str = Field(description="One or two sentences: why this is the next step.")
    action: Action


# --------------------------------------------------------------------------------------------
# Step results and charts
# --------------------------------------------------------------------------------------------


class ChartSeries(BaseModel):
    label: str
    x: list[str] = Field(description="ISO dates for time series, category labels for bars.")
    y: list[float | None]
    style: Literal["actual", "baseline", "segment"] = "actual"


class Chart(BaseModel):
    """What the UI plots for a step; data only, no styling."""

    title: str
    kind: Literal["line", "bar", "retention"]
    series: list[ChartSeries]
    x_label: str = ""
    y_label: str = ""
    highlight: tuple[str, str] | None = Field(
        default=None, description="Anomaly window (first, last x value) to shade."
    )


class StepResult(BaseModel):
    """What the Tool Executor returns for one action: its typed ``outcome`` (what the analyst
    reads; not saved), and its fields as JSON in ``data`` (what the record keeps)."""

    success: bool
    findings: list[str] = Field(default_factory=list)
    data: dict[str, Any] = Field(default_factory=dict)
    chart: Chart | None = None
    error: str | None = None
    outcome: SkipJsonSchema[Outcome | None] = Field(default=None, exclude=True)


# Stored models keep fields they do not know (from a newer mai or another tool), so loading a
# record and saving it back (``--continue``, a follow-up on a reopened record) never drops them.
STORED = ConfigDict(extra="allow")


class Step(BaseModel):
    """One executed step as recorded (contract 2). The chart travels inside ``data``."""

    model_config = STORED

    index: int
    action: ActionName
    reasoning: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    success: bool
    findings: list[str] = Field(default_factory=list)
    data: dict[str, Any] | None = None
    error: str | None = None
    duration_ms: float = 0.0

    @property
    def chart(self) -> Chart | None:
        raw = (self.data or {}).get("chart")
        return Chart.model_validate(raw) if raw else None


# --------------------------------------------------------------------------------------------
# Report (the Insights agent's output)
# --------------------------------------------------------------------------------------------


class AnomalySummary(BaseModel):
    metric: str
    direction: Direction
    start: date | None = None
    end: date | None = None
    change_pct: float | None = None
    p_value: float | None = None


class AffectedSegment(BaseModel):
    filters: Filters
    change_pct: float | None = None
    share_of_change: float | None = None
    confidence: float = Field(ge=0.0, le=1.0)
    description: str
    mechanism: Mechanism | None = Field(
        default=None, description="How this cause moves the metric, when the steps show it."
    )
    explained_by: list[str] = Field(
        default_factory=list,
        description="Ids of correlated events whose scope covers this segment (none otherwise).",
    )


class CorrelatedEvent(BaseModel):
    kind: str = Field(description='"deployment", "holiday", "campaign", "incident", …')
    id: str
    at: datetime | date | None = None
    description: str
    confidence: float = Field(ge=0.0, le=1.0)


class Report(BaseModel):
    answer: str = Field(
        default="",
        description=(
            'One paragraph answering the question actually asked, first; "No — …" when its '
            "premise does not hold. Empty only in records written before it existed."
        ),
    )
    summary: str
    root_cause: str
    anomaly: AnomalySummary
    affected_segments: list[AffectedSegment] = Field(
        default_factory=list, description="Ranked, most explanatory first."
    )
    correlated_events: list[CorrelatedEvent] = Field(default_factory=list)
    recommendations: list[str] = Field(default_factory=list)
    confidence: float = Field(ge=0.0, le=1.0)
    # Set only on the built-in analyst's report written in place of a model's that could not be
    # grounded in the steps: what was unsupported. Hidden from the model, left out when unset.
    fallback_reason: SkipJsonSchema[str | None] = Field(
        default=None, exclude_if=lambda v: v is None
    )


# --------------------------------------------------------------------------------------------
# The record (contract 2)
# --------------------------------------------------------------------------------------------


class Usage(BaseModel):
    model_config = STORED

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None


class Investigation(BaseModel):
    model_config = STORED

    schema_version: int = SCHEMA_VERSION
    id: str
    question: str
    model: str
    warehouse: str
    started_at: datetime
    finished_at: datetime | None = None
    status: Status = "running"
    steps: list[Step] = Field(default_factory=list)
    report: Report | None = None
    usage: Usage = Field(default_factory=Usage)
    follow_ups: list[Investigation] = Field(default_factory=list)
    error: str | None = None


def interrupted_error(run: Investigation) -> str:
    """The ``error`` of a run saved mid-way (status ``running``) that will never finish."""
    done = len(run.steps)
    return f"interrupted after {done} step{'s' if done != 1 else ''}, before a report"


# --------------------------------------------------------------------------------------------
# Orchestrator events: the one stream the TUI, the CLI and the store consume
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvestigationStarted:
    investigation: Investigation


@dataclass(frozen=True)
class StepPlanned:
    index: int
    action: ActionName
    reasoning: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class StepCompleted:
    step: Step


@dataclass(frozen=True)
class StepFailed:
    step: Step


@dataclass(frozen=True)
class ReportReady:
    report: Report


@dataclass(frozen=True)
class UsageUpdated:
    usage: Usage


@dataclass(frozen=True)
class InvestigationFinished:
    investigation: Investigation


Event = (
    InvestigationStarted
    | StepPlanned
    | StepCompleted
    | StepFailed
    | ReportReady
    | UsageUpdated
    | InvestigationFinished
)
