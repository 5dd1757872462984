"""Where a Telegram post can be opened: a t.me link, for channels and supergroups only.

A public chat (``@name``) has ``https://t.me/name/<message>``; a private channel or supergroup
(an id starting ``-100``) has ``https://t.me/c/<id without -100>/<message>``, which opens for
its members. Basic groups and private chats have no message links. In a forum the topic sits
between the chat and the message.
"""

from __future__ import annotations

from distributor.types import MessageRef
from distributor_channels.telegram.config import TelegramChannelConfig

SENT_KINDS = ("text", "photo")  # refs the adapter makes; a dry run's outbox refs are not posts
PRIVATE_PREFIX = "-100"


def post_url(config: TelegramChannelConfig, ref: MessageRef) -> str | None:
    if ref.kind not in SENT_KINDS or not ref.message_id.isdecimal():
        return None
    # Only forum topics put the topic in the link; a reply's thread in a plain group does not.
    topic = f"{ref.thread}/" if config.topic is not None and ref.thread else ""
    if config.chat.startswith("@") and len(config.chat) > 1:
        return f"https://t.me/{config.chat[1:]}/{topic}{ref.message_id}"
    target = ref.target
    digits = target.removeprefix(PRIVATE_PREFIX)
    if target.startswith(PRIVATE_PREFIX) and digits.isdecimal():
        return f"https://t.me/c/{digits}/{topic}{ref.message_id}"
    return None
