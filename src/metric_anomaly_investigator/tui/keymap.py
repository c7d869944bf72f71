"""The user's key remapping: ``keymap.toml`` in the data directory, binding id → keys.

Read through pydantic-settings' TOML source so a bad file is a validation error (one line on
screen), never a traceback. Example: ``"app.history" = "f6"``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict, TomlConfigSettingsSource

from ..settings import Settings
from .services import user_error

KEYMAP_FILE = "keymap.toml"


class _Keymap(BaseSettings):
    """Any binding id (``app.history``) as a key; its keys (``f6`` or ``ctrl+h,f6``) as value."""

    model_config = SettingsConfigDict(extra="allow")
    __pydantic_extra__: dict[str, str] = Field(init=False)

    @classmethod
    def from_file(cls, path: Path) -> dict[str, str]:
        values = TomlConfigSettingsSource(cls, toml_file=path)()
        return dict(cls(**values).model_extra or {})


def keymap_path(settings: Settings) -> Path:
    return settings.data_dir / KEYMAP_FILE


def load_keymap(settings: Settings) -> tuple[dict[str, str], str | None]:
    """The remapping (empty without a file) and, if the file was ignored, why."""
    path = keymap_path(settings)
    if not path.is_file():
        return {}, None
    try:
        return _Keymap.from_file(path), None
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        return {}, f"{path} ignored: {where}: {error['msg']}"
    except (ValueError, OSError) as exc:  # a TOML syntax error is a ValueError
        return {}, f"{path} ignored: {user_error(exc)}"
