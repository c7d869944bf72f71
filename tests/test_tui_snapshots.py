"""SVG snapshots of every TUI state (pytest-textual-snapshot).

Deterministic: a fixed theme, animations off, no cursor blink, a frozen clock, a schema-only
warehouse and a scripted orchestrator replaying the recorded fixture investigation.
Regenerate with ``uv run pytest tests/test_tui_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input
from tui_fakes import AUTOPILOT_PATH, ScriptedOrchestrator, make_app, seed_history

from metric_anomaly_investigator.tui.app import InvestigatorApp

QUESTION = "Why did dau drop at the end of January?"
MEDIUM = (120, 36)

RunBefore = Callable[[Pilot[None]], Awaitable[None]]


@pytest.fixture(autouse=True)
def _no_animation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")


async def settle(pilot: Pilot[None]) -> None:
    """Let workers finish and the screen catch up; stop every cursor blinking."""
    app = pilot.app
    await app.workers.wait_for_complete()
    await pilot.pause()
    for widget in app.screen.query(Input):
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


def test_welcome(snap_compare, tmp_path: Path) -> None:
    assert snap_compare(make_app(tmp_path), terminal_size=MEDIUM, run_before=settle)


def test_history(snap_compare, tmp_path: Path) -> None:
    seed_history(tmp_path)

    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press("ctrl+o")
        await settle(pilot)

    assert snap_compare(make_app(tmp_path), terminal_size=MEDIUM, run_before=run_before)


def test_in_progress(snap_compare, tmp_path: Path) -> None:
    # Held after step 4 is planned: three steps done, the fourth spinning.
    app = make_app(tmp_path, orchestrator=ScriptedOrchestrator(stop_after=8))

    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        app.ask(QUESTION)
        for _ in range(10):
            await pilot.pause()
        for widget in app.screen.query(Input):
            widget.cursor_blink = False
        await pilot.pause()

    assert snap_compare(app, terminal_size=MEDIUM, run_before=run_before)


def test_completed_with_report(snap_compare, tmp_path: Path) -> None:
    assert snap_compare(make_app(tmp_path), terminal_size=MEDIUM, run_before=investigated())


def test_selected_step_with_chart(snap_compare, tmp_path: Path) -> None:
    assert snap_compare(
        make_app(tmp_path),
        terminal_size=MEDIUM,
        run_before=investigated("f3", "home", "down", "f5"),
    )


def test_breakdown_chart(snap_compare, tmp_path: Path) -> None:
    assert snap_compare(
        make_app(tmp_path),
        terminal_size=MEDIUM,
        run_before=investigated("f3", "home", "down", "down"),
    )


def test_replay_mode(snap_compare, tmp_path: Path) -> None:
    app = make_app(tmp_path, replay=AUTOPILOT_PATH)

    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press("space", *["right"] * 10)
        await settle(pilot)

    assert snap_compare(app, terminal_size=MEDIUM, run_before=run_before)


def test_help(snap_compare, tmp_path: Path) -> None:
    assert snap_compare(make_app(tmp_path), terminal_size=MEDIUM, run_before=investigated("f1"))


def test_command_palette(snap_compare, tmp_path: Path) -> None:
    assert snap_compare(make_app(tmp_path), terminal_size=MEDIUM, run_before=investigated("ctrl+p"))


def test_warehouse_error(snap_compare, tmp_path: Path) -> None:
    app = make_app(tmp_path, warehouse_error="Cannot open missing.duckdb: no such file.")
    assert snap_compare(app, terminal_size=MEDIUM, run_before=settle)


def test_small_terminal(snap_compare, tmp_path: Path) -> None:
    assert snap_compare(make_app(tmp_path), terminal_size=(80, 24), run_before=investigated())


def test_large_terminal(snap_compare, tmp_path: Path) -> None:
    assert snap_compare(
        make_app(tmp_path),
        terminal_size=(160, 48),
        run_before=investigated("f3", "home", "down"),
    )
