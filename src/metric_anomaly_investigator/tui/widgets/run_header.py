"""The run's header: the question being investigated, and each follow-up, above the panes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.content import Content
from textual.widgets import Static

if TYPE_CHECKING:
    from ..state import Session

QUEUED = "queued — it starts as soon as the warehouse is open"
STARTING = "starting…"


def header_text(session: Session | None, *, waiting_for_warehouse: bool) -> Content:
    """``Q`` and the root question, ``↳`` and each follow-up; a question not yet started says
    why."""
    if session is None:
        return Content("")
    lines: list[Content] = []
    pending = len(session.runs) if session.pending is not None else None
    for number, question in enumerate(session.questions):
        mark = "[b $accent]Q[/]" if number == 0 else "[b $accent]↳[/]"
        line = Content.from_markup(f"{mark} [b]$q[/]", q=question)
        if number == pending:
            note = QUEUED if waiting_for_warehouse else STARTING
            line = line + Content.from_markup("  [$text-muted i]$n[/]", n=note)
        lines.append(line)
    return Content("\n").join(lines)


class RunHeader(Static):
    """Always shows the questions of the session on screen (live, reopened or replayed)."""

    def show(self, session: Session | None, *, waiting_for_warehouse: bool = False) -> None:
        self.update(header_text(session, waiting_for_warehouse=waiting_for_warehouse))
