"""The MIME message a reader receives: built once per story, personalised per reader in bytes.

Building a multipart ``EmailMessage`` and serialising it costs about 3 ms; filling three fields
into bytes built once costs microseconds. So a story is serialised once with markers where the
reader's address, Message-ID and unsubscribe URL go (see ``markers``), split at those markers,
and each reader's copy is one ``bytes.join``. The markers are nonces of this render, so the
split points are the product's own slots only: a story's text cannot name one. Bodies are 8bit
(sent with ``BODY=8BITMIME``), so the markers survive serialisation verbatim: quoted-printable
or base64 would cut them apart.
The outbox (dry run) writes a copy made by this same code.
"""

from __future__ import annotations

import email.policy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from distributor.types import MessageRef, RenderedMessage
from distributor_channels.email import addresses, markers
from distributor_channels.email.config import EmailChannelConfig

# The default policy folds long List-Unsubscribe values into encoded words mail clients can't
# use (docs/email.md); SMTP policy with a 998 limit keeps them readable.
POLICY = email.policy.SMTP.clone(max_line_length=998)
# RFC 5322 §2.1.1: at most 998 octets per line; keep a margin for the reader's longer values.
LINE_LIMIT = 900
PREVIEW_RECIPIENT = "reader@example.invalid"
PREVIEW_UNSUBSCRIBE = "https://example.invalid/unsubscribe/preview-token"

_LINE_ENDINGS = re.compile(rb"\r\n|\n|\r")
_LEADING_DOT = re.compile(rb"(?m)^\.")
_LANGUAGE = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")
_HEADER_SAFE = re.compile(r"^[\x21-\x7e]+$")


def clean_subject(title: str) -> str:
    """A subject never carries CR/LF (header injection); runs of whitespace become one space."""
    return " ".join(title.split())


def message_id_base(config: EmailChannelConfig, article_id: int) -> str:
    """What identifies a story's emails: ``a<article>.<list>@<domain>``."""
    return f"a{article_id}.{config.list_name}@{config.domain}"


def original_article(ref_message_id: str) -> int | None:
    """The article a ``message_id_base`` names (``a<article>.<list>@<domain>``)."""
    match = re.match(r"a(\d+)\.", ref_message_id)
    return int(match.group(1)) if match else None


def message_id(list_name: str, domain: str, article_id: int, subscriber_id: int) -> str:
    """Stable per (article, reader), so a resend after a crash carries the same Message-ID."""
    return f"<a{article_id}.{list_name}.r{subscriber_id}@{domain}>"


DIGEST_KIND = "digest"
"""``payload["kind"]`` of a digest: the adapter mails it to the list with its own ledger."""


def is_digest(payload: Mapping[str, Any]) -> bool:
    return payload.get("kind") == DIGEST_KIND


def digest_id_base(config: EmailChannelConfig, digest_id: int) -> str:
    """What identifies a digest's emails: ``d<digest>.<list>@<domain>``."""
    return f"d{digest_id}.{config.list_name}@{config.domain}"


def digest_message_id(list_name: str, domain: str, digest_id: int, subscriber_id: int) -> str:
    """Stable per (digest, reader), like a story's: a resend carries the same Message-ID."""
    return f"<d{digest_id}.{list_name}.r{subscriber_id}@{domain}>"


@dataclass(frozen=True, slots=True)
class Recipient:
    """What differs between two readers' copies of a story."""

    address: str
    message_id: str
    unsubscribe_url: str
    in_reply_to: str | None = None  # a follow-up: the reader's copy of the original

    def values(self) -> tuple[bytes, ...]:
        fields: tuple[str, ...] = (self.address, self.message_id, self.unsubscribe_url)
        if self.in_reply_to is not None:
            fields = (*fields, self.in_reply_to)
        for value in fields:
            # They land in headers verbatim: printable ASCII only, no spaces, no CR/LF.
            if not _HEADER_SAFE.match(value):
                raise ValueError(f"unsafe value for a header: {value!r}")
        return tuple(value.encode("ascii") for value in fields)


class _Template:
    """Bytes split at the markers; ``fill`` joins them back with one reader's values."""

    def __init__(self, data: bytes, slots: markers.Markers) -> None:
        encoded = [marker.encode("ascii") for marker in slots.all]
        field = {marker: index for index, marker in enumerate(encoded)}
        split = re.compile(b"(" + b"|".join(re.escape(marker) for marker in encoded) + b")")
        self.pieces: list[bytes] = split.split(data)
        # re.split with a group: static text at even indexes, a marker at every odd one.
        self.slots = [(i, field[self.pieces[i]]) for i in range(1, len(self.pieces), 2)]
        found = [index for _, index in self.slots]
        if set(found) != set(range(len(encoded))):
            raise ValueError("the message lost a per-reader marker while it was serialised")
        if found.count(0) != 1 or found.count(1) != 1:
            # The address and the Message-ID belong in their one header each, nowhere else.
            raise ValueError("a per-reader header marker is in the message more than once")

    def fill(self, values: tuple[bytes, ...]) -> bytes:
        out = self.pieces.copy()
        for position, field in self.slots:
            out[position] = values[field]
        return b"".join(out)


class StoryMessage:
    """One story's message for one list, ready to personalise.

    ``raw`` is the RFC 5322 message (what DKIM signs and the outbox writes); ``wire`` is the
    same with SMTP dot-stuffing applied, without the final ``.`` line, which the sender writes
    only once the ledger says "sent".
    """

    def __init__(self, raw: bytes, slots: markers.Markers, *, eight_bit: bool) -> None:
        raw = _LINE_ENDINGS.sub(b"\r\n", raw)
        if not raw.endswith(b"\r\n"):
            raw += b"\r\n"
        self.eight_bit = eight_bit
        self.size = len(raw)
        self.template = raw  # with the markers in place: what a DKIM StorySigner canonicalises
        self.markers = slots
        self._raw = _Template(raw, slots)
        # Reader values never start a line, nor with ".", so stuffing once is stuffing each copy.
        self._wire = _Template(_LEADING_DOT.sub(b"..", raw), slots)

    def raw(self, recipient: Recipient) -> bytes:
        return self._raw.fill(recipient.values())

    def wire(self, recipient: Recipient) -> bytes:
        return self._wire.fill(recipient.values())


