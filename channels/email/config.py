"""The keys of an email channel in the admin's YAML: the list, the sender, the SMTP server."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from distributor.config import ChannelConfig, Strict

DEFAULT_HTML_TEMPLATE = "email/article.html.j2"
DEFAULT_TEXT_TEMPLATE = "email/article.txt.j2"


class SmtpConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)
    validate_certs: bool = True


class EmailChannelConfig(ChannelConfig):
    platform: Literal["email"]
    list: str | None = Field(default=None, description="subscriber list; the channel name if unset")
    from_address: str = Field(default="Newsroom <newsroom@example.org>")
    reply_to: str | None = None
    text_template: str | None = None
    smtp: SmtpConfig | None = None
    connections: int = Field(default=4, ge=1, le=64)
    rate_per_second: float = Field(default=50.0, gt=0)

    @property
    def list_name(self) -> str:
        return self.list or self.name

    @model_validator(mode="after")
    def _smtp_unless_dry_run(self) -> EmailChannelConfig:
        if not self.dry_run and self.smtp is None:
            raise ValueError("smtp is required (host, port, security, username, password)")
        return self

    def describe_target(self) -> str:
        return f"list {self.list_name}"
