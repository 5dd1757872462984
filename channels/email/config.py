"""The keys of an email channel in the admin's YAML: the list, the sender, the SMTP server."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from distributor.config import NAME_PATTERN, ChannelConfig, Strict
from distributor_channels.email import addresses
from distributor_channels.email.bounce_config import BounceConfig

DEFAULT_HTML_TEMPLATE = "email/article.html.j2"
DEFAULT_TEXT_TEMPLATE = "email/article.txt.j2"
CONFIRM_HTML_TEMPLATE = "email/confirm.html.j2"
CONFIRM_TEXT_TEMPLATE = "email/confirm.txt.j2"
DEFAULT_CONFIRM_SUBJECT = "Please confirm your subscription"  # then said in the list's language
WELCOME_HTML_TEMPLATE = "email/welcome.html.j2"
WELCOME_TEXT_TEMPLATE = "email/welcome.txt.j2"
# A digest newsletter; an admin's own ``email/digest.*.j2`` in the templates folder wins.
DIGEST_HTML_TEMPLATE = "email/digest.html.j2"
DIGEST_TEXT_TEMPLATE = "email/digest.txt.j2"
DEFAULT_WELCOME_SUBJECT = "Welcome to {list}"  # then said in the reader's language
# The readers' web pages (``distributor web``); an admin's folder may override any of them.
WEB_TEMPLATES = (
    "email/page.html.j2",
    "email/subscribe.html.j2",
    "email/confirm_page.html.j2",
    "email/unsubscribe.html.j2",
    "email/done.html.j2",
)

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_SELECTOR = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,62})$")


class SmtpConfig(Strict):
    """The submission server: ``starttls`` on 587, ``tls`` on 465, ``none`` only on localhost."""

    host: str = Field(default="127.0.0.1", description="the submission server's host name")
    port: int = Field(default=587, ge=1, le=65535, description="587 for starttls, 465 for tls")
    security: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        description="`starttls` (refused if the server cannot), `tls` from the first byte, or "
        "`none` (a relay on the same machine only)",
    )
    username: str | None = Field(default=None, description="the login")
    password: SecretStr | None = Field(
        default=None, description="the password, e.g. `${SMTP_PASSWORD}`; never logged"
    )
    timeout_seconds: float = Field(default=30.0, gt=0, description="one SMTP command's answer")
    validate_certs: bool = Field(default=True, description="verify the server's TLS certificate")

    def describe(self) -> str:
        """``host:port (security)``: safe to print, never the credentials."""
        return f"{self.host}:{self.port} ({self.security})"

    @model_validator(mode="after")
    def _no_clear_text_login(self) -> SmtpConfig:
        # Without TLS the login crosses the network readable by anyone on the path.
        if self.security == "none" and self.password is not None and not is_loopback(self.host):
            raise ValueError(
                f"security: none would send the SMTP password in clear text to {self.host}; "
                "use starttls or tls (none is only for a relay on this machine: 127.0.0.1, "
                "::1, localhost)"
            )
        return self


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (a loopback address, ``localhost``)."""
    name = host.strip().lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


class DkimConfig(Strict):
    """DKIM signing; the public key is in DNS at ``<selector>._domainkey.<domain>``."""

    selector: str = Field(description="the DNS selector, e.g. `news2026`")
    domain: str | None = Field(default=None, description="signing domain; From's domain if unset")
    private_key_file: str = Field(description="PEM RSA key, 2048 bits recommended")
    ed25519_private_key_file: str | None = Field(
        default=None,
        description="optional PEM Ed25519 key: every message then carries a second signature "
        "(RFC 8463) next to the RSA one",
    )
    ed25519_selector: str | None = Field(
        default=None,
        description="the DNS selector of the Ed25519 key (its record has `k=ed25519`); "
        "required with `ed25519_private_key_file`, and different from `selector`",
    )

    @field_validator("selector", "ed25519_selector")
    @classmethod
    def _selector(cls, value: str | None) -> str | None:
        if value is not None and not _SELECTOR.match(value):
            raise ValueError(f"not a DKIM selector: {value!r}")
        return value

    @model_validator(mode="after")
    def _ed25519_pair(self) -> DkimConfig:
        if (self.ed25519_private_key_file is None) != (self.ed25519_selector is None):
            raise ValueError("ed25519_private_key_file and ed25519_selector go together")
        if self.ed25519_selector == self.selector:
            # One DNS record holds one key: the two signatures need two selectors.
            raise ValueError("ed25519_selector must differ from selector")
        return self

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        return _checked_domain(value)


def _checked_domain(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    if not _DOMAIN.match(value):
        raise ValueError(f"not a domain name: {value!r}")
    return value


class SubscribeLimits(Strict):
    """How much the public subscribe form may make the server mail (docs/email.md)."""

    per_client_per_hour: int = Field(
        default=10,
        ge=1,
        le=100_000,
        description="subscribe requests one client address may make in an hour; more get 429",
    )
    recipient_interval_minutes: int = Field(
        default=10,
        ge=0,
        le=1440,
        description="at most one confirmation email per recipient in this many minutes "
        "(`victim+1@` and `victim+2@` are one recipient)",
    )
    per_recipient_per_day: int = Field(
        default=3, ge=1, le=100, description="confirmation emails one recipient gets in a day"
    )
    per_domain_per_hour: int = Field(
        default=50,
        ge=1,
        le=1_000_000,
        description="confirmation emails to one domain in an hour (raise it for a launch "
        "campaign where most readers use one big provider)",
    )
    per_list_per_hour: int = Field(
        default=500,
        ge=1,
        le=1_000_000,
        description="confirmation emails the list sends in an hour, whoever asks",
    )
    client_address_header: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9-]{1,64}$",
        description="behind a reverse proxy: the header carrying the visitor's address (e.g. "
        "`X-Forwarded-For`; its last entry, the one your proxy added, is used); unset, the "
        "connection's address counts",
    )


