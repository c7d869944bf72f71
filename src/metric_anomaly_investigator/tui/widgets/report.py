"""The report pane: the Insights agent's report as Markdown, or what is happening instead."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Markdown

from ..render import report_markdown

if TYPE_CHECKING:
    from ..core.models import Report

WAITING = "*The report appears here when the investigation finishes.*"
WRITING = "*Writing the report from the findings so far…*"


class ReportView(VerticalScroll):
    """Markdown of the latest report, a progress note, or an error."""

    def compose(self) -> ComposeResult:
        yield Markdown(WAITING, id="report-markdown")

    def _set(self, text: str, *, error: bool = False) -> None:
        self.set_class(error, "-error")
        self.query_one(Markdown).update(text)

    def show_waiting(self) -> None:
        self._set(WAITING)

    def show_writing(self) -> None:
        self._set(WRITING)

    def show_report(self, report: Report) -> None:
        self._set(report_markdown(report))

    def show_error(self, title: str, message: str) -> None:
        self._set(f"## {title}\n\n{message}", error=True)
