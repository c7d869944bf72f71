"""How numbers, changes and segments are written in findings."""

from __future__ import annotations

import math
from datetime import date


def fmt(value: float | None, digits: int = 3) -> str:
    """A number for a sentence: thousands separated, else ``digits`` significant digits."""
    if value is None or not math.isfinite(value):
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def pct(value: float | None) -> str:
    """A signed percentage change (``+12.3%``)."""
    return "n/a" if value is None else f"{value:+.1f}%"


def plural(n: int, noun: str) -> str:
    """A count with its noun, pluralised: ``1 day``, ``2 days`` (regular nouns; the last word)."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def share_text(share: float | None, digits: int = 3) -> str:
    """A share of the change as a percentage without the sign (``42``)."""
    return fmt(100 * (share or 0), digits)


def no_window_note(base: tuple[date, date], cur: tuple[date, date]) -> str:
    """Says which default windows were compared when no anomaly window is known yet."""
    return f"No anomaly window yet: compared {cur[0]}..{cur[1]} with {base[0]}..{base[1]}."
