"""JSON objects the fake Discord API answers with (complete enough for discord.py 2.7.1)."""

from __future__ import annotations

from typing import Any

from tests.fakes.discord_models import FakeBot, FakeChannel, FakeWebhook, StoredMessage
from tests.fakes.discord_state import iso

_VERIFY_KEY = "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa99887766554433221100"
_OWNER_ID = 1187402731185881000


def _mentioned_user(user_id: int) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": f"user{user_id}",
        "discriminator": "0",
        "global_name": None,
        "avatar": None,
        "public_flags": 0,
    }


def user_json(bot: FakeBot) -> dict[str, Any]:
    """``GET /users/@me`` for a bot."""
    return {
        **bot.user_json(),
        "verified": True,
        "mfa_enabled": False,
        "flags": 0,
        "locale": "en-US",
        "premium_type": 0,
        "email": None,
        "banner": None,
        "accent_color": None,
    }


def application_json(bot: FakeBot) -> dict[str, Any]:
    """``GET /oauth2/applications/@me``: the fields ``discord.AppInfo`` reads."""
    return {
        "id": str(bot.application_id),
        "name": bot.name,
        "description": "",
        "icon": None,
        "rpc_origins": [],
        "bot_public": False,
        "bot_require_code_grant": False,
        "owner": {
            "id": str(_OWNER_ID),
            "username": "newsroom",
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
        },
        "team": None,
        "verify_key": _VERIFY_KEY,
        "flags": 0,
        "summary": "",
        "tags": [],
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "role_connections_verification_url": None,
        "approximate_guild_count": 1,
        "integration_types_config": {},
        "bot": bot.user_json(),
    }


def channel_json(channel: FakeChannel, last_message_id: int | None) -> dict[str, Any]:
    """``GET /channels/{channel_id}``: a guild text channel (type 0) or public thread (11)."""
    data: dict[str, Any] = {
        "id": str(channel.id),
        "guild_id": str(channel.guild_id),
        "name": channel.name,
        "type": 0 if channel.parent_id is None else 11,
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "topic": None,
        "rate_limit_per_user": 0,
        "parent_id": None if channel.parent_id is None else str(channel.parent_id),
        "last_message_id": None if last_message_id is None else str(last_message_id),
        "flags": 0,
    }
    if channel.parent_id is not None:
        data.update(
            {
                "owner_id": str(_OWNER_ID),
                "message_count": 0,
                "member_count": 1,
                "thread_metadata": {
                    "archived": False,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": "2024-01-01T00:00:00+00:00",
                    "locked": False,
                },
            }
        )
    return data


def webhook_json(hook: FakeWebhook, *, with_token: bool) -> dict[str, Any]:
    """``GET /webhooks/{webhook_id}/{webhook_token}``: an incoming webhook (type 1)."""
    data: dict[str, Any] = {
        "id": str(hook.id),
        "type": 1,
        "guild_id": str(hook.guild_id),
        "channel_id": str(hook.channel_id),
        "name": hook.name,
        "avatar": None,
        "application_id": None,
    }
    if with_token:
        data["token"] = hook.token
    return data


def _embed_json(embed: dict[str, Any]) -> dict[str, Any]:
    # Discord echoes embeds back with their type filled in.
    return {"type": "rich", **embed}


def message_json(msg: StoredMessage, bots_by_id: dict[int, FakeBot]) -> dict[str, Any]:
    """A Message object. ``mentions``/``mention_roles``/``mention_everyone`` list who pings."""
    if msg.webhook_id is not None:
        author: dict[str, Any] = {
            "id": str(msg.webhook_id),
            "username": msg.username or msg.author_name,
            "discriminator": "0000",
            "avatar": None,
            "bot": True,
            "global_name": None,
        }
    else:
        bot = bots_by_id.get(msg.author_id)
        author = (
            bot.user_json()
            if bot
            else {
                "id": str(msg.author_id),
                "username": msg.author_name,
                "discriminator": "0",
                "avatar": None,
                "bot": True,
                "global_name": None,
            }
        )
    data: dict[str, Any] = {
        "id": str(msg.id),
        "type": 0,
        "channel_id": str(msg.where),
        "author": author,
        "content": msg.content,
        "timestamp": iso(msg.created_at),
        "edited_timestamp": iso(msg.edited_at),
        "tts": msg.tts,
        "mention_everyone": msg.pinged_everyone,
        "mentions": [_mentioned_user(u) for u in msg.pinged_users],
        "mention_roles": [str(r) for r in msg.pinged_roles],
        "attachments": msg.attachments,
        "embeds": [_embed_json(e) for e in msg.embeds],
        "reactions": [],
        "pinned": False,
        "flags": msg.flags,
        "components": [],
    }
    if msg.nonce is not None:
        data["nonce"] = msg.nonce
    if msg.webhook_id is not None:
        data["webhook_id"] = str(msg.webhook_id)
    return data
