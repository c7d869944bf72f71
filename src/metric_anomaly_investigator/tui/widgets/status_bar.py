"""One line of status: warehouse, state (and replay position), model, steps, elapsed time,
tokens and cost."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from textual.content import Content
from textual.widgets import Static


@dataclass
class Status:
    warehouse: str = "opening…"
    model: str = "–"
    steps: int = 0
    elapsed: str = "00:00"
    usage: str = "0 tok"
    state: str = "ready"
    replay: str = ""


class StatusBar(Static):
    """The bottom status line; the app pushes a :class:`Status` on every tick."""

    def show(self, status: Status) -> None:
        warehouse = status.warehouse
        if "/" in warehouse and "://" not in warehouse:  # a file path: its name is enough
            warehouse = PurePath(warehouse).name
        # What is happening comes right after where, so a narrow terminal still shows it.
        parts = [
            Content.from_markup("[b $primary] ◆ $w[/]", w=warehouse),
            Content.from_markup("[b]$s[/]", s=status.state),
        ]
        if status.replay:
            parts.append(Content.from_markup("[b $accent]$r[/]", r=status.replay))
        parts += [
            Content(status.model),
            Content(f"{status.steps} step{'' if status.steps == 1 else 's'}"),
            Content(status.elapsed),
            Content(status.usage),
        ]
        self.update(Content.from_markup("[$text-muted] │ [/]").join(parts))
