"""Signed tokens in the links readers click: one reader, one list, one purpose.

A token is ``<list>.<subscriber id>[.<issued>].<mac>``; the MAC is HMAC-SHA256 over the list,
subscriber id, the subscriber's address and (for confirmations) the time it was issued and the
nonce of the request it answers (kept on the reader's row, so only the latest request's link
confirms, and none once it was used or the reader left), keyed
with a key derived from the web secret for that purpose alone. It cannot be guessed, it cannot
be turned into another reader's or another list's token, an unsubscribe token does not confirm
anybody, and a token stops working if the row it names now holds a different address.

Rotation: tokens made with ``web.previous_secrets`` still verify (nothing new is signed with
them), so the links already in readers' mailboxes keep working through a grace period.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

Purpose = Literal["unsubscribe", "confirm", "bounce"]

MIN_SECRET_CHARS = 32
"""The shortest web secret accepted: a shorter one falls to an offline guess from one token."""

_KEY_LABEL = b"distributor-email-token-v2"
_LEGACY_VERSION = b"distributor-email-token-v1"
_MAC_BYTES = 24  # 192 bits
_MAX_ID = 2**31 - 1  # the subscribers' id column is a 32-bit integer
# \Z, not $: "$" also matches before a final newline, so "token\n" would be a token.
_UNSUBSCRIBE = re.compile(r"([a-z0-9][a-z0-9_-]{0,62})\.([1-9][0-9]{0,9})\.([A-Za-z0-9_-]{32})\Z")
_CONFIRM = re.compile(
    r"([a-z0-9][a-z0-9_-]{0,62})\.([1-9][0-9]{0,9})\.([0-9a-z]{1,8})\.([A-Za-z0-9_-]{32})\Z"
)


@dataclass(frozen=True, slots=True)
class Claims:
    """What a well-formed token says; believe it only after ``TokenSigner.verify``."""

    purpose: Purpose
    list_name: str
    subscriber_id: int
    mac: str
    issued: datetime | None = None


def purpose_key(secret: str, purpose: Purpose) -> bytes:
    """The key of one purpose, derived from the web secret (HMAC with a purpose label)."""
    label = _KEY_LABEL + b"\0" + purpose.encode("ascii")
    return hmac.new(secret.encode("utf-8"), label, hashlib.sha256).digest()


class TokenSigner:
    """Makes tokens with the web secret; checks them against it and the previous secrets.

    Raises:
        ValueError: a secret is shorter than ``MIN_SECRET_CHARS``.
    """

    def __init__(self, secret: str, previous: Sequence[str] = ()) -> None:
        for value in (secret, *previous):
            if len(value) < MIN_SECRET_CHARS:
                raise ValueError(f"a token secret must be at least {MIN_SECRET_CHARS} characters")
        self._secrets = (secret, *previous)
        # Keyed once: copying a keyed HMAC is cheaper than keying one per reader.
        self._unsubscribe_key = hmac.new(purpose_key(secret, "unsubscribe"), digestmod="sha256")
        self._confirm_key = hmac.new(purpose_key(secret, "confirm"), digestmod="sha256")

    def __repr__(self) -> str:
        return "TokenSigner(secret=***)"

    @staticmethod
    def _mac(
        keyed: hmac.HMAC, list_name: str, subscriber_id: int, address: str, issued: str
    ) -> str:
        mac = keyed.copy()
        mac.update(
            b"\0".join(
                (list_name.encode(), str(subscriber_id).encode(),
                 address.lower().encode("utf-8"), issued.encode())
            )
        )  # fmt: skip
        return base64.urlsafe_b64encode(mac.digest()[:_MAC_BYTES]).decode("ascii")

    def unsubscribe(self, list_name: str, subscriber_id: int, address: str) -> str:
        mac = self._mac(self._unsubscribe_key, list_name, subscriber_id, address, "")
        return f"{list_name}.{subscriber_id}.{mac}"

    def confirm(
        self, list_name: str, subscriber_id: int, address: str, issued: datetime, nonce: str
    ) -> str:
        """A confirmation token for one request: ``nonce`` is that request's, kept on the row."""
        stamp = _base36(int(issued.timestamp()))
        mac = self._mac(self._confirm_key, list_name, subscriber_id, address, f"{stamp}.{nonce}")
        return f"{list_name}.{subscriber_id}.{stamp}.{mac}"

    @staticmethod
    def parse(token: str, purpose: Purpose) -> Claims | None:
        """The claims of a well-formed token, else None. Nothing is verified yet."""
        if purpose == "unsubscribe":
            match = _UNSUBSCRIBE.match(token)
            if match is None or int(match[2]) > _MAX_ID:
                return None
            return Claims(purpose, match[1], int(match[2]), match[3])
        match = _CONFIRM.match(token)
        if match is None or int(match[2]) > _MAX_ID:
            return None
        try:
            issued = datetime.fromtimestamp(int(match[3], 36), UTC)
        except (OverflowError, ValueError, OSError):  # beyond the years a datetime holds
            return None
        return Claims(purpose, match[1], int(match[2]), match[4], issued)

    def verify(self, claims: Claims, address: str, nonce: str | None = None) -> bool:
        """Whether the token was made by us for this reader (constant-time comparisons).

        A confirmation token verifies only with the nonce of the request it was issued for:
        ``None`` (no open request: confirmed, left, or never asked) refuses every one.
        """
        stamp = _base36(int(claims.issued.timestamp())) if claims.issued is not None else ""
        if claims.purpose == "confirm":
            if not nonce:
                return False
            stamp = f"{stamp}.{nonce}"
        fields = (claims.list_name, claims.subscriber_id, address, stamp)
        candidates = [
            self._mac(hmac.new(purpose_key(s, claims.purpose), digestmod=hashlib.sha256), *fields)
            for s in self._secrets
        ]
        if claims.purpose == "unsubscribe":
            # Unsubscribe links mailed before per-purpose keys must keep working (RFC 8058).
            candidates += [_legacy_mac(s, *fields) for s in self._secrets]
        matched = False
        for expected in candidates:
            matched |= hmac.compare_digest(expected, claims.mac)
        return matched


def _legacy_mac(secret: str, list_name: str, subscriber_id: int, address: str, issued: str) -> str:
    """The unsubscribe MAC of the first token format: the secret itself as the key."""
    mac = hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha256)
    mac.update(
        b"\0".join(
            (_LEGACY_VERSION, b"unsubscribe", list_name.encode(), str(subscriber_id).encode(),
             address.lower().encode("utf-8"), issued.encode())
        )
    )  # fmt: skip
    return base64.urlsafe_b64encode(mac.digest()[:_MAC_BYTES]).decode("ascii")


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out
