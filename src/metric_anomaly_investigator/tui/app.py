"""The Textual app: `mai` opens it, `mai replay FILE` replays into it, `mai serve` serves it.

The app coordinates; it draws nothing itself. Start-up is split so the first frame comes first:
this module imports only Textual and the light TUI modules; settings, the warehouse (built once
on the first run, with its real progress), the store and the investigation engine load in
worker threads that post :mod:`.messages` back. A question entered before the warehouse is
open is queued and starts when it is. Investigations run in an async worker consuming the
orchestrator's events; a :class:`ReplayPlayer` plays saved ones. Every failure becomes a
message on screen.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.timer import Timer
from textual.widgets import Input
from textual.worker import Worker

from .messages import (
    LoadPurpose,
    RecordFailed,
    RecordLoaded,
    SettingsLoaded,
    WarehouseFailed,
    WarehouseOpened,
)
from .render import format_elapsed, format_tokens
from .screens.main import InvestigationScreen
from .services import OrchestratorLike, Services, StoreLike, WarehouseLike, user_error
from .widgets.question import QuestionInput
from .widgets.status_bar import Status
from .widgets.welcome import Welcome

if TYPE_CHECKING:
    from textual.command import Provider

    from ..core.models import Event, Investigation
    from ..settings import Settings
    from .replay import ReplayPlayer
    from .screens.history import HistoryChoice
    from .state import Session

DEFAULT_THEME = "textual-dark"
REPLAY_INTERVAL = 0.8
QUIT_GRACE_SECONDS = 5.0
TICK_SECONDS = 0.1
EXPORTS_DIR = "exports"
DIALOG_ACTIONS = frozenset({"help", "new_investigation", "history", "save", "export"})
"""Actions that open a screen: only from the main screen, so a key pressed twice (Ctrl+S
Ctrl+S) never stacks two dialogs."""


def _commands() -> type[Provider]:
    """The palette's provider, imported when the palette first opens."""
    from .commands import InvestigatorCommands

    return InvestigatorCommands


def _is_replay(binding: BindingType) -> bool:
    return isinstance(binding, Binding) and (binding.id or "").startswith("replay.")


