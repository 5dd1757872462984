"""Message operations of the fake Discord API: create, edit, delete, nonce dedup."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.fakes import discord_limits as limits
from tests.fakes.discord_models import FakeBot, FakeChannel, FakeWebhook, StoredMessage
from tests.fakes.discord_state import (
    ApiError,
    DiscordRegistry,
    Upload,
    invalid_form,
    missing_permissions,
    unknown_message,
)

NONCE_WINDOW_SECONDS = 300.0  # "the past few minutes" (DDOC Create Message)


class DiscordState(DiscordRegistry):
    """The registry plus what the endpoints do to it. Errors are raised as ApiError."""

    def _validate(self, payload: Mapping[str, Any], *, webhook: bool) -> None:
        errors = limits.validate_payload(payload, webhook=webhook, unit=self.length_unit)
        if errors:
            raise invalid_form(errors)

    def _attachments(
        self,
        where: int,
        payload: Mapping[str, Any],
        uploads: list[Upload],
        keep: list[dict[str, Any]],
    ) -> list[dict[str, Any]]:
        described = {
            str(a.get("id")): a for a in payload.get("attachments") or [] if isinstance(a, Mapping)
        }
        result = list(keep)
        for index, upload in enumerate(uploads):
            aid = self._new_id()
            url = f"https://cdn.discordapp.com/attachments/{where}/{aid}/{upload.filename}"
            result.append(
                {
                    "id": str(aid),
                    "filename": upload.filename,
                    "size": upload.size,
                    "content_type": upload.content_type,
                    "url": url,
                    "proxy_url": url.replace("cdn.discordapp.com", "media.discordapp.net"),
                    "description": described.get(str(index), {}).get("description"),
                }
            )
        return result

    def create_message(
        self,
        *,
        author_id: int,
        author_name: str,
        channel: FakeChannel,
        thread_id: int | None,
        payload: Mapping[str, Any],
        uploads: list[Upload],
        webhook: FakeWebhook | None,
        can_everyone: bool,
    ) -> StoredMessage:
        """Validate and store a new message (bot create or webhook execute)."""
        self._validate(payload, webhook=webhook is not None)
        content = payload.get("content") or ""
        embeds = list(payload.get("embeds") or [])
        where = thread_id if thread_id is not None else channel.id
        attachments = self._attachments(where, payload, uploads, [])
        if limits.is_empty_message(content, embeds, attachments, payload):
            raise ApiError(400, 50006, "Cannot send an empty message")
        allowed = payload.get("allowed_mentions")
        default = limits.WEBHOOK_DEFAULT_PARSE if webhook else limits.BOT_DEFAULT_PARSE
        pings = limits.compute_pings(
            content, allowed, default_parse=default, can_mention_everyone=can_everyone
        )
        msg = StoredMessage(
            id=self._new_id(),
            channel_id=channel.id,
            thread_id=thread_id,
            author_id=author_id,
            author_name=author_name,
            webhook_id=webhook.id if webhook else None,
            content=content,
            embeds=embeds,
            allowed_mentions=dict(allowed) if allowed is not None else None,
            nonce=payload.get("nonce"),
            pinged_everyone=pings.everyone,
            pinged_roles=pings.roles,
            pinged_users=pings.users,
            created_at=self._clock(),
            username=payload.get("username"),
            avatar_url=payload.get("avatar_url"),
            attachments=attachments,
            tts=bool(payload.get("tts")),
            flags=int(payload.get("flags") or 0),
        )
        self.messages.setdefault(where, {})[msg.id] = msg
        self._order.append(msg)
        return msg

    def bot_create(
        self, bot: FakeBot, channel_id: int, payload: Mapping[str, Any], uploads: list[Upload]
    ) -> StoredMessage:
        """POST /channels/{channel_id}/messages, with nonce dedup."""
        channel, perms = self.bot_channel(channel_id)
        self._validate(payload, webhook=False)
        if not perms.bot_can_send:
            raise missing_permissions()
        if payload.get("embeds") and not perms.bot_can_embed:
            raise missing_permissions()
        nonce = payload.get("nonce")
        key = (channel_id, bot.user_id, str(nonce))
        now = self._clock()
        if nonce is not None and payload.get("enforce_nonce"):
            seen = self._nonces.get(key)
            if seen is not None and now - seen[1] < NONCE_WINDOW_SECONDS:
                self.nonce_hits += 1
                live = self.messages.get(channel_id, {}).get(seen[0])
                if live is None:
                    # Same nonce as a message deleted shortly before (discord.py documents it).
                    raise unknown_message()
                return live
        is_thread = channel.parent_id is not None
        msg = self.create_message(
            author_id=bot.user_id,
            author_name=bot.name,
            channel=perms,
            thread_id=channel.id if is_thread else None,
            payload=payload,
            uploads=uploads,
            webhook=None,
            can_everyone=perms.bot_can_mention_everyone,
        )
        if nonce is not None:
            self._nonces[key] = (msg.id, now)
        return msg

    def bot_message(self, bot: FakeBot, channel_id: int, message_id: int) -> StoredMessage:
        """GET /channels/{channel_id}/messages/{message_id}."""
        self.bot_channel(channel_id)
        return self._find(channel_id, message_id)

    def bot_edit(
        self,
        bot: FakeBot,
        channel_id: int,
        message_id: int,
        payload: Mapping[str, Any],
        uploads: list[Upload],
    ) -> StoredMessage:
        """PATCH /channels/{channel_id}/messages/{message_id}."""
        _, perms = self.bot_channel(channel_id)
        msg = self._find(channel_id, message_id)
        if msg.author_id != bot.user_id or msg.webhook_id is not None:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        if payload.get("embeds") and not perms.bot_can_embed:
            raise missing_permissions()
        self.apply_edit(
            msg, payload, uploads, webhook=False, can_everyone=perms.bot_can_mention_everyone
        )
        return msg

    def bot_delete(self, bot: FakeBot, channel_id: int, message_id: int) -> None:
        """DELETE /channels/{channel_id}/messages/{message_id}."""
        _, perms = self.bot_channel(channel_id)
        msg = self._find(channel_id, message_id)
        own = msg.author_id == bot.user_id and msg.webhook_id is None
        if not own and not perms.bot_can_manage_messages:
            # Deleting someone else's message needs MANAGE_MESSAGES (50013, not 50005).
            raise missing_permissions()
        self._delete(msg)

    def webhook_message(
        self, hook: FakeWebhook, message_id: int, thread_id: int | None
    ) -> StoredMessage:
        """A message of this webhook, looked up where ``?thread_id=`` says."""
        where = self.webhook_target(hook, thread_id) or hook.channel_id
        msg = self._find(where, message_id)
        if msg.webhook_id != hook.id:
            raise unknown_message()
        return msg

    def webhook_execute(
        self,
        hook: FakeWebhook,
        payload: Mapping[str, Any],
        uploads: list[Upload],
        thread_id: int | None,
    ) -> StoredMessage:
        """POST /webhooks/{webhook_id}/{webhook_token} (no nonce dedup: the API has none)."""
        target = self.webhook_target(hook, thread_id)
        return self.create_message(
            author_id=hook.id,
            author_name=hook.name,
            channel=self.channels[hook.channel_id],
            thread_id=target,
            payload=payload,
            uploads=uploads,
            webhook=hook,
            can_everyone=True,
        )

    def webhook_edit(
        self,
        hook: FakeWebhook,
        message_id: int,
        thread_id: int | None,
        payload: Mapping[str, Any],
        uploads: list[Upload],
    ) -> StoredMessage:
        """PATCH /webhooks/{webhook_id}/{webhook_token}/messages/{message_id}."""
        msg = self.webhook_message(hook, message_id, thread_id)
        self.apply_edit(msg, payload, uploads, webhook=True, can_everyone=True)
        return msg

    def webhook_delete(self, hook: FakeWebhook, message_id: int, thread_id: int | None) -> None:
        """DELETE /webhooks/{webhook_id}/{webhook_token}/messages/{message_id}."""
        self._delete(self.webhook_message(hook, message_id, thread_id))

    def apply_edit(
        self,
        msg: StoredMessage,
        payload: Mapping[str, Any],
        uploads: list[Upload],
        *,
        webhook: bool,
        can_everyone: bool,
    ) -> None:
        """Apply a PATCH: present keys replace stored ones, then everything is re-checked."""
        merged: dict[str, Any] = {
            "content": payload.get("content", msg.content),
            "embeds": payload.get("embeds", msg.embeds),
            "allowed_mentions": payload.get("allowed_mentions", msg.allowed_mentions),
        }
        self._validate(merged, webhook=webhook)
        content = merged["content"] or ""
        embeds = list(merged["embeds"] or [])
        keep = msg.attachments
        if "attachments" in payload:
            wanted = {
                str(a.get("id")) for a in payload["attachments"] or [] if isinstance(a, Mapping)
            }
            keep = [a for a in msg.attachments if a["id"] in wanted]
        attachments = self._attachments(msg.where, payload, uploads, keep)
        if limits.is_empty_message(content, embeds, attachments, payload):
            raise ApiError(400, 50006, "Cannot send an empty message")
        default = limits.WEBHOOK_DEFAULT_PARSE if webhook else limits.BOT_DEFAULT_PARSE
        allowed = merged["allowed_mentions"]
        pings = limits.compute_pings(
            content, allowed, default_parse=default, can_mention_everyone=can_everyone
        )
        msg.content, msg.embeds, msg.attachments = content, embeds, attachments
        msg.allowed_mentions = dict(allowed) if allowed is not None else None
        msg.pinged_everyone, msg.pinged_roles, msg.pinged_users = (
            pings.everyone,
            pings.roles,
            pings.users,
        )
        if "flags" in payload:
            msg.flags = int(payload["flags"] or 0)
        msg.edited_at = self._clock()
        msg.edits += 1

    def _delete(self, msg: StoredMessage) -> None:
        self.messages.get(msg.where, {}).pop(msg.id, None)
        msg.deleted_at = self._clock()
        self.deleted.append(msg)
