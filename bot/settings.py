"""Settings from the environment, read once by the composition root (nothing else reads env)."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from storage.database import PoolSettings, sqlite_url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOOKOUT_", extra="ignore", populate_by_name=True)

    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default: SQLite under the data dir"
    )
    # The connection pool of a PostgreSQL database (per replica; SQLite ignores these).
    database_pool_size: int = Field(default=10, ge=1, description="connections kept open")
    database_max_overflow: int = Field(default=10, ge=0, description="more, under load")
    database_pool_timeout: float = Field(default=30.0, gt=0, description="seconds to wait")
    database_pool_pre_ping: bool = Field(default=True, description="test before use")
    database_pool_recycle: int = Field(default=1800, ge=-1, description="reopen after (s)")
    data_dir: Path = Field(default=Path("var"), description="where the SQLite file lives")
    config: Path | None = Field(default=None, description="YAML: catalog, routing, access")
    webhook_token: SecretStr | None = Field(
        default=None, description="bearer token Alertmanager must send"
    )
    github_webhook_secret: SecretStr | None = Field(
        default=None, description="the secret GitHub signs change deliveries with"
    )
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8080, ge=1, le=65535)
    log_level: str = "INFO"

    # Who may use the console: loopback clients (local), the user an authenticating proxy
    # names (proxy), or anyone (none: a demo on one's own machine).
    console_auth: Literal["local", "proxy", "none"] = "local"
    console_user_header: str = Field(
        default="X-Forwarded-User",
        pattern=r"^[A-Za-z0-9-]+$",
        description="the header the authenticating proxy puts the user in",
    )
    trusted_proxies: str = Field(
        default="127.0.0.0/8,::1/128",
        description="comma-separated addresses or CIDR ranges the user header is taken from",
    )

    # Machines Lookout asks (the LOOKOUT_ prefix does not apply to these design names).
    prometheus_url: str | None = Field(default=None, validation_alias="PROMETHEUS_URL")
    alertmanager_url: str | None = Field(default=None, validation_alias="ALERTMANAGER_URL")
    loki_url: str | None = Field(default=None, validation_alias="LOKI_URL")

    # Paging: PagerDuty's Events API v2 and its webhooks back, email over SMTP.
    pagerduty_routing_key: SecretStr | None = Field(
        default=None, validation_alias="PAGERDUTY_ROUTING_KEY"
    )
    pagerduty_events_url: str | None = Field(default=None, validation_alias="PAGERDUTY_EVENTS_URL")
    pagerduty_webhook_secret: SecretStr | None = Field(
        default=None, description="the secret of PagerDuty's webhook subscription (v3)"
    )
    smtp_url: SecretStr | None = Field(
        default=None, description="smtp://user:pass@host:587?from=lookout@example.com"
    )

    # Retrieval and the optional LLM (OpenAI's own names for the endpoint and key).
    chroma_url: str | None = Field(
        default=None, description="a Chroma server (http://host:8000); default: embedded"
    )
    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    llm_model: str | None = Field(default=None, description="chat model; turns the LLM on")

    # Slack, under Slack's own names (the LOOKOUT_ prefix does not apply).
    slack_bot_token: SecretStr | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(
        default=None, validation_alias="SLACK_SIGNING_SECRET"
    )
    slack_app_token: SecretStr | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str | None = Field(
        default=None, validation_alias="SLACK_API_URL", description="Web API base URL override"
    )
    slack_channel: str | None = Field(
        default=None, validation_alias="SLACK_CHANNEL", description="default Slack channel"
    )
    slack_timeout_seconds: float = Field(
        default=10, gt=0, le=120, description="one Slack Web API call gives up after this"
    )

    # Microsoft Teams (Bot Framework).
    teams_app_id: str | None = Field(default=None, validation_alias="TEAMS_APP_ID")
    teams_app_password: SecretStr | None = Field(
        default=None, validation_alias="TEAMS_APP_PASSWORD"
    )
    teams_tenant_id: str | None = Field(default=None, validation_alias="TEAMS_TENANT_ID")
    teams_graph_url: str = Field(
        default="https://graph.microsoft.com",
        validation_alias="TEAMS_GRAPH_URL",
        description="Microsoft Graph, asked for Azure AD group membership",
    )
    teams_login_url: str = Field(
        default="https://login.microsoftonline.com",
        validation_alias="TEAMS_LOGIN_URL",
        description="the Microsoft identity platform, for the Graph token",
    )
    teams_insecure_dev: bool = Field(
        default=False,
        validation_alias="LOOKOUT_TEAMS_INSECURE_DEV",
        description="turn off Bot Framework auth for a local emulator only",
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        """Absolute from the start: runbook steps run in a folder of their own, so a path
        relative to where Lookout started would name something else there."""
        return value.expanduser().absolute()

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if not isinstance(logging.getLevelName(level), int):
            raise ValueError("not a log level (DEBUG, INFO, WARNING, ERROR or CRITICAL)")
        return level

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for part in value.split(","):
            try:
                ipaddress.ip_network(part.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{part.strip()!r} is not an address or CIDR range") from None
        return value

    @field_validator(
        "prometheus_url",
        "alertmanager_url",
        "loki_url",
        "pagerduty_events_url",
        "chroma_url",
        "openai_base_url",
        "slack_api_url",
    )
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - a port that is not a number raises here
        except ValueError as error:
            raise ValueError(f"not a URL: {error}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("not an http(s) URL with a host, e.g. http://host:9090")
        return value

    @property
    def trusted_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """LOOKOUT_TRUSTED_PROXIES as networks (a bare address is a /32 or /128)."""
        return tuple(
            ipaddress.ip_network(part.strip(), strict=False)
            for part in self.trusted_proxies.split(",")
        )

    @property
    def slack_enabled(self) -> bool:
        return self.slack_bot_token is not None and self.slack_signing_secret is not None

    @property
    def llm_enabled(self) -> bool:
        """An LLM is configured: a model, or an endpoint or key to use the default model."""
        return bool(self.llm_model or self.openai_base_url or self.openai_api_key)

    @property
    def teams_enabled(self) -> bool:
        return self.teams_app_id is not None or self.teams_insecure_dev

    def database_pool(self) -> PoolSettings:
        return PoolSettings(
            size=self.database_pool_size,
            overflow=self.database_max_overflow,
            timeout=self.database_pool_timeout,
            pre_ping=self.database_pool_pre_ping,
            recycle=self.database_pool_recycle,
        )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return sqlite_url(self.data_dir)