def dot_stuff(raw: bytes) -> bytes:
    """SMTP transparency (RFC 5321 §4.5.2) for a message built outside ``StoryMessage``."""
    return _LEADING_DOT.sub(b"..", _LINE_ENDINGS.sub(b"\r\n", raw))


def fold_lines(text: str, limit: int = LINE_LIMIT) -> str:
    """Break lines longer than ``limit`` octets at a space (or before a tag) for 8bit bodies.

    In HTML a line break is whitespace like the space it replaces; a word with no break point
    at all (a pathological URL) is cut, as an MTA would.
    """
    out: list[str] = []
    for line in text.split("\n"):
        while len(line.encode("utf-8")) > limit:
            head = line.encode("utf-8")[:limit].decode("utf-8", "ignore")
            space = head.rfind(" ")
            tag = head.rfind("<")
            if space > 0:
                out.append(head[:space])
                line = line[space + 1 :]
            elif tag > 0:
                out.append(head[:tag])
                line = line[tag:]
            else:
                out.append(head)
                line = line[len(head) :]
        out.append(line)
    return "\n".join(out)


def unsubscribe_header(config: EmailChannelConfig, url: str) -> str:
    """RFC 2369 + RFC 8058: the https one-click URL first, then mailto when configured."""
    uris = [f"<{url}>"]
    if config.unsubscribe_mailto:
        mailto = addresses.mailbox(config.unsubscribe_mailto)[1]
        uris.append(f"<mailto:{mailto}?subject=unsubscribe>")
    return ", ".join(uris)


def build_story(
    config: EmailChannelConfig, payload: Mapping[str, Any], date: datetime, *, update: bool = False
) -> StoryMessage:
    """Serialise a rendered story once, with the per-reader markers in place.

    ``update``: a developing story's update, "Update: …" threaded (``In-Reply-To`` and
    ``References``) to each reader's copy of the original.

    Raises:
        ValueError: the payload has no unsubscribe marker of its own render, or lost one.
        KeyError: a part is missing from the payload.
    """
    slots = markers.Markers.new(str(payload.get("unsubscribe_marker", "")), threaded=update)
    msg = EmailMessage(policy=POLICY)
    msg["From"] = addresses.format_mailbox(config.from_address)
    msg["To"] = slots.recipient
    if config.reply_to:
        msg["Reply-To"] = addresses.format_mailbox(config.reply_to)
    subject = payload.get("update_subject") if update else None
    msg["Subject"] = clean_subject(str(subject or payload["subject"]))
    msg["Date"] = format_datetime(date.astimezone(UTC))
    msg["Message-ID"] = slots.message_id
    if slots.in_reply_to is not None:
        msg["In-Reply-To"] = slots.in_reply_to
        msg["References"] = slots.in_reply_to
    msg["List-Id"] = config.list_id
    msg["List-Unsubscribe"] = unsubscribe_header(config, slots.unsubscribe)
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    text = fold_lines(str(payload["text"]))
    html = fold_lines(str(payload["html"]))
    eight_bit = not (text.isascii() and html.isascii())
    cte = "8bit" if eight_bit else "7bit"
    msg.set_content(text, cte=cte)
    msg.add_alternative(html, subtype="html", cte=cte)
    language = str(payload.get("language") or "")
    if _LANGUAGE.match(language):
        # After the parts: set_content and add_alternative move Content-* headers around.
        msg["Content-Language"] = language
    return StoryMessage(msg.as_bytes(), slots, eight_bit=eight_bit)


def preview_message(
    config: EmailChannelConfig,
    operation: str,
    message: RenderedMessage | None,
    refs: Sequence[MessageRef],
    *,
    update_of: int | None = None,
) -> bytes:
    """The message one sample reader (id 0) would get, for the outbox (the dry run).

    ``update_of``: the story is the follow-up of that article, so it is the "Update: …" mail
    threaded to the sample reader's copy of the original, as live sends it. A digest's sample
    carries digest id 0: the digest's row is not known to the builder.
    """
    now = datetime.now(UTC)
    if message is None or operation == "delete":
        return _notice(config, operation, refs, now)
    list_name, domain = config.list_name, config.domain
    if is_digest(message.payload):
        sample_id = digest_message_id(list_name, domain, 0, 0)
    else:
        sample_id = message_id(list_name, domain, int(message.payload.get("article_id", 0)), 0)
    reader = Recipient(
        address=PREVIEW_RECIPIENT,
        message_id=sample_id,
        unsubscribe_url=PREVIEW_UNSUBSCRIBE,
        in_reply_to=None if update_of is None else message_id(list_name, domain, update_of, 0),
    )
    return build_story(config, message.payload, now, update=update_of is not None).raw(reader)


def _notice(
    config: EmailChannelConfig, operation: str, refs: Sequence[MessageRef], now: datetime
) -> bytes:
    msg = EmailMessage(policy=POLICY)
    msg["From"] = addresses.format_mailbox(config.from_address)
    msg["To"] = PREVIEW_RECIPIENT
    msg["Date"] = format_datetime(now)
    msg["Subject"] = f"({operation}) {refs[0].message_id if refs else ''}".strip()
    msg.set_content(f"{operation}: an email cannot be recalled once it is sent.\n")
    return msg.as_bytes()
