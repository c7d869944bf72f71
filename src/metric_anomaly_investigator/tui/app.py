"""The Textual app: `mai` opens it, `mai replay FILE` replays into it, `mai serve` serves it.

Start-up is split so the first frame comes first: this module imports only Textual and the
light TUI modules; settings, the warehouse (generated on first run, with progress), the store
and the investigation engine load in a worker after the first refresh. Investigations run in
an async worker consuming the orchestrator's events; nothing blocks the UI, and every failure
becomes a message on screen.
"""

from __future__ import annotations

import asyncio
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.timer import Timer
from textual.widgets import Input
from textual.worker import Worker

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
    from .screens.history import HistoryChoice
    from .state import Session

DEFAULT_THEME = "textual-dark"
REPLAY_INTERVAL = 0.8
QUIT_GRACE_SECONDS = 5.0
TICK_SECONDS = 0.1
KEYMAP_FILE = "keymap.toml"


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
        self.model_name = model or "…"
        self.replaying = False
        self.keymap_overrides: dict[str, str] = {}
        self._clock = clock
        self._warehouse_source = warehouse
        self._explicit_model = model
        self._replay_path = replay
        self._config = config
        self._warehouse_error: str | None = None
        self._opening = False
        self._run_worker: Worker[None] | None = None
        self._unsaved = False
        self._cancelling = False
        self._replay_events: list[Event] = []
        self._replay_position = 0
        self._replay_interval = replay_interval
        self._replay_timer: Timer | None = None
        self._playing = False
        self._main = InvestigationScreen(clock)

    # -- start-up ----------------------------------------------------------------------------

    @property
    def main(self) -> InvestigationScreen:
        return self._main

    def on_mount(self) -> None:
        # Pushed rather than returned by get_default_screen, which would skip the screen's CSS.
        self.push_screen(self._main)
        self.set_interval(TICK_SECONDS, self._tick)
        self.call_after_refresh(self._tick)
        self.call_after_refresh(self._boot)

    @work(thread=True, group="boot", exit_on_error=False)
    def _boot(self) -> None:
        """After the first frame: settings, history store, then the replay file or warehouse."""
        try:
            settings = self.settings or self.services.load_settings()
            store = self.services.make_store(settings.history_dir)
        except Exception as exc:
            self.call_from_thread(self._warehouse_failed, "Invalid settings", user_error(exc))
            return
        self.call_from_thread(self._settings_ready, settings, store)
        if self._replay_path is not None:
            self._load(self._replay_path, "replay")
        else:
            self._open_warehouse(self._warehouse_source or settings.warehouse)

    def _settings_ready(self, settings: Settings, store: StoreLike) -> None:
        self.settings = settings
        self.store = store
        self.model_name = self._explicit_model or settings.resolved_model()
        keymap_path = settings.data_dir / KEYMAP_FILE
        if keymap_path.is_file():
            try:
                keymap = {str(k): str(v) for k, v in tomllib.loads(keymap_path.read_text()).items()}
            except (OSError, tomllib.TOMLDecodeError) as exc:
                self.notify(f"{keymap_path} ignored: {user_error(exc)}", severity="warning")
            else:
                self.keymap_overrides = keymap
                self.set_keymap(keymap)

    def _open_warehouse(self, source: str | None) -> None:
        """Open a warehouse (in a worker thread) with progress on the welcome pane."""
        self._opening = True

        def progress(message: str, fraction: float) -> None:
            self.call_from_thread(self.main.welcome.show_progress, message, fraction)

        try:
            warehouse = self.services.open_warehouse(source, self._config, progress)
        except Exception as exc:
            self.call_from_thread(
                self._warehouse_failed, "Could not open the warehouse", user_error(exc)
            )
            return
        self.call_from_thread(self._warehouse_ready, warehouse)
        try:
            self.services.warm_up()
        except Exception as exc:  # reported again, in context, when a question is asked
            self.log.warning(f"engine warm-up failed: {exc!r}")

    def _warehouse_ready(self, warehouse: WarehouseLike) -> None:
        if self.warehouse is not None and self.warehouse is not warehouse:
            self.warehouse.close()
        self.warehouse = warehouse
        self._opening = False
        self._warehouse_error = None
        self.orchestrator = None
        self.main.welcome.show_schema(warehouse.label, warehouse.schema)

    def _warehouse_failed(self, title: str, message: str) -> None:
        self._opening = False
        self._warehouse_error = message
        self.main.welcome.show_error(title, message)
        self.notify(message, title=title, severity="error", timeout=8)

    # -- asking ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._run_worker is not None and not self._run_worker.is_finished

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if isinstance(event.input, QuestionInput):
            self.ask(event.value)

    def on_welcome_example_chosen(self, event: Welcome.ExampleChosen) -> None:
        self.main.question.value = event.question
        self.ask(event.question)

    def ask(self, question: str) -> None:
        """Start an investigation, or a follow-up when the last one produced a report."""
        question = question.strip()
        if not question:
            return
        if self.replaying:
            self.notify("This is a replay. Press Ctrl+N to start a new investigation.")
            return
        if self.running:
            self.notify("An investigation is running; press Esc to cancel it.", severity="warning")
            return
        if self.warehouse is None or self.settings is None:
            message = (
                f"No warehouse is open: {self._warehouse_error}"
                if self._warehouse_error
                else "The warehouse is still opening; try again in a moment."
            )
            self.notify(message, severity="warning")
            return
        from .state import Session

        follow_up = (
            self.session is not None
            and self.session.report is not None
            and self._current_record() is not None
        )
        if not follow_up:
            self.session = Session(self._clock)
            self.orchestrator = None
            self.record = None
        assert self.session is not None
        self.main.question.remember(question)
        self.main.question.value = ""
        self.main.show_session(self.session)
        self._unsaved = True
        self._cancelling = False
        self._run_worker = self.run_worker(
            self._run(self.session, question, follow_up),
            group="investigation",
            exclusive=True,
            exit_on_error=False,
        )
        self.main.refresh_bindings()

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
                if isinstance(event, InvestigationFinished):
                    self.record = orchestrator.record or event.investigation
                    self.main.set_mode(replaying=False, follow_up=session.report is not None)
                    self._announce(event.investigation)
                    await self._autosave()
        except Exception as exc:
            self._run_failed(user_error(exc))
        finally:
            self.main.refresh_bindings()

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

    def cancel_investigation(self) -> None:
        """Esc: cancel the running investigation (its steps are kept), or pause a replay."""
        if self.replaying:
            self._set_playing(False)
            return
        if not self.running:
            return
        self._cancelling = True
        if self.orchestrator is not None:
            self.orchestrator.cancel()
        elif self._run_worker is not None:
            self._run_worker.cancel()

    async def action_quit(self) -> None:
        """Quit; a running investigation is cancelled and what it did is saved first."""
        if self.running and self._run_worker is not None:
            self.cancel_investigation()
            try:
                await asyncio.wait_for(self._run_worker.wait(), QUIT_GRACE_SECONDS)
            except Exception as exc:  # timeout or a failed worker: save what we have below
                self.log.warning(f"run did not finish on quit: {exc!r}")
        if self._unsaved and self.store is not None and self.orchestrator is not None:
            partial = self.orchestrator.record
            if partial is not None:
                if partial.status == "running":
                    partial = partial.model_copy(update={"status": "cancelled"})
                self.record = partial
                await self._autosave()
        if self.warehouse is not None:
            self.warehouse.close()
        self.exit()

    # -- replay and reopening ----------------------------------------------------------------

    def _load(self, path: Path, how: str) -> None:
        """Load a saved record (call from a worker thread) and open or replay it."""
        try:
            record = self.services.load_record(path)
        except Exception as exc:
            self.call_from_thread(
                self._warehouse_failed if self.session is None else self._notify_error,
                f"Could not open {path.name}",
                user_error(exc),
            )
            return
        self.call_from_thread(self.start_replay if how == "replay" else self.open_record, record)

    def _notify_error(self, title: str, message: str) -> None:
        self.notify(message, title=title, severity="error", timeout=8)

    @work(thread=True, group="load", exit_on_error=False)
    def load_in_background(self, path: Path, how: str) -> None:
        self._load(path, how)

    def _leave_replay(self) -> None:
        self._set_playing(False)
        self.replaying = False
        self._replay_events = []

    def _take_over(self, record: Investigation) -> bool:
        """Make a saved ``record`` the current one, unless an investigation is running."""
        if self.running:
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

    def start_replay(self, record: Investigation) -> None:
        """Replay a saved investigation event by event (no warehouse or model needed)."""
        if not self._take_over(record):
            return
        self._replay_events = list(self.services.replay_events(record))
        self._replay_position = 0
        self.replaying = True
        self.main.set_mode(replaying=True, follow_up=False)
        self._replay_render()
        self._set_playing(True)

    def _replay_render(self) -> None:
        from .state import Session

        self.session = Session.from_events(
            self._replay_events[: self._replay_position], self._clock
        )
        self.main.show_session(self.session)

    @property
    def playing(self) -> bool:
        """A replay is advancing on its own (Esc pauses it)."""
        return self._playing

    def _set_playing(self, playing: bool) -> None:
        self._playing = playing and self.replaying
        self.main.refresh_bindings()
        if self._replay_timer is None:
            if not self._playing:
                return
            self._replay_timer = self.set_interval(self._replay_interval, self._replay_advance)
        elif self._playing:
            self._replay_timer.resume()
        else:
            self._replay_timer.pause()

    def _replay_advance(self) -> None:
        if not self.replaying or self._replay_position >= len(self._replay_events):
            self._set_playing(False)
            return
        self._replay_position += 1
        try:
            self._replay_render()
        except NoMatches:  # the timer fired while the app was tearing its screen down
            self._set_playing(False)

    def replay_toggle(self) -> None:
        if not self.replaying:
            return
        if not self._playing and self._replay_position >= len(self._replay_events):
            self._replay_position = 0
        self._set_playing(not self._playing)

    def replay_step(self, delta: int) -> None:
        if not self.replaying:
            return
        self._set_playing(False)
        position = max(0, min(len(self._replay_events), self._replay_position + delta))
        if position != self._replay_position:
            self._replay_position = position
            self._replay_render()

    # -- status ------------------------------------------------------------------------------

    def _state_text(self) -> str:
        if self.replaying:
            return "replay"
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

    def _tick(self) -> None:
        if not self._main.is_mounted:
            return
        session = self.session
        status = Status(model=self.model_name, state=self._state_text())
        if self.replaying and self.record is not None:
            status.warehouse = self.record.warehouse
            status.model = self.record.model
            state = "playing" if self._playing else "paused"
            status.replay = f"{state} {self._replay_position}/{len(self._replay_events)}"
        elif self.warehouse is not None:
            status.warehouse = self.warehouse.label
        elif self._warehouse_error:
            status.warehouse = "no warehouse"
        if session is not None:
            status.steps = len(session.steps)
            status.usage = format_tokens(session.usage)
            if self.replaying:
                done = [s.step.duration_ms for s in session.steps if s.step is not None]
                status.elapsed = format_elapsed(sum(done) / 1000)
            else:
                status.elapsed = format_elapsed(session.elapsed())
        try:
            self.main.show_status(status)
        except NoMatches:  # the screen is being torn down on exit
            return

    # -- commands ----------------------------------------------------------------------------

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
        if self.running:
            self.cancel_investigation()
            self.notify("The running investigation was cancelled and saved.")
        self._leave_replay()
        self.session = None
        self.record = None
        self.orchestrator = None
        self.main.show_welcome()
        if self.warehouse is None and not self._opening and self.settings is not None:
            self._open_in_background(self._warehouse_source or self.settings.warehouse)

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

    def action_save(self) -> None:
        from .screens.dialogs import PromptScreen

        record = self._current_record()
        if record is None:
            self.notify("Nothing to save yet: ask a question first.", severity="warning")
            return

        def chosen(value: str | None) -> None:
            if value:
                path = Path(value).expanduser()
                self._write(lambda: self.services.save_record(record, path), f"Saved to {path}")

        default = Path.cwd() / f"investigation-{record.id[:8]}.json"
        self.push_screen(
            PromptScreen(
                "Save investigation as", str(default), hint="Replay it with `mai replay FILE`."
            ),
            chosen,
        )

    def action_export(self) -> None:
        from .screens.dialogs import PromptScreen

        record = self._current_record()
        if record is None or self.session is None or self.session.report is None:
            self.notify("There is no report to export yet.", severity="warning")
            return

        def chosen(value: str | None) -> None:
            if value:
                path = Path(value).expanduser()

                def write() -> None:
                    from ..core.report_markdown import write_export

                    markdown = self.services.report_to_markdown(record)
                    write_export(path, markdown, warehouse=record.warehouse)

                self._write(write, f"Report exported to {path}")

        default = Path.cwd() / f"report-{record.id[:8]}.md"
        self.push_screen(PromptScreen("Export the report as Markdown", str(default)), chosen)

    @work(thread=True, group="write", exit_on_error=False)
    def _write(self, write: Callable[[], None], done: str) -> None:
        try:
            write()
        except Exception as exc:
            self.call_from_thread(self._notify_error, "Could not write the file", user_error(exc))
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
            self.main.welcome.show_progress("opening the warehouse", 0.0)
            self._open_in_background(self._warehouse_source)

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
