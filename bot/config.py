"""Configuration from the environment (and an optional `.env`), checked at start-up.

A bad value stops the program with one line naming the variable and what to do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from dialogs.languages import PEOPLE_LOCALES

TOKEN_PATTERN = re.compile(r"^\d{5,12}:[A-Za-z0-9_-]{30,64}$")
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/passerelle.sqlite3"
WEBHOOK_SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")
"""What Telegram accepts as a webhook's secret_token."""
TELEGRAM_WEBHOOK_PORTS = (443, 80, 88, 8443)
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"


class ConfigError(Exception):
    """One line for the operator: which variable, and what to do."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: str | None = None
    bot_api_url: str | None = None
    database_url: str = DEFAULT_DATABASE_URL
    passerelle_secret: str | None = None
    redis_url: str | None = None
    """When set, conversation state, per-person locks and rate limits live in Redis, shared
    by every instance; otherwise in this process's memory."""
    moderator_ids: Annotated[tuple[int, ...], NoDecode] = ()
    default_locale: str = "fr"
    state_ttl: int = Field(default=24 * 3600, ge=60, le=30 * 24 * 3600)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    handoff_accept_hours: int = Field(default=24, ge=1, le=24 * 14)
    """A notice not accepted within this time is passed on to the next nearest association."""
    handoff_remind_hours: int = Field(default=6, ge=0, le=24 * 14)
    """This long before that pass-on, the association is reminded once; 0: no reminder."""
    ticket_retention_days: int = Field(default=30, ge=1, le=366)
    """Tickets and their replies are deleted after this many days."""
    handoffs_per_day: int = Field(default=3, ge=1, le=100)
    """Handoffs one person (pseudonym) may make in 24 hours; past it, a kind message and
    the emergency numbers. Counted in memory or Redis, never in the database."""
    relays_per_hour: int = Field(default=10, ge=1, le=1000)
    """Messages a person may relay to the association on one ticket in an hour."""
    relay_max_chars: int = Field(default=3000, ge=100, le=3500)
    """The longest message a person may relay (it must fit in one Telegram message)."""
    outbox_lease_seconds: int = Field(default=90, ge=2, le=3600)
    """A notice claimed by an instance that then died is sent by another one after this
    long. Longer than a send's own timeout (30 s), so a live sender never loses its claim."""
    alert_chat_id: int | None = None
    """The staff chat (a group the bot is in) that gets the alerts: an association unreachable,
    a message given up, a flood held, an accreditation ending. Unset: each of MODERATOR_IDS,
    in private."""
    outbox_give_up_hours: int = Field(default=12, ge=1, le=24 * 7)
    """A message Telegram keeps failing with network errors or 5xx is given up after this
    long (its ticket passes on, and an alert fires). 429s and migrations never count."""
    outbox_degraded_minutes: int = Field(default=15, ge=1, le=24 * 60)
    """/healthz says `outbox: degraded` when a message has waited longer than this."""
    notices_per_association_hour: int = Field(default=20, ge=1, le=1000)
    """Past this many notices in one clock hour, an association's further notices are held
    (not dropped) until the next hour or a moderator's `passerelle outbox retry`."""
    require_approval: bool = True
    """Serve only moderator-approved scripts and catalogues. `false` serves the files as
    they are: for development only."""
    neutral_text: str | None = None
    """What stays in the chat after a quick exit; empty means a translated "have a nice day"."""
    webhook_url: str | None = None
    """The public URL Telegram posts updates to; when set, `run` serves a webhook instead
    of long polling. The local server answers on this URL's path."""
    webhook_secret: str | None = None
    """The `X-Telegram-Bot-Api-Secret-Token` Telegram must send; derived from
    PASSERELLE_SECRET when unset, so that every instance agrees."""
    webhook_host: str = "127.0.0.1"
    """Where the webhook server listens (behind a reverse proxy)."""
    webhook_port: int = Field(default=8080, ge=1, le=65535)
    """Its port."""
    stats_min_count: int = 5
    """A published statistic below this shows as "< N" (storage.suppression); 3 at least."""
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    """When polling, /metrics is served on 127.0.0.1 at this port (webhook mode serves it
    beside /healthz); unset: not served."""

    @field_validator("bot_token")
    @classmethod
    def _token(cls, value: str | None) -> str | None:
        if value is not None and not TOKEN_PATTERN.match(value.strip()):
            raise ValueError("it must look like 123456789:AA... as given by @BotFather")
        return value.strip() if value else value

    @field_validator("bot_api_url")
    @classmethod
    def _api_url(cls, value: str | None) -> str | None:
        if value and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("it must be an http(s) URL such as http://localhost:8081")
        return value.rstrip("/") if value else None

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            backend = None
        if backend not in ("sqlite", "postgresql"):
            raise ValueError("use sqlite+aiosqlite:///path/to/file.sqlite3 or postgresql+asyncpg://user:pass@host/db")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value and not re.match(r"^rediss?://", value):
            raise ValueError("it must look like redis://localhost:6379/0")
        return value or None

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if not value:
            return None
        url = urlsplit(value.strip())
        try:
            port = url.port
        except ValueError:
            port = -1
        if url.scheme not in ("http", "https") or not url.hostname or url.fragment or port == -1:
            raise ValueError("it must be a URL such as https://bot.example.org/telegram/update")
        served = {HEALTH_PATH: "the health check", METRICS_PATH: "the metrics"}.get(url.path.rstrip("/"))
        if served:
            raise ValueError(f"{url.path.rstrip('/')} is {served}; choose another path")
        if not info.data.get("bot_api_url"):
            # Telegram's own servers post only over https, and only to these ports. A local
            # telegram-bot-api server (BOT_API_URL) also posts over http, to any port.
            if url.scheme != "https":
                raise ValueError("Telegram posts only to https URLs (http needs a local BOT_API_URL server)")
            if (port or 443) not in TELEGRAM_WEBHOOK_PORTS:
                raise ValueError("Telegram posts only to ports 443, 80, 88 or 8443")
        return value.strip()

    @field_validator("metrics_port", mode="before")
    @classmethod
    def _metrics_port(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: str | None) -> str | None:
        if value and not WEBHOOK_SECRET_PATTERN.fullmatch(value):
            raise ValueError("it must be 1 to 256 characters among A-Z, a-z, 0-9, _ and -")
        return value or None

    @field_validator("stats_min_count")
    @classmethod
    def _stats_min_count(cls, value: int) -> int:
        if value < 3:
            raise ValueError("it must be 3 or more: a smaller published count could point to one person")
        return value

    @field_validator("moderator_ids", mode="before")
    @classmethod
    def _ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p for p in re.split(r"[,\s]+", value) if p]
            if not all(re.fullmatch(r"-?\d+", p) for p in parts):
                raise ValueError("it must be Telegram user ids separated by commas")
            return tuple(int(p) for p in parts)
        return value

    @field_validator("handoff_remind_hours")
    @classmethod
    def _remind(cls, value: int, info: ValidationInfo) -> int:
        accept = info.data.get("handoff_accept_hours")
        if value and accept is not None and value >= accept:
            raise ValueError(f"it must be less than HANDOFF_ACCEPT_HOURS ({accept}), or 0 for no reminder")
        return value

    @field_validator("default_locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        if value not in PEOPLE_LOCALES:
            raise ValueError(f"it must be one of {', '.join(PEOPLE_LOCALES)}")
        return value

    @field_validator("passerelle_secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 32:
            raise ValueError("it must be at least 32 characters; generate one with: openssl rand -hex 32")
        return value

    @property
    def secret_is_ephemeral(self) -> bool:
        return self.passerelle_secret is None

    def secret_key(self) -> bytes:
        """The HMAC key. Generated once per process when none is configured."""
        if self.passerelle_secret is None:
            object.__setattr__(self, "passerelle_secret", secrets.token_hex(32))
        return str(self.passerelle_secret).encode()

    @property
    def webhook_path(self) -> str:
        """The path the webhook server serves: WEBHOOK_URL's."""
        return urlsplit(self.webhook_url or "").path or "/"

    def require_webhook(self) -> str:
        """The secret token of webhook mode; ConfigError if webhook mode cannot start.

        Every instance behind the proxy, and every restart, must agree on the token and
        on the pseudonyms: a random PASSERELLE_SECRET would make each one different.
        """
        if not self.webhook_url:
            raise ConfigError("WEBHOOK_URL is missing: webhook mode needs the public https URL Telegram posts to")
        if self.secret_is_ephemeral:
            raise ConfigError(
                "PASSERELLE_SECRET is missing: webhook mode needs it, so that instances and restarts agree; "
                "generate one with: openssl rand -hex 32"
            )
        if self.webhook_secret:
            return self.webhook_secret
        digest = hmac.new(self.secret_key(), b"passerelle/webhook-secret-token", hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")  # [A-Za-z0-9_-], 43 characters

    def require_token(self) -> str:
        if not self.bot_token:
            raise ConfigError("BOT_TOKEN is missing: set it to the token @BotFather gave you")
        return self.bot_token


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, or ConfigError with one line for the operator."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]).upper() if error["loc"] else "configuration"
        reason = str(error["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{name} is invalid: {reason}") from None
