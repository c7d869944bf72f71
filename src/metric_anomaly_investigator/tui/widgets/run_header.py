"""The run's header: the question being investigated, and each follow-up, above the panes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.content import Content
from textual.widgets import Static

if TYPE_CHECKING:
    from ..state import Session

QUEUED = "queued — it starts as soon as the warehouse is open"
STARTING = "starting…"
MAX_LINES = 4
COMPACT_LINES = 2


def header_text(
    session: Session | None,
    *,
    waiting_for_warehouse: bool,
    max_lines: int = MAX_LINES,
    width: int | None = None,
) -> Content:
    """``Q`` and the root question, ``↳`` and each follow-up, each clipped to ``width``; a
    question not yet started says why. Past ``max_lines``, the earliest follow-ups are left out
    (and counted): the root question and the latest ones stay in sight."""
    if session is None:
        return Content("")
    lines: list[Content] = []
    pending = len(session.runs) if session.pending is not None else None
    questions = list(enumerate(session.questions))
    kept = questions[:1] + questions[max(1, len(questions) - max(1, max_lines - 1)) :]
    for shown, (number, asked) in enumerate(kept):
        question = " ".join(asked.split())  # one line each, however it was typed
        mark = "[b $accent]Q[/]" if number == 0 else "[b $accent]↳[/]"
        line = Content.from_markup(f"{mark} [b]$q[/]", q=question)
        left_out = number - shown
        if shown == 1 and left_out:
            more = f"(+{left_out} earlier) "
            line = Content.from_markup(f"{mark} [$text-muted]$m[/][b]$q[/]", m=more, q=question)
        if width is not None:
            line = line.truncate(max(10, width), ellipsis=True)
        if number == pending:
            note = QUEUED if waiting_for_warehouse else STARTING
            line = line + Content.from_markup("  [$text-muted i]$n[/]", n=note)
        lines.append(line)
    return Content("\n").join(lines)


class RunHeader(Static):
    """Always shows the questions of the session on screen (live, reopened or replayed)."""

    _shown: tuple[Session | None, bool] = (None, False)

    def show(self, session: Session | None, *, waiting_for_warehouse: bool = False) -> None:
        self._shown = (session, waiting_for_warehouse)
        compact = self.screen.has_class("-compact")
        width = self.app.size.width - 2  # the header spans the screen, padded by one
        self.update(
            header_text(
                session,
                waiting_for_warehouse=waiting_for_warehouse,
                max_lines=COMPACT_LINES if compact else MAX_LINES,
                width=width,
            )
        )

    def refit(self) -> None:
        """Show the same questions again after the screen changed size."""
        session, waiting = self._shown
        self.show(session, waiting_for_warehouse=waiting)
