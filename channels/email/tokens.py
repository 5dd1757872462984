"""Signed tokens in the links readers click: one reader, one list, one purpose.

A token is ``<list>.<subscriber id>[.<issued>].<mac>``; the MAC is HMAC-SHA256 with the web
secret over the purpose, list, subscriber id, the subscriber's address and (for confirmations)
the time it was issued. It cannot be guessed, it cannot be turned into another reader's or
another list's token, an unsubscribe token does not confirm anybody, and a token stops working
if the row it names now holds a different address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

Purpose = Literal["unsubscribe", "confirm"]

_VERSION = b"distributor-email-token-v1"
_MAC_BYTES = 24  # 192 bits
_UNSUBSCRIBE = re.compile(r"^([a-z0-9][a-z0-9_-]{0,62})\.([1-9][0-9]{0,17})\.([A-Za-z0-9_-]{32})$")
_CONFIRM = re.compile(
    r"^([a-z0-9][a-z0-9_-]{0,62})\.([1-9][0-9]{0,17})\.([0-9a-z]{1,13})\.([A-Za-z0-9_-]{32})$"
)


@dataclass(frozen=True, slots=True)
class Claims:
    """What a well-formed token says; believe it only after ``TokenSigner.verify``."""

    purpose: Purpose
    list_name: str
    subscriber_id: int
    mac: str
    issued: datetime | None = None


class TokenSigner:
    """Makes and checks tokens with one secret (``web.secret`` in the configuration)."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("the token secret is empty")
        self._key = hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha256)

    def __repr__(self) -> str:
        return "TokenSigner(secret=***)"

    def _mac(
        self, purpose: Purpose, list_name: str, subscriber_id: int, address: str, issued: str
    ) -> str:
        mac = self._key.copy()
        mac.update(
            b"\0".join(
                (_VERSION, purpose.encode(), list_name.encode(), str(subscriber_id).encode(),
                 address.lower().encode("utf-8"), issued.encode())
            )
        )  # fmt: skip
        return base64.urlsafe_b64encode(mac.digest()[:_MAC_BYTES]).decode("ascii")

    def unsubscribe(self, list_name: str, subscriber_id: int, address: str) -> str:
        mac = self._mac("unsubscribe", list_name, subscriber_id, address, "")
        return f"{list_name}.{subscriber_id}.{mac}"

    def confirm(self, list_name: str, subscriber_id: int, address: str, issued: datetime) -> str:
        stamp = _base36(int(issued.timestamp()))
        mac = self._mac("confirm", list_name, subscriber_id, address, stamp)
        return f"{list_name}.{subscriber_id}.{stamp}.{mac}"

    @staticmethod
    def parse(token: str, purpose: Purpose) -> Claims | None:
        """The claims of a well-formed token, else None. Nothing is verified yet."""
        if purpose == "unsubscribe":
            match = _UNSUBSCRIBE.match(token)
            if match is None:
                return None
            return Claims(purpose, match[1], int(match[2]), match[3])
        match = _CONFIRM.match(token)
        if match is None:
            return None
        issued = datetime.fromtimestamp(int(match[3], 36), UTC)
        return Claims(purpose, match[1], int(match[2]), match[4], issued)

    def verify(self, claims: Claims, address: str) -> bool:
        """Whether the token was made by us for this reader (constant-time comparison)."""
        stamp = _base36(int(claims.issued.timestamp())) if claims.issued is not None else ""
        expected = self._mac(claims.purpose, claims.list_name, claims.subscriber_id, address, stamp)
        return hmac.compare_digest(expected, claims.mac)


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out
