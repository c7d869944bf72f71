"""A real provider client against a fake OpenAI-compatible server on loopback.

Every fault a hosted or self-hosted model can show ends the run with one line that says what to
do: a server that never answers (bounded by ``MAI_REQUEST_TIMEOUT`` and ``MAI_DEADLINE``, set to
half a second here), an empty ``choices`` list, a tool that does not exist, ``openai:`` against a
server without the Responses API, a rejected key, malformed responses. A report that cites what
the steps do not show goes back to the model, then falls back to the built-in analyst's.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from engine_fakes import DETECT, INSIGHTS, REPORT, SEGMENT, decision
from fake_openai import CHAT_PATH, UNGROUNDED_REPORT, Reply, fake_openai_server
from pydantic_ai.models import override_allow_model_requests

from metric_anomaly_investigator.core.agents import FALLBACK_NOTE
from metric_anomaly_investigator.core.models import Investigation
from metric_anomaly_investigator.core.orchestrator import Orchestrator
from metric_anomaly_investigator.settings import Settings
from metric_anomaly_investigator.warehouse.connect import open_warehouse

MODEL = "openai-chat:gpt-4o"
CHECK = decision("check_deployments", "what changed then")
# what the small seed world's steps above show: android (a breakdown row), IN (a schema value),
# deploy_003 (found by check_deployments), dates inside the data
GROUNDED = {
    **REPORT,
    "anomaly": {**REPORT["anomaly"], "change_pct": None},
    "affected_segments": [{**REPORT["affected_segments"][0], "change_pct": None}],
}


def investigate(
    fake_url: str,
    world: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    model: str = MODEL,
    **settings: Any,
) -> Investigation:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_url)

    async def go() -> Investigation:
        with open_warehouse(world) as wh:
            orch = Orchestrator(
                wh,
                model=model,
                settings=Settings(**{"request_retries": 2, **settings}),
                retry_base_delay=0.01,
            )
            async for _ in orch.investigate("Why did DAU drop?"):
                pass
        assert orch.record is not None
        return orch.record

    with override_allow_model_requests(True):
        return asyncio.run(go())


def tool_messages(request: dict[str, Any]) -> list[str]:
    return [str(m["content"]) for m in request["messages"] if m["role"] == "tool"]


def test_full_investigation_through_a_fake_openai_server(
    small_world_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = [
        Reply(status=429, headers={"retry-after-ms": "5"}),  # rate limited: retried
        Reply(arguments=DETECT),
        Reply(arguments='{"reasoning": "oops", "action": {"action": '),  # malformed arguments
        Reply(arguments=SEGMENT),
        Reply(arguments=CHECK),
        Reply(arguments=INSIGHTS),
        Reply(arguments=GROUNDED),
    ]
    with fake_openai_server(script) as fake:
        record = investigate(fake.base_url, small_world_path, monkeypatch)

    assert record.status == "completed", record.error
    assert record.model == MODEL
    assert [s.action for s in record.steps] == [
        "detect_anomaly",
        "segment_by_dimension",
        "check_deployments",
    ]
    assert all(s.success for s in record.steps)
    assert record.report is not None and record.report.anomaly.direction == "drop"
    assert record.report.fallback_reason is None
    assert record.report.summary == REPORT["summary"]
    assert len(fake.requests) == 7 and not fake.script
    # the real schema reached the model, and the malformed answer came back as a retry prompt
    system = " ".join(
        str(m["content"]) for m in fake.requests[1]["messages"] if m["role"] == "system"
    )
    assert "Metrics: dau" in system and "platform" in system
    retries = tool_messages(fake.requests[3])
    assert retries and "Invalid JSON" in retries[-1]
    # usage is what the server reported, and gpt-4o is priced
    assert record.usage.requests == 6
    assert record.usage.input_tokens == 6000 and record.usage.output_tokens == 300
    assert record.usage.cost_usd is not None and record.usage.cost_usd > 0


def test_an_ungrounded_report_is_retried_then_replaced_by_the_analysts(
    small_world_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = [
        Reply(arguments=DETECT),
        Reply(arguments=SEGMENT),
        Reply(arguments=INSIGHTS),
        *[Reply(arguments=UNGROUNDED_REPORT)] * 4,  # the first answer and three retries
    ]
    with fake_openai_server(script) as fake:
        record = investigate(fake.base_url, small_world_path, monkeypatch)

    expected = (
        "The report is not grounded in the findings: "
        "metric 'revenue' was not investigated and is not in the warehouse; metrics: dau, "
        "events, events_per_user, sessions_per_user, wau; "
        "segment planet=Mars does not appear in any step or in the warehouse; valid segments "
        "found: platform=android, platform=ios, platform=web; "
        "deployment deploy_999 does not appear in any step; no step found any deployment or "
        "event. Cite only metrics, segments, deployments, dates and figures that the findings "
        "show."
    )
    # every retry named exactly what was unsupported
    assert [json.loads(tool_messages(r)[-1]) for r in fake.requests[4:]] == [
        {"error": expected}
    ] * 3
    assert record.status == "completed" and record.error is None
    report = record.report
    assert report is not None
    assert report.fallback_reason == expected
    assert report.summary.startswith(FALLBACK_NOTE + " dau dropped")
    assert report.anomaly.metric == "dau" and report.anomaly.direction == "drop"
    assert all("planet" not in s.filters for s in report.affected_segments)
    # no deployment check ran, so the analyst does not rule deployments out
    assert "deployment" not in report.summary.lower()
    assert "deployment" not in report.root_cause.lower()
    assert record.usage.requests == 7  # the model's requests only: the analyst is free


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"request_timeout": 0.5},
            "the model did not answer within 0.5 s (MAI_REQUEST_TIMEOUT); check that its "
            "server is up, or raise MAI_REQUEST_TIMEOUT for a slow model",
        ),
        (
            {"request_timeout": 60, "deadline": 0.5},
            "the investigation did not finish within 0.5 s (MAI_DEADLINE); the steps done so "
            "far are kept: raise MAI_DEADLINE or ask a narrower question",
        ),
    ],
)
def test_a_model_that_never_answers_is_bounded(
    small_world_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    settings: dict[str, float],
    message: str,
) -> None:
    with fake_openai_server([Reply(hang=True)] * 5) as fake:
        record = investigate(fake.base_url, small_world_path, monkeypatch, **settings)

    assert record.status == "failed" and record.steps == []
    assert record.error == message
    assert len(fake.requests) == 1  # a timeout is not retried


@pytest.mark.parametrize(
    ("script", "model", "message", "paths"),
    [
        (
            [Reply(empty_choices=True)] * 5,
            MODEL,
            "the model's server sent a response without any choices; check that it serves "
            "this model with tool calling, or try another model",
            [CHAT_PATH] * 3,  # one attempt + request_retries=2
        ),
        (
            [Reply(arguments=DETECT, tool_name="run_sql")] * 5,
            MODEL,
            "the model kept calling a tool that does not exist ('run_sql'); it may not support "
            "tool calling well: use another model, or --model autopilot",
            [CHAT_PATH] * 4,  # one call + three corrections, not retried
        ),
        (
            [Reply()] * 5,
            "openai:gpt-4o",
            "model API error 404 from gpt-4o: Not found: /v1/responses; if the server offers "
            "only chat completions, use --model openai-chat:gpt-4o",
            ["/v1/responses"],
        ),
        (
            [Reply(status=401)] * 5,
            MODEL,
            "model API error 401 from gpt-4o: scripted error; check OPENAI_API_KEY",
            [CHAT_PATH],
        ),
        (
            [Reply(raw_body='{"unexpected": true}')] * 5,
            MODEL,
            "unexpected model response: Invalid response from openai chat completions "
            "endpoint: 4 validation errors for ChatCompletion; try again, or use another model",
            [CHAT_PATH] * 3,
        ),
    ],
    ids=["empty-choices", "unknown-tool", "responses-404", "bad-key", "garbage"],
)
def test_model_faults_end_in_one_line_that_says_what_to_do(
    small_world_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    script: list[Reply],
    model: str,
    message: str,
    paths: list[str],
) -> None:
    with fake_openai_server(script) as fake:
        record = investigate(fake.base_url, small_world_path, monkeypatch, model=model)

    assert record.status == "failed" and record.steps == []
    assert record.error == message
    assert fake.paths == paths


def test_persistent_rate_limit_fails_with_the_status(
    small_world_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = [Reply(status=429, headers={"retry-after-ms": "1"})] * 20
    with fake_openai_server(script) as fake:
        record = investigate(fake.base_url, small_world_path, monkeypatch)

    assert record.status == "failed"
    assert record.error == (
        "model API error 429 from gpt-4o: scripted error; wait a minute and try again"
    )
    assert len(fake.requests) == 9  # (1 + 2 SDK retries) x (1 + 2 orchestrator retries)
