"""SVG snapshots of every TUI state, at 80x24 and 160x48 (pytest-textual-snapshot).

Deterministic: a fixed theme, animations off, no cursor blink, a frozen clock, a schema-only
warehouse and a scripted orchestrator replaying recorded investigations.
Regenerate with ``uv run pytest tests/test_tui_snapshots.py --snapshot-update`` after looking at
the change.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, ProgressBar
from tui_fakes import (
    AUTOPILOT_PATH,
    ScriptedOrchestrator,
    autopilot_with_retention,
    make_app,
    seed_history,
    until_held,
)

from metric_anomaly_investigator.tui.app import InvestigatorApp
from metric_anomaly_investigator.tui.services import demo_build_message

QUESTION = "Why did dau drop at the end of January?"
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]

RunBefore = Callable[[Pilot[None]], Awaitable[None]]


@pytest.fixture(autouse=True)
def _no_animation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """Holds the warehouse opening until the test is over."""
    event = threading.Event()
    yield event
    event.set()


async def settle(pilot: Pilot[None]) -> None:
    """Let workers finish and the screen catch up; stop every cursor blinking."""
    app = pilot.app
    await app.workers.wait_for_complete()
    await pilot.pause()
    await freeze_cursors(pilot)


async def opening(pilot: Pilot[None]) -> None:
    """Wait (bounded) until the held warehouse has reported its progress, then freeze."""
    app = pilot.app
    assert isinstance(app, InvestigatorApp)
    bar = app.main.welcome.query_one(ProgressBar)
    for _ in range(200):
        if bar.progress == 0.5:
            break
        await pilot.pause(0.01)
    assert bar.progress == 0.5
    await freeze_cursors(pilot)


async def freeze_cursors(pilot: Pilot[None]) -> None:
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False
    await pilot.pause()


def investigated(*keys: str) -> RunBefore:
    """Ask the fixture question, let it finish, then press ``keys``."""

    async def run_before(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, InvestigatorApp)
        await settle(pilot)
        app.ask(QUESTION)
        await settle(pilot)
        await pilot.press(*keys)
        await settle(pilot)

    return run_before


def pressed(*keys: str) -> RunBefore:
    """Let start-up finish, then press ``keys``."""

    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press(*keys)
        await settle(pilot)

    return run_before


def autopilot_app(tmp_path: Path) -> InvestigatorApp:
    """The recorded autopilot run (plus a retention step): every kind of chart."""
    return make_app(tmp_path, orchestrator=ScriptedOrchestrator(script=autopilot_with_retention()))


@pytest.mark.parametrize("size", SIZES)
def test_welcome(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_first_run_builds_the_demo(
    snap_compare, tmp_path: Path, size: tuple[int, int], gate: threading.Event
) -> None:
    app = make_app(tmp_path, warehouse_gate=gate, progress_message=demo_build_message("events"))
    assert snap_compare(app, terminal_size=size, run_before=opening)


@pytest.mark.parametrize("size", SIZES)
def test_question_queued_while_opening(
    snap_compare, tmp_path: Path, size: tuple[int, int], gate: threading.Event
) -> None:
    app = make_app(tmp_path, warehouse_gate=gate)

    async def run_before(pilot: Pilot[None]) -> None:
        await opening(pilot)
        app.ask(QUESTION)
        await freeze_cursors(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_in_progress(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    # Held after step 4 is planned: three steps done, the fourth spinning.
    orchestrator = ScriptedOrchestrator(stop_after=8)
    app = make_app(tmp_path, orchestrator=orchestrator)

    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        app.ask(QUESTION)
        await until_held(pilot, orchestrator)
        await freeze_cursors(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_completed_with_header(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=investigated())


CHARTS = {
    "series": ("f3", "home", "f6"),
    "grouped_bars": ("f3", "home", "down", "f6"),
    "ranked_drill_down": ("f3", "home", "down", "down", "down", "f6"),
    "deployment_markers": ("f3", "home", *["down"] * 5, "f6"),
    "retention": ("f3", "end", "f6"),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("kind", list(CHARTS))
def test_chart(snap_compare, tmp_path: Path, size: tuple[int, int], kind: str) -> None:
    assert snap_compare(
        autopilot_app(tmp_path), terminal_size=size, run_before=investigated(*CHARTS[kind])
    )


@pytest.mark.parametrize("size", SIZES)
def test_step_detail(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(
        autopilot_app(tmp_path), terminal_size=size, run_before=investigated("f3", "end", "f5")
    )


@pytest.mark.parametrize("size", SIZES)
def test_replay(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    app = make_app(tmp_path, replay=AUTOPILOT_PATH)
    run_before = pressed("space", *["right"] * 10)
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_history(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    seed_history(tmp_path)
    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=pressed("ctrl+o"))


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=investigated("f1"))


@pytest.mark.parametrize("size", SIZES)
def test_command_palette(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=investigated("ctrl+p"))


@pytest.mark.parametrize("size", SIZES)
def test_warehouse_error(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    app = make_app(tmp_path, warehouse_error="Cannot open missing.duckdb: no such file.")
    assert snap_compare(app, terminal_size=size, run_before=settle)
