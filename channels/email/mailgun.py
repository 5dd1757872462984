"""Mailgun's webhooks (``failed``, ``complained``, ``unsubscribed``) at ``POST /bounces/mailgun``.

Every webhook is checked before it is believed: its signature is HMAC-SHA256 of ``timestamp``
and ``token`` with the webhook signing key, compared in constant time; a timestamp further from
now than ``max_age_seconds`` is refused, and so is a token seen before (see ``Replays``).

Who and what: a failed delivery names its envelope sender, our per-message bounce address, so
the reader and the story come from our own signed token. Complaints and unsubscribes carry no
envelope; they name the message's Message-ID (``<a<story>.<list>.r<reader>@…>``, which we wrote)
and the recipient, and the reader is believed only if that is their address.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from distributor.desk.throttle import Counter
from distributor_channels.email import addresses
from distributor_channels.email.bounces import Notice
from distributor_channels.email.models import BounceKind
from distributor_channels.email.verp import BounceTag, BounceTokens

log = logging.getLogger("distributor.email.mailgun")

_KINDS = {"permanent": BounceKind.HARD, "temporary": BounceKind.SOFT}
_ACTED_ON = ("failed", "complained", "unsubscribed")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_TOKEN_CHARS = 256
_SIGNATURE = re.compile(r"^[0-9a-fA-F]{64}$")
# The Message-ID the email channel gives each reader's copy of a story (``message.message_id``).
_MESSAGE_ID = re.compile(r"^<?a([0-9]{1,10})\.([a-z0-9][a-z0-9_-]{0,62})\.r([1-9][0-9]{0,9})@")
_DETAIL_CHARS = 300


class Refused(Exception):
    """The webhook is not one we can believe; the message says why (for the log)."""

    def __init__(self, why: str, status: int) -> None:
        super().__init__(why)
        self.status = status


@dataclass(frozen=True, slots=True)
class Webhook:
    """One webhook's signature fields and its event, checked for shape (not yet verified)."""

    timestamp: str
    token: str
    signatures: tuple[str, ...]  # its own, and a subaccount's ``parent-signature`` if any
    event: Mapping[str, Any]

    @property
    def name(self) -> str:
        return str(self.event["event"])


