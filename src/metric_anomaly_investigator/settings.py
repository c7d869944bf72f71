"""Configuration from the environment (prefix ``MAI_``) with sensible offline defaults."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_path
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

APP_NAME = "metric-anomaly-investigator"
DEFAULT_ANTHROPIC_MODEL = "anthropic:claude-sonnet-4-5"
AUTOPILOT = "autopilot"


class Settings(BaseSettings):
    """``MAI_MODEL``, ``MAI_WAREHOUSE``, ``MAI_MAX_STEPS``… override the defaults."""

    model_config = SettingsConfigDict(env_prefix="MAI_", extra="ignore")

    model: str | None = Field(default=None, description="PydanticAI model string or 'autopilot'.")
    warehouse: str | None = Field(default=None, description="Path or URL; default: the demo.")
    data_dir: Path = Field(default_factory=lambda: user_data_path(APP_NAME))
    max_steps: int = Field(default=12, ge=1, le=50)
    max_requests: int = Field(default=60, ge=1)
    max_tokens: int = Field(default=400_000, ge=1000)
    request_retries: int = Field(default=3, ge=0, le=10)
    request_timeout: float = Field(
        default=120.0, gt=0, le=3600, description="Seconds one model request may take."
    )
    deadline: float = Field(
        default=900.0, gt=0, le=86_400, description="Seconds a whole investigation may take."
    )

    @property
    def history_dir(self) -> Path:
        return self.data_dir / "investigations"

    def resolved_model(self) -> str:
        """The model to use: explicit choice, else Anthropic with a key, else the autopilot."""
        if self.model:
            return self.model
        if os.environ.get("ANTHROPIC_API_KEY"):
            return DEFAULT_ANTHROPIC_MODEL
        return AUTOPILOT
