"""What a mail in the bounce mailbox says: a bounce (DSN), a complaint (ARF), an unsubscribe.

- **Who.** The per-message Return-Path (``verp``) names the reader and the story; a bounce is
  addressed to it, and a complaint report carries it in the original message's headers. A
  complaint whose original lost its Return-Path still carries the reader's signed unsubscribe
  link (``List-Unsubscribe``), checked against the store before it is believed.
- **What.** Delivery status notifications (RFC 3464) and the many non-standard bounces of older
  servers are read by flufl.bounce (``all_failures``: permanent and temporary failures). A
  report of type ``feedback-report`` (ARF, RFC 5965) is a complaint. A mail sent to a list's
  ``unsubscribe_mailto`` address unsubscribes its sender (RFC 2369 ``mailto:``).
- Anything else (an auto-reply, a delay warning, spam) is not acted on.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses

from flufl.bounce import all_failures

from distributor_channels.email import addresses
from distributor_channels.email.models import BounceKind
from distributor_channels.email.tokens import Claims, TokenSigner
from distributor_channels.email.verp import BounceTag, BounceTokens

# Where a mail says whom it was delivered to; a bounce's To: is our Return-Path.
_RECIPIENT_HEADERS = ("delivered-to", "x-original-to", "envelope-to", "to")
_UNSUBSCRIBE_TOKEN = re.compile(r"/unsubscribe/([A-Za-z0-9_.-]+)>")
_STATUS = re.compile(r"^\s*([245]\.\d{1,3}\.\d{1,3})", re.M)
_DETAIL_CHARS = 300
_TEMPORARY = re.compile(
    r"temporary (error|failure)|deferred|quota exceeded|over quota|mailbox (is )?full|"
    r"try again later|\b4\.\d{1,3}\.\d{1,3}\b",
    re.I,
)


@dataclass(frozen=True, slots=True)
class Notice:
    """One actionable mail. Exactly one of ``tag``, ``claims`` or ``address`` names the reader."""

    kind: str  # a BounceKind
    detail: str
    tag: BounceTag | None = None
    claims: Claims | None = None  # an unsubscribe token: verify against the reader's address
    address: str | None = None  # the reader's address (unsubscribe by mail)
    lists: tuple[str, ...] = ()  # with ``address``: the lists it concerns
    # With a ``tag`` read from a header we wrote but did not sign (a relay reports the
    # Message-ID): the address the relay names, which must be the tagged reader's.
    recipient: str | None = None


def parse(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def read(
    raw: bytes,
    tokens: BounceTokens,
    unsubscribe_mailtos: Mapping[str, Sequence[str]],
) -> Notice | None:
    """The notice in one mail, or None when it asks for nothing.

    ``unsubscribe_mailtos`` maps each ``unsubscribe_mailto`` address (lower case) to its lists.
    """
    msg = parse(raw)
    report = msg.get_param("report-type", header="content-type")
    report_type = str(report).lower() if isinstance(report, str) else ""
    if msg.get_content_type() == "multipart/report" and report_type == "feedback-report":
        return _complaint(msg, tokens)
    tag = _tag(_recipients(msg), tokens)
    failures = _failures(msg)
    if failures is not None:
        kind, detail = failures
        original = _original_headers(msg)
        if tag is None and original is not None:
            tag = _tag(original.get_all("return-path", []), tokens)
        return Notice(kind, detail, tag=tag) if tag is not None else None
    for recipient in _recipients(msg):
        lists = unsubscribe_mailtos.get(recipient.lower())
        if lists:
            sender = _sender(msg)
            if sender is None:
                return None
            return Notice(
                BounceKind.UNSUBSCRIBE, "asked by mail", address=sender, lists=tuple(lists)
            )
    return None


def _recipients(msg: Message) -> list[str]:
    found: list[str] = []
    for header in _RECIPIENT_HEADERS:
        values = [str(v) for v in msg.get_all(header, [])]
        found += [address for _, address in getaddresses(values) if address]
    return found


def _tag(candidates: Iterable[str], tokens: BounceTokens) -> BounceTag | None:
    for candidate in candidates:
        tag = tokens.parse(str(candidate))
        if tag is not None:
            return tag
    return None


def _failures(msg: Message) -> tuple[str, str] | None:
    """``(hard|soft, detail)`` when the mail reports a failed delivery."""
    temporary, permanent = all_failures(msg)
    if not temporary and not permanent:
        return None
    status = _dsn_status(msg)
    if status is not None:
        # An RFC 3464 Status is the server's own word: 4.x.x is temporary, 5.x.x permanent.
        kind = BounceKind.SOFT if status.startswith("4") else BounceKind.HARD
        return kind, _detail(status, permanent | temporary)
    # Non-standard bounces (Exim, old qmail): flufl.bounce finds who failed but tends to call
    # every failure permanent; a mailbox that is full or a "temporary error" is not.
    if permanent and not _TEMPORARY.search(_text(msg)):
        return BounceKind.HARD, _detail("permanent failure", permanent)
    return BounceKind.SOFT, _detail("temporary failure", temporary | permanent)


def _detail(status: str, failed: Iterable[bytes | str]) -> str:
    who = ", ".join(
        sorted(a.decode("ascii", "replace") if isinstance(a, bytes) else a for a in failed)
    )
    return f"{status} for {who}"[:_DETAIL_CHARS]


def _text(msg: Message) -> str:
    """The human-readable parts (the start of each), for wording the report has no field for."""
    texts = []
    for part in msg.walk():
        if (
            part.get_content_maintype() == "text"
            and part.get_content_type() != "text/rfc822-headers"
        ):
            body = part.get_payload(decode=True)
            if isinstance(body, bytes):
                texts.append(body[:4000].decode("utf-8", "replace"))
    return "\n".join(texts)


def _dsn_status(msg: Message) -> str | None:
    """The ``Status:`` (and diagnostic) of an RFC 3464 report, if it is one."""
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        blocks = payload if isinstance(payload, list) else [part]
        for block in blocks:
            text = block.as_string() if isinstance(block, Message) else str(block)
            status = _STATUS.search(text.split("Status:", 1)[-1]) if "Status:" in text else None
            if status is not None:
                diagnostic = re.search(r"Diagnostic-Code:\s*(.+)", text)
                extra = f" ({diagnostic[1].strip()})" if diagnostic else ""
                return status[1] + extra
    return None


def _original_headers(msg: Message) -> Message | None:
    """The returned message's headers (``message/rfc822`` or ``text/rfc822-headers``)."""
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        if kind == "text/rfc822-headers":
            text = part.get_payload(decode=True)
            if isinstance(text, bytes):
                return parse(text)
    return None


