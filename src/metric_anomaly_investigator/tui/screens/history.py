"""Ctrl+O: every saved investigation — reopen it, replay it, or delete it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from textual import work
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ...core.report_markdown import escape_controls
from ..footer import footer_order
from ..render import format_when
from ..services import StoreLike, user_error
from .dialogs import ConfirmScreen

if TYPE_CHECKING:
    from ...core.store import SavedInvestigation

HistoryChoice = tuple[Literal["open", "replay"], Path]
EMPTY = (
    "No saved investigations yet.\n\nEvery investigation is saved here automatically when it "
    "finishes (or is cancelled). Press Esc to go back and ask a question."
)


MAX_QUESTION = 48
MAX_VERDICT = 60


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _verdict(entry: SavedInvestigation) -> str:
    """``drop · <root cause>`` for a finished report, else ``–``."""
    parts = [p for p in (entry.direction, entry.verdict) if p]
    return _clip(" · ".join(parts), MAX_VERDICT) if parts else "–"


class HistoryScreen(Screen[HistoryChoice | None]):
    """A table of saved investigations, newest first."""

    CSS_PATH = "history.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "choose('open')", "Open", id="history.open"),
        Binding("r", "choose('replay')", "Replay", id="history.replay"),
        Binding("d,delete", "delete", "Delete", id="history.delete"),
        Binding("escape", "close", "Back", id="history.close"),
    ]

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        return footer_order(super().active_bindings)

    def __init__(self, store: StoreLike) -> None:
        super().__init__()
        self._store = store
        self._entries: list[SavedInvestigation] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="history") as box:
            box.border_title = "History"
            yield Static("Loading…", id="history-empty")
            table: DataTable[str] = DataTable(id="history-table", cursor_type="row")
            table.add_columns("When", "Status", "Model", "Question", "Verdict")
            yield table
            yield Static(id="history-question")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(DataTable).display = False
        self.load()

    @work(thread=True, exclusive=True, group="history")
    def load(self) -> None:
        try:
            entries = list(self._store.list())
        except Exception as exc:  # a broken directory must not take the app down
            self.app.call_from_thread(self._show_error, user_error(exc))
            return
        self.app.call_from_thread(self._show, entries)

    def _show_error(self, message: str) -> None:
        self.query_one("#history-empty", Static).update(f"Could not read the history: {message}")

    def _show(self, entries: Sequence[SavedInvestigation]) -> None:
        # A saved file's text is data: its control characters are shown, never sent.
        shown = [
            replace(
                entry,
                question=escape_controls(entry.question),
                verdict=escape_controls(entry.verdict) if entry.verdict else entry.verdict,
                model=escape_controls(entry.model),
            )
            for entry in entries
        ]
        self._entries = sorted(shown, key=lambda e: e.started_at, reverse=True)
        table: DataTable[str] = self.query_one(DataTable)
        table.clear()
        for entry in self._entries:
            table.add_row(
                format_when(entry.started_at),
                entry.status,
                entry.model,
                _clip(entry.question, MAX_QUESTION),
                _verdict(entry),
                key=entry.id,
            )
        empty = not self._entries
        self.query_one("#history-empty").display = empty
        self.query_one("#history-empty", Static).update(EMPTY)
        table.display = not empty
        box = self.query_one("#history")
        box.border_subtitle = f"{len(self._entries)} saved" if self._entries else ""
        if not empty:
            table.focus()

    def _selected(self) -> SavedInvestigation | None:
        table: DataTable[str] = self.query_one(DataTable)
        if not self._entries or not table.display:
            return None
        row = table.cursor_row
        return self._entries[row] if 0 <= row < len(self._entries) else None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The highlighted investigation's whole question (the table clips it)."""
        entry = self._selected()
        self.query_one("#history-question", Static).update(
            Content.from_markup("[b $accent]Q[/] $q", q=entry.question) if entry else ""
        )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_choose("open")

    def action_choose(self, how: Literal["open", "replay"]) -> None:
        entry = self._selected()
        if entry is not None:
            self.dismiss((how, Path(entry.path)))

    def action_close(self) -> None:
        self.dismiss(None)

    def action_delete(self) -> None:
        entry = self._selected()
        if entry is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._delete(entry)

        self.app.push_screen(
            ConfirmScreen("Delete investigation", f"Delete “{entry.question}”?"), answered
        )

    def _delete(self, entry: SavedInvestigation) -> None:
        try:
            self._store.delete(str(entry.id))
        except Exception as exc:
            self.notify(user_error(exc), title="Could not delete", severity="error")
            return
        self.notify(f"Deleted “{entry.question}”.", title="History")
        self.load()
