"""The two PydanticAI agents of an investigation and everything they share.

* the Step Decision agent answers one :class:`StepDecision` (the next action and why);
* the Insights agent answers the :class:`Report`.

Both see the warehouse's real schema (``executor.schema_summary()``), the question and the findings
so far, rendered by :func:`render_findings` / :func:`render_prompt` — the one place the prompt
format lives. A model that runs in-process (the offline autopilot) gets the same facts typed: the
run's :class:`InvestigationDeps` (:func:`current_deps`) and the output tool's name. Output
validators turn an invalid action, and a report that cites what the steps do not show
(``core.grounding``), into a ``ModelRetry`` the model can act on. :func:`run_agent` bounds every
call (a per-request timeout and the investigation's deadline, :class:`CallBounds`), adds exponential
backoff for transient model/API errors and turns the faults a user must fix into one-line
:class:`ModelCallError` errors; :func:`write_report` falls back to the built-in analyst's report
when the model's cannot be grounded. :func:`resolve_model` maps a model name to a PydanticAI model,
failing early with :class:`ModelConfigError` when a provider key is missing.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from pydantic_ai import (
    Agent,
    AgentRetries,
    ModelRetry,
    RunContext,
    ToolOutput,
    capture_run_messages,
)
from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelHTTPError,
    ModelRateLimitError,
    ModelRequestTimeout,
    ModelServerError,
    ModelTimeoutError,
    ModelUnavailableError,
    RunTimedOut,
    UnexpectedModelBehavior,
    UsageLimitExceeded,
    UserError,
)
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models import Model
from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import RunUsage, UsageLimits

from metric_anomaly_investigator.core.grounding import Grounding, WarehouseFacts, check_report
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

# The agents' output tools: a model answers by calling one of them.
STEP_TOOL = "decide_next_step"
REPORT_TOOL = "write_report"


class ModelConfigError(Exception):
    """The chosen model cannot be used (unknown name, missing API key…); one-line message."""


class ModelCallError(Exception):
    """A model call failed in a way the user must fix; the message says what to do, in one line."""


class UngroundedReport(Exception):
    """The model's report still cited what the steps do not show after its last retry."""

    def __init__(self, grounding: Grounding) -> None:
        self.grounding = grounding
        super().__init__(grounding.message)


class Executor(Protocol):
    """What the agents and the orchestrator need from ``core.tools.ToolExecutor``."""

    def validate(self, action: Action) -> None: ...

    async def execute(self, action: Action) -> StepResult: ...

    def schema_summary(self) -> str: ...

    def reset(self) -> None:
        """Forget the current investigation's context (a new root question)."""


@dataclass
class InvestigationDeps:
    """Everything a prompt is made of; passed as ``deps`` to both agents (and, through
    :func:`current_deps`, to a model that runs in-process, such as the autopilot)."""

    executor: Executor
    question: str
    steps: Sequence[Step] = ()
    earlier: Sequence[Investigation] = ()
    max_steps: int = 12
    notes: list[str] = field(default_factory=list)

    @property
    def data_steps(self) -> int:
        """Successful data steps so far, this run and earlier ones."""
        return sum(s.success for s in self.all_steps())

    def all_steps(self) -> list[Step]:
        """The earlier questions' steps, then this run's."""
        return [*(s for inv in self.earlier for s in inv.steps), *self.steps]


_RUNNING: contextvars.ContextVar[InvestigationDeps | None] = contextvars.ContextVar(
    "mai_running_deps", default=None
)


def current_deps() -> InvestigationDeps | None:
    """The deps of the agent run in progress in this task (``None`` outside :func:`run_agent`).

    PydanticAI hands deps to tools, instructions and validators, not to a model; a model that
    runs in-process (the autopilot) reads the question, the budget and the steps here, typed,
    instead of parsing the prompt text."""
    return _RUNNING.get()


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
- profile_accounts: the accounts behind a segment's change: users vs events, new vs existing \
accounts, events per account (outage, behaviour, automated traffic).
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

