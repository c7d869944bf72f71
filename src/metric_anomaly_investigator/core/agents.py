"""The two PydanticAI agents of an investigation and everything they share.

* the Step Decision agent answers one :class:`StepDecision` (the next action and why);
* the Insights agent answers the :class:`Report`.

Both see the warehouse's real schema (``executor.schema_summary()``), the question and the
findings so far, rendered by :func:`render_findings` / :func:`render_prompt` — the one place the
prompt format lives, so the offline autopilot can read the same text. Output validators turn an
invalid action into a ``ModelRetry`` the model can act on. :func:`run_agent` adds bounded
exponential backoff for transient model/API errors; :func:`resolve_model` maps a model name to a
PydanticAI model, failing early with :class:`ModelConfigError` when a provider key is missing.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from pydantic_ai import Agent, ModelRetry, RunContext
from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelConnectionError,
    ModelHTTPError,
    ModelRateLimitError,
    ModelServerError,
    ModelUnavailableError,
    UnexpectedModelBehavior,
    UsageLimitExceeded,
    UserError,
)
from pydantic_ai.models import Model
from pydantic_ai.usage import RunUsage, UsageLimits

from metric_anomaly_investigator.core.models import (
    Action,
    GenerateInsights,
    Investigation,
    Report,
    Step,
    StepDecision,
    StepResult,
)
from metric_anomaly_investigator.settings import AUTOPILOT

OutputT = TypeVar("OutputT")


class ModelConfigError(Exception):
    """The chosen model cannot be used (unknown name, missing API key…); one-line message."""


class Executor(Protocol):
    """What the agents and the orchestrator need from ``core.tools.ToolExecutor``."""

    def validate(self, action: Action) -> None: ...

    async def execute(self, action: Action) -> StepResult: ...

    def schema_summary(self) -> str: ...

    def reset(self) -> None:
        """Forget the current investigation's context (a new root question)."""


@dataclass
class InvestigationDeps:
    """Everything a prompt is made of; passed as ``deps`` to both agents."""

    executor: Executor
    question: str
    steps: Sequence[Step] = ()
    earlier: Sequence[Investigation] = ()
    max_steps: int = 12
    notes: list[str] = field(default_factory=list)

    @property
    def data_steps(self) -> int:
        """Successful data steps so far, this run and earlier ones."""
        return sum(s.success for s in self.steps) + sum(
            s.success for inv in self.earlier for s in inv.steps
        )


# --------------------------------------------------------------------------------------------
# Prompts
# --------------------------------------------------------------------------------------------

STEP_INSTRUCTIONS = """\
You are a senior product analyst investigating why a product metric moved. You work one step at \
a time: every answer is exactly one next action with one or two sentences of reasoning.

Actions:
- query_metric: a metric's daily series, optionally filtered or split by one dimension.
- detect_anomaly: whether, when and how the metric broke from its seasonal baseline.
- segment_by_dimension: baseline-vs-anomaly breakdown of the metric by one dimension.
- drill_down: multi-dimensional root-cause search over combinations of dimensions.
- check_deployments: deployments and annotations near the anomaly, scored against the segment.
- analyze_retention: day-N retention by signup cohort (needs a users table).
- statistical_test: whether a segment's change is significant (vs before, or vs the rest).
- generate_insights: stop and write the report.

Rules:
- Use only metric names, dimension names, dimension values and dates from the schema below.
- Establish the anomaly first, then localize it, test it, and look for what changed.
- Never repeat a step that already succeeded with the same parameters; learn from failed steps.
- Choose generate_insights when the findings establish the anomaly (or that there is none), the \
affected segment and the likely cause, or when further steps would not add evidence.
"""

