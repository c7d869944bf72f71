"""What background workers tell the app: posted from their threads, handled with ``@on``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from textual.message import Message

if TYPE_CHECKING:
    from ..core.models import Investigation
    from ..settings import Settings
    from .services import StoreLike, WarehouseLike

LoadPurpose = Literal["open", "replay"]


class SettingsLoaded(Message):
    """Settings, the history store and the keymap are ready."""

    def __init__(
        self, settings: Settings, store: StoreLike, keymap: dict[str, str], problem: str | None
    ) -> None:
        super().__init__()
        self.settings = settings
        self.store = store
        self.keymap = keymap
        self.problem = problem


class WarehouseOpened(Message):
    def __init__(self, warehouse: WarehouseLike) -> None:
        super().__init__()
        self.warehouse = warehouse


class Failure(Message):
    """Something a worker could not do: a title and a one-line message for the user."""

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self.title = title
        self.message = message


class WarehouseFailed(Failure):
    """The warehouse (or the settings, or a replay file at start-up) could not be opened."""


class RecordLoaded(Message):
    """A saved investigation was read, to reopen or to replay."""

    def __init__(self, record: Investigation, purpose: LoadPurpose) -> None:
        super().__init__()
        self.record = record
        self.purpose = purpose


class RecordFailed(Failure):
    """A saved investigation could not be read (to reopen or replay it)."""
