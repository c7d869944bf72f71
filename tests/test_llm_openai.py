"""A real provider client (``openai-chat:``) against a fake OpenAI-compatible server on loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from engine_fakes import DETECT, INSIGHTS, REPORT, SEGMENT
from fake_openai import Reply, fake_openai_server
from pydantic_ai.models import override_allow_model_requests

from metric_anomaly_investigator.core.models import Investigation
from metric_anomaly_investigator.core.orchestrator import Orchestrator
from metric_anomaly_investigator.settings import Settings
from metric_anomaly_investigator.warehouse.connect import open_warehouse

MODEL = "openai-chat:gpt-4o"


def investigate(fake_url: str, world: Path, monkeypatch: pytest.MonkeyPatch) -> Investigation:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_url)

    async def go() -> Investigation:
        with open_warehouse(world) as wh:
            orch = Orchestrator(
                wh, model=MODEL, settings=Settings(request_retries=2), retry_base_delay=0.01
            )
            async for _ in orch.investigate("Why did DAU drop?"):
                pass
        assert orch.record is not None
        return orch.record

    with override_allow_model_requests(True):
        return asyncio.run(go())


def test_full_investigation_through_a_fake_openai_server(
    small_world_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = [
        Reply(status=429, headers={"retry-after-ms": "5"}),  # rate limited: retried
        Reply(arguments=DETECT),
        Reply(arguments='{"reasoning": "oops", "action": {"action": '),  # malformed arguments
        Reply(arguments=SEGMENT),
        Reply(arguments=INSIGHTS),
        Reply(arguments=REPORT),
    ]
    with fake_openai_server(script) as fake:
        record = investigate(fake.base_url, small_world_path, monkeypatch)

    assert record.status == "completed", record.error
    assert record.model == MODEL
    assert [s.action for s in record.steps] == ["detect_anomaly", "segment_by_dimension"]
    assert all(s.success for s in record.steps)
    assert record.report is not None and record.report.anomaly.direction == "drop"
    assert len(fake.requests) == 6 and not fake.script
    # the real schema reached the model, and the malformed answer came back as a retry prompt
    system = " ".join(
        str(m["content"]) for m in fake.requests[1]["messages"] if m["role"] == "system"
    )
    assert "Metrics: dau" in system and "platform" in system
    retry_messages = [m for m in fake.requests[3]["messages"] if m["role"] == "tool"]
    assert retry_messages and "Invalid JSON" in retry_messages[-1]["content"]
    # usage is what the server reported, and gpt-4o is priced
    assert record.usage.requests == 5
    assert record.usage.input_tokens == 5000 and record.usage.output_tokens == 250
    assert record.usage.cost_usd is not None and record.usage.cost_usd > 0


def test_a_garbage_response_is_retried_then_surfaced(
    small_world_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = [Reply(raw_body='{"unexpected": true}')] * 3
    with fake_openai_server(script) as fake:
        record = investigate(fake.base_url, small_world_path, monkeypatch)

    assert record.status == "failed" and record.steps == []
    assert record.error is not None and "\n" not in record.error
    assert record.error.startswith("unexpected model response")
    assert len(fake.requests) == 3  # one attempt + request_retries=2


def test_persistent_rate_limit_fails_with_the_status(
    small_world_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = [Reply(status=429, headers={"retry-after-ms": "1"})] * 20
    with fake_openai_server(script) as fake:
        record = investigate(fake.base_url, small_world_path, monkeypatch)

    assert record.status == "failed"
    assert record.error is not None and "429" in record.error
    assert len(fake.requests) == 9  # (1 + 2 SDK retries) x (1 + 2 orchestrator retries)
