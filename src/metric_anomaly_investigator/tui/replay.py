"""The replay player: steps through a saved investigation's events on its own timer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.message_pump import MessagePump

    from ..core.models import Event, Investigation


class ReplayPlayer:
    """Holds a record's events and a position; ``on_frame`` gets the events up to it.

    The timer belongs to the player (created on ``host``, paused unless playing) and is stopped
    by :meth:`stop`, so the app only starts, steers and drops players.
    """

    def __init__(
        self,
        record: Investigation,
        events: Sequence[Event],
        *,
        host: MessagePump,
        interval: float,
        on_frame: Callable[[Sequence[Event]], None],
    ) -> None:
        self.record = record
        self.events = list(events)
        self.position = 0
        self._on_frame = on_frame
        self._timer = host.set_interval(interval, self._advance, pause=True)
        self._playing = False

    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def at_end(self) -> bool:
        return self.position >= len(self.events)

    @property
    def progress(self) -> str:
        state = "playing" if self._playing else "paused"
        return f"{state} {self.position}/{len(self.events)}"

    def show(self) -> None:
        """Render the current position."""
        self._on_frame(self.events[: self.position])

    def set_playing(self, playing: bool) -> None:
        if playing and self.at_end:
            self.position = 0  # play again from the start
            self.show()
        self._playing = playing
        if playing:
            self._timer.resume()
        else:
            self._timer.pause()

    def toggle(self) -> None:
        self.set_playing(not self._playing)

    def step(self, delta: int) -> None:
        """Pause and move ``delta`` events (clamped)."""
        self.set_playing(False)
        position = max(0, min(len(self.events), self.position + delta))
        if position != self.position:
            self.position = position
            self.show()

    def stop(self) -> None:
        self._playing = False
        self._timer.stop()

    def _advance(self) -> None:
        if self.at_end:
            self.set_playing(False)
            self._on_frame(self.events)
            return
        self.position += 1
        self.show()
