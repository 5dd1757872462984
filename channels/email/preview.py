"""What an email reader sees (a story or a digest): the subject and the text part; the whole
mail, as the outbox writes it, is the preview's payload."""

from __future__ import annotations

from distributor.adapter import OutboxEntry, PayloadBuilder
from distributor.registry import PostPreview
from distributor.types import RenderedMessage
from distributor_channels.email.config import EmailChannelConfig
from distributor_channels.email.message import PREVIEW_UNSUBSCRIBE

# Mail has no length limit; the budget that matters is the subject line's, shown in inboxes.
SUBJECT_SHOWN = 78


def preview(
    config: EmailChannelConfig, message: RenderedMessage, builder: PayloadBuilder
) -> PostPreview:
    subject = str(message.payload["subject"])
    # The sample reader's link, as in the outbox's copy, rather than the render's marker.
    text = str(message.payload["text"]).replace(
        str(message.payload.get("unsubscribe_marker") or PREVIEW_UNSUBSCRIBE), PREVIEW_UNSUBSCRIBE
    )
    return PostPreview(
        platform="email",
        title=f"newsletter {config.list_name}: {subject}",
        text=f"Subject: {subject}\n\n{text}",
        length=len(subject),
        limit=SUBJECT_SHOWN,
        payload=_sent(builder.outbox_entry("send", message, ())),
        media_type="message/rfc822",
    )


def _sent(entry: OutboxEntry | None) -> bytes:
    # A send always writes its request (only a silent correction may write nothing).
    return entry.content if entry is not None else b""
