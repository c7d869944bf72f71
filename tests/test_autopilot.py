"""The autopilot end to end: the demo's five questions, a world it has never seen, follow-ups."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from datetime import date, datetime
from pathlib import Path
from types import ModuleType

import pytest

from metric_anomaly_investigator.core.autopilot import AutopilotModel
from metric_anomaly_investigator.core.models import Investigation, Report
from metric_anomaly_investigator.core.orchestrator import Orchestrator
from metric_anomaly_investigator.core.tools import ToolExecutor
from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.generator import (
    DeploymentSpec,
    Effect,
    WorldSpec,
    generate_world,
)
from metric_anomaly_investigator.warehouse.scenarios import get_scenario
from metric_anomaly_investigator.warehouse.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[1]


def load_evals() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mai_evals", ROOT / "evals" / "eval.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["mai_evals"] = module
    spec.loader.exec_module(module)
    return module


def investigate(wh: Warehouse, question: str) -> tuple[Orchestrator, Investigation]:
    orch = Orchestrator(wh, model="autopilot")

    async def go() -> None:
        async for _event in orch.investigate(question):
            pass

    asyncio.run(go())
    assert orch.record is not None
    return orch, orch.record


def claimed(report: Report) -> tuple[list[dict[str, str]], set[str]]:
    segs = [s.filters for s in report.affected_segments if s.confidence >= 0.5]
    deps = {
        e.id for e in report.correlated_events if e.kind == "deployment" and e.confidence >= 0.5
    }
    return segs, deps


SEED_QUESTIONS = [q for qs in get_scenario("seed_android_india").questions.values() for q in qs]


@pytest.fixture(scope="module")
def seed_wh(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """The demo story at a size where a 70% drop in one market is clear but quick to build."""
    path = tmp_path_factory.mktemp("seed") / "seed.duckdb"
    generate_world(get_scenario("seed_android_india").world, path, users=12_000)
    wh = open_warehouse(path)
    yield wh
    wh.close()


@pytest.mark.parametrize("question", SEED_QUESTIONS)
def test_every_seed_question_names_the_real_cause(seed_wh: Warehouse, question: str) -> None:
    _, record = investigate(seed_wh, question)
    assert record.status == "completed", record.error
    report = record.report
    assert report is not None
    assert report.anomaly.direction == "drop" and report.anomaly.metric == "dau"
    assert report.anomaly.start is not None
    assert abs((report.anomaly.start - date(2026, 1, 28)).days) <= 1
    segs, deps = claimed(report)
    assert segs == [{"country": "IN", "platform": "android", "app_version": "2.3.0"}]
    assert deps == {"deploy_003"}
    text = f"{report.summary} {report.root_cause}"
    assert "deploy_003" in text and "android" in text and "IN" in text and "2.3.0" in text
    assert report.recommendations and 0.5 <= report.confidence <= 0.95


def test_the_misleading_hypothesis_is_refuted(seed_wh: Warehouse) -> None:
    _, record = investigate(seed_wh, get_scenario("seed_android_india").questions["misleading"][0])
    assert record.report is not None
    assert "platform=ios" in record.report.summary and "not supported" in record.report.summary
    tested = [s.parameters.get("segment") for s in record.steps if s.action == "statistical_test"]
    assert {"platform": "ios"} in tested


def test_follow_up_reuses_the_findings(seed_wh: Warehouse) -> None:
    orch, record = investigate(seed_wh, "Why did DAU drop?")

    async def go() -> None:
        async for _event in orch.follow_up("Is Brazil affected too?"):
            pass

    asyncio.run(go())
    follow = record.follow_ups[0]
    assert follow.status == "completed", follow.error
    assert any(s.parameters.get("segment") == {"country": "BR"} for s in follow.steps)
    assert follow.report is not None and follow.report.anomaly.direction == "drop"


def test_model_identity(seed_wh: Warehouse) -> None:
    model = AutopilotModel(ToolExecutor(seed_wh))
    assert model.model_name == "autopilot" and model.system == "autopilot"


# -- a world the autopilot was never tuned on: other dimension names, values and dates -----------


@pytest.fixture(scope="module")
def unseen_wh(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    at = datetime(2025, 8, 5, 11)
    spec = WorldSpec(
        start=date(2025, 5, 12),
        end=date(2025, 8, 24),
        users=12_000,
        seed=99,
        platform_col="device",
        country_col="market",
        channel_col="source",
        countries={"BR": 0.3, "MX": 0.25, "AR": 0.2, "CO": 0.15, "CL": 0.1},
        platform_by_country={},
        deployments=(
            DeploymentSpec("rel_ios_br", at, "ios", "3.0.0", regions=("BR",), adoption_days=0.8),
            DeploymentSpec("rel_web_301", datetime(2025, 8, 6, 9), "web", "3.0.1"),
        ),
        effects=(
            Effect(
                "users_leave",
                date(2025, 8, 5),
                segment={"device": "ios", "market": "BR", "app_version": "3.0.0"},
                factor=0.2,
            ),
        ),
    )
    path = tmp_path_factory.mktemp("unseen") / "unseen.duckdb"
    generate_world(spec, path)
    wh = open_warehouse(path)
    yield wh
    wh.close()


@pytest.mark.parametrize(
    "question",
    [
        "Why did daily active users fall in early August?",
        "Is something wrong with our web users in Mexico?",
    ],
)
def test_a_world_never_seen(unseen_wh: Warehouse, question: str) -> None:
    evals = load_evals()
    _, record = investigate(unseen_wh, question)
    report = record.report
    assert report is not None, record.error
    assert report.anomaly.direction == "drop" and report.anomaly.start is not None
    assert abs((report.anomaly.start - date(2025, 8, 5)).days) <= 1
    segs, deps = claimed(report)
    window = (date(2025, 8, 5), date(2025, 8, 24))
    truth = [{"device": "ios", "market": "BR"}]
    ok, why = evals.segments_equivalent(unseen_wh, segs, truth, window)
    assert ok, why
    assert deps == {"rel_ios_br"}