class EmailChannelConfig(ChannelConfig):
    """A newsletter: one email per confirmed reader of a subscriber list."""

    platform: Literal["email"] = Field(description="selects this platform")
    list: str | None = Field(
        default=None, pattern=NAME_PATTERN, description="subscriber list; the channel name if unset"
    )
    list_title: str | None = Field(
        default=None, max_length=100, description="how readers see the list (List-Id, web pages)"
    )
    from_address: str = Field(
        default="Newsroom <newsroom@example.org>", description="`From:`; one mailbox, validated"
    )
    reply_to: str | None = Field(default=None, description="`Reply-To:`")
    envelope_from: str | None = Field(
        default=None, description="MAIL FROM / Return-Path (bounces); From's address if unset"
    )
    message_id_domain: str | None = Field(
        default=None, description="domain of Message-IDs and the List-Id; From's if unset"
    )
    unsubscribe_mailto: str | None = Field(
        default=None, description="address offered as a mailto: List-Unsubscribe besides https"
    )
    topics: tuple[str, ...] = Field(
        default=(), description="topics (article tags) readers may choose on the subscribe form"
    )
    text_template: str | None = Field(
        default=None,
        description="the plain-text part's template (default `email/article.txt.j2`); like "
        "`template` (the HTML part) it must show `{{ unsubscribe_url }}`",
    )
    confirm_subject: str = Field(
        default=DEFAULT_CONFIRM_SUBJECT,
        max_length=200,
        description="subject of the double opt-in email (left as is, it is said in the "
        "reader's language)",
    )
    confirm_expiry_days: int = Field(
        default=7, ge=1, le=90, description="how long a confirmation link works"
    )
    welcome_email: bool = Field(
        default=True,
        description="mail a welcome email when a reader confirms their subscription through "
        "the confirmation link (not to readers an admin adds or imports)",
    )
    welcome_subject: str = Field(
        default=DEFAULT_WELCOME_SUBJECT,
        max_length=200,
        description="subject of the welcome email; `{list}` is the list's title (left as is, "
        "it is said in the reader's language)",
    )
    smtp: SmtpConfig | None = Field(
        default=None, description="the SMTP server; required unless `dry_run`"
    )
    connections: int = Field(
        default=4, ge=1, le=64, description="SMTP connections used in parallel for one send"
    )
    rate_per_second: float = Field(
        default=50.0,
        gt=0,
        description="messages a second, all connections (and, with `redis`, all workers) together",
    )
    dkim: DkimConfig | None = Field(
        default=None, description="sign every message; leave out if your provider signs"
    )
    subscribe_limits: SubscribeLimits = Field(
        default=SubscribeLimits(),
        description="limits on the public subscribe form and the confirmation emails it asks for",
    )
    language: str = Field(
        default="en",
        pattern=r"^[a-z]{2,3}$",
        description="the language of what readers see besides the stories: web pages, "
        "confirmation email, footer (built in: en, fr, de, es; override words under `labels`)",
    )
    bounces: BounceConfig | None = Field(
        default=None,
        description="handle bounces and complaints that arrive after the send (see "
        'docs/email.md, "Bounces and complaints")',
    )

    @property
    def list_name(self) -> str:
        return self.list or self.name

    @property
    def domain(self) -> str:
        """The domain of Message-IDs and of the List-Id."""
        return self.message_id_domain or addresses.domain_of(self.from_address)

    @property
    def sender(self) -> str:
        """The envelope sender (MAIL FROM) when bounces are not tagged per message."""
        if self.bounces is not None:
            return addresses.mailbox(self.bounces.address)[1]
        return addresses.mailbox(self.envelope_from or self.from_address)[1]

    @property
    def list_id(self) -> str:
        """RFC 2919 List-Id value: ``Title <list.domain>``."""
        ident = f"<{self.list_name}.{self.domain}>"
        return f"{self.list_title} {ident}" if self.list_title else ident

    @field_validator("from_address", "reply_to", "envelope_from", "unsubscribe_mailto")
    @classmethod
    def _one_mailbox(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                addresses.mailbox(value)
            except addresses.InvalidAddress as exc:
                raise ValueError(str(exc)) from exc
        return value

    @field_validator("message_id_domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        return _checked_domain(value)

    @field_validator("list_title", "confirm_subject", "welcome_subject")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and any(ch in value for ch in "\r\n\0"):
            raise ValueError("must be a single line (no line breaks)")
        return value

    @field_validator("topics")
    @classmethod
    def _topics(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        from distributor_channels.email.topics import normalise_topics

        return tuple(normalise_topics(values))

    @model_validator(mode="after")
    def _smtp_unless_dry_run(self) -> EmailChannelConfig:
        if not self.dry_run and self.smtp is None:
            raise ValueError("smtp is required (host, port, security, username, password)")
        return self

    def describe_target(self) -> str:
        via = f" via {self.smtp.describe()}" if self.smtp is not None else ""
        return f"list {self.list_name}{via}"
