"""The ``hooks:`` entries: where events go, signed with which secret, and which events."""

from __future__ import annotations

import base64
import binascii
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from distributor.config import NAME_PATTERN, Strict

EventName = Literal[
    "story.queued",
    "delivery.sent",
    "delivery.failed",
    "delivery.dead",
    "story.corrected",
    "story.retracted",
    "channel.paused",
    "channel.resumed",
]
SECRET_PREFIX = "whsec_"  # noqa: S105 (the Standard Webhooks prefix, not a secret)


class HookConfig(Strict):
    """One subscribing system (a CMS): its URL, its signing secret, the events it wants."""

    name: str = Field(pattern=NAME_PATTERN, description="your name for the subscriber")
    url: str = Field(description="where events are POSTed (https, or http on a private network)")
    secret: SecretStr = Field(
        description="the signing secret, e.g. `${CMS_WEBHOOK_SECRET}`: `whsec_` and base64 "
        "(Standard Webhooks), or any string of 24 characters or more"
    )
    events: tuple[EventName, ...] = Field(
        min_length=1, description="the events it receives (`story.queued`, `delivery.sent`…)"
    )
    max_attempts: int = Field(
        default=12, ge=1, le=50, description="failed posts of one event before it is `dead`"
    )

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"not an http(s) URL: {url!r}")
        return url

    @field_validator("secret")
    @classmethod
    def _strong(cls, secret: SecretStr) -> SecretStr:
        signing_key(secret)
        return secret


def signing_key(secret: SecretStr) -> bytes:
    """The HMAC key: a ``whsec_`` secret's decoded bytes, else the string's UTF-8."""
    value = secret.get_secret_value()
    if value.startswith(SECRET_PREFIX):
        try:
            key = base64.b64decode(value[len(SECRET_PREFIX) :], validate=True)
        except binascii.Error:
            raise ValueError("a whsec_ secret must be base64 after the prefix") from None
        if len(key) < 24:
            raise ValueError("the secret must hold 24 bytes or more")
        return key
    if len(value) < 24:
        raise ValueError("the secret must be 24 characters or more")
    return value.encode()
