"""Killed runs keep every finished step: SIGTERM, SIGKILL and a double Ctrl-C (two SIGINT 20 ms
apart) stop a real ``mai investigate --save`` subprocess after its second step; the saved file
loads, holds those steps, says how the run ended, and ``--continue`` finishes it.

The subprocess is ``tests/slow_mai.py``: the real command line with each warehouse step slowed
down, so the signal reliably lands between the second step and the report. Waits are bounded
polls of the saved file; nothing asserts on timing.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from metric_anomaly_investigator.cli import main
from metric_anomaly_investigator.core.models import Investigation
from metric_anomaly_investigator.core.store import (
    InvestigationStore,
    StoreError,
    is_interrupted,
    load_investigation,
)

QUESTION = "Why did DAU drop?"
SLOW_MAI = Path(__file__).with_name("slow_mai.py")
STEP_DELAY = "0.4"  # seconds added to every step of the subprocess
WAIT_SECONDS = 90  # bound on every wait (a loaded machine), never a timing assertion


@pytest.fixture
def world(small_world_path: Path) -> Iterator[Path]:
    """The shared small world, checked unchanged after the test."""
    before = hashlib.sha256(small_world_path.read_bytes()).hexdigest()
    yield small_world_path
    assert hashlib.sha256(small_world_path.read_bytes()).hexdigest() == before


def wait_for_steps(save: Path, proc: subprocess.Popen[str], count: int) -> Investigation:
    """The saved record once it holds ``count`` steps (bounded poll)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            record: Investigation | None = load_investigation(save)
        except StoreError:  # not written yet
            record = None
        if record is not None and len(record.steps) >= count:
            return record
        time.sleep(0.02)
    proc.kill()
    pytest.fail(f"no checkpoint with {count} steps within {WAIT_SECONDS} s")