- answer: one paragraph that answers the question actually asked (for a follow-up, the \
follow-up's own question, from its steps and what was established before). Open with "No — …" \
when its premise does not hold: the metric moved the other way, the segment or release it \
blames did not move or is not where the change is (give that segment's tested change and \
p-value), "only X" when X is not all of it, or nothing moved beyond normal variation. A yes/no \
question opens "Yes — …" or "No — …"; any other question opens with the finding itself. Say \
what moved, by how much, from when, where (each cause), why (its mechanism and the in-scope \
deployment or event) and how sure. When the findings cannot tell, say it is not known.
- anomaly: the metric, direction ("drop", "spike", or "none" when the data shows no change \
beyond normal variation), first and last anomalous day, change in percent, p-value if tested.
- affected_segments: ranked, most explanatory first; filters use the schema's dimension names \
and values; confidence in [0, 1]. Each segment is one cause with its own description; several \
causes stay several rows (and the summary and root cause say "N separate causes"). mechanism: \
only what a finding shows (e.g. users and events vanishing together = outage, events down with \
users flat = instrumentation or behaviour, an in-scope release = deployment, a holiday = \
calendar), else null. explained_by: ids of events whose scope (platform, version, regions, \
time) covers that segment — never a release shipped elsewhere.
- correlated_events: deployments or annotations that plausibly explain it, with confidence.
- Numbers: label every figure with its comparison ("vs its seasonal baseline", "vs the weeks \
before", "of the change"); give a segment the same change everywhere it appears; a share of the \
change above 100% means other segments moved the other way — say so.
- Recommendations name a deployment only for the segments in its scope.
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
# an unknown tool name gets as many corrections as an invalid answer
_RETRIES: AgentRetries = {"output": OUTPUT_RETRIES, "tools": OUTPUT_RETRIES}


def _schema_instructions(ctx: RunContext[InvestigationDeps]) -> str:
    return "## Warehouse schema\n" + ctx.deps.executor.schema_summary()


def build_step_agent() -> Agent[InvestigationDeps, StepDecision]:
    """The Step Decision agent: one validated next action per run."""
    agent = Agent(
        output_type=ToolOutput(StepDecision, name=STEP_TOOL),
        instructions=STEP_INSTRUCTIONS,
        deps_type=InvestigationDeps,
        retries=_RETRIES,
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
        output_type=ToolOutput(Report, name=REPORT_TOOL),
        instructions=INSIGHTS_INSTRUCTIONS,
        deps_type=InvestigationDeps,
        retries=_RETRIES,
        name="insights",
    )
    agent.instructions(_schema_instructions)

    @agent.output_validator
    def validate_report(ctx: RunContext[InvestigationDeps], out: Report) -> Report:
        if out.anomaly.direction == "none":
            claimed = [s for s in out.affected_segments if s.confidence >= 0.5]
            claimed_events = [e for e in out.correlated_events if e.confidence >= 0.5]
            if claimed or claimed_events:
                raise ModelRetry(
                    'With anomaly direction "none", no segment or event may have confidence '
                    ">= 0.5: lower them or report the anomaly."
                )
        # the built-in analyst reports only what its steps found (checked on every scenario by
        # the tests); a model's report is checked here
        facts = None if ctx.model.system == AUTOPILOT else warehouse_facts(ctx.deps.executor)
        if facts is not None:
            grounding = check_report(out, ctx.deps.all_steps(), facts)
            if not grounding.ok:
                if ctx.retry >= ctx.max_retries:
                    raise UngroundedReport(grounding)
                raise ModelRetry(grounding.message)
        return out.model_copy(update={"fallback_reason": None})

    return agent


def warehouse_facts(executor: Executor) -> WarehouseFacts | None:
    """What the executor's warehouse vouches for; None for an executor without one (a test
    double), whose reports are then not checked."""
    from metric_anomaly_investigator.core.tools import ToolExecutor

    return (
        WarehouseFacts.from_schema(executor.schema) if isinstance(executor, ToolExecutor) else None
    )


# --------------------------------------------------------------------------------------------
# Running with retries, time bounds, usage limits and clear errors
# --------------------------------------------------------------------------------------------


