"""The admin's YAML, as pydantic models: unknown keys refused, everything frozen.

Channel entries are validated by the model their platform declares (see ``registry``), so a
third-party adapter brings its own keys without touching this file.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
# Every command compiles the boilerplate patterns: a 10 MB one cost seconds and gigabytes.
MAX_BOILERPLATE_PATTERNS = 50
MAX_BOILERPLATE_PATTERN_CHARS = 500


def known_zone(name: str) -> str:
    """``name`` if it is an IANA time zone this machine knows; ValueError otherwise."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Here, not at the top: FeedConfig extends Strict (the feeds package loads this module first).
from distributor.feeds.config import FeedConfig, duplicate_names  # noqa: E402
from distributor.hooks.config import HookConfig  # noqa: E402


class StoreConfig(Strict):
    """Where articles and deliveries live. SQLite paths are relative to the working directory."""

    url: str = Field(
        default="sqlite+aiosqlite:///distributor.sqlite3",
        description="SQLAlchemy URL: `sqlite+aiosqlite:///file.sqlite3` (relative to the working "
        "directory) or `postgresql+asyncpg://user@host/db` (`postgresql+psycopg://` works too)",
    )
    echo: bool = Field(default=False, description="log every SQL statement (debugging only)")
    pool_size: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="PostgreSQL: connections each process keeps open for reuse; the web "
        "service uses about one per request in flight",
    )
    max_overflow: int = Field(
        default=20,
        ge=0,
        le=1000,
        description="PostgreSQL: connections opened beyond `pool_size` under load and closed "
        "again when returned (each costs a PostgreSQL process start: keep `pool_size` above the "
        "usual load)",
    )


class RedisConfig(Strict):
    """Shared rate limits across workers (optional)."""

    url: SecretStr = Field(
        description="`redis://host:6379/0`: every worker counts the platforms' rate limits there"
    )


class DispatchConfig(Strict):
    """How workers claim, send and retry deliveries."""

    tick_seconds: float = Field(
        default=5.0,
        gt=0,
        description="safety-net poll interval; new stories wake the workers at once anyway",
    )
    batch_size: int = Field(default=100, ge=1, le=10_000, description="deliveries claimed per pass")
    concurrency: int = Field(default=16, ge=1, le=1024, description="channels served side by side")
    lease_seconds: float = Field(
        default=60.0,
        ge=5,
        description="a dead worker's deliveries are taken over after this (renewed every third of "
        "it while a batch is sent)",
    )
    max_attempts: int = Field(
        default=8, ge=1, le=100, description="failed attempts after which a delivery is `dead`"
    )
    backoff_base_seconds: float = Field(
        default=5.0,
        gt=0,
        description="the first retry comes after half to all of this; the delay doubles with "
        'each attempt ("equal jitter")',
    )
    backoff_max_seconds: float = Field(default=3600.0, gt=0, description="the cap on that delay")
    breaking_priority: int = Field(
        default=8,
        description="stories at or above this priority take the breaking-news lane: claimed at "
        "once even while a channel works through a backlog, and paced on the budget each "
        "platform keeps free for them (Telegram: `rates.breaking_per_minute`)",
    )


