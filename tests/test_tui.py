"""Pilot tests of the TUI flows: ask, watch, select, cancel, follow up, save, replay, export."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, OptionList
from tui_fakes import (
    AUTOPILOT_PATH,
    RECORD_PATH,
    SCHEMA,
    FrozenClock,
    ScriptedOrchestrator,
    make_app,
    retention_step,
    seed_history,
    until_held,
)

from metric_anomaly_investigator.core.models import Investigation
from metric_anomaly_investigator.core.report_markdown import compact_report
from metric_anomaly_investigator.core.store import (
    InvestigationStore,
    dump_investigation,
    load_investigation,
    replay_events,
)
from metric_anomaly_investigator.settings import Settings
from metric_anomaly_investigator.tui.app import InvestigatorApp
from metric_anomaly_investigator.tui.figures import figure_for
from metric_anomaly_investigator.tui.keymap import load_keymap
from metric_anomaly_investigator.tui.render import example_questions, step_table
from metric_anomaly_investigator.tui.screens.dialogs import PromptScreen
from metric_anomaly_investigator.tui.screens.history import HistoryScreen
from metric_anomaly_investigator.tui.state import RunView, Session, StepView
from metric_anomaly_investigator.tui.widgets.chart import ChartView, draw, ranked_bars
from metric_anomaly_investigator.tui.widgets.report import ReportView
from metric_anomaly_investigator.tui.widgets.run_header import RunHeader, header_text
from metric_anomaly_investigator.tui.widgets.step_detail import StepDetail

QUESTION = "Why did dau drop at the end of January?"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def history(tmp_path: Path) -> InvestigationStore:
    return InvestigationStore(Settings(data_dir=tmp_path).history_dir)


async def ready(app: InvestigatorApp, pilot) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()


@asynccontextmanager
async def started(
    tmp_path: Path, *, size: tuple[int, int] = (120, 36), **options: Any
) -> AsyncIterator[tuple[InvestigatorApp, Pilot[None]]]:
    """The app with fake seams (``make_app``'s ``options``), running, its start-up done."""
    app = make_app(tmp_path, **options)
    async with app.run_test(size=size) as pilot:
        await ready(app, pilot)
        yield app, pilot


async def ask(app: InvestigatorApp, pilot, question: str = QUESTION) -> None:
    app.main.question.focus()
    app.main.question.value = question
    await pilot.press("enter")
    await ready(app, pilot)


def chart_title(app: InvestigatorApp) -> str | None:
    chart = app.main.query_one(ChartView).chart
    return chart.title if chart else None


# -- flows ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_ask_and_watch_saves_to_history(tmp_path: Path) -> None:
    async with started(tmp_path) as (app, pilot):
        await ask(app, pilot)
        session = app.session
        assert session is not None and session.current is not None
        assert session.current.status == "completed"
        assert [s.status for s in session.steps].count("failed") == 1
        assert len(app.main.timeline.options) == 7
        assert "deploy_003" in compact_report(session.report)
        saved = history(tmp_path).list()
        assert [e.question for e in saved] == [QUESTION]
        assert "Follow-up" in str(app.main.question.border_title)


@pytest.mark.anyio
async def test_question_history_with_up_and_down(tmp_path: Path) -> None:
    async with started(tmp_path, size=(80, 24)) as (app, pilot):
        await ask(app, pilot, "first question")
        question = app.main.question
        question.focus()
        question.value = "draft"
        await pilot.press("up")
        assert question.value == "first question"
        await pilot.press("down")
        assert question.value == "draft"


@pytest.mark.anyio
async def test_example_question_starts_an_investigation(tmp_path: Path) -> None:
    async with started(tmp_path) as (app, pilot):
        examples = app.main.query_one("#examples", OptionList)
        examples.focus()
        examples.highlighted = 0
        await pilot.press("enter")
        await ready(app, pilot)
        assert app.session is not None and app.session.current is not None
        assert app.session.current.question == example_questions(SCHEMA)[0]


@pytest.mark.anyio
async def test_select_steps_shows_detail_and_chart(tmp_path: Path) -> None:
    async with started(tmp_path) as (app, pilot):
        await ask(app, pilot)
        await pilot.press("f3", "home", "down")
        await pilot.pause()
        assert chart_title(app) == "dau vs seasonal baseline"
        assert app.main.query_one(ChartView).chart.highlight == ("2026-01-28", "2026-02-10")
        await pilot.press("down")
        await pilot.pause()
        assert chart_title(app) == "dau by platform: baseline vs anomaly window"
        detail = app.main.query_one(StepDetail)
        assert detail.query_one("#step-table").display
        await pilot.press("down", "down", "down")  # the failed statistical test: no chart
        await pilot.pause()
        assert "Not enough days" in str(detail.query_one("#step-info").render())


@pytest.mark.anyio
async def test_cancel_keeps_steps_and_saves(tmp_path: Path) -> None:
    orchestrator = ScriptedOrchestrator(stop_after=8)
    async with started(tmp_path, orchestrator=orchestrator) as (app, pilot):
        app.ask(QUESTION)
        await until_held(pilot, orchestrator)
        assert app.running
        assert app.session is not None and app.session.steps[-1].status == "running"
        await pilot.press("escape")
        await ready(app, pilot)
        assert not app.running
        assert app.session.current.status == "cancelled"
        saved = history(tmp_path).list()
        assert [e.status for e in saved] == ["cancelled"]
        assert len(history(tmp_path).load(saved[0].id).steps) == 3


@pytest.mark.anyio
async def test_follow_up_continues_the_investigation(tmp_path: Path) -> None:
    orchestrator = ScriptedOrchestrator()
    async with started(tmp_path, orchestrator=orchestrator) as (app, pilot):
        await ask(app, pilot)
        await ask(app, pilot, "Is iOS affected too?")
        assert orchestrator.questions == [QUESTION, "Is iOS affected too?"]
        assert app.session is not None and len(app.session.runs) == 2
        ids = [o.id for o in app.main.timeline.options]
        assert "run-1" in ids and "1-1" in ids
        saved = history(tmp_path).list()
        assert len(saved) == 1
        assert len(history(tmp_path).load(saved[0].id).follow_ups) == 1


@pytest.mark.anyio
async def test_new_investigation_returns_to_welcome(tmp_path: Path) -> None:
    async with started(tmp_path) as (app, pilot):
        await ask(app, pilot)
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.session is None
        assert app.main.query_one("#body").current == "welcome"


async def fill_prompt(app: InvestigatorApp, pilot, value: str) -> None:
    await pilot.pause()
    assert isinstance(app.screen, PromptScreen)
    app.screen.query_one(Input).value = value
    await pilot.press("enter")
    await ready(app, pilot)


@pytest.mark.anyio
async def test_save_and_export(tmp_path: Path) -> None:
    async with started(tmp_path) as (app, pilot):
        await ask(app, pilot)
        await pilot.press("ctrl+s")
        await fill_prompt(app, pilot, str(tmp_path / "saved.json"))
        assert load_investigation(tmp_path / "saved.json").question == QUESTION
        await pilot.press("ctrl+e")
        await fill_prompt(app, pilot, str(tmp_path / "report.md"))
        markdown = (tmp_path / "report.md").read_text()
        assert "deploy_003" in markdown and "Recommendations" in markdown


@pytest.mark.anyio
async def test_save_before_asking_explains(tmp_path: Path) -> None:
    async with started(tmp_path, size=(80, 24)) as (app, pilot):
        await pilot.press("ctrl+s", "ctrl+e")
        await pilot.pause()
        assert not isinstance(app.screen, PromptScreen)
        assert any("Nothing to save" in n.message for n in app._notifications)


@pytest.mark.anyio
async def test_export_write_error_is_a_message(tmp_path: Path) -> None:
    async with started(tmp_path) as (app, pilot):
        await ask(app, pilot)
        await pilot.press("ctrl+e")
        await fill_prompt(app, pilot, str(tmp_path / "missing" / "dir" / "report.md"))
        assert any("Could not write" in (n.title or "") for n in app._notifications)


@pytest.mark.anyio
async def test_replay_steps_forward_and_back(tmp_path: Path) -> None:
    orchestrator = ScriptedOrchestrator()
    async with started(tmp_path, replay=RECORD_PATH, orchestrator=orchestrator) as (app, pilot):
        assert app.replaying
        total = len(list(replay_events(load_investigation(RECORD_PATH))))
        await pilot.press("space")  # pause the auto-play
        await pilot.press(*["right"] * 5)
        await pilot.pause()
        assert app.session is not None and len(app.session.steps) == 2
        await pilot.press("left", "left")
        await pilot.pause()
        assert len(app.session.steps) == 1
        await pilot.press(*["right"] * (total + 3))
        await pilot.pause()
        assert app.session.report is not None
        assert app.main.query_one(ReportView).source.startswith("### Root cause")
        shown = [s.key for s in app.session.steps]
        app.ask("a question in replay")  # refused politely: the replay stays as it was
        await pilot.pause()
        assert any("This is a replay" in n.message for n in app._notifications)
        assert app.replaying and not app.running and app.queued is None
        assert [s.key for s in app.session.steps] == shown and orchestrator.questions == []
        await pilot.press("ctrl+n")
        await ready(app, pilot)
        assert not app.replaying and app.warehouse is not None


@pytest.mark.anyio
async def test_replay_plays_on_its_own(tmp_path: Path) -> None:
    record = load_investigation(RECORD_PATH)
    options: dict[str, Any] = {"replay": RECORD_PATH, "replay_interval": 0.01, "size": (80, 24)}
    async with started(tmp_path, **options) as (app, pilot):
        for _ in range(200):
            await pilot.pause(0.02)
            if app.player is not None and app.player.at_end:
                break
        assert app.player is not None and app.player.at_end and not app.playing
        session = app.session
        assert session is not None and session.current is not None
        assert session.current.status == "completed"
        assert [s.index for s in session.steps] == [s.index for s in record.steps]
        assert session.report == record.report


def footer_keys(app: InvestigatorApp) -> list[tuple[str, str]]:
    return [
        (key, active.binding.description)
        for key, active in app.main.active_bindings.items()
        if active.binding.show
    ]


@pytest.mark.anyio
async def test_footer_labels_esc_by_what_it_does(tmp_path: Path) -> None:
    async with started(tmp_path, replay=RECORD_PATH) as (app, pilot):
        assert app.playing and ("escape", "Pause") in footer_keys(app)
        await pilot.press("escape")
        assert not app.playing and "escape" not in dict(footer_keys(app))
        await pilot.press("space")
        assert app.playing and ("escape", "Pause") in footer_keys(app)


@pytest.mark.anyio
async def test_footer_puts_help_and_palette_first_and_cancel_while_running(
    tmp_path: Path,
) -> None:
    async with started(tmp_path, orchestrator=ScriptedOrchestrator(stop_after=4)) as (app, pilot):
        globals_ = ["Help", "Palette", "New", "History", "Save", "Export", "Quit"]
        assert [label for _, label in footer_keys(app)] == globals_
        app.main.question.value = QUESTION
        await pilot.press("enter")
        await pilot.pause()
        assert footer_keys(app)[0] == ("escape", "Cancel")
        assert [label for _, label in footer_keys(app)[1:]] == globals_
        await pilot.press("escape")
        await ready(app, pilot)


@pytest.mark.anyio
async def test_invalid_replay_file_is_a_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    async with started(tmp_path, replay=bad) as (app, _):
        assert not app.replaying
        assert app.main.welcome.has_class("-error")


@pytest.mark.anyio
async def test_history_open_replay_and_delete(tmp_path: Path) -> None:
    store = seed_history(tmp_path)
    first = store.list()[0]  # the newest, the history's first row
    async with started(tmp_path) as (app, pilot):
        await pilot.press("ctrl+o")
        await ready(app, pilot)
        assert isinstance(app.screen, HistoryScreen)
        await pilot.press("enter")
        await ready(app, pilot)
        assert app.record is not None and app.record.id == first.id and not app.replaying
        assert app.session is not None and app.session.report == store.load(first.id).report
        await pilot.press("ctrl+o")
        await ready(app, pilot)
        await pilot.press("r")
        await ready(app, pilot)
        assert app.replaying and app.player is not None and app.player.record.id == first.id
        await pilot.press("ctrl+o")
        await ready(app, pilot)
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("y")
        await ready(app, pilot)
        left = [entry.id for entry in history(tmp_path).list()]
        assert len(left) == 2 and first.id not in left


@pytest.mark.anyio
async def test_reopened_record_takes_follow_ups(tmp_path: Path) -> None:
    store = seed_history(tmp_path, count=1)
    saved_id = store.list()[0].id
    orchestrator = ScriptedOrchestrator()
    async with started(tmp_path, orchestrator=orchestrator) as (app, pilot):
        await pilot.press("ctrl+o")
        await ready(app, pilot)
        await pilot.press("enter")
        await ready(app, pilot)
        assert "Follow-up" in str(app.main.question.border_title)
        await ask(app, pilot, "Is iOS affected too?")
        assert orchestrator.questions == ["Is iOS affected too?"]
        assert orchestrator.record is not None and orchestrator.record.id == saved_id
        assert app.session is not None and len(app.session.runs) == 2
        reopened = history(tmp_path).load(saved_id)
        assert [f.question for f in reopened.follow_ups] == ["Is iOS affected too?"]
        assert len(history(tmp_path).list()) == 1


@pytest.mark.anyio
async def test_warehouse_error_is_shown_and_asking_is_refused(tmp_path: Path) -> None:
    error = "Cannot open missing.duckdb: no such file."
    async with started(tmp_path, warehouse_error=error) as (app, pilot):
        assert app.main.welcome.has_class("-error")
        await ask(app, pilot)
        assert app.session is None
        assert any("No warehouse is open" in n.message for n in app._notifications)


@pytest.mark.anyio
async def test_engine_failure_is_shown_not_raised(tmp_path: Path) -> None:
    app = make_app(tmp_path)

    def broken(*args: object) -> ScriptedOrchestrator:
        raise RuntimeError("ANTHROPIC_API_KEY is not set")

    app.services.make_orchestrator = broken
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(app, pilot)
        await ask(app, pilot)
        source = app.main.query_one(ReportView).source
        assert "ANTHROPIC_API_KEY is not set" in source


@pytest.mark.anyio
async def test_quit_mid_investigation_saves_what_was_done(tmp_path: Path) -> None:
    orchestrator = ScriptedOrchestrator(stop_after=8)
    async with started(tmp_path, orchestrator=orchestrator) as (app, pilot):
        app.ask(QUESTION)
        await until_held(pilot, orchestrator)
        await pilot.press("ctrl+q")
        await pilot.pause()
    saved = history(tmp_path).list()
    assert [e.status for e in saved] == ["cancelled"]


@pytest.mark.anyio
async def test_elapsed_time_comes_from_the_injected_clock(tmp_path: Path) -> None:
    clock = FrozenClock()
    orchestrator = ScriptedOrchestrator(stop_after=8)
    async with started(tmp_path, orchestrator=orchestrator, clock=clock) as (app, pilot):
        app.ask(QUESTION)
        await until_held(pilot, orchestrator)
        clock.now += 75
        assert app.session is not None and app.session.elapsed() == 75
        await pilot.press("escape")
        await ready(app, pilot)


@pytest.mark.anyio
async def test_palette_switches_model_and_theme(tmp_path: Path) -> None:
    async with started(tmp_path) as (app, pilot):
        app.action_switch_model()
        await fill_prompt(app, pilot, "openai:gpt-5")
        assert app.model_name == "openai:gpt-5"
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"switch theme")
        await pilot.pause(0.2)
        await pilot.press("enter")
        await pilot.pause(0.2)
        await pilot.press(*"nord")
        await pilot.pause(0.2)
        await pilot.press("enter")
        await pilot.pause()
        assert app.theme == "nord"


