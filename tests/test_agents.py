"""Prompt rendering, error classification, backoff and model selection."""

from __future__ import annotations

import asyncio

import pytest
from engine_fakes import FakeExecutor
from pydantic_ai.exceptions import (
    ModelHTTPError,
    ModelRequestTimeout,
    UnexpectedModelBehavior,
    UsageLimitExceeded,
)
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.test import TestModel
from pydantic_ai.usage import RunUsage, UsageLimits

from metric_anomaly_investigator.core.agents import (
    CallBounds,
    InvestigationDeps,
    ModelCallError,
    ModelConfigError,
    RetryPolicy,
    build_step_agent,
    compact_data,
    describe_error,
    is_transient,
    model_label,
    render_findings,
    render_prompt,
    resolve_model,
    run_agent,
)
from metric_anomaly_investigator.core.models import Investigation, Step


def step(index: int, *, success: bool = True) -> Step:
    return Step(
        index=index,
        action="segment_by_dimension",
        reasoning="break it down",
        parameters={"metric": "dau", "dimension": "platform"},
        success=success,
        findings=["android -40%"] if success else [],
        data={"rows": list(range(30)), "chart": {"title": "big"}, "x": 1 / 3} if success else None,
        error=None if success else "InvalidAction: nope",
    )


def test_compact_data_rounds_cuts_and_drops_the_chart() -> None:
    text = compact_data({"rows": list(range(30)), "chart": {"title": "big"}, "x": 1 / 3})
    assert '"chart"' not in text
    assert '"x":0.3333' in text
    assert '"… 22 more"' in text
    assert compact_data(None) == "{}"
    assert len(compact_data({"s": "y" * 5000})) == 1500


def test_render_findings_shows_successes_and_failures() -> None:
    text = render_findings([step(1), step(2, success=False)])
    assert 'Step 1: segment_by_dimension {"metric":"dau","dimension":"platform"}' in text
    assert "  - android -40%" in text
    assert "FAILED: InvalidAction: nope" in text
    assert render_findings([]) == "(no steps yet)"


def test_render_prompt_carries_question_budget_and_earlier_findings() -> None:
    from datetime import UTC, datetime

    earlier = Investigation(
        id="x", question="first?", model="m", warehouse="w", started_at=datetime.now(UTC)
    )
    earlier.steps.append(step(1))
    deps = InvestigationDeps(
        executor=FakeExecutor(), question="second?", steps=[step(2)], earlier=[earlier], max_steps=5
    )
    prompt = render_prompt(deps, final=False)
    assert prompt.index("## Earlier") < prompt.index("## Question\nsecond?")
    assert "1 of at most 5 steps used" in prompt
    assert prompt.endswith("Choose the next action.")
    assert render_prompt(deps, final=True).endswith("Write the report.")
    assert deps.data_steps == 2


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (ModelHTTPError(429, "m"), True),
        (ModelHTTPError(503, "m"), True),
        (ModelHTTPError(401, "m"), False),
        (ModelHTTPError(400, "m"), False),
        (UnexpectedModelBehavior("Received empty model response"), True),
        (UnexpectedModelBehavior("Exceeded maximum output retries (3)"), False),
        (UsageLimitExceeded("The next request would exceed the request_limit of 3"), False),
        (ModelRequestTimeout("m", 120), False),  # a model that hung once is not asked again
    ],
)
def test_is_transient(exc: Exception, transient: bool) -> None:
    assert is_transient(exc) is transient


def test_describe_error_is_one_line() -> None:
    assert describe_error(ModelHTTPError(401, "claude", body={"a": 1})).startswith(
        "model API error 401 from claude"
    )
    limit = describe_error(UsageLimitExceeded("The next request would exceed\nthe limit"))
    assert "MAI_MAX_REQUESTS" in limit and "\n" not in limit
    assert describe_error(KeyError("x")) == "KeyError: 'x'"


@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (
            ModelRequestTimeout("gpt-4o", 120),
            "the model did not answer within 120 s (MAI_REQUEST_TIMEOUT); check that its server "
            "is up, or raise MAI_REQUEST_TIMEOUT for a slow model",
        ),
        (
            ModelHTTPError(503, "claude", body={"message": "overloaded"}),
            "model API error 503 from claude: overloaded; the provider is failing: try again later",
        ),
        (ModelHTTPError(400, "claude"), "model API error 400 from claude"),
        (ModelCallError("use --model openai-chat:gpt-4o"), "use --model openai-chat:gpt-4o"),
    ],
)
def test_describe_error_says_what_to_do(exc: Exception, message: str) -> None:
    assert describe_error(exc) == message