def kill_after_two_steps(
    world: Path,
    save: Path,
    signals: list[signal.Signals],
    delay: str = STEP_DELAY,
    wait_for: Path | None = None,
) -> tuple[Investigation, int, str]:
    """Run, wait for the checkpoint with 2 steps (and the file ``wait_for``), send ``signals``
    20 ms apart; the saved record (checked to keep every step seen), the exit code and stderr."""
    env = {**os.environ, "MAI_DATA_DIR": str(save.parent / "data"), "MAI_MODEL": "autopilot"}
    proc = subprocess.Popen(
        [
            *(sys.executable, str(SLOW_MAI), delay),
            *("investigate", QUESTION, "-w", str(world), "--save", str(save)),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = wait_for_steps(save, proc, 2)
    deadline = time.monotonic() + WAIT_SECONDS
    while wait_for is not None and not wait_for.exists() and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    for n, sig in enumerate(signals):
        if n:
            time.sleep(0.02)
        proc.send_signal(sig)
    _, err = proc.communicate(timeout=WAIT_SECONDS)
    record = load_investigation(save)
    assert record.steps[: len(seen.steps)] == seen.steps
    assert len(record.steps) >= 2 and record.report is None
    assert "Traceback" not in err
    return record, proc.returncode, err


def test_sigterm_cancels_saves_and_exits_143(world: Path, tmp_path: Path) -> None:
    save = tmp_path / "run.json"
    record, code, err = kill_after_two_steps(world, save, [signal.SIGTERM])
    assert code == 128 + signal.SIGTERM
    assert record.status == "cancelled" and record.finished_at is not None
    assert f"mai: investigation cancelled after {len(record.steps)} steps" in err


def test_double_ctrl_c_cancels_saves_and_exits_130(world: Path, tmp_path: Path) -> None:
    save = tmp_path / "run.json"
    record, code, err = kill_after_two_steps(world, save, [signal.SIGINT, signal.SIGINT])
    assert code == 130
    assert record.status == "cancelled"
    assert f"saved: {save}" in err


def test_sigkill_leaves_an_interrupted_record_that_continue_finishes(
    world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = InvestigationStore(tmp_path / "history")
    save = history.directory / "run.json"
    history.directory.mkdir()
    record, code, _ = kill_after_two_steps(world, save, [signal.SIGKILL])
    assert code == -signal.SIGKILL
    assert record.status == "running" and is_interrupted(record)
    assert [e.status for e in history.list()] == ["interrupted"]
    mode = save.stat().st_mode

    assert main(["investigate", QUESTION, "-w", str(world), "--continue", str(save), "-q"]) == 0
    assert "Root cause:" in capsys.readouterr().out
    finished = load_investigation(save)
    assert finished.id == record.id and finished.follow_ups == []
    assert finished.status == "completed" and finished.report is not None
    assert finished.steps[: len(record.steps)] == record.steps  # carried on, not restarted
    assert [s.index for s in finished.steps] == list(range(1, len(finished.steps) + 1))
    assert len(finished.steps) > len(record.steps)
    assert [e.status for e in history.list()] == ["completed"]
    assert save.stat().st_mode == mode


def test_a_cancelled_record_is_continued_with_a_follow_up(world: Path, tmp_path: Path) -> None:
    save = tmp_path / "run.json"
    record, _, _ = kill_after_two_steps(world, save, [signal.SIGTERM])
    question = "Is it only on android?"
    args = ["investigate", question, "-w", str(world), "--continue", str(save), "-q"]
    assert main([*args, "--max-steps", "3"]) == 0
    root = load_investigation(save)
    assert root.status == "cancelled" and root.steps == record.steps
    assert [f.question for f in root.follow_ups] == [question]
    assert root.follow_ups[0].status == "completed"


def test_a_third_ctrl_c_exits_at_once_during_a_query_that_cannot_stop(
    world: Path, tmp_path: Path
) -> None:
    save, blocked = tmp_path / "run.json", tmp_path / "blocked"
    record, code, err = kill_after_two_steps(
        world, save, [signal.SIGINT] * 3, delay=f"block:{WAIT_SECONDS}:{blocked}", wait_for=blocked
    )
    assert code == 130
    assert "mai: interrupted again: exiting now" in err
    # the checkpoint of step 2, or the one of the cancelled run if it landed before the exit
    assert record.status in ("running", "cancelled") and len(record.steps) == 2


def test_a_run_without_save_is_checkpointed_in_the_history(world: Path, tmp_path: Path) -> None:
    """No --save: SIGKILL after two steps still leaves the run in the history, interrupted,
    and --continue on that history file finishes it."""
    data = tmp_path / "data"  # MAI_DATA_DIR of this test (conftest), here and in the child
    env = {**os.environ, "MAI_DATA_DIR": str(data), "MAI_MODEL": "autopilot"}
    proc = subprocess.Popen(
        [sys.executable, str(SLOW_MAI), STEP_DELAY, "investigate", QUESTION, "-w", str(world)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    history = InvestigationStore(data / "investigations")
    deadline = time.monotonic() + WAIT_SECONDS
    saved: list[Path] = []
    while time.monotonic() < deadline and not saved:
        assert proc.poll() is None, proc.communicate()
        entries = history.list()
        saved = [e.path for e in entries if len(load_investigation(e.path).steps) >= 2]
        time.sleep(0.02)
    assert saved, f"no checkpoint with 2 steps in the history within {WAIT_SECONDS} s"
    proc.kill()
    proc.communicate(timeout=WAIT_SECONDS)
    record = load_investigation(saved[0])
    assert is_interrupted(record) and len(record.steps) >= 2 and record.report is None
    assert [e.status for e in InvestigationStore(data / "investigations").list()] == ["interrupted"]

    assert main(["investigate", QUESTION, "-w", str(world), "--continue", str(saved[0]), "-q"]) == 0
    finished = load_investigation(saved[0])
    assert finished.id == record.id and finished.status == "completed"
    assert finished.steps[: len(record.steps)] == record.steps
    assert [e.status for e in InvestigationStore(data / "investigations").list()] == ["completed"]