class SummaryConfig(Strict):
    """How much of the story a post carries, and what boilerplate never belongs in it."""

    max_chars: int | None = Field(
        default=600,
        ge=40,
        description="the longest summary a post carries (each platform's own limit applies too)",
    )
    boilerplate: tuple[str, ...] = Field(
        default=(),
        description="extra regular expressions (case-insensitive) for closing promo paragraphs "
        f"to leave out of summaries; at most {MAX_BOILERPLATE_PATTERNS} patterns of "
        f"{MAX_BOILERPLATE_PATTERN_CHARS} characters each",
    )

    @field_validator("boilerplate")
    @classmethod
    def _compiles(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        # Sizes first: compiling a huge pattern is exactly the cost the caps exist to avoid.
        if len(patterns) > MAX_BOILERPLATE_PATTERNS:
            raise ValueError(
                f"at most {MAX_BOILERPLATE_PATTERNS} patterns are allowed, not {len(patterns)}"
            )
        for index, pattern in enumerate(patterns):
            if len(pattern) > MAX_BOILERPLATE_PATTERN_CHARS:
                raise ValueError(
                    f"pattern [{index}] is {len(pattern)} characters long; "
                    f"at most {MAX_BOILERPLATE_PATTERN_CHARS} are allowed"
                )
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
        return patterns


class PromoLinkConfig(Strict):
    """One link of the invitation."""

    label: str = Field(min_length=1, max_length=100, description="the link's text")
    url: str = Field(description="public http(s) invite or subscribe URL, or a `mailto:` address")
    channel: str | None = Field(
        default=None,
        description="the configured channel this link invites to: left out of that channel's "
        "own posts",
    )

    @field_validator("url")
    @classmethod
    def _public_url(cls, url: str) -> str:
        if not re.match(r"^(https?://[^\s/$.?#][^\s]*|mailto:[^\s@]+@[^\s@]+)$", url):
            raise ValueError(f"not an http(s) or mailto URL: {url!r}")
        return url


class PromoConfig(Strict):
    """The "join our channels" invitation: one text per language (or one for all)."""

    text: str | dict[str, str] = Field(
        default="Join us on our other channels:",
        description="the invitation: one string, or one per language code (`en` is the fallback)",
    )
    links: tuple[PromoLinkConfig, ...] = Field(
        default=(), description="the links that follow the invitation, in order"
    )

    def text_for(self, language: str) -> str:
        if isinstance(self.text, str):
            return self.text
        return self.text.get(language) or self.text.get("en") or next(iter(self.text.values()))


class Filters(Strict):
    """Which articles a channel takes. Empty lists mean "no constraint"."""

    tags: tuple[str, ...] = Field(
        default=(), description="the story must carry at least one of these tags"
    )
    exclude_tags: tuple[str, ...] = Field(
        default=(), description="a story carrying any of these tags is left out"
    )
    languages: tuple[str, ...] = Field(default=(), description="language codes the channel takes")
    min_priority: int | None = Field(default=None, description="the lowest priority taken")
    max_priority: int | None = Field(default=None, description="the highest priority taken")

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


class QuietHoursConfig(Strict):
    """A nightly window in which the channel's posts wait, or go out without notifications."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    start: str = Field(
        alias="from",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="`HH:MM`, local time in `timezone` (or the configuration's): the window opens",
    )
    end: str = Field(
        alias="to",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="`HH:MM`: the window closes (before `from` means the next day)",
    )
    mode: Literal["hold", "silent"] = Field(
        default="hold",
        description="`hold`: posts wait until the window closes, then go out in order, paced; "
        "`silent`: they go out at once with notifications off (Telegram "
        "`disable_notification`, Discord's suppress-notifications flag)",
    )
    bypass_priority: int | None = Field(
        default=None,
        description="a story at or above this priority goes out at once, with notifications on",
    )
    timezone: str | None = Field(
        default=None, description="the zone of `from` and `to`; the configuration's by default"
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str | None) -> str | None:
        return None if name is None else known_zone(name)

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHoursConfig:
        if self.start == self.end:
            raise ValueError("`from` and `to` are the same time: the window would be empty")
        return self


class DigestConfig(Strict):
    """A scheduled post listing the stories routed to the channel since its previous digest."""

    schedule: str = Field(
        description='five-field cron (`"0 7 * * *"`: every day at 07:00), in `timezone` or '
        "the configuration's"
    )
    max_items: int = Field(
        default=10, ge=1, le=100, description="the most stories one digest lists"
    )
    title: str = Field(
        default="Digest",
        min_length=1,
        max_length=200,
        description="the digest's heading (its subject on email)",
    )
    empty: Literal["skip", "post"] = Field(
        default="skip",
        description="a window without stories: `skip` posts nothing, `post` posts the title "
        "with the `digest_empty` label",
    )
    timezone: str | None = Field(
        default=None, description="the zone of `schedule`; the configuration's by default"
    )
    # Inside the digest block, not beside it: Discord channels already have a `mode` key.
    mode: Literal["digest", "both"] = Field(
        default="both",
        description="`both`: each story is posted and listed in the digest; `digest`: the "
        "channel gets the digest only",
    )

    @field_validator("schedule")
    @classmethod
    def _cron(cls, expression: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(expression, timezone="UTC")
        except ValueError as exc:
            raise ValueError(f"not a five-field cron expression {expression!r}: {exc}") from exc
        return expression

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str | None) -> str | None:
        return None if name is None else known_zone(name)


class ChannelConfig(Strict):
    """Keys every channel has; each platform's model adds its own."""

    name: str = Field(
        pattern=NAME_PATTERN,
        description="your name for the channel (`[a-z0-9_-]`): logs, `status`, promo links, alerts",
    )
    platform: str = Field(description="`telegram`, `discord`, `email`, or an installed plugin's")
    enabled: bool = Field(default=True, description="a disabled channel takes no new stories")
    dry_run: bool = Field(
        default=False, description="write what would be sent to the outbox folder instead"
    )
    template: str | None = Field(
        default=None,
        description="template path, looked up next to the config file first; default per platform",
    )
    filters: Filters = Field(
        default=Filters(), description="which stories the channel takes (all, when empty)"
    )
    in_doubt: Literal["resend", "skip"] = Field(
        default="resend",
        description="a send a crash left unknown: post again (at-least-once) or not (at-most-once)",
    )
    summary_max_chars: int | None = Field(
        default=None, ge=40, description="overrides `summary.max_chars` for this channel"
    )
    max_attempts: int | None = Field(
        default=None, ge=1, le=100, description="overrides `dispatch.max_attempts` for this channel"
    )
    quiet_hours: QuietHoursConfig | None = Field(
        default=None,
        description="a nightly window without notifications, e.g. "
        '`{from: "22:00", to: "07:00", bypass_priority: 8, mode: hold}`',
    )

    digest: DigestConfig | None = Field(
        default=None,
        description='a scheduled digest, e.g. `{schedule: "0 7 * * *", max_items: 10, '
        'title: "Morning briefing", empty: skip, mode: digest}`',
    )

    @property
    def takes_stories(self) -> bool:
        """Whether each story is posted on its own (not only listed in a digest)."""
        return self.digest is None or self.digest.mode == "both"

    def describe_target(self) -> str:
        """Where posts go, safe to print (never a secret)."""
        return self.name


DEVELOPMENT_WEB_SECRET = "insecure-development-secret-change-me"  # noqa: S105 (refused for real mail)


class WebConfig(Strict):
    """The web service: readers' pages of the platforms (email), the editors' desk, the API."""

    base_url: str = Field(
        default="http://127.0.0.1:8080",
        description="the public address readers reach (https for real mail: RFC 8058 one-click)",
    )
    host: str = Field(default="127.0.0.1", description="what `distributor web` listens on")
    port: int = Field(default=8080, ge=0, le=65535, description="the port it listens on")
    secret: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_WEB_SECRET),
        # The reference never prints a secret, not even this published one.
        json_schema_extra={"reference_default": "development default (refused for real mail)"},
        description="signs every link readers click: 32 characters or more when an email channel "
        "is configured, and real sends refuse the development default; rotating it invalidates "
        "the links already mailed unless the old value is kept in `previous_secrets`",
    )
    previous_secrets: tuple[SecretStr, ...] = Field(
        default=(),
        description="former values of `secret`, accepted to verify links already mailed but "
        "never used to sign new ones: after a rotation, list the old secret here for a grace "
        "period (confirmation links expire within `confirm_expiry_days`; unsubscribe links live "
        "in mailboxes for as long as readers keep them, so keep it at least a few months), then "
        "remove it. Each must be 32 characters or more, like `secret`",
    )

    session_idle_minutes: int = Field(
        default=60,
        ge=1,
        le=7 * 24 * 60,
        description="a desk session unused for this long ends; the editor logs in again",
    )
    api_requests_per_minute: int = Field(
        default=6000,
        ge=1,
        description="requests one API token may make per minute; beyond it the API answers 429 "
        "with Retry-After",
    )


