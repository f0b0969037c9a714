"""One typed settings object: environment variables over a project home directory."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    """failcast configuration; every field can be set as ``FAILCAST_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="FAILCAST_", extra="forbid")

    home: Path = Field(
        default=Path("~/.failcast"),
        description="Project home: datasets, stores, registries and reports live below it.",
    )
    sec_ftd_dir: Path | None = Field(
        default=None,
        description="Directory of SEC fails-to-deliver files used to seed the US equity universe.",
    )

    @property
    def data_dir(self) -> Path:
        """Where `failcast demo` and friends keep datasets by default."""
        return self.home.expanduser() / "data"


@cache
def get_settings() -> Settings:
    """Settings are read on first use, never at import time."""
    return Settings()