def parse(body: bytes) -> Webhook:
    """Raises ValueError, naming the field, when the body is not a Mailgun webhook."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("the body is not JSON") from exc
    if not isinstance(data, dict):
        raise ValueError("the body is not a JSON object")
    signature = data.get("signature")
    if not isinstance(signature, dict):
        raise ValueError("`signature` is missing or not an object")
    timestamp = signature.get("timestamp")
    if isinstance(timestamp, int) and not isinstance(timestamp, bool):
        timestamp = str(timestamp)
    if not isinstance(timestamp, str) or not _TIMESTAMP.match(timestamp):
        raise ValueError("`signature.timestamp` is missing or not a number of seconds")
    token = signature.get("token")
    if not isinstance(token, str) or not 0 < len(token) <= _TOKEN_CHARS:
        raise ValueError(f"`signature.token` is missing or longer than {_TOKEN_CHARS} characters")
    given = signature.get("signature")
    if not isinstance(given, str) or not _SIGNATURE.match(given):
        raise ValueError("`signature.signature` is missing or not 64 hexadecimal digits")
    signatures = [given.lower()]
    parent = signature.get("parent-signature")
    if parent is not None:
        if not isinstance(parent, str) or not _SIGNATURE.match(parent):
            raise ValueError("`signature.parent-signature` is not 64 hexadecimal digits")
        signatures.append(parent.lower())
    event = data.get("event-data")
    if not isinstance(event, dict):
        raise ValueError("`event-data` is missing or not an object")
    name = event.get("event")
    if not isinstance(name, str) or not name:
        raise ValueError("`event-data.event` is missing")
    if name == "failed" and event.get("severity") not in _KINDS:
        raise ValueError("`event-data.severity` of a failed event is not permanent or temporary")
    return Webhook(timestamp, token, tuple(signatures), event)


def signed_by(webhook: Webhook, keys: Mapping[str, frozenset[str]]) -> frozenset[str]:
    """The lists whose signing key made a signature (``keys``: key → its lists).

    A subaccount's webhook is also signed with the primary account's key (``parent-signature``),
    so either account's key may be configured.
    """
    found: set[str] = set()
    message = (webhook.timestamp + webhook.token).encode("utf-8")
    for key, lists in keys.items():
        expected = hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()
        for given in webhook.signatures:
            if hmac.compare_digest(expected.encode("ascii"), given.encode("ascii")):
                found |= lists
    return frozenset(found)


def check_age(webhook: Webhook, now: datetime, max_age_seconds: int) -> None:
    """Raises Refused when the signed timestamp is too far from ``now`` (either way)."""
    age = now.timestamp() - int(webhook.timestamp)
    if abs(age) > max_age_seconds:
        raise Refused(f"the timestamp is {int(age)} s from now (more than {max_age_seconds})", 403)


class Replays:
    """The tokens of the webhooks accepted lately: a token is accepted once.

    ``counter`` allows one hit per token within twice the timestamp tolerance (a token older
    than that is refused as stale anyway). It is the web service's counter store: in Redis when
    ``redis`` is configured, shared by every web process; else in this process's memory, where
    a restart forgets the tokens and each process remembers only its own.
    """

    def __init__(self, counter: Counter) -> None:
        self.counter = counter

    @staticmethod
    def _key(token: str) -> str:
        return hashlib.sha256(token.encode("utf-8")).hexdigest()[:32]

    async def claim(self, token: str) -> bool:
        """True the first time a token is seen; False for a replay."""
        return await self.counter.hit(self._key(token)) == 0

    async def forget(self, token: str) -> None:
        """The webhook could not be handled: let Mailgun's retry through."""
        await self.counter.reset(self._key(token))


def notices(webhook: Webhook, tokens: BounceTokens) -> list[Notice]:
    """The bounce, complaint or unsubscribe in one event; [] for any other event."""
    event = webhook.event
    name = webhook.name
    if name not in _ACTED_ON:
        return []
    envelope = event.get("envelope")
    sender = envelope.get("sender") if isinstance(envelope, dict) else None
    tag = tokens.parse(sender) if isinstance(sender, str) else None
    recipient = None
    if tag is None:
        tag, recipient = _by_message_id(event)
        if tag is None:
            return []
    if name == "failed":
        kind = _KINDS[str(event["severity"])]
        return [Notice(kind, _failure_detail(event), tag=tag, recipient=recipient)]
    if name == "complained":
        detail = "spam complaint (Mailgun)"
        return [Notice(BounceKind.COMPLAINT, detail, tag=tag, recipient=recipient)]
    detail = "unsubscribed through Mailgun"
    return [Notice(BounceKind.UNSUBSCRIBE, detail, tag=tag, recipient=recipient)]


def _by_message_id(event: Mapping[str, Any]) -> tuple[BounceTag | None, str | None]:
    """The reader and story a Message-ID of ours names, with the address Mailgun reports."""
    message = event.get("message")
    headers = message.get("headers") if isinstance(message, dict) else None
    value = headers.get("message-id") if isinstance(headers, dict) else None
    match = _MESSAGE_ID.match(value.strip()) if isinstance(value, str) else None
    recipient = event.get("recipient")
    if match is None or not isinstance(recipient, str):
        return None, None
    try:
        address = addresses.normalise(recipient)
    except addresses.InvalidAddress:
        return None, None
    article = int(match[1])
    return BounceTag(match[2], int(match[3]), article or None), address


def _failure_detail(event: Mapping[str, Any]) -> str:
    status = event.get("delivery-status")
    status = status if isinstance(status, dict) else {}
    code = status.get("enhanced-code") or status.get("code")
    text = status.get("message") or status.get("description") or event.get("reason")
    words = " ".join(str(x).strip() for x in (code, text) if x not in (None, ""))
    return f"Mailgun: {words or event.get('severity')}"[:_DETAIL_CHARS]
