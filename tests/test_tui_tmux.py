"""Smoke test of the real program in a real terminal: tmux runs `mai`, we type a question as soon
as the first frame is up (before the warehouse is open), wait (bounded) and read the root cause
off the captured pane."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

QUESTION = "Why did dau drop at the end of January?"
WAIT_SECONDS = 240.0  # generous for a loaded CI machine, but bounded
TYPE_SECONDS = 30.0
POLL_SECONDS = 0.25
TMUX_TIMEOUT = 20.0


def mai() -> list[str]:
    script = Path(sys.executable).with_name("mai")
    return (
        [str(script)] if script.exists() else [sys.executable, "-m", "metric_anomaly_investigator"]
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding a small pre-generated default world (found as the demo)."""
    from metric_anomaly_investigator.warehouse.demo import DEFAULT_SCENARIO, default_warehouse_path
    from metric_anomaly_investigator.warehouse.scenarios import generate_scenario

    root = tmp_path_factory.mktemp("mai-data")
    demo = root / default_warehouse_path().name
    generate_scenario(DEFAULT_SCENARIO, demo, users=3000, seed=7)
    return root


@dataclass
class Pane:
    """One `mai` in a tmux pane on a private tmux server (``-L``), so that a user's own tmux
    (and its environment) is never involved."""

    socket: str
    target: str

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=TMUX_TIMEOUT,
        )

    def capture(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.target).stdout

    def dead(self) -> bool:
        """The program exited (the pane is kept, with remain-on-exit, to show why)."""
        shown = self.tmux("display-message", "-p", "-t", self.target, "#{pane_dead}").stdout
        return shown.strip() == "1"

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", self.target, "-l", text)

    def press(self, key: str) -> None:
        self.tmux("send-keys", "-t", self.target, key)

    def wait_for(self, *needles: str, timeout: float = WAIT_SECONDS, doing: str = "") -> str:
        """Poll the pane until every needle is on it; fail with the pane's text otherwise."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.capture()
            if all(n in screen for n in needles):
                return screen
            if self.dead():
                break
            time.sleep(POLL_SECONDS)
        why = "mai exited" if self.dead() else f"not there after {timeout:.0f} s"
        raise AssertionError(
            f"{doing or 'waiting'}: {needles} {why}; the pane shows:\n{screen or '(nothing)'}"
        )


@pytest.fixture
def pane(data_dir: Path) -> Iterator[Pane]:
    socket = f"mai-smoke-{uuid.uuid4().hex[:8]}"
    env = {"MAI_DATA_DIR": str(data_dir), "MAI_MODEL": "autopilot", "TERM": "xterm-256color"}
    exports = " ".join(f"{k}={v}" for k, v in env.items())
    command = f"env {exports} {' '.join(mai())}"
    pane = Pane(socket, f"{socket}:0.0")
    # One tmux call: no config file, a 140x42 window running `mai`, its pane kept if it exits.
    started = pane.tmux(
        "-f", "/dev/null",
        "new-session", "-d", "-s", socket, "-x", "140", "-y", "42", command,
        ";", "set-option", "-w", "-t", socket, "remain-on-exit", "on",
    )  # fmt: skip
    if started.returncode != 0:
        pytest.skip(f"tmux cannot start a session here: {started.stderr.strip()}")
    try:
        yield pane
    finally:
        pane.tmux("kill-server")


def test_mai_finds_the_root_cause_on_screen(pane: Pane) -> None:
    # The first frame: the question box, before the warehouse is open. A question entered now
    # is queued, not dropped.
    pane.wait_for("Ask why a metric moved", timeout=TYPE_SECONDS, doing="drawing the first frame")
    pane.type(QUESTION)
    pane.wait_for(QUESTION[:40], timeout=TYPE_SECONDS, doing="typing the question")
    pane.press("Enter")
    screen = pane.wait_for("Root cause", "completed", doing="investigating")
    assert f"Q {QUESTION}" in screen, screen
    assert "deploy_003" in screen, screen
    assert "android" in screen.lower(), screen
    pane.press("C-q")
    deadline = time.monotonic() + TYPE_SECONDS
    while not pane.dead() and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    assert pane.dead(), f"mai did not quit on Ctrl+Q:\n{pane.capture()}"