INSIGHTS_INSTRUCTIONS = """\
You are a senior product analyst writing the conclusion of an investigation into why a metric \
moved. Use only the findings below; never invent numbers, segments, deployments or dates.

- anomaly: the metric, direction ("drop", "spike", or "none" when the data shows no change \
beyond normal variation), first and last anomalous day, change in percent, p-value if tested.
- affected_segments: ranked, most explanatory first; filters use the schema's dimension names \
and values; confidence in [0, 1].
- correlated_events: deployments or annotations that plausibly explain it, with confidence.
- With direction "none", claim no segment or event with confidence >= 0.5.
- summary: two or three plain sentences; root_cause: one sentence; recommendations: concrete \
next actions; confidence: calibrated in [0, 1].
"""

_MAX_LIST_ITEMS = 8
_MAX_DATA_CHARS = 1500


def _compact(value: Any) -> Any:
    """A small JSON-able rendition of step data: floats rounded, long lists cut."""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {str(k): _compact(v) for k, v in value.items() if k != "chart"}
    if isinstance(value, list | tuple):
        items = [_compact(v) for v in value[:_MAX_LIST_ITEMS]]
        if len(value) > _MAX_LIST_ITEMS:
            items.append(f"… {len(value) - _MAX_LIST_ITEMS} more")
        return items
    return value


