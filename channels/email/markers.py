"""Stand-ins for what differs per reader, filled in with byte substitutions at send time.

Each marker carries a random nonce drawn for one render: a story's text (its title, links,
image URL) is written before the nonce exists, so nothing that came from a story can hold a
marker, and only the product's own slots (the ``To``, ``Message-ID`` and ``List-Unsubscribe``
headers, the template's ``{{ unsubscribe_url }}``) are ever filled with a reader's data.

Markers are plain ASCII that survives HTML escaping, CSS inlining and 8bit serialisation
unchanged, never starts a line with ".", and names no real host (``.invalid`` is reserved).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

UNSUBSCRIBE_MARKER = "https://unsubscribe.invalid/distributor-unsubscribe-marker"
"""The fixed head of every unsubscribe marker (the nonce follows it); never a marker itself."""

_NONCE_BYTES = 16  # 128 bits: never guessed, never met by chance
_UNSUBSCRIBE = re.compile(re.escape(UNSUBSCRIBE_MARKER) + r"/[0-9a-f]{32}\Z")


def _nonce() -> str:
    return secrets.token_hex(_NONCE_BYTES)


def new_unsubscribe() -> str:
    """A fresh unsubscribe marker, for one render of a story's parts."""
    return f"{UNSUBSCRIBE_MARKER}/{_nonce()}"


def is_unsubscribe(value: str) -> bool:
    """Whether ``value`` is an unsubscribe marker this module made."""
    return _UNSUBSCRIBE.match(value) is not None


@dataclass(frozen=True, slots=True)
class Markers:
    """One story's markers, in the order of a reader's values (address, Message-ID, URL)."""

    recipient: str
    message_id: str
    unsubscribe: str
    # A follow-up's In-Reply-To/References: the reader's own copy of the original story.
    in_reply_to: str | None = None

    @classmethod
    def new(cls, unsubscribe: str, *, threaded: bool = False) -> Markers:
        """Fresh header markers around the unsubscribe marker the story was rendered with.

        Raises:
            ValueError: ``unsubscribe`` is not a marker ``new_unsubscribe`` made.
        """
        if not is_unsubscribe(unsubscribe):
            raise ValueError("the story was rendered without a valid unsubscribe marker")
        nonce = _nonce()
        reply = f"<t{nonce}@in-reply-to.invalid>" if threaded else None
        return cls(
            f"r{nonce}@recipient.invalid", f"<m{nonce}@message-id.invalid>", unsubscribe, reply
        )

    @property
    def all(self) -> tuple[str, ...]:
        slots = (self.recipient, self.message_id, self.unsubscribe)
        return slots if self.in_reply_to is None else (*slots, self.in_reply_to)
