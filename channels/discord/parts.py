"""The payload builder's Discord-shaped JSON → the objects discord.py's send and edit take.

``allowed_mentions`` is rebuilt here from the channel's configuration rather than copied from
the payload: whatever a custom template or builder put there, a post can ping the configured
breaking-news role and nobody else (no @everyone, no @here, no other role, no user).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import discord


@dataclass(frozen=True, slots=True)
class MessageParts:
    """One post as discord.py arguments."""

    content: str | None
    embeds: list[discord.Embed]
    allowed_mentions: discord.AllowedMentions
    username: str | None = None
    avatar_url: str | None = None
    # Discord's SUPPRESS_NOTIFICATIONS flag (4096): the channel's quiet hours, silent mode.
    silent: bool = False
    # A follow-up: the original story's message (bot mode; webhooks cannot reply).
    reference: discord.MessageReference | None = None


def _mentioned_role(payload: Mapping[str, Any], mention_role: int | None) -> int | None:
    if mention_role is None:
        return None
    allowed = payload.get("allowed_mentions")
    roles = allowed.get("roles", ()) if isinstance(allowed, Mapping) else ()
    wanted = {str(role) for role in roles} if isinstance(roles, list | tuple) else set()
    return mention_role if str(mention_role) in wanted else None


def allowed_mentions(role: int | None) -> discord.AllowedMentions:
    """Nothing pings, except ``role`` when given."""
    return discord.AllowedMentions(
        everyone=False,
        users=False,
        roles=[discord.Object(id=role)] if role is not None else False,
        replied_user=False,
    )


def _text(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"payload {key!r} must be a string")
    return value


def message_parts(payload: Mapping[str, Any], *, mention_role: int | None) -> MessageParts:
    """Convert one rendered payload.

    Args:
        payload: ``{"embeds": [...], "allowed_mentions": {...}, "content"?, "username"?,
            "avatar_url"?}`` as ``DiscordPayloads.render`` makes it.
        mention_role: The role the channel may ping for breaking news, if any.

    Raises:
        ValueError: The payload is not shaped like a Discord message.
    """
    raw_embeds = payload.get("embeds") or []
    if not isinstance(raw_embeds, list) or not all(isinstance(e, Mapping) for e in raw_embeds):
        raise ValueError("payload 'embeds' must be a list of embed objects")
    return MessageParts(
        content=_text(payload, "content"),
        embeds=[discord.Embed.from_dict(embed) for embed in raw_embeds],
        allowed_mentions=allowed_mentions(_mentioned_role(payload, mention_role)),
        username=_text(payload, "username"),
        avatar_url=_text(payload, "avatar_url"),
    )
