"""The question box: Enter submits, Up/Down walk through earlier questions."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import Input


class QuestionInput(Input):
    """An input with a history of submitted questions."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "history(-1)", "Previous question", show=False, id="question.history_up"),
        Binding("down", "history(1)", "Next question", show=False, id="question.history_down"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder="Ask why a metric moved…", id=id)
        self.history: list[str] = []
        self._position = 0
        self._draft = ""

    def remember(self, question: str) -> None:
        """Add a submitted question to the history and reset the cursor to the end."""
        if question and (not self.history or self.history[-1] != question):
            self.history.append(question)
        self._position = len(self.history)
        self._draft = ""

    def action_history(self, direction: int) -> None:
        if not self.history:
            return
        if self._position == len(self.history):
            self._draft = self.value
        self._position = max(0, min(len(self.history), self._position + direction))
        text = self.history[self._position] if self._position < len(self.history) else self._draft
        self.value = text
        self.cursor_position = len(text)