class Ticks:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_call_bounds_count_down_from_the_start() -> None:
    clock = Ticks()
    bounds = CallBounds(request_timeout=30, deadline=100, clock=clock)
    assert bounds.remaining() == 100  # not started
    bounds.start()
    clock.now = 60
    assert bounds.remaining() == 40
    assert bounds.model_settings() == {"request_timeout": 30}


def _run(model: FunctionModel, bounds: CallBounds) -> object:
    deps = InvestigationDeps(executor=FakeExecutor(), question="why?")
    return asyncio.run(
        run_agent(
            build_step_agent(),
            deps,
            model=model,
            final=False,
            usage=RunUsage(),
            limits=UsageLimits(),
            policy=RetryPolicy(retries=2, base_delay=0.0),
            bounds=bounds,
        )
    )


def test_past_the_deadline_no_model_is_asked() -> None:
    calls: list[int] = []

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        calls.append(1)
        raise AssertionError("the model must not be asked")

    clock = Ticks()
    bounds = CallBounds(deadline=900, clock=clock)
    bounds.start()
    clock.now = 901
    with pytest.raises(ModelCallError) as info:
        _run(FunctionModel(respond), bounds)
    assert str(info.value) == (
        "the investigation did not finish within 900 s (MAI_DEADLINE); the steps done so far "
        "are kept: raise MAI_DEADLINE or ask a narrower question"
    )
    assert calls == []


def test_a_model_that_keeps_calling_an_unknown_tool_is_told_apart_from_bad_answers() -> None:
    calls: list[int] = []

    def unknown_always(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[ToolCallPart("run_sql", {"q": "select 1"})])

    def unknown_once_then_invalid(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        calls.append(1)
        name = "run_sql" if len(calls) == 1 else info.output_tools[0].name
        return ModelResponse(parts=[ToolCallPart(name, {"reasoning": "?", "action": {}})])

    with pytest.raises(ModelCallError) as unknown:
        _run(FunctionModel(unknown_always), CallBounds())
    assert str(unknown.value) == (
        "the model kept calling a tool that does not exist ('run_sql'); it may not support "
        "tool calling well: use another model, or --model autopilot"
    )
    # one unknown call, then answers that never validate: exhausted output retries, not a tool
    with pytest.raises(UnexpectedModelBehavior) as invalid:
        _run(FunctionModel(unknown_once_then_invalid), CallBounds())
    assert describe_error(invalid.value).startswith(
        "the model gave no valid answer after 3 retries"
    )


def test_an_index_error_in_our_own_code_is_not_blamed_on_the_server() -> None:
    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return [][0]  # a bug on our side, not an empty response from a provider

    with pytest.raises(IndexError):
        _run(FunctionModel(respond), CallBounds())


def test_retry_policy_backs_off_exponentially_and_honours_retry_after() -> None:
    policy = RetryPolicy(retries=3, base_delay=0.5, max_delay=3.0)
    plain = ModelHTTPError(503, "m")
    assert [policy.delay(n, plain) for n in range(4)] == [0.5, 1.0, 2.0, 3.0]
    hinted = ModelHTTPError(429, "m", retry_after=2.5)
    assert policy.delay(0, hinted) == 2.5


@pytest.mark.parametrize(
    ("name", "env", "message"),
    [
        ("anthropic:claude-sonnet-4-5", "ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY is not set"),
        ("openai-chat:gpt-4o", "OPENAI_API_KEY", "OPENAI_API_KEY is not set"),
        ("google-gla:gemini-2.5-pro", "GOOGLE_API_KEY", "GOOGLE_API_KEY is not set"),
    ],
)
def test_missing_api_key(
    monkeypatch: pytest.MonkeyPatch, name: str, env: str, message: str
) -> None:
    for key in (env, "GEMINI_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(ModelConfigError, match=message) as info:
        resolve_model(name)
    assert str(info.value).endswith("export it or use --model autopilot")


@pytest.mark.parametrize("name", ["nonsense", "foo:bar", "  "])
def test_unknown_model(name: str) -> None:
    with pytest.raises(ModelConfigError) as info:
        resolve_model(name)
    assert "\n" not in str(info.value)


def test_known_models_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    model = resolve_model("anthropic:claude-sonnet-4-5")
    assert model_label(model) == "anthropic:claude-sonnet-4-5"
    assert isinstance(resolve_model("test"), TestModel)
    with pytest.raises(ModelConfigError, match="needs a warehouse"):
        resolve_model("autopilot")