class MalformedResponse(UnexpectedModelBehavior):
    """The provider's response could not be read (e.g. an empty ``choices`` list)."""


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
    """A one-line, user-facing reason for a failed model call, saying what to do."""
    if isinstance(exc, ModelCallError | MalformedResponse):
        return _first_line(exc)
    if isinstance(exc, UsageLimitExceeded):
        return f"usage limit reached ({_first_line(exc)}); raise MAI_MAX_REQUESTS or MAI_MAX_TOKENS"
    if isinstance(exc, ModelRequestTimeout):
        return (
            f"the model did not answer within {exc.timeout:g} s (MAI_REQUEST_TIMEOUT); check that "
            "its server is up, or raise MAI_REQUEST_TIMEOUT for a slow model"
        )
    if isinstance(exc, ModelTimeoutError):
        return (
            "the model's server did not respond in time; check that it is up, or raise "
            "MAI_REQUEST_TIMEOUT for a slow model"
        )
    if isinstance(exc, ModelHTTPError):
        return _http_error(exc)
    if isinstance(exc, ModelConnectionError):
        return (
            f"could not reach the model's server ({_first_line(exc)}); check the network "
            "and the server address (e.g. OPENAI_BASE_URL)"
        )
    if isinstance(exc, ModelAPIError):
        return f"model API error: {_first_line(exc)}"
    if isinstance(exc, UnexpectedModelBehavior) and _retries_exhausted(exc):
        cause = exc.__cause__
        detail = f": {_first_line(cause)}" if cause is not None else ""
        return f"the model gave no valid answer after {OUTPUT_RETRIES} retries{detail}"
    if isinstance(exc, UnexpectedModelBehavior):
        return f"unexpected model response: {_first_line(exc)}; try again, or use another model"
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _http_error(exc: ModelHTTPError, hint: str = "") -> str:
    body = exc.body
    detail = body.get("message") if isinstance(body, dict) else body
    text = _first_line(Exception(detail)) if detail else _HTTP_REASONS.get(exc.status_code, "")
    line = f"model API error {exc.status_code} from {exc.model_name}" + (
        f": {text}" if text else ""
    )
    if not hint and exc.status_code == 429:
        hint = "wait a minute and try again"
    elif not hint and exc.status_code >= 500:
        hint = "the provider is failing: try again later"
    return line + (f"; {hint}" if hint else "")


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


@dataclass
class CallBounds:
    """How long one model request (MAI_REQUEST_TIMEOUT) and one investigation (MAI_DEADLINE)
    may take; :meth:`start` starts the investigation's clock. A model call gets only what is left
    of the deadline; a tool step is not interrupted, but the model call after it then fails."""

    request_timeout: float = 120.0
    deadline: float = 900.0
    clock: Callable[[], float] = time.monotonic
    started: float | None = None

    def start(self) -> None:
        self.started = self.clock()

    def remaining(self) -> float:
        """Seconds left before the deadline (the whole deadline when not started)."""
        if self.started is None:
            return self.deadline
        return self.deadline - (self.clock() - self.started)

    def model_settings(self) -> ModelSettings:
        """PydanticAI's own per-request deadline: it covers every SDK retry and the whole
        response, for every model (the SDK's per-attempt ``timeout`` would only race it)."""
        return {"request_timeout": self.request_timeout}

    def expired(self) -> ModelCallError:
        return ModelCallError(
            f"the investigation did not finish within {self.deadline:g} s (MAI_DEADLINE); the "
            "steps done so far are kept: raise MAI_DEADLINE or ask a narrower question"
        )


async def run_agent(
    agent: Agent[InvestigationDeps, OutputT],
    deps: InvestigationDeps,
    *,
    model: Model,
    final: bool,
    usage: RunUsage,
    limits: UsageLimits,
    policy: RetryPolicy,
    bounds: CallBounds | None = None,
) -> OutputT:
    """One agent run with backoff on transient errors; usage accumulates into ``usage``.

    Every request is bounded by ``bounds.request_timeout`` and the whole run by what is left of
    the deadline. Faults a user must fix (a wrong key, an unknown tool, a server without the
    Responses API, the deadline) raise :class:`ModelCallError` with a one-line message.
    """
    bounds = bounds or CallBounds()
    prompt = render_prompt(deps, final=final)
    running = _RUNNING.set(deps)
    try:
        return await _run_with_backoff(agent, deps, prompt, model, usage, limits, policy, bounds)
    finally:
        _RUNNING.reset(running)


async def _run_with_backoff(
    agent: Agent[InvestigationDeps, OutputT],
    deps: InvestigationDeps,
    prompt: str,
    model: Model,
    usage: RunUsage,
    limits: UsageLimits,
    policy: RetryPolicy,
    bounds: CallBounds,
) -> OutputT:
    attempt = 0
    while True:
        remaining = bounds.remaining()
        if remaining <= 0:
            raise bounds.expired()
        with capture_run_messages() as messages:
            try:
                result = await _run_once(
                    agent,
                    prompt,
                    model=model,
                    deps=deps,
                    usage=usage,
                    usage_limits=limits,
                    model_settings=bounds.model_settings(),
                    timeout=remaining,
                )
            except RunTimedOut as exc:
                raise bounds.expired() from exc
            except (ModelAPIError, UnexpectedModelBehavior) as exc:
                advice = _advice(exc, model, messages)
                if advice is not None:
                    raise ModelCallError(advice) from exc
                if attempt >= policy.retries or not is_transient(exc):
                    raise
                await policy.sleep(min(policy.delay(attempt, exc), max(0.0, bounds.remaining())))
                attempt += 1
            else:
                return result.output


