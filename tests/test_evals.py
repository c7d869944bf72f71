"""The evals harness on every scenario, one question style each, with the autopilot.

The worlds are smaller than the evals' defaults (12,000 users) to keep this quick; the full
run is ``uv run python evals/eval.py``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from test_autopilot import load_evals

from metric_anomaly_investigator.warehouse.connect import open_warehouse
from metric_anomaly_investigator.warehouse.scenarios import SCENARIOS

STYLES = ("clear", "vague", "misleading")
USERS = 12_000


def test_every_scenario_passes(tmp_path_factory: pytest.TempPathFactory) -> None:
    evals = load_evals()
    styles = {name: STYLES[i % len(STYLES)] for i, name in enumerate(SCENARIOS)}
    report = evals.run(
        "autopilot",
        None,
        USERS,
        tmp_path_factory.mktemp("eval-worlds"),
        styles=styles,
        progress=False,
    )
    failed = {
        case.name: {k: a.value for k, a in case.assertions.items()}
        for case in report.cases
        if not all(a.value for a in case.assertions.values())
    }
    assert not report.failures, [f.error_message for f in report.failures]
    assert not failed, failed
    passed, total = evals.pass_rate(report)
    assert passed == total >= len(SCENARIOS)


def test_segment_equivalence(small_world_path: Path) -> None:
    evals = load_evals()
    window = (date(2026, 1, 28), date(2026, 2, 11))
    truth = [{"platform": "android", "country": "IN"}]
    with open_warehouse(small_world_path) as wh:
        same = evals.segments_equivalent(
            wh, [{"Platform": "android", "country": "in"}], truth, window
        )
        assert not same[0]  # dimension names must match exactly
        assert evals.segments_equivalent(
            wh, [{"platform": "Android", "country": "in"}], truth, window
        )[0]
        rows = [{"platform": "android", "country": "IN", "app_version": "2.3.0"}]
        assert evals.segments_equivalent(wh, rows, truth, window) == (True, "same rows")
        assert not evals.segments_equivalent(wh, [{"country": "IN"}], truth, window)[0]
        assert not evals.segments_equivalent(wh, [], truth, window)[0]
        assert evals.segments_equivalent(wh, [], [], window)[0]


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    evals = load_evals()
    assert evals.main(["--scenarios", "nope"]) == 2
    assert "Unknown scenario" in capsys.readouterr().err
