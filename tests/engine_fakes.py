"""Test doubles for the engine: a minimal executor and scripted FunctionModels.

A scripted model answers the Step Decision agent from a list of turns (a decision dict, an
exception to raise, or an awaitable to wait on) and the Insights agent with a report dict.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelResponse,
    RetryPromptPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from metric_anomaly_investigator.core.models import Action, StepResult

REPORT: dict[str, Any] = {
    "summary": "DAU dropped 12% from 2026-01-28, driven by Android in IN on app 2.3.0.",
    "root_cause": "deploy_003 shipped app 2.3.0 to Android in IN.",
    "anomaly": {
        "metric": "dau",
        "direction": "drop",
        "start": "2026-01-28",
        "end": None,
        "change_pct": -12.0,
        "p_value": 0.001,
    },
    "affected_segments": [
        {
            "filters": {"platform": "android", "country": "IN"},
            "change_pct": -40.0,
            "share_of_change": 0.9,
            "confidence": 0.9,
            "description": "Android users in India",
        }
    ],
    "correlated_events": [
        {
            "kind": "deployment",
            "id": "deploy_003",
            "at": "2026-01-28T10:00:00Z",
            "description": "app 2.3.0",
            "confidence": 0.85,
        }
    ],
    "recommendations": ["Roll back 2.3.0 on Android in IN."],
    "confidence": 0.85,
}


def decision(action: str, reasoning: str = "next", **params: Any) -> dict[str, Any]:
    return {"reasoning": reasoning, "action": {"action": action, **params}}


DETECT = decision("detect_anomaly", "establish the anomaly", metric="dau")
SEGMENT = decision("segment_by_dimension", "break it down", metric="dau", dimension="platform")
DRILL = decision("drill_down", "localize", metric="dau")
INSIGHTS = decision("generate_insights", "enough evidence")


class InvalidFakeAction(ValueError):
    pass


@dataclass
class FakeExecutor:
    """Validates names against a tiny schema; execution can fail or block on demand."""

    metrics: tuple[str, ...] = ("dau", "events")
    dimensions: tuple[str, ...] = ("platform", "country")
    fail_actions: set[str] = field(default_factory=set)
    block: asyncio.Event | None = None
    block_on_call: int = 0
    executed: list[Action] = field(default_factory=list)
    resets: int = 0

    def schema_summary(self) -> str:
        return (
            "metrics: dau, events\ndimensions: platform (android, ios), country (IN, US)\n"
            "dates: 2026-01-01 .. 2026-02-10"
        )

    def reset(self) -> None:
        self.resets += 1

    def validate(self, action: Action) -> None:
        metric = getattr(action, "metric", None)
        if metric is not None and metric not in self.metrics:
            raise InvalidFakeAction(f"unknown metric {metric!r}; valid: {', '.join(self.metrics)}")
        dimension = getattr(action, "dimension", None)
        if dimension is not None and dimension not in self.dimensions:
            raise InvalidFakeAction(
                f"unknown dimension {dimension!r}; valid: {', '.join(self.dimensions)}"
            )

    async def execute(self, action: Action) -> StepResult:
        self.executed.append(action)
        if self.block is not None and len(self.executed) == self.block_on_call:
            await self.block.wait()
        if action.action in self.fail_actions:
            raise RuntimeError(f"{action.action} exploded")
        return StepResult(
            success=True,
            findings=[f"{action.action} found something"],
            data={"value": 0.123456789, "series": list(range(20))},
        )


Turn = dict[str, Any] | BaseException | Callable[[], Awaitable[None]]


@dataclass
class Script:
    """The turns of a scripted model and what it was sent."""

    steps: list[Turn]
    report: list[Turn] = field(default_factory=lambda: [REPORT])
    prompts: list[str] = field(default_factory=list)
    retries: list[str] = field(default_factory=list)
    calls: int = 0

    def model(self, name: str = "scripted") -> FunctionModel:
        return FunctionModel(self._respond, model_name=name)

    async def _respond(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        self.calls += 1
        last = messages[-1]
        for part in last.parts:
            if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                self.prompts.append(part.content)
            elif isinstance(part, RetryPromptPart | ToolReturnPart):
                self.retries.append(str(part.content))
        tool = info.output_tools[0]
        is_report = "summary" in tool.parameters_json_schema.get("properties", {})
        queue = self.report if is_report else self.steps
        turn = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(turn, BaseException):
            raise turn
        if callable(turn):
            await turn()
            turn = INSIGHTS
        return ModelResponse(parts=[ToolCallPart(tool.name, turn)])


class Clock:
    """A deterministic clock: each call one second later."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 30, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def counter_ids() -> Callable[[], str]:
    n = iter(range(1, 1000))
    return lambda: f"{next(n):032x}"
