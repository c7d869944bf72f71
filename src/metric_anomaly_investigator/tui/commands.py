"""The Ctrl+P command palette: every app command, searchable.

Commands are ``app.`` actions run through :meth:`App.run_action`, so this module never imports
the app; replay controls are listed only while the app says they apply.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

Command = tuple[str, str, str]
"""(name, action, help)."""


class InvestigatorCommands(Provider):
    """Commands of the investigator; replay controls only while replaying."""

    @property
    def commands(self) -> list[Command]:
        app = self.app
        model = getattr(app, "model_name", "")
        commands: list[Command] = [
            ("New investigation", "new_investigation", "Start over with a new question"),
            ("Open history", "history", "Reopen, replay or delete saved investigations"),
            ("Replay a saved file…", "replay_file", "Replay an investigation file"),
            ("Save investigation…", "save", "Save this investigation as JSON"),
            ("Export report as Markdown…", "export", "Write the report to a .md file"),
            ("Switch model…", "switch_model", f"Current: {model}"),
            ("Switch warehouse…", "switch_warehouse", "Open another warehouse"),
            ("Switch theme…", "change_theme", f"Current: {app.theme}"),
            ("Help", "help", "Keys and how the investigator works"),
        ]
        if app.check_action("replay_toggle", ()):
            commands += [
                ("Replay: play / pause", "replay_toggle", "Space"),
                ("Replay: step forward", "replay_step(1)", "→"),
                ("Replay: step back", "replay_step(-1)", "←"),
            ]
        commands.append(("Quit", "quit", "Saves a running investigation first"))
        return commands

    def _run(self, action: str) -> Callable[[], object]:
        return partial(self.app.run_action, f"app.{action}")

    async def discover(self) -> Hits:
        for name, action, help_text in self.commands:
            yield DiscoveryHit(name, self._run(action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, action, help_text in self.commands:
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), self._run(action), help=help_text)