async def _run_once(agent: Agent[InvestigationDeps, OutputT], prompt: str, **kwargs: Any) -> Any:
    """``agent.run``; an error raised while a model adapter read the provider's response (an
    empty ``choices`` list gives an IndexError) becomes a :class:`MalformedResponse`."""
    try:
        return await agent.run(prompt, **kwargs)
    except (IndexError, KeyError, TypeError, AttributeError) as exc:
        if not _raised_in_adapter(exc):
            raise
        what = (
            "a response without any choices"
            if isinstance(exc, IndexError)
            else f"a response it could not read ({type(exc).__name__}: {_first_line(exc)})"
        )
        raise MalformedResponse(
            f"the model's server sent {what}; check that it serves this model with tool "
            "calling, or try another model"
        ) from exc


def _raised_in_adapter(exc: BaseException) -> bool:
    """Whether ``exc`` was raised inside a PydanticAI model adapter (``pydantic_ai.models.*``),
    i.e. while the provider's response was being read, not in our own code."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    module = str(tb.tb_frame.f_globals.get("__name__", ""))
    return module.startswith("pydantic_ai.models.") and module != "pydantic_ai.models.function"


def _advice(exc: BaseException, model: Model, messages: list[ModelMessage]) -> str | None:
    """A one-line message for the faults only the user can fix, else None."""
    if isinstance(exc, ModelAuthenticationError) or (
        isinstance(exc, ModelHTTPError) and exc.status_code == 401
    ):
        keys = _PROVIDER_KEYS.get(model.system)
        hint = f"check {keys[0] if keys else 'the API key'}"
        if isinstance(exc, ModelHTTPError):
            return _http_error(exc, hint)
        return f"the model API refused the credentials ({_first_line(exc)}); {hint}"
    if isinstance(exc, ModelHTTPError) and exc.status_code == 404 and _uses_responses_api(model):
        return _http_error(
            exc,
            f"if the server offers only chat completions, use --model openai-chat:{exc.model_name}",
        )
    unknown = _unknown_tools_called_last(messages)
    if isinstance(exc, UnexpectedModelBehavior) and unknown:
        names = ", ".join(repr(n) for n in unknown)
        return (
            f"the model kept calling a tool that does not exist ({names}); it may not support "
            "tool calling well: use another model, or --model autopilot"
        )
    return None


def _unknown_tools_called_last(messages: list[ModelMessage]) -> list[str]:
    """The tools the model's last response called that PydanticAI had already refused as
    unknown (a retried return with cause ``unknown_tool``)."""
    unknown = {
        part.tool_name
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, ToolReturnPart)
        and part.retry is not None
        and part.retry.cause == "unknown_tool"
    }
    last = next((m for m in reversed(messages) if isinstance(m, ModelResponse)), None)
    called = [p.tool_name for p in last.parts if isinstance(p, ToolCallPart)] if last else []
    return [name for name in dict.fromkeys(called) if name in unknown]


def _uses_responses_api(model: Model) -> bool:
    try:
        from pydantic_ai.models.openai import OpenAIResponsesModel
    except ImportError:  # the openai extra is not installed
        return False
    return isinstance(model, OpenAIResponsesModel)


# --------------------------------------------------------------------------------------------
# The report, grounded or the analyst's
# --------------------------------------------------------------------------------------------

FALLBACK_NOTE = (
    "The model's report could not be grounded in the data; this is the built-in analyst's report."
)


async def write_report(
    agent: Agent[InvestigationDeps, Report],
    deps: InvestigationDeps,
    *,
    model: Model,
    usage: RunUsage,
    limits: UsageLimits,
    policy: RetryPolicy,
    bounds: CallBounds,
) -> Report:
    """The Insights agent's report; when the model's stays ungrounded after its retries, the
    built-in analyst's report over the same steps, labelled (``fallback_reason``, a note)."""
    try:
        return await run_agent(
            agent,
            deps,
            model=model,
            final=True,
            usage=usage,
            limits=limits,
            policy=policy,
            bounds=bounds,
        )
    except UngroundedReport as ungrounded:
        reason = ungrounded.grounding.message
    report = await run_agent(
        agent,
        deps,
        model=resolve_model(AUTOPILOT, deps.executor),
        final=True,
        usage=RunUsage(),  # the analyst costs nothing and counts against no limit
        limits=limits,
        policy=policy,
        bounds=bounds,
    )
    return report.model_copy(
        update={"summary": f"{FALLBACK_NOTE} {report.summary}", "fallback_reason": reason}
    )


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
