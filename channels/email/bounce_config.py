"""The keys of an email channel's bounce handling: where bounces go, how they are read."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from distributor.config import Strict
from distributor_channels.email import addresses

_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$")


class ImapConfig(Strict):
    """The mailbox the bounce address delivers to, read over IMAP on a schedule."""

    host: str = Field(description="the IMAP server's host name")
    port: int = Field(default=993, ge=1, le=65535, description="993 for tls, 143 otherwise")
    security: Literal["tls", "starttls", "none"] = Field(
        default="tls",
        description="`tls` from the first byte, `starttls` (refused if the server cannot: the "
        "login is never sent in clear), or `none`: a server on this machine only",
    )
    username: str = Field(description="the login")
    password: SecretStr = Field(description="the password, e.g. `${IMAP_PASSWORD}`; never logged")
    folder: str = Field(default="INBOX", description="the folder bounces arrive in")
    poll_seconds: float = Field(
        default=300.0, ge=1, description="how often `distributor run` reads the folder"
    )
    timeout_seconds: float = Field(default=30.0, gt=0, description="one IMAP command's answer")
    validate_certs: bool = Field(default=True, description="verify the server's TLS certificate")

    def describe(self) -> str:
        """``host:port (security)``: safe to print, never the credentials."""
        return f"{self.host}:{self.port} ({self.security})"

    @model_validator(mode="after")
    def _no_clear_text_login(self) -> ImapConfig:
        from distributor_channels.email.config import is_loopback

        if self.security == "none" and not is_loopback(self.host):
            raise ValueError(
                f"security: none would send the IMAP password in clear text to {self.host}; "
                "use tls or starttls (none is only for a server on this machine)"
            )
        return self


class SesConfig(Strict):
    """Amazon SES bounce and complaint notifications, delivered by SNS to the web service."""

    topic_arns: tuple[str, ...] = Field(
        min_length=1,
        description="the SNS topics whose notifications are accepted; any other is refused",
    )
    certificate_dir: str | None = Field(
        default=None,
        description="a folder of trusted SNS signing certificates (PEM, named as in the "
        "`SigningCertURL`); if unset, certificates are fetched once each over https from "
        "`sns.<region>.amazonaws.com` only",
    )

    @field_validator("topic_arns")
    @classmethod
    def _arns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for arn in value:
            if not _TOPIC_ARN.match(arn):
                raise ValueError(f"not an SNS topic ARN: {arn!r}")
        return value


class MailgunConfig(Strict):
    """Mailgun's bounce, complaint and unsubscribe webhooks, posted to the web service."""

    signing_key: SecretStr = Field(
        min_length=1,
        description="Mailgun's HTTP webhook signing key (its control panel: Webhooks), e.g. "
        "`${MAILGUN_WEBHOOK_SIGNING_KEY}`; never logged",
    )
    max_age_seconds: int = Field(
        default=300,
        ge=30,
        le=86400,
        description="a webhook whose signed timestamp is further than this from now (either "
        "way) is refused; its token is remembered twice as long, so a replay is refused too",
    )


class BounceConfig(Strict):
    """Bounces and complaints: a per-message Return-Path, a mailbox, relay notifications."""

    address: str = Field(
        description="the mailbox bounces go to, e.g. `bounces@news.example.org`; each message's "
        "Return-Path becomes `bounces+<signed token>@…` (VERP), naming one reader and one story"
    )
    imap: ImapConfig | None = Field(
        default=None,
        description="read that mailbox over IMAP: delivery reports (DSN), complaints (ARF) and "
        "mails to `unsubscribe_mailto`",
    )
    ses: SesConfig | None = Field(
        default=None, description="accept Amazon SES notifications at `POST /bounces/ses`"
    )
    mailgun: MailgunConfig | None = Field(
        default=None, description="accept Mailgun's webhooks at `POST /bounces/mailgun`"
    )
    soft_limit: int = Field(
        default=3, ge=1, le=100, description="soft bounces (mailbox full, 4.x.x) that suppress"
    )
    soft_days: int = Field(
        default=14, ge=1, le=365, description="…when they all came within this many days"
    )

    @field_validator("address")
    @classmethod
    def _mailbox(cls, value: str) -> str:
        try:
            local = addresses.mailbox(value)[1].split("@", 1)[0]
        except addresses.InvalidAddress as exc:
            raise ValueError(str(exc)) from exc
        if "+" in local:
            raise ValueError("the bounce address must have no '+': the token is added after it")
        return value

    @model_validator(mode="after")
    def _some_source(self) -> BounceConfig:
        if self.imap is None and self.ses is None and self.mailgun is None:
            raise ValueError("say where bounces are read: `imap`, `ses`, `mailgun`, or several")
        return self