def _complaint(msg: Message, tokens: BounceTokens) -> Notice | None:
    feedback = "abuse"
    for part in msg.walk():
        if part.get_content_type() == "message/feedback-report":
            payload = part.get_payload()
            first = payload[0] if isinstance(payload, list) and payload else payload
            text = first.as_string() if isinstance(first, Message) else str(first)
            found = re.search(r"Feedback-Type:\s*([\w-]+)", text, re.I)
            feedback = found[1].lower() if found else feedback
    detail = f"spam complaint (ARF, {feedback})"
    original = _original_headers(msg)
    if original is None:
        return None
    tag = _tag([str(v) for v in original.get_all("return-path", [])], tokens)
    if tag is not None:
        return Notice(BounceKind.COMPLAINT, detail, tag=tag)
    for value in original.get_all("list-unsubscribe", []):
        match = _UNSUBSCRIBE_TOKEN.search(str(value))
        claims = TokenSigner.parse(match[1], "unsubscribe") if match else None
        if claims is not None:
            return Notice(BounceKind.COMPLAINT, detail, claims=claims)
    return None


def _sender(msg: Message) -> str | None:
    for _, address in getaddresses([str(v) for v in msg.get_all("from", [])]):
        try:
            return addresses.normalise(address)
        except addresses.InvalidAddress:
            return None
    return None