class MetricsConfig(Strict):
    """Where a `distributor run` worker serves `/metrics`, `/healthz` and `/readyz`."""

    host: str = Field(
        default="127.0.0.1",
        description="address to listen on (`0.0.0.0` for a Prometheus on another machine)",
    )
    port: int = Field(
        default=9464,
        ge=0,
        le=65535,
        description="port to listen on; several workers on one machine need one each "
        "(`run --metrics-port`), 0 picks a free one",
    )
    counting: bool = Field(
        default=True,
        description="false: the worker updates no counter or histogram (all stay at zero); "
        "the health probes are still served",
    )


class AlertsConfig(Strict):
    """Where admins hear about paused channels and dead deliveries."""

    channel: str | None = Field(
        default=None,
        description="the channel (any platform) that receives admin alerts; it takes no stories",
    )


CorrectionNotice = Literal["silent", "note"]
CORRECTION_NOTICES: tuple[str, ...] = get_args(CorrectionNotice)


class CorrectionsConfig(Strict):
    """How corrections tell readers; the words are the `labels` `corrected` and `withdrawn`."""

    notice: CorrectionNotice = Field(
        default="silent",
        description="the default of `correct --notice`: `silent` edits the posts; `note` also "
        "ends them with the `corrected` label, and mails the readers of an email list who got "
        "the story a short correction",
    )


