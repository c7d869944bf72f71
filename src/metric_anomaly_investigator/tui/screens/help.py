"""F1: every key, what it does and its binding id (for remapping), built from the bindings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Markdown

INTRO = """\
# Metric Anomaly Investigator

Type a question about a metric (*"Why did dau drop last week?"*) and press **Enter**. Each step
the analyst takes appears in the **Steps** timeline as it is planned and completes with its key
finding; highlight a step to chart it and see its parameters, findings and data. The **Report**
names the root cause, the affected segments, correlated deployments or events and what to do.
After a report, the question box takes **follow-up** questions. Every investigation is saved to
the history (**Ctrl+O**) where it can be reopened or replayed step by step.
"""

REMAP = """\
### Remapping keys

Put `"binding-id" = "key"` lines in `keymap.toml` in the data directory (`$MAI_DATA_DIR`,
by default the platform's user data directory), e.g. `"app.history" = "f6"`.
"""


def _key_name(key: str, display: dict[str, str]) -> str:
    """``ctrl+n`` → ``Ctrl+N``, ``escape`` → ``Esc``."""
    if key in display:
        return display[key]
    return "+".join(
        part.upper() if len(part) <= 3 else part.capitalize() for part in key.split("+")
    )


def _rows(
    bindings: Iterable[BindingType], keymap: Mapping[str, str], display: dict[str, str]
) -> list[str]:
    rows = []
    for binding in bindings:
        if not isinstance(binding, Binding) or not binding.id:
            continue
        key = keymap.get(binding.id, binding.key)
        shown = ", ".join(_key_name(k.strip(), display) for k in key.split(","))
        rows.append(f"| `{shown}` | {binding.description} | `{binding.id}` |")
    return rows


def help_markdown(
    sections: Sequence[tuple[str, Iterable[BindingType]]],
    keymap: Mapping[str, str],
) -> str:
    """The help text: an intro, one key table per section, how to remap."""
    display = {
        "escape": "Esc",
        "space": "Space",
        "left": "←",
        "right": "→",
        "up": "↑",
        "down": "↓",
        "enter": "Enter",
    }
    parts = [INTRO]
    for title, bindings in sections:
        rows = _rows(bindings, keymap, display)
        if rows:
            parts.append(
                f"### {title}\n\n| Key | Does | Binding id |\n|---|---|---|\n" + "\n".join(rows)
            )
    parts.append(REMAP)
    return "\n\n".join(parts)


class HelpScreen(ModalScreen[None]):
    """A scrollable key reference; Esc, F1 or q closes it."""

    CSS_PATH = "help.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,q", "dismiss", "Close", id="help.close")
    ]

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help") as body:
            body.border_title = "Help"
            body.border_subtitle = "Esc to close"
            yield Markdown(self._text)
        yield Footer()