class InvestigatorApp(App[None]):
    """Metric Anomaly Investigator."""

    TITLE = "Metric Anomaly Investigator"
    CSS_PATH = "app.tcss"
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {_commands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help", id="app.help"),
        Binding("ctrl+p", "command_palette", "Palette", id="app.command_palette", priority=True),
        Binding("ctrl+n", "new_investigation", "New", id="app.new", priority=True),
        Binding("ctrl+o", "history", "History", id="app.history", priority=True),
        Binding("ctrl+s", "save", "Save", id="app.save", priority=True),
        Binding("ctrl+e", "export", "Export", id="app.export", priority=True),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True),
    ]

    def __init__(
        self,
        *,
        warehouse: str | None = None,
        model: str | None = None,
        replay: Path | None = None,
        config: Path | None = None,
        services: Services | None = None,
        settings: Settings | None = None,
        clock: Callable[[], float] = time.monotonic,
        replay_interval: float = REPLAY_INTERVAL,
        theme: str = DEFAULT_THEME,
    ) -> None:
        super().__init__()
        self.theme = theme
        self.services = services or Services()
        self.settings = settings
        self.store: StoreLike | None = None
        self.warehouse: WarehouseLike | None = None
        self.orchestrator: OrchestratorLike | None = None
        self.session: Session | None = None
        self.record: Investigation | None = None
        self.player: ReplayPlayer | None = None
        self.model_name = model or "…"
        self.keymap_overrides: dict[str, str] = {}
        self._clock = clock
        self._warehouse_source = warehouse
        self._explicit_model = model
        self._replay_path = replay
        self._config = config
        self._replay_interval = replay_interval
        self._warehouse_error: str | None = None
        self._opening = replay is None  # the warehouse opens right after the first frame
        self._queued: str | None = None
        self._run_worker: Worker[None] | None = None
        self._unsaved = False
        self._cancelling = False
        self._ticker: Timer | None = None
        self._main = InvestigationScreen(clock)

    # -- start-up ----------------------------------------------------------------------------

    @property
    def main(self) -> InvestigationScreen:
        return self._main

    def on_mount(self) -> None:
        # Pushed rather than returned by get_default_screen, which would skip the screen's CSS.
        self.push_screen(self._main)
        # Spinners and the clock move only while a question is queued or running.
        self._ticker = self.set_interval(TICK_SECONDS, self._refresh_status, pause=True)
        self.call_after_refresh(self._update_state)
        self.call_after_refresh(self._boot)

    @work(thread=True, group="boot", exit_on_error=False)
    def _boot(self) -> None:
        """After the first frame: settings, history store, keymap, then the replay or warehouse."""
        from .keymap import load_keymap

        try:
            settings = self.settings or self.services.load_settings()
            store = self.services.make_store(settings.history_dir)
            keymap, problem = load_keymap(settings)
        except Exception as exc:
            self.post_message(WarehouseFailed("Invalid settings", user_error(exc)))
            return
        self.post_message(SettingsLoaded(settings, store, keymap, problem))
        if self._replay_path is not None:
            self._load(self._replay_path, "replay", at_start=True)
        else:
            self._open_warehouse(self._warehouse_source or settings.warehouse)

    @on(SettingsLoaded)
    def _settings_loaded(self, message: SettingsLoaded) -> None:
        self.settings = message.settings
        self.store = message.store
        self.model_name = self._explicit_model or message.settings.resolved_model()
        if message.problem:
            self.notify(message.problem, severity="warning")
        if message.keymap:
            self.keymap_overrides = message.keymap
            self.set_keymap(message.keymap)
        self._refresh_status()

    def _open_warehouse(self, source: str | None) -> None:
        """Open a warehouse (call from a worker thread) with progress on the welcome pane."""

        def progress(message: str, fraction: float) -> None:
            self.call_from_thread(self.main.show_progress, message, fraction)

        try:
            warehouse = self.services.open_warehouse(source, self._config, progress)
        except Exception as exc:
            self.post_message(WarehouseFailed("Could not open the warehouse", user_error(exc)))
            return
        self.post_message(WarehouseOpened(warehouse))
        try:
            self.services.warm_up()
        except Exception as exc:  # reported again, in context, when a question is asked
            self.log.warning(f"engine warm-up failed: {exc!r}")

    @on(WarehouseOpened)
    def _warehouse_opened(self, message: WarehouseOpened) -> None:
        if self.warehouse is not None and self.warehouse is not message.warehouse:
            self.warehouse.close()
        self.warehouse = message.warehouse
        self._opening = False
        self._warehouse_error = None
        self.orchestrator = None
        self.main.welcome.show_schema(self.warehouse.label, self.warehouse.schema)
        if self._queued is not None and self.settings is not None:
            question, self._queued = self._queued, None
            self._start(question)
        self._update_state()

    @on(WarehouseFailed)
    def _warehouse_failed(self, message: WarehouseFailed) -> None:
        self._opening = False
        self._warehouse_error = message.message
        if self._queued is not None:
            self._queued = None
            self.session = None
            self.main.show_welcome()
        self.main.welcome.show_error(message.title, message.message)
        self.notify(message.message, title=message.title, severity="error", timeout=8)
        self._update_state()

    # -- asking ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._run_worker is not None and not self._run_worker.is_finished

    @property
    def replaying(self) -> bool:
        return self.player is not None

    @property
    def queued(self) -> str | None:
        """A question entered while the warehouse was opening; it starts when it is open."""
        return self._queued

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if isinstance(event.input, QuestionInput):
            self.ask(event.value)

    def on_welcome_example_chosen(self, event: Welcome.ExampleChosen) -> None:
        self.ask(event.question)

    def ask(self, question: str) -> None:
        """Start an investigation, or a follow-up when the last one produced a report; before
        the warehouse is open, queue it."""
        from .state import Session

        question = question.strip()
        if not question:
            return
        if self.replaying:
            self.notify("This is a replay. Press Ctrl+N to start a new investigation.")
            return
        if self.running or self._queued is not None:
            self.notify("An investigation is running; press Esc to cancel it.", severity="warning")
            return
        if self.warehouse is None and not self._opening:
            why = self._warehouse_error or "press Ctrl+N to open one"
            self.notify(f"No warehouse is open: {why}", severity="warning")
            return
        follow_up = (
            self.session is not None
            and self.session.report is not None
            and self._current_record() is not None
        )
        if not follow_up or self.session is None:
            self.session = Session(self._clock)
            self.orchestrator = None
            self.record = None
        self.session.ask(question)
        self.main.question.remember(question)
        self.main.question.value = ""
        if self.warehouse is None or self.settings is None:
            self._queued = question
            self.main.show_session(self.session, waiting_for_warehouse=True)
            self._update_state()
            return
        self._start(question)

    def _start(self, question: str) -> None:
        assert self.session is not None
        follow_up = bool(self.session.runs)
        self.main.show_session(self.session)
        self._unsaved = True
        self._cancelling = False
        self._run_worker = self.run_worker(
            self._run(self.session, question, follow_up),
            group="investigation",
            exclusive=True,
            exit_on_error=False,
        )
        self._update_state()

    async def _run(self, session: Session, question: str, follow_up: bool) -> None:
        from ..core.models import InvestigationFinished

        assert self.warehouse is not None and self.settings is not None
        try:
            if self.orchestrator is None:
                self.orchestrator = await asyncio.to_thread(
                    self.services.make_orchestrator, self.warehouse, self.model_name, self.settings
                )
            orchestrator = self.orchestrator
            if self.store is not None:  # saved after every step: a kill keeps finished steps
                orchestrator.checkpoint = self.store.save
            if follow_up and orchestrator.record is None and self.record is not None:
                orchestrator.resume(self.record)  # a reopened record: continue it
            events = (
                orchestrator.follow_up(question)
                if follow_up
                else orchestrator.investigate(question)
            )
            async for event in events:
                changed = session.apply(event)
                if self.session is session:
                    self.main.show_session(session, changed=changed)
                    self._refresh_status()
                if isinstance(event, InvestigationFinished):
                    self.record = orchestrator.record or event.investigation
                    self.main.set_mode(replaying=False, follow_up=session.report is not None)
                    self._announce(event.investigation)
                    await self._autosave()
        except Exception as exc:
            self._run_failed(user_error(exc))
        finally:  # the state follows when the worker reports it finished
            if self.session is session:
                self.main.show_finished()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is self._run_worker:
            self._update_state()

    def _announce(self, record: Investigation) -> None:
        if record.status == "cancelled":
            self.notify("Cancelled. The steps so far are saved in the history.", title="Cancelled")
        elif record.status == "failed":
            self.notify(
                record.error or "The investigation failed.", title="Failed", severity="error"
            )

    def _run_failed(self, message: str) -> None:
        self.main.show_failure("The investigation could not run", message)
        self.notify(message, title="Investigation failed", severity="error", timeout=8)

    async def _autosave(self) -> None:
        if self.store is None or self.record is None:
            return
        try:
            await asyncio.to_thread(self.store.save, self.record)
        except Exception as exc:
            self.notify(f"Not saved to the history: {user_error(exc)}", severity="warning")
            return
        self._unsaved = False

    def _cancel_run(self) -> bool:
        """The one place a run is cancelled (Esc, Ctrl+N, switching warehouse, quitting): a
        queued question is dropped, a running one stops and keeps its steps. True if there was
        one."""
        if self._queued is not None:
            self._queued = None
            self.session = None
            self.main.show_welcome()
            self._update_state()
            return True
        if not self.running:
            return False
        self._cancelling = True
        if self.orchestrator is not None:
            self.orchestrator.cancel()
        elif self._run_worker is not None:
            self._run_worker.cancel()
        self._update_state()
        return True

    def action_cancel(self) -> None:
        """Esc: cancel the queued or running investigation (its steps are kept)."""
        self._cancel_run()

    async def action_quit(self) -> None:
        """Quit; a running investigation is cancelled and what it did is saved first."""
        worker = self._run_worker
        if self._cancel_run() and worker is not None and not worker.is_finished:
            try:
                await asyncio.wait_for(worker.wait(), QUIT_GRACE_SECONDS)
            except Exception as exc:  # timeout or a failed worker: save what we have below
                self.log.warning(f"run did not finish on quit: {exc!r}")
        if self._unsaved and self.store is not None and self.orchestrator is not None:
            partial = self.orchestrator.record
            if partial is not None:
                if partial.status == "running":
                    partial = partial.model_copy(update={"status": "cancelled"})
                self.record = partial
                await self._autosave()
        self._leave_replay()
        if self.warehouse is not None:
            self.warehouse.close()
        self.exit()

    # -- replay and reopening ----------------------------------------------------------------

    def _load(self, path: Path, purpose: LoadPurpose, *, at_start: bool = False) -> None:
        """Read a saved record (call from a worker thread) and post it to be opened/replayed."""
        try:
            record = self.services.load_record(path)
        except Exception as exc:
            failed = WarehouseFailed if at_start else RecordFailed
            self.post_message(failed(f"Could not open {path.name}", user_error(exc)))
            return
        self.post_message(RecordLoaded(record, purpose))

    @work(thread=True, group="load", exit_on_error=False)
    def load_in_background(self, path: Path, purpose: LoadPurpose) -> None:
        self._load(path, purpose)

    @on(RecordLoaded)
    def _record_loaded(self, message: RecordLoaded) -> None:
        if message.purpose == "replay":
            self.start_replay(message.record)
        else:
            self.open_record(message.record)

    @on(RecordFailed)
    def _record_failed(self, message: RecordFailed) -> None:
        self.notify(message.message, title=message.title, severity="error", timeout=8)

    def _leave_replay(self) -> None:
        if self.player is not None:
            self.player.stop()
            self.player = None

    def _take_over(self, record: Investigation) -> bool:
        """Make a saved ``record`` the current one, unless an investigation is running."""
        if self.running or self._queued is not None:
            self.notify("Finish or cancel the running investigation first.", severity="warning")
            return False
        self._leave_replay()
        self.record = record
        self.orchestrator = None
        return True

    def open_record(self, record: Investigation) -> None:
        """Show a saved investigation in its final state; a question follows it up."""
        from .state import Session

        if not self._take_over(record):
            return
        self.session = Session.from_events(self.services.replay_events(record), self._clock)
        self.main.set_mode(replaying=False, follow_up=self.session.report is not None)
        self.main.show_session(self.session)
        self._update_state()

    def start_replay(self, record: Investigation) -> None:
        """Replay a saved investigation event by event (no warehouse or model needed)."""
        from .replay import ReplayPlayer

        if not self._take_over(record):
            return
        self.player = ReplayPlayer(
            record,
            list(self.services.replay_events(record)),
            host=self,
            interval=self._replay_interval,
            on_frame=self._replay_frame,
        )
        self.main.set_mode(replaying=True, follow_up=False)
        self.player.show()
        self._replay_control(lambda player: player.set_playing(True))

    def _replay_frame(self, events: Sequence[Event]) -> None:
        from .state import Session

        self.session = Session.from_events(events, self._clock)
        try:
            self.main.show_session(self.session)
        except NoMatches:  # the timer fired while the app was tearing its screen down
            self._leave_replay()
            return
        self._replay_changed()

    def _replay_changed(self) -> None:
        self.main.refresh_bindings()
        self._update_state()

    def _replay_control(self, control: Callable[[ReplayPlayer], None]) -> None:
        if self.player is not None:
            control(self.player)
            self._replay_changed()

    @property
    def playing(self) -> bool:
        """A replay is advancing on its own (Esc pauses it)."""
        return self.player is not None and self.player.playing

    def action_replay_toggle(self) -> None:
        self._replay_control(lambda player: player.toggle())

    def action_replay_step(self, delta: int) -> None:
        self._replay_control(lambda player: player.step(delta))

    def action_replay_pause(self) -> None:
        self._replay_control(lambda player: player.set_playing(False))

    # -- status ------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """What the app is doing, as the status bar says it."""
        if self.player is not None:
            return "replay"
        if self._queued is not None:
            return "queued: opening warehouse…"
        if self.running:
            return "cancelling…" if self._cancelling else "investigating…"
        run = self.session.current if self.session else None
        if run is not None:
            return run.status
        if self._opening:
            return "opening warehouse…"
        if self.warehouse is None:
            return "no warehouse" if self._warehouse_error else "starting…"
        return "ready"

    def _update_state(self) -> None:
        """Show the state after a change; the clock ticks only while a question waits or runs."""
        if self._ticker is not None:
            if self._queued is not None or self.running:
                self._ticker.resume()
            else:
                self._ticker.pause()
        self._refresh_status()
        if self._main.is_mounted:
            self._main.refresh_bindings()

    def _refresh_status(self) -> None:
        if not self._main.is_mounted:
            return
        session = self.session
        status = Status(model=self.model_name, state=self.state)
        if self.player is not None:
            status.warehouse = self.player.record.warehouse
            status.model = self.player.record.model
            status.replay = self.player.progress
        elif self.warehouse is not None:
            status.warehouse = self.warehouse.label
        elif self._warehouse_error:
            status.warehouse = "no warehouse"
        if session is not None:
            status.steps = len(session.steps)
            status.usage = format_tokens(session.usage)
            if self.player is not None:
                done = [s.step.duration_ms for s in session.steps if s.step is not None]
                status.elapsed = format_elapsed(sum(done) / 1000)
            else:
                status.elapsed = format_elapsed(session.elapsed())
        try:
            self.main.show_status(status)
        except NoMatches:  # the screen is being torn down on exit
            return

    # -- commands ----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Show each key only when it acts: Esc cancels a run, or pauses a playing replay;
        dialogs open only from the main screen."""
        if action in DIALOG_ACTIONS:
            return self.screen is self._main
        if action in {"replay_toggle", "replay_step"}:
            return self.player is not None
        if action == "replay_pause":
            return self.playing
        if action == "cancel":
            return self.player is None and (self.running or self._queued is not None)
        return True

    def action_help(self) -> None:
        from .screens.help import HelpScreen, help_markdown
        from .screens.history import HistoryScreen

        screen = InvestigationScreen.BINDINGS
        sections = [
            ("Anywhere", self.BINDINGS),
            ("Investigation", [b for b in screen if not _is_replay(b)]),
            ("Question box", QuestionInput.BINDINGS),
            ("Replay", [b for b in screen if _is_replay(b)]),
            ("History (Ctrl+O)", HistoryScreen.BINDINGS),
        ]
        self.push_screen(HelpScreen(help_markdown(sections, self.keymap_overrides)))

    def action_new_investigation(self) -> None:
        was_running = self.running
        self._cancel_run()
        if was_running:
            self.notify("The running investigation was cancelled and saved.")
        self._leave_replay()
        self.session = None
        self.record = None
        self.orchestrator = None
        self.main.show_welcome()
        if self.warehouse is None and not self._opening and self.settings is not None:
            self._reopen(self._warehouse_source or self.settings.warehouse)
        self._update_state()

    def _reopen(self, source: str | None) -> None:
        self._opening = True
        self.main.show_progress("Opening the warehouse", 0.0)
        self._open_in_background(source)

    @work(thread=True, group="warehouse", exclusive=True, exit_on_error=False)
    def _open_in_background(self, source: str | None) -> None:
        self._open_warehouse(source)

    def action_history(self) -> None:
        from .screens.history import HistoryScreen

        if self.store is None:
            self.notify("The history is not available yet.", severity="warning")
            return

        def chosen(choice: HistoryChoice | None) -> None:
            if choice is not None:
                how, path = choice
                self.load_in_background(path, how)

        self.push_screen(HistoryScreen(self.store), chosen)

    def action_replay_file(self) -> None:
        from .screens.dialogs import PromptScreen

        def chosen(value: str | None) -> None:
            if value:
                self.load_in_background(Path(value).expanduser(), "replay")

        self.push_screen(
            PromptScreen(
                "Replay a saved investigation",
                hint="Path to a JSON file saved by `mai investigate --save` or Ctrl+S.",
            ),
            chosen,
        )

    def _current_record(self) -> Investigation | None:
        if self.orchestrator is not None and self.orchestrator.record is not None:
            return self.orchestrator.record
        return self.record

    def _exports_dir(self) -> Path:
        """Where Save and Export propose to write: the data directory, never the current one."""
        base = self.settings.data_dir if self.settings is not None else Path.home()
        return base / EXPORTS_DIR

    def _ask_path(
        self, title: str, default: Path, hint: str, write: Callable[[Path], None], done: str
    ) -> None:
        """A path dialog (prefilled with ``default``), then ``write`` in a worker thread."""
        from .screens.dialogs import PromptScreen

        exports = self._exports_dir()

        def chosen(value: str | None) -> None:
            if not value:
                return
            path = Path(value).expanduser()

            def run() -> None:
                if path.parent == exports:
                    exports.mkdir(parents=True, exist_ok=True)
                write(path)

            self._write(run, f"{done} {path}")

        self.push_screen(PromptScreen(title, str(default), hint=hint), chosen)

    def action_save(self) -> None:
        record = self._current_record()
        if record is None:
            self.notify("Nothing to save yet: ask a question first.", severity="warning")
            return
        self._ask_path(
            "Save investigation as",
            self._exports_dir() / f"investigation-{record.id[:8]}.json",
            f"Saved in {self._exports_dir()} unless you change it. "
            "Replay it with `mai replay FILE`.",
            lambda path: self.services.save_record(record, path),
            "Saved to",
        )

    def action_export(self) -> None:
        record = self._current_record()
        if record is None or self.session is None or self.session.report is None:
            self.notify("There is no report to export yet.", severity="warning")
            return

        def write(path: Path) -> None:
            from ..core.report_markdown import write_export

            write_export(path, self.services.report_to_markdown(record), warehouse=record.warehouse)

        self._ask_path(
            "Export the report as Markdown",
            self._exports_dir() / f"report-{record.id[:8]}.md",
            f"Written in {self._exports_dir()} unless you change it.",
            write,
            "Report exported to",
        )

    @work(thread=True, group="write", exit_on_error=False)
    def _write(self, write: Callable[[], None], done: str) -> None:
        try:
            write()
        except Exception as exc:
            self.call_from_thread(
                self.notify,
                user_error(exc),
                title="Could not write the file",
                severity="error",
                timeout=8,
            )
            return
        self.call_from_thread(self.notify, done, title="Saved")

    def action_switch_model(self) -> None:
        from .screens.dialogs import PromptScreen

        def chosen(value: str | None) -> None:
            if value and value != self.model_name:
                self.model_name = value
                if not self.running:
                    self.orchestrator = None
                self.notify(f"Model: {value} (from the next investigation).", title="Model")
                self._refresh_status()

        self.push_screen(
            PromptScreen(
                "Switch model",
                self.model_name,
                hint="autopilot (offline), anthropic:claude-sonnet-4-5, openai:gpt-5, ollama:…",
            ),
            chosen,
        )

    def action_switch_warehouse(self) -> None:
        from .screens.dialogs import PromptScreen

        def chosen(value: str | None) -> None:
            if value is None or self.settings is None:
                return
            if self.running:
                self.notify("Cancel the running investigation first (Esc).", severity="warning")
                return
            self._warehouse_source = None if value == "demo" else value
            self._opening = True  # so the new investigation does not start an open of its own
            self.action_new_investigation()
            self._reopen(self._warehouse_source)

        self.push_screen(
            PromptScreen(
                "Switch warehouse",
                self._warehouse_source or "demo",
                hint="A DuckDB file, a folder of Parquet/CSV files, a database URL, or `demo`.",
            ),
            chosen,
        )


def run_tui(
    *,
    warehouse: str | None = None,
    model: str | None = None,
    replay: Path | None = None,
    config: Path | None = None,
    speed: float = 1.0,
) -> None:
    """Run the full-screen app (blocking until the user quits); ``speed`` scales replay pace."""
    InvestigatorApp(
        warehouse=warehouse,
        model=model,
        replay=replay,
        config=config,
        replay_interval=REPLAY_INTERVAL / max(speed, 0.01),
    ).run()