class AppConfig(Strict):
    """The whole file."""

    version: Literal[1] = Field(description="always `1`")
    timezone: str = Field(
        default="UTC",
        description="zone of naive times in `queue --at` and front matter (e.g. `Europe/Paris`)",
    )
    store: StoreConfig = Field(default=StoreConfig(), description="where the queue lives")
    redis: RedisConfig | None = Field(
        default=None,
        description="share rate limits between workers; without it each worker paces itself",
    )
    outbox_dir: str = Field(
        default="outbox", description="where dry-run channels write, one folder per channel"
    )
    dispatch: DispatchConfig = Field(
        default=DispatchConfig(), description="claiming, leases and retries"
    )
    summary: SummaryConfig = Field(
        default=SummaryConfig(), description="how much of the story a post carries"
    )
    labels: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="the product's own words per language, e.g. `fr: {read_more: Lire la suite}`; "
        "built in for en, fr, de, es",
    )
    promo: PromoConfig | None = Field(
        default=None,
        description='the "join our channels" invitation that ends every post',
    )
    alerts: AlertsConfig = Field(default=AlertsConfig(), description="admin alerts")
    metrics: MetricsConfig | None = Field(
        default=None,
        description="serve Prometheus metrics and health probes from every worker; "
        "none: no port is opened",
    )
    corrections: CorrectionsConfig = Field(
        default=CorrectionsConfig(), description="how corrections and retractions tell readers"
    )
    web: WebConfig = Field(
        default=WebConfig(), description="the web service: readers' subscription pages"
    )
    max_article_bytes: int = Field(
        default=1_000_000, ge=1_000, description="larger story files are refused by `queue`"
    )
    channels: tuple[ChannelConfig, ...] = Field(
        default=(), description="where stories go; each platform adds its own keys"
    )
    default_language: str = Field(
        default="en",
        pattern=r"^[a-z]{2,3}$",
        description="language of a story that does not give its own and whose language "
        "cannot be told from its text",
    )
    feeds: tuple[FeedConfig, ...] = Field(
        default=(), description="newsroom feeds (RSS, Atom, JSON Feed) whose new items are queued"
    )
    hooks: tuple[HookConfig, ...] = Field(
        default=(),
        description="signed event webhooks: the systems told when stories are queued, posted, "
        "corrected or retracted and when deliveries fail or channels pause",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        return known_zone(name)

    @model_validator(mode="after")
    def _unique_feed_names(self) -> AppConfig:
        problems = duplicate_names(self.feeds)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def channel(self, name: str) -> ChannelConfig:
        for channel in self.channels:
            if channel.name == name:
                return channel
        raise LookupError(f"no channel named {name!r} in the configuration")
