"""Building the MIME message a reader receives."""

from __future__ import annotations

import email.policy
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from channels.email.config import EmailChannelConfig
from distributor.types import MessageRef, RenderedMessage

# The default policy folds long List-Unsubscribe values into encoded words mail clients can't
# use (PLATFORMS.md §3.3b); SMTP policy with a 998 limit keeps them readable.
POLICY = email.policy.SMTP.clone(max_line_length=998)
PREVIEW_RECIPIENT = "reader@example.invalid"


def preview_message(
    config: EmailChannelConfig,
    operation: str,
    message: RenderedMessage | None,
    refs: Sequence[MessageRef],
) -> bytes:
    """The message one reader would get, for the outbox (the dry run)."""
    msg = EmailMessage(policy=POLICY)
    msg["From"] = config.from_address
    msg["To"] = PREVIEW_RECIPIENT
    if config.reply_to:
        msg["Reply-To"] = config.reply_to
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain="example.invalid")
    if message is None:
        msg["Subject"] = f"({operation}) {refs[0].message_id if refs else ''}"
        msg.set_content(f"{operation}: email cannot be recalled once sent.\n")
        return msg.as_bytes()
    payload = message.payload
    msg["Subject"] = str(payload["subject"])
    msg.set_content(str(payload["text"]))
    msg.add_alternative(str(payload["html"]), subtype="html")
    return msg.as_bytes()
