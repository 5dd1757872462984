"""The admin's YAML, as pydantic models: unknown keys refused, everything frozen.

Channel entries are validated by the model their platform declares (see ``registry``), so a
third-party adapter brings its own keys without touching this file.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreConfig(Strict):
    """Where articles and deliveries live. SQLite paths are relative to the working directory."""

    url: str = "sqlite+aiosqlite:///distributor.sqlite3"
    echo: bool = False


class RedisConfig(Strict):
    """Shared rate limits across workers (optional)."""

    url: SecretStr


class DispatchConfig(Strict):
    tick_seconds: float = Field(default=5.0, gt=0, description="safety-net poll interval")
    batch_size: int = Field(default=100, ge=1, le=10_000)
    concurrency: int = Field(default=16, ge=1, le=1024)
    lease_seconds: float = Field(default=60.0, ge=5)
    max_attempts: int = Field(default=8, ge=1, le=100)
    backoff_base_seconds: float = Field(default=5.0, gt=0)
    backoff_max_seconds: float = Field(default=3600.0, gt=0)


class SummaryConfig(Strict):
    """How much of the story a post carries, and what boilerplate never belongs in it."""

    max_chars: int | None = Field(default=600, ge=40)
    boilerplate: tuple[str, ...] = ()

    @field_validator("boilerplate")
    @classmethod
    def _compiles(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
        return patterns


class PromoLinkConfig(Strict):
    label: str = Field(min_length=1, max_length=100)
    url: str
    channel: str | None = Field(
        default=None, description="the configured channel this link invites to"
    )

    @field_validator("url")
    @classmethod
    def _public_url(cls, url: str) -> str:
        if not re.match(r"^(https?://[^\s/$.?#][^\s]*|mailto:[^\s@]+@[^\s@]+)$", url):
            raise ValueError(f"not an http(s) or mailto URL: {url!r}")
        return url


class PromoConfig(Strict):
    """The "join our channels" invitation: one text per language (or one for all)."""

    text: str | dict[str, str] = "Join us on our other channels:"
    links: tuple[PromoLinkConfig, ...] = ()

    def text_for(self, language: str) -> str:
        if isinstance(self.text, str):
            return self.text
        return self.text.get(language) or self.text.get("en") or next(iter(self.text.values()))


class Filters(Strict):
    """Which articles a channel takes. Empty lists mean "no constraint"."""

    tags: tuple[str, ...] = Field(default=(), description="at least one of these tags")
    exclude_tags: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    min_priority: int | None = None
    max_priority: int | None = None

    def matches(self, tags: tuple[str, ...] | list[str], language: str, priority: int) -> bool:
        tagset = {t.lower() for t in tags}
        if self.tags and not tagset & {t.lower() for t in self.tags}:
            return False
        if tagset & {t.lower() for t in self.exclude_tags}:
            return False
        if self.languages and language.lower() not in {lang.lower() for lang in self.languages}:
            return False
        if self.min_priority is not None and priority < self.min_priority:
            return False
        return self.max_priority is None or priority <= self.max_priority


class ChannelConfig(Strict):
    """Keys every channel has; each platform's model adds its own."""

    name: str = Field(pattern=NAME_PATTERN)
    platform: str
    enabled: bool = True
    dry_run: bool = Field(
        default=False, description="write what would be sent to the outbox folder instead"
    )
    template: str | None = Field(default=None, description="template path; default per platform")
    filters: Filters = Filters()
    in_doubt: Literal["resend", "skip"] = Field(
        default="resend",
        description="a send a crash left unknown: post again (at-least-once) or not (at-most-once)",
    )
    summary_max_chars: int | None = Field(default=None, ge=40)
    max_attempts: int | None = Field(default=None, ge=1, le=100)

    def describe_target(self) -> str:
        """Where posts go, safe to print (never a secret)."""
        return self.name


DEVELOPMENT_WEB_SECRET = "insecure-development-secret-change-me"  # noqa: S105 (refused for real mail)


class WebConfig(Strict):
    """The web service: readers' pages of the platforms (email), later the desk and the API."""

    base_url: str = "http://127.0.0.1:8080"
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    secret: SecretStr = SecretStr(DEVELOPMENT_WEB_SECRET)


class AlertsConfig(Strict):
    channel: str | None = Field(default=None, description="channel that receives admin alerts")


class AppConfig(Strict):
    version: Literal[1]
    timezone: str = "UTC"
    store: StoreConfig = StoreConfig()
    redis: RedisConfig | None = None
    outbox_dir: str = "outbox"
    dispatch: DispatchConfig = DispatchConfig()
    summary: SummaryConfig = SummaryConfig()
    labels: dict[str, dict[str, str]] = Field(default_factory=dict)
    promo: PromoConfig | None = None
    alerts: AlertsConfig = AlertsConfig()
    web: WebConfig = WebConfig()
    max_article_bytes: int = Field(default=1_000_000, ge=1_000)
    channels: tuple[ChannelConfig, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {name!r}") from exc
        return name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def channel(self, name: str) -> ChannelConfig:
        for channel in self.channels:
            if channel.name == name:
                return channel
        raise LookupError(f"no channel named {name!r} in the configuration")
