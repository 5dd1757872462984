"""What an email reader sees: the subject and the text part (the HTML part is in the payload)."""

from __future__ import annotations

from distributor.adapter import PayloadBuilder
from distributor.registry import PostPreview
from distributor.types import RenderedMessage
from distributor_channels.email.config import EmailChannelConfig

# Mail has no length limit; the budget that matters is the subject line's, shown in inboxes.
SUBJECT_SHOWN = 78


def preview(
    config: EmailChannelConfig, message: RenderedMessage, builder: PayloadBuilder
) -> PostPreview:
    subject = str(message.payload["subject"])
    return PostPreview(
        platform="email",
        title=f"newsletter {config.list_name}: {subject}",
        text=f"Subject: {subject}\n\n{message.payload['text']}",
        length=len(subject),
        limit=SUBJECT_SHOWN,
        payload=builder.outbox_entry("send", message, ()).content,
        media_type="message/rfc822",
    )