def compact_data(data: dict[str, Any] | None) -> str:
    """The step's key data as one JSON line, bounded in size (the chart is left out)."""
    if not data:
        return "{}"
    text = json.dumps(_compact(data), default=str, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= _MAX_DATA_CHARS else text[: _MAX_DATA_CHARS - 1] + "…"


def render_step(step: Step) -> str:
    """One step as the models see it: action, parameters, outcome, findings, key data."""
    params = json.dumps(step.parameters, default=str, separators=(",", ":"), ensure_ascii=False)
    lines = [f"Step {step.index}: {step.action} {params}", f"  reasoning: {step.reasoning}"]
    if step.success:
        lines += [f"  - {finding}" for finding in step.findings]
        lines.append(f"  data: {compact_data(step.data)}")
    else:
        lines.append(f"  FAILED: {step.error or 'unknown error'}")
    return "\n".join(lines)


def render_findings(steps: Sequence[Step]) -> str:
    """All steps so far, in order; the findings section of both prompts."""
    return "\n".join(render_step(s) for s in steps) if steps else "(no steps yet)"


def render_earlier(earlier: Sequence[Investigation]) -> str:
    """Earlier questions of the same conversation with their findings and conclusions."""
    blocks = []
    for inv in earlier:
        block = [f"Question: {inv.question}", render_findings(inv.steps)]
        if inv.report is not None:
            block.append(f"Conclusion: {inv.report.summary} Root cause: {inv.report.root_cause}")
        blocks.append("\n".join(block))
    return "\n\n".join(blocks)


def render_prompt(deps: InvestigationDeps, *, final: bool) -> str:
    """The user prompt of either agent (``final`` for the Insights agent)."""
    parts = []
    if deps.earlier:
        parts.append("## Earlier in this investigation\n" + render_earlier(deps.earlier))
    parts.append(f"## Question\n{deps.question}")
    if final:
        parts.append("## Findings\n" + render_findings(deps.steps))
        parts.append("Write the report.")
    else:
        budget = f"{len(deps.steps)} of at most {deps.max_steps} steps used"
        parts.append(f"## Findings so far ({budget})\n" + render_findings(deps.steps))
        parts.append("Choose the next action.")
    parts += deps.notes
    return "\n\n".join(parts)


# --------------------------------------------------------------------------------------------
# Agents
# --------------------------------------------------------------------------------------------

OUTPUT_RETRIES = 3


def _schema_instructions(ctx: RunContext[InvestigationDeps]) -> str:
    return "## Warehouse schema\n" + ctx.deps.executor.schema_summary()


def build_step_agent() -> Agent[InvestigationDeps, StepDecision]:
    """The Step Decision agent: one validated next action per run."""
    agent = Agent(
        output_type=StepDecision,
        instructions=STEP_INSTRUCTIONS,
        deps_type=InvestigationDeps,
        retries={"output": OUTPUT_RETRIES},
        name="step_decision",
    )
    agent.instructions(_schema_instructions)

    @agent.output_validator
    def validate_decision(ctx: RunContext[InvestigationDeps], out: StepDecision) -> StepDecision:
        if isinstance(out.action, GenerateInsights):
            # Concluding before any data needs the model to insist (e.g. a nonsensical question).
            if ctx.deps.data_steps == 0 and ctx.retry == 0:
                raise ModelRetry(
                    "No data has been looked at yet: choose a data action first. If the question "
                    "cannot be answered from this warehouse, choose generate_insights again."
                )
            return out
        try:
            ctx.deps.executor.validate(out.action)
        except ValueError as exc:  # core.tools.InvalidAction: a message the model can act on
            raise ModelRetry(str(exc)) from exc
        return out

    return agent


def build_insights_agent() -> Agent[InvestigationDeps, Report]:
    """The Insights agent: the final report from the findings."""
    agent = Agent(
        output_type=Report,
        instructions=INSIGHTS_INSTRUCTIONS,
        deps_type=InvestigationDeps,
        retries={"output": OUTPUT_RETRIES},
        name="insights",
    )
    agent.instructions(_schema_instructions)

    @agent.output_validator
    def validate_report(out: Report) -> Report:
        if out.anomaly.direction == "none":
            claimed = [s for s in out.affected_segments if s.confidence >= 0.5]
            claimed_events = [e for e in out.correlated_events if e.confidence >= 0.5]
            if claimed or claimed_events:
                raise ModelRetry(
                    'With anomaly direction "none", no segment or event may have confidence '
                    ">= 0.5: lower them or report the anomaly."
                )
        return out

    return agent


# --------------------------------------------------------------------------------------------
# Running with retries, usage limits and clear errors
# --------------------------------------------------------------------------------------------


def is_transient(exc: BaseException) -> bool:
    """Rate limits, server errors, dropped connections and malformed responses are retried."""
    if isinstance(
        exc, ModelRateLimitError | ModelUnavailableError | ModelServerError | ModelConnectionError
    ):
        return True
    if isinstance(exc, ModelHTTPError):
        return exc.status_code == 429 or exc.status_code >= 500
    # A malformed response is worth another try; exhausted output retries are not.
    return isinstance(exc, UnexpectedModelBehavior) and not _retries_exhausted(exc)


def _retries_exhausted(exc: BaseException) -> bool:
    return str(exc).startswith("Exceeded maximum")


def describe_error(exc: BaseException) -> str:
    """A one-line, user-facing reason for a failed model call."""
    if isinstance(exc, UsageLimitExceeded):
        return f"usage limit reached ({_first_line(exc)}); raise MAI_MAX_REQUESTS or MAI_MAX_TOKENS"
    if isinstance(exc, ModelHTTPError):
        body = exc.body
        detail = body.get("message") if isinstance(body, dict) else body
        text = _first_line(Exception(detail)) if detail else _HTTP_REASONS.get(exc.status_code, "")
        return f"model API error {exc.status_code} from {exc.model_name}" + (
            f": {text}" if text else ""
        )
    if isinstance(exc, ModelAPIError):
        return f"model API error: {_first_line(exc)}"
    if isinstance(exc, UnexpectedModelBehavior) and _retries_exhausted(exc):
        cause = exc.__cause__
        detail = f": {_first_line(cause)}" if cause is not None else ""
        return f"the model gave no valid answer after {OUTPUT_RETRIES} retries{detail}"
    if isinstance(exc, UnexpectedModelBehavior):
        return f"unexpected model response: {_first_line(exc)}"
    return f"{type(exc).__name__}: {_first_line(exc)}"


_HTTP_REASONS = {
    401: "authentication failed (check the API key)",
    403: "permission denied",
    404: "model not found",
    429: "rate limited",
}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    line = text.splitlines()[0]
    return line if len(line) <= 300 else line[:299] + "…"


@dataclass
class RetryPolicy:
    """Exponential backoff for transient model errors: ``base_delay * 2**attempt`` seconds."""

    retries: int = 3
    base_delay: float = 1.0
    max_delay: float = 30.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def delay(self, attempt: int, exc: BaseException) -> float:
        hinted = getattr(exc, "retry_after", None)
        wait = self.base_delay * 2**attempt
        if isinstance(hinted, int | float) and hinted > 0:
            wait = max(wait, float(hinted))
        return min(wait, self.max_delay)


async def run_agent(
    agent: Agent[InvestigationDeps, OutputT],
    deps: InvestigationDeps,
    *,
    model: Model,
    final: bool,
    usage: RunUsage,
    limits: UsageLimits,
    policy: RetryPolicy,
) -> OutputT:
    """One agent run with backoff on transient errors; usage accumulates into ``usage``."""
    prompt = render_prompt(deps, final=final)
    attempt = 0
    while True:
        try:
            result = await agent.run(
                prompt, model=model, deps=deps, usage=usage, usage_limits=limits
            )
        except (ModelAPIError, UnexpectedModelBehavior) as exc:
            if attempt >= policy.retries or not is_transient(exc):
                raise
            await policy.sleep(policy.delay(attempt, exc))
            attempt += 1
        else:
            return result.output


# --------------------------------------------------------------------------------------------
# Model selection
# --------------------------------------------------------------------------------------------

_PROVIDER_KEYS: dict[str, tuple[str, ...]] = {
    "anthropic": ("ANTHROPIC_API_KEY",),
    "openai": ("OPENAI_API_KEY",),
    "openai-chat": ("OPENAI_API_KEY",),
    "openai-responses": ("OPENAI_API_KEY",),
    "google-gla": ("GOOGLE_API_KEY", "GEMINI_API_KEY"),
    "google": ("GOOGLE_API_KEY", "GEMINI_API_KEY"),
    "groq": ("GROQ_API_KEY",),
    "mistral": ("MISTRAL_API_KEY",),
    "cohere": ("CO_API_KEY",),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "openrouter": ("OPENROUTER_API_KEY",),
    "grok": ("XAI_API_KEY",),
    "xai": ("XAI_API_KEY",),
}


def check_api_key(name: str) -> None:
    """Fail early, in one line, when the model's provider needs a key that is not set."""
    provider = name.split(":", 1)[0] if ":" in name else ""
    keys = _PROVIDER_KEYS.get(provider)
    if keys and not any(os.environ.get(k) for k in keys):
        raise ModelConfigError(f"{keys[0]} is not set: export it or use --model autopilot")


def resolve_model(name: str, executor: Executor | None = None) -> Model:
    """``autopilot`` (needs the executor) or any PydanticAI model string, checked up front.

    Raises :class:`ModelConfigError` for an unknown model, a missing key or a missing extra.
    ``openai-chat:`` honours ``OPENAI_BASE_URL`` for OpenAI-compatible servers.
    """
    name = name.strip()
    if not name:
        raise ModelConfigError("empty model name: use --model autopilot or provider:model")
    if name == AUTOPILOT:
        from metric_anomaly_investigator.core.autopilot import autopilot_model
        from metric_anomaly_investigator.core.tools import ToolExecutor

        if not isinstance(executor, ToolExecutor):
            raise ModelConfigError("the autopilot needs a warehouse to work on")
        return autopilot_model(executor)
    check_api_key(name)
    from pydantic_ai.models import infer_model

    try:
        return infer_model(name)
    except (UserError, ImportError, ValueError) as exc:
        reason = _first_line(exc).split(". To try", 1)[0]
        if reason.startswith("Unknown model"):
            reason += " (use --model autopilot or provider:model, e.g. anthropic:claude-sonnet-4-5)"
        raise ModelConfigError(reason) from exc


def model_label(model: Model | str) -> str:
    """The name shown to the user for a model."""
    if isinstance(model, str):
        return model
    if model.model_name == AUTOPILOT or model.system == AUTOPILOT:
        return AUTOPILOT
    return f"{model.system}:{model.model_name}"
