"""Smoke test of the real program in a real terminal: tmux runs `mai`, we type a question,
wait (bounded) and read the root cause off the captured pane."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

QUESTION = "Why did dau drop at the end of January?"
WAIT_SECONDS = 180.0


def mai() -> list[str]:
    script = Path(sys.executable).with_name("mai")
    return (
        [str(script)] if script.exists() else [sys.executable, "-m", "metric_anomaly_investigator"]
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding a small pre-generated default world (found as the demo)."""
    from metric_anomaly_investigator.warehouse.connect import DEFAULT_SCENARIO
    from metric_anomaly_investigator.warehouse.scenarios import generate_scenario

    root = tmp_path_factory.mktemp("mai-data")
    generate_scenario(DEFAULT_SCENARIO, root / f"{DEFAULT_SCENARIO}.duckdb", users=3000, seed=7)
    return root


@pytest.fixture
def session(data_dir: Path) -> Iterator[str]:
    name = f"mai-smoke-{uuid.uuid4().hex[:8]}"
    env = {"MAI_DATA_DIR": str(data_dir), "MAI_MODEL": "autopilot", "TERM": "xterm-256color"}
    exports = " ".join(f"{k}={v}" for k, v in env.items())
    command = f"env {exports} {' '.join(mai())}"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", name, "-x", "140", "-y", "42", command],
        check=True,
        env={**os.environ, **env},
    )
    try:
        yield name
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], check=False)


def capture(name: str) -> str:
    result = subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", name], capture_output=True, text=True, check=False
    )
    return result.stdout


def wait_for(name: str, *needles: str, timeout: float = WAIT_SECONDS) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = capture(name)
        if all(n in screen for n in needles):
            return screen
        time.sleep(0.5)
    raise AssertionError(f"{needles} not on screen after {timeout:.0f} s:\n{screen}")


def test_mai_finds_the_root_cause_on_screen(session: str) -> None:
    wait_for(session, "Try one of these")  # the warehouse is open
    subprocess.run(["tmux", "send-keys", "-t", session, "-l", QUESTION], check=True)
    subprocess.run(["tmux", "send-keys", "-t", session, "Enter"], check=True)
    screen = wait_for(session, "Root cause", "completed")
    assert "deploy_003" in screen
    assert "android" in screen.lower()
    subprocess.run(["tmux", "send-keys", "-t", session, "C-q"], check=True)
