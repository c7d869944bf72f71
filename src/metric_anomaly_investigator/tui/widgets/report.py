"""The report pane: the Insights agent's report as Markdown, or what is happening instead.

The Markdown widget (and markdown-it) is created with the first report, not at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ...core.report_markdown import compact_report

if TYPE_CHECKING:
    from textual.widgets import Markdown

    from ...core.models import Report

WAITING = "The report appears here when the investigation finishes."
WRITING = "Writing the report from the findings so far…"


class ReportView(VerticalScroll):
    """Markdown of the latest report, a progress note, or an error."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._markdown: Markdown | None = None

    def compose(self) -> ComposeResult:
        yield Static(WAITING, id="report-note")

    def _note(self, text: str) -> None:
        self.set_class(False, "-error")
        note = self.query_one("#report-note", Static)
        note.update(text)
        note.display = True
        if self._markdown is not None:
            self._markdown.display = False

    def _set(self, text: str, *, error: bool = False) -> None:
        self.set_class(error, "-error")
        self.query_one("#report-note").display = False
        if self._markdown is None:
            from textual.widgets import Markdown

            self._markdown = Markdown(text, id="report-markdown")
            self.mount(self._markdown)
        else:
            self._markdown.update(text)
        self._markdown.display = True

    @property
    def source(self) -> str:
        """The Markdown shown (empty while only a note is shown)."""
        if self._markdown is None or not self._markdown.display:
            return ""
        return self._markdown.source

    def show_waiting(self) -> None:
        self._note(WAITING)

    def show_writing(self) -> None:
        self._note(WRITING)

    def show_report(self, report: Report) -> None:
        self._set(compact_report(report))

    def show_error(self, title: str, message: str) -> None:
        self._set(f"## {title}\n\n{message}", error=True)