@pytest.mark.anyio
async def test_keymap_file_remaps_a_binding(tmp_path: Path) -> None:
    (tmp_path / "keymap.toml").write_text('"app.history" = "f6"\n')
    seed_history(tmp_path)
    async with started(tmp_path) as (app, pilot):
        await pilot.press("f6")
        await ready(app, pilot)
        assert isinstance(app.screen, HistoryScreen)


@pytest.mark.anyio
async def test_question_entered_while_the_warehouse_opens_is_queued(tmp_path: Path) -> None:
    gate = threading.Event()
    clock = FrozenClock()
    orchestrator = ScriptedOrchestrator()
    app = make_app(tmp_path, orchestrator=orchestrator, warehouse_gate=gate, clock=clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        assert app.warehouse is None
        app.main.question.value = QUESTION
        await pilot.press("enter")
        await pilot.pause()
        assert app.queued == QUESTION and app.state == "queued: opening warehouse…"
        header = app.main.query_one(RunHeader).render()
        assert "queued — it starts as soon as the warehouse is open" in str(header)
        clock.now += 8  # the wait counts: the clock started at Enter
        assert app.session is not None and app.session.elapsed() == 8
        gate.set()
        await ready(app, pilot)
        assert app.queued is None and orchestrator.questions == [QUESTION]
        assert app.session.current is not None and app.session.current.status == "completed"
        assert app.session.elapsed() == 8
        assert str(app.main.query_one(RunHeader).render()) == f"Q {QUESTION}"


@pytest.mark.anyio
async def test_escape_drops_a_queued_question(tmp_path: Path) -> None:
    gate = threading.Event()
    orchestrator = ScriptedOrchestrator()
    app = make_app(tmp_path, orchestrator=orchestrator, warehouse_gate=gate)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        app.ask(QUESTION)
        await pilot.pause()
        await pilot.press("escape")
        gate.set()
        await ready(app, pilot)
        assert app.queued is None and app.session is None and orchestrator.questions == []
        assert app.main.query_one("#body").current == "welcome"


@pytest.mark.anyio
async def test_ctrl_s_twice_opens_one_dialog_in_the_data_directory(tmp_path: Path) -> None:
    async with started(tmp_path) as (app, pilot):
        await ask(app, pilot)
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.press("ctrl+s", "ctrl+e")
        await pilot.pause()
        assert [type(s) for s in app.screen_stack].count(PromptScreen) == 1
        value = app.screen.query_one(Input).value
        assert Path(value).parent == tmp_path / "exports"
        await pilot.press("enter")
        await ready(app, pilot)
        assert load_investigation(value).question == QUESTION


@pytest.mark.anyio
async def test_replay_starts_without_the_previous_chart(tmp_path: Path) -> None:
    async with started(tmp_path) as (app, pilot):
        await ask(app, pilot)
        await pilot.press("f3", "home", "down")
        await pilot.pause()
        assert chart_title(app) == "dau vs seasonal baseline"
        app.start_replay(load_investigation(AUTOPILOT_PATH))
        await pilot.pause()
        chart = app.main.query_one(ChartView)
        assert app.replaying and app.player is not None and app.player.position == 0
        assert chart.figure is None
        await pilot.press("space", "right", "right", "right")
        await pilot.pause()
        assert chart_title(app) == "dau vs seasonal baseline"
        header = str(app.main.query_one(RunHeader).render())
        assert header == "Q Why did dau drop at the end of January?"


@pytest.mark.anyio
async def test_tab_then_enter_asks_the_first_example(tmp_path: Path) -> None:
    async with started(tmp_path) as (app, pilot):
        assert "Tab, then Enter" in str(app.main.query_one("#examples-title").render())
        await pilot.press("tab", "enter")
        await ready(app, pilot)
        assert app.session is not None and app.session.current is not None
        assert app.session.current.question == example_questions(SCHEMA)[0]


@pytest.mark.anyio
async def test_80x24_shows_one_pane_at_a_time(tmp_path: Path) -> None:
    async with started(tmp_path, size=(80, 24)) as (app, pilot):
        await ask(app, pilot)
        main = app.main
        assert main.narrow and main.pane == "report"  # a finished run turns to its report
        assert main.query_one("#report").display and not main.timeline.display
        await pilot.press("f3", "home", "down", "f6")
        await pilot.pause()
        chart = main.query_one(ChartView)
        assert main.pane == "chart" and chart.region.height >= 12
        assert main.timeline.region.height == 0 and chart_title(app) == "dau vs seasonal baseline"
        await pilot.press("f3")
        await pilot.pause()
        assert main.pane == "timeline" and main.timeline.region.height > 0


@pytest.mark.anyio
@pytest.mark.parametrize("size", [(120, 40), (160, 48)])
async def test_wider_terminals_show_every_pane(tmp_path: Path, size: tuple[int, int]) -> None:
    async with started(tmp_path, size=size) as (app, pilot):
        await ask(app, pilot)
        await pilot.press("f3", "home", "down")
        await pilot.pause()
        main = app.main
        assert not main.narrow
        chart = main.query_one(ChartView)
        assert chart.region.height >= 12 and main.timeline.region.height > 0
        assert main.query_one("#report").region.height > 0
        assert chart_title(app) == "dau vs seasonal baseline"


# -- pure pieces ----------------------------------------------------------------------------


def test_import_contracts_hold() -> None:
    """tui -> core -> warehouse, and no cycle inside the TUI (pyproject's import-linter
    contracts; `uv run lint-imports` prints them)."""
    from importlinter.cli import lint_imports

    root = Path(__file__).parent.parent
    assert lint_imports(str(root / "pyproject.toml"), no_cache=True, no_logo=True) == 0


def test_session_rebuilds_the_record_from_events() -> None:
    record = load_investigation(RECORD_PATH)
    session = Session.from_events(replay_events(record), FrozenClock())
    assert [s.index for s in session.steps] == [s.index for s in record.steps]
    assert session.report == record.report
    assert session.current is not None and session.current.status == "completed"


def test_example_questions_use_the_real_schema() -> None:
    questions = example_questions(SCHEMA)
    assert any("platform android" in q for q in questions)
    assert any("Feb 10" in q for q in questions)
    other = SCHEMA.model_copy(
        update={
            "metrics": ["events"],
            "dimensions": [],
            "has_deployments": False,
            "has_users": False,
        }
    )
    assert example_questions(other) == [
        "Why did events change over the last two weeks (to Feb 10)?"
    ]


def test_step_table_prefers_records_then_chart_series() -> None:
    record = load_investigation(RECORD_PATH)
    columns, rows = step_table(record.steps[2])
    assert columns[0] == "segment" and rows[0][0] == "android"
    columns, rows = step_table(record.steps[0])
    assert columns == ["day", "dau"] and len(rows) == 41
    assert step_table(record.steps[6]) is None


class PlotRecorder:
    """Stands in for plotext: records the calls ``draw`` makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple, dict]] = []

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: self.calls.append((name, args, kwargs))


PALETTE = {
    name: (i, i, i)
    for i, name in enumerate(
        ["primary", "secondary", "accent", "success", "warning", "error", "muted"]
    )
}


def views(record: Investigation) -> list[StepView]:
    return Session.from_events(replay_events(record), FrozenClock()).steps


def test_deployments_are_markers_on_the_metric_series() -> None:
    steps = views(load_investigation(AUTOPILOT_PATH))
    deployments = next(v for v in steps if v.action == "check_deployments")
    figure = figure_for(deployments, steps)
    assert figure is not None and figure.chart is not None
    assert figure.chart.title == "dau vs seasonal baseline"
    assert [m.label for m in figure.markers] == ["deploy_003", "deploy_004"]
    assert [m.explains for m in figure.markers] == [True, False]
    plt = PlotRecorder()
    legend = draw(plt, figure.chart, PALETTE, figure.markers)
    texts = [args[0] for name, args, _ in plt.calls if name == "text"]
    assert texts == ["deploy_003", "deploy_004"]
    assert [name for name, _ in legend][-2:] == ["deploy_003 2026-01-28", "deploy_004 2026-01-30"]
    # the legend is drawn outside the plot: no series carries a plotext label
    assert all("label" not in kwargs for name, _, kwargs in plt.calls if name == "plot")


def test_drill_down_is_a_ranking_with_full_labels() -> None:
    steps = views(load_investigation(AUTOPILOT_PATH))
    drill = next(v for v in steps if v.action == "drill_down")
    figure = figure_for(drill, steps)
    assert figure is not None and figure.chart is None
    assert [b.label for b in figure.bars] == ["country=IN, platform=android, app_version=2.3.0"]
    assert figure.bars[0].note == "100% of the change · segment -67.4%"
    text = ranked_bars(figure.bars, 60).plain
    assert "country=IN, platform=android, app_version=2.3.0" in text


def test_signed_bars_rank_by_size_and_keep_the_sign() -> None:
    steps = views(load_investigation(RECORD_PATH))
    drill = next(v for v in steps if v.action == "drill_down")
    figure = figure_for(drill, steps)
    assert figure is not None
    assert [b.value for b in figure.bars] == [-2480.0, -60.0, -15.0, 8.0]
    assert figure.bars[0].note == "-2,480"


def test_retention_legend_is_outside_and_its_table_is_formatted() -> None:
    step = retention_step(7)
    view = StepView(7, 7, step.action, step.reasoning, step.parameters, "done", step)
    figure = figure_for(view, [view])
    assert figure is not None and figure.chart is not None and figure.chart.kind == "retention"
    plt = PlotRecorder()
    legend = draw(plt, figure.chart, PALETTE)
    assert [name for name, _ in legend] == [
        "6 earlier cohorts 2026-01-05 … 2026-02-09",
        "cohort 2026-02-16",
        "cohort 2026-02-23",
    ]
    assert all("label" not in kwargs for name, _, kwargs in plt.calls if name == "plot")
    columns, rows = step_table(step)
    assert columns == [
        "cohort",
        "size",
        "retention d1",
        "retention d7",
        "retention d14",
        "retention d28",
    ]
    assert rows[0] == ["2026-01-05", "1200", "62.0%", "52.0%", "52.0%", "52.0%"]
    assert rows[-1][-1] == "–"


def test_keymap_file_is_validated(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert load_keymap(settings) == ({}, None)
    (tmp_path / "keymap.toml").write_text('"app.history" = "f6"\n')
    assert load_keymap(settings) == ({"app.history": "f6"}, None)
    (tmp_path / "keymap.toml").write_text('"app.history" = 6\n')
    keymap, problem = load_keymap(settings)
    assert keymap == {} and problem is not None
    assert problem.endswith("ignored: app.history: Input should be a valid string")


def test_header_lists_the_question_and_follow_ups() -> None:
    session = Session(FrozenClock())
    session.ask("Why did dau drop?")
    assert header_text(session, waiting_for_warehouse=True).plain == (
        "Q Why did dau drop?  queued — it starts as soon as the warehouse is open"
    )
    record = load_investigation(RECORD_PATH)
    session = Session.from_events(replay_events(record), FrozenClock())
    session.ask("Is iOS affected too?")
    assert header_text(session, waiting_for_warehouse=False).plain == (
        f"Q {record.question}\n↳ Is iOS affected too?  starting…"
    )


@pytest.mark.anyio
async def test_control_characters_in_a_record_are_shown_not_sent(tmp_path: Path) -> None:
    """A replayed record's text (or a warehouse value) must not clear or retitle the screen."""
    record = load_investigation(RECORD_PATH)
    record.question = "Why \x1b[2Jdid\x07 dau drop?"
    step = record.steps[0]
    step.reasoning = "look \x1b]0;title\x07"
    step.findings = ["found \x1b[31mred\x9b"]
    assert record.report is not None
    record.report.answer = "answer \x1b[2J"
    evil = tmp_path / "evil.json"
    evil.write_text(dump_investigation(record), encoding="utf-8")
    async with started(tmp_path, replay=evil) as (app, pilot):
        await pilot.press("space", *["right"] * (len(list(replay_events(record))) + 1))
        await pilot.pause()
        await pilot.press("f3", "home")
        await pilot.pause()
        header = str(app.main.query_one(RunHeader).render())
        assert header == "Q Why \\x1b[2Jdid\\x07 dau drop?"
        detail = str(app.main.query_one("#step-info").render())
        assert "found \\x1b[31mred\\x9b" in detail and "look \\x1b]0;title\\x07" in detail
        assert "answer \\x1b[2J" in app.main.query_one(ReportView).source
        timeline = "".join(str(o.prompt) for o in app.main.timeline.options)
        for shown in (header, detail, timeline, app.main.query_one(ReportView).source):
            assert not any(char in shown for char in "\x1b\x07\x9b")
    assert load_investigation(evil).question == record.question  # the file is left as it was


@pytest.mark.anyio
async def test_history_shows_control_characters_as_escapes(tmp_path: Path) -> None:
    store = history(tmp_path)
    store.save(load_investigation(RECORD_PATH).model_copy(update={"question": "Why \x1b[2J?"}))
    async with started(tmp_path) as (app, pilot):
        await pilot.press("ctrl+o")
        await ready(app, pilot)
        table = app.screen.query_one("#history-table", DataTable)
        assert str(table.get_row_at(0)[3]) == "Why \\x1b[2J?"
        assert str(app.screen.query_one("#history-question").render()) == "Q Why \\x1b[2J?"


def test_header_keeps_the_root_and_the_latest_follow_ups_in_sight() -> None:
    record = load_investigation(RECORD_PATH)
    session = Session.from_events(replay_events(record), FrozenClock())
    for number in range(1, 6):
        session.runs.append(
            RunView(number=number, record=record.model_copy(update={"question": f"f{number}?"}))
        )
    session.ask("Is it\nonly iOS?")
    assert header_text(session, waiting_for_warehouse=False).plain == (
        f"Q {record.question}\n↳ (+3 earlier) f4?\n↳ f5?\n↳ Is it only iOS?  starting…"
    )
    assert header_text(session, waiting_for_warehouse=False, max_lines=2).plain == (
        f"Q {record.question}\n↳ (+5 earlier) Is it only iOS?  starting…"
    )


@pytest.mark.anyio
async def test_a_long_question_leaves_its_follow_up_in_sight(tmp_path: Path) -> None:
    long_question = "why did dau drop " * 300
    async with started(tmp_path, size=(80, 24)) as (app, pilot):
        await ask(app, pilot, long_question)
        await ask(app, pilot, "Is it only iOS?")
        header = app.main.query_one(RunHeader)
        assert header.size.height == 2
        lines = [line.text for line in header.render_lines(header.region.reset_offset)]
        assert lines[0].startswith(" Q why did dau drop") and lines[0].rstrip().endswith("…")
        assert lines[1].startswith(" ↳ Is it only iOS?")
