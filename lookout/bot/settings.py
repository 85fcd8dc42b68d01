"""Settings from the environment, read once by the composition root (nothing else reads env)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from lookout.storage.database import sqlite_url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOOKOUT_", extra="ignore")

    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default: SQLite under the data dir"
    )
    data_dir: Path = Field(default=Path("var"), description="where the SQLite file lives")
    config: Path | None = Field(default=None, description="YAML: catalog, routing, access")
    webhook_token: SecretStr | None = Field(
        default=None, description="bearer token Alertmanager must send"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    log_level: str = "INFO"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return sqlite_url(self.data_dir)
