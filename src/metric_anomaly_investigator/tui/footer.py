"""The footer's key order: what the current moment needs first, then the global keys in a fixed
order (F1 Help, Ctrl+P palette, Ctrl+N New, Ctrl+O History, Ctrl+S Save, Ctrl+E Export,
Ctrl+Q Quit), whichever widget has focus."""

from __future__ import annotations

from textual.binding import ActiveBinding

GLOBAL_ORDER = (
    "help",
    "command_palette",
    "new_investigation",
    "history",
    "save",
    "export",
    "quit",
)


def footer_order(bindings: dict[str, ActiveBinding]) -> dict[str, ActiveBinding]:
    """``bindings`` re-ordered: screen keys (cancel, pause, replay…) first, globals after."""

    def rank(item: tuple[str, ActiveBinding]) -> int:
        action = item[1].binding.action
        return GLOBAL_ORDER.index(action) + 1 if action in GLOBAL_ORDER else 0

    return dict(sorted(bindings.items(), key=rank))
