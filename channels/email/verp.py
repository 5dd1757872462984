"""Per-message bounce addresses (VERP): ``bounces+<list>.<reader>.<story>.<mac>@domain``.

Every message goes out with its own Return-Path, so a bounce, which comes back to that
address, names one reader and one story without parsing anything the remote server wrote. The
MAC (HMAC-SHA256 with a key derived from the web secret for this purpose alone, 80 bits, base32
so that a server folding the local part to lower case does not break it) stops anybody from
unsubscribing a reader with a forged bounce. Previous web secrets still verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass

from distributor_channels.email.tokens import purpose_key

_MAC_BYTES = 10
_TAG = re.compile(
    r"\+([a-z0-9][a-z0-9_-]{0,62})\.([1-9][0-9]{0,9})\.([0-9]{1,10})\.([a-z2-7]{16})@", re.I
)


@dataclass(frozen=True, slots=True)
class BounceTag:
    """What a verified bounce address names."""

    list_name: str
    subscriber_id: int
    article_id: int | None  # None: not a story (a confirmation or welcome mail)


class BounceTokens:
    def __init__(self, secret: str, previous: Sequence[str] = ()) -> None:
        self._keys = [purpose_key(s, "bounce") for s in (secret, *previous)]
        self._keyed = hmac.new(self._keys[0], digestmod=hashlib.sha256)

    def __repr__(self) -> str:
        return "BounceTokens(secret=***)"

    @staticmethod
    def _mac(keyed: hmac.HMAC, list_name: str, subscriber_id: int, article_id: int) -> str:
        mac = keyed.copy()
        mac.update(b"%s\0%d\0%d" % (list_name.encode("ascii"), subscriber_id, article_id))
        return base64.b32encode(mac.digest()[:_MAC_BYTES]).decode("ascii").lower()

    def address(
        self, bounce_address: str, list_name: str, subscriber_id: int, article_id: int | None
    ) -> str:
        """The Return-Path for one message (``article_id`` None: not a story)."""
        local, domain = bounce_address.rsplit("@", 1)
        story = article_id or 0
        mac = self._mac(self._keyed, list_name, subscriber_id, story)
        return f"{local}+{list_name}.{subscriber_id}.{story}.{mac}@{domain}"

    def parse(self, address: str) -> BounceTag | None:
        """The tag of a bounce address we made, else None (malformed or forged)."""
        match = _TAG.search(address)
        if match is None:
            return None
        list_name, subscriber_id, story = match[1].lower(), int(match[2]), int(match[3])
        given = match[4].lower()
        for key in self._keys:
            expected = self._mac(
                hmac.new(key, digestmod=hashlib.sha256), list_name, subscriber_id, story
            )
            if hmac.compare_digest(expected, given):
                return BounceTag(list_name, subscriber_id, story or None)
        return None
