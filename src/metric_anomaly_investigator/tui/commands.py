"""The Ctrl+P command palette: every app command, searchable."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from .app import InvestigatorApp

Command = tuple[str, Callable[[], object], str]


class InvestigatorCommands(Provider):
    """Commands of the investigator; replay controls only while replaying."""

    @property
    def commands(self) -> list[Command]:
        app = cast("InvestigatorApp", self.app)
        commands: list[Command] = [
            ("New investigation", app.action_new_investigation, "Start over with a new question"),
            ("Open history", app.action_history, "Reopen, replay or delete saved investigations"),
            ("Replay a saved file…", app.action_replay_file, "Replay an investigation file"),
            ("Save investigation…", app.action_save, "Save this investigation as JSON"),
            ("Export report as Markdown…", app.action_export, "Write the report to a .md file"),
            ("Switch model…", app.action_switch_model, f"Current: {app.model_name}"),
            ("Switch warehouse…", app.action_switch_warehouse, "Open another warehouse"),
            ("Switch theme…", app.action_change_theme, f"Current: {app.theme}"),
            ("Help", app.action_help, "Keys and how the investigator works"),
        ]
        if app.replaying:
            commands += [
                ("Replay: play / pause", app.replay_toggle, "Space"),
                ("Replay: step forward", lambda: app.replay_step(1), "→"),
                ("Replay: step back", lambda: app.replay_step(-1), "←"),
            ]
        commands.append(("Quit", app.action_quit, "Saves a running investigation first"))
        return commands

    async def discover(self) -> Hits:
        for name, callback, help_text in self.commands:
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self.commands:
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
