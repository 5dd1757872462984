"""The Telegram transport: post, edit and delete through python-telegram-bot.

Rescues before failures: a photo Telegram cannot use goes out as the text post the builder
already fitted; HTML Telegram cannot parse goes out once as its plain text; a group upgraded
to a supergroup is followed to its new id (stored, so restarts keep it) and the call is
repeated at once. Everything else becomes one of the errors in ``distributor.errors``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from telegram import Message
from telegram import error as tg

from distributor import errors, logs, models
from distributor.adapter import AdapterContext, PayloadBuilder
from distributor.config import ChannelConfig
from distributor.send_context import SendContext
from distributor.types import MessageRef, RenderedMessage, SendResult
from distributor_channels.telegram import error_map, html
from distributor_channels.telegram.client import BotClient
from distributor_channels.telegram.config import TelegramChannelConfig
from distributor_channels.telegram.pacing import Operation, TelegramPacing
from distributor_channels.telegram.payload import (
    WEB_URL,
    TelegramPayloads,
    delete_request,
    edit_request,
)
from distributor_channels.telegram.pins import Pinner

CHAT_KEY = "chat_id"
MIGRATED_FROM_KEY = "chat_id_migrated_from"
# The numeric id Telegram answered for the configured "@name" (and that name), so that a
# restarted worker paces edits of old posts on the same budget as new posts.
NAMED_ID_KEY = "chat_id_of_name"
NAME_KEY = "chat_name"
_OPERATIONS: dict[str, Operation] = {
    "sendMessage": "send",
    "sendPhoto": "send",
    "editMessageText": "edit",
    "editMessageCaption": "edit",
    "deleteMessage": "delete",
    # Pins draw on the chat's budget only, like deletions: on the group's, a breaking
    # story's pin would spend half the breaking lane (2 a minute) and wait 30 s for it.
    "pinChatMessage": "delete",
    "unpinChatMessage": "delete",
}


class TelegramAdapter:
    """One Telegram chat (channel, group, forum topic or user), posted to by one bot."""

    supports_edit = True
    supports_delete = True
    sends_notices = False
    # The Bot API has no idempotency key: a send that timed out may have been posted.
    idempotent = False

    def __init__(
        self, config: TelegramChannelConfig, builder: TelegramPayloads, context: AdapterContext
    ) -> None:
        token = config.token.get_secret_value() if config.token is not None else ""
        if not token:
            raise errors.ConfigError([f"telegram channel {config.name!r}: token is required"])
        # First, before PTB logs its API URL (token inside) at DEBUG on construction.
        logs.install_redaction([token])
        self.config: ChannelConfig = config
        self.builder: PayloadBuilder = builder
        self.settings = config
        self.core = context  # what the core provides (operations get a SendContext)
        self.chat = config.chat
        # "@name" -> numeric id, learnt from replies: a follow-up replies only in its chat.
        self._chat_ids: dict[str, str] = {}
        # numeric id -> "@name": edits name the chat by its id, sends by the configured name,
        # and both must draw on one budget, under the name (see _pacing_key).
        self._names: dict[str, str] = {}
        self.client = BotClient.shared(context.pacer, token, config.api_base_url, config.timeouts)
        self.pacing = TelegramPacing(config.rates, token, context.pacer)
        self.pinner = Pinner(config, self._call, context.store, context.clock)

    def __repr__(self) -> str:
        return f"TelegramAdapter(channel={self.config.name!r}, chat={self.chat!r})"

    async def start(self) -> None:
        """Open the HTTP pool; follow a migration to a supergroup recorded by an earlier run."""
        await self.client.start()
        store = self.core.store
        if store is None:
            return
        data = await store.channel_data(self.config.name)
        if data.get(NAMED_ID_KEY) and data.get(NAME_KEY) == self.chat:
            self._learn(self.chat, data[NAMED_ID_KEY])
        # Only while the configured chat is still the one that migrated: once the admin
        # writes a new `chat`, the configuration wins again.
        if data.get(CHAT_KEY) and data.get(MIGRATED_FROM_KEY) == self.settings.chat:
            self.chat = data[CHAT_KEY]

    async def aclose(self) -> None:
        """Close the HTTP pool."""
        await self.client.aclose()

    # ---------------------------------------------------------------------------- operations
    async def send(self, message: RenderedMessage, context: SendContext) -> SendResult:
        """Post the story: as a photo with its caption, else (or if refused) as text; then pin
        it if its priority reaches ``pin_priority`` (a refused pin does not fail the send).

        ``context.key`` is not sent: the Bot API has no idempotency key (see ``idempotent``).
        """
        result = await self._post(message, context)
        if not self.pinner.wanted(context):
            return result
        params = message.payload["params"]
        silent = not context.notify or bool(params.get("disable_notification"))
        return await self.pinner.pin(result, context, silent=silent)

    async def _post(self, message: RenderedMessage, context: SendContext) -> SendResult:
        payload = message.payload
        notes: list[str] = []
        if payload["method"] == "sendPhoto":
            fallback = payload.get("fallback")
            photo = str(payload["params"].get("photo", ""))
            if not WEB_URL.match(photo):
                # PTB would read a local path and upload the file: never for article data.
                if fallback is None:
                    raise self._rejected("sendPhoto", "the image is not an http(s) URL")
                notes.append("the image is not an http(s) URL: sent as text")
                return await self._send(fallback, notes, context)
            try:
                return await self._send(payload, notes, context)
            except errors.PermanentDeliveryError as exc:
                if fallback is None or not error_map.is_photo_refused(exc.__cause__):
                    raise
                notes.append(f"photo refused ({exc.reason}): sent as text")
                return await self._send(fallback, notes, context)
        return await self._send(payload, notes, context)

    async def edit(
        self, refs: Sequence[MessageRef], message: RenderedMessage, context: SendContext
    ) -> SendResult:
        """Edit the caption or text of posts already out; "not modified" is a success."""
        notes: list[str] = []
        edited: list[MessageRef] = []
        for ref in refs:
            self._check_ref(ref, "edit")
            request = edit_request(message.payload, ref)
            try:
                _, chat = await self._call(request["method"], request["params"], notes, context)
            except errors.PermanentDeliveryError as exc:
                if not error_map.is_not_modified(exc.__cause__):
                    raise
                notes.append("unchanged on Telegram")
                chat = ref.target
            edited.append(MessageRef(chat, ref.message_id, ref.kind, ref.thread))
        if context.ticket.operation == models.Operation.DELETE:
            # The post now says the story was withdrawn: it must not stay on top of the chat.
            await self.pinner.unpin_withdrawn(edited, context, notes)
        return SendResult(tuple(edited), self.core.clock(), "; ".join(notes))

    async def delete(self, refs: Sequence[MessageRef], context: SendContext) -> None:
        """Delete posts; ``NotDeletable`` once Telegram no longer allows it (48 hours)."""
        missing: list[errors.MessageNotFound] = []
        for ref in refs:
            self._check_ref(ref, "delete")
            request = delete_request(ref, self.chat)
            try:
                await self._call(request["method"], request["params"], [], context)
            except errors.MessageNotFound as exc:
                missing.append(exc)  # the others still go
        await self.pinner.deleted(refs)  # a deleted post needs no unpin
        if missing and len(missing) == len(refs):
            raise missing[0]

    # ---------------------------------------------------------------------------- internals
    async def _send(
        self, payload: Mapping[str, Any], notes: list[str], context: SendContext
    ) -> SendResult:
        method = payload["method"]
        params = {**payload["params"], "chat_id": self.chat}
        if not context.notify:  # the channel's quiet hours, silent mode
            params["disable_notification"] = True
        reply = context.reply_to
        chat = self._chat_ids.get(self.chat, self.chat)
        # A ref from another chat (the admin changed `chat`) would name some other message.
        same_chat = chat.startswith("@") or reply is None or reply.target == chat
        if reply is not None and reply.message_id.isdigit() and same_chat:
            # A follow-up answers the original's post (in its topic, if any); if that post is
            # gone meanwhile, Telegram sends it all the same.
            params["reply_parameters"] = {
                "message_id": int(reply.message_id),
                "allow_sending_without_reply": True,
            }
            if reply.thread is not None:
                params["message_thread_id"] = int(reply.thread)
        result, _ = await self._call(method, params, notes, context)
        if not isinstance(result, Message):
            raise self._rejected(method, "Telegram did not return the message it posted")
        await self._remember(str(params["chat_id"]), str(result.chat_id))
        ref = MessageRef(
            target=str(result.chat_id),
            message_id=str(result.message_id),
            kind="photo" if method == "sendPhoto" else "text",
            thread=None if result.message_thread_id is None else str(result.message_thread_id),
        )
        return SendResult((ref,), self.core.clock(), "; ".join(notes))

    async def _call(
        self, method: str, params: Mapping[str, Any], notes: list[str], context: SendContext
    ) -> tuple[Message | bool, str]:
        """Pace and make one Bot API call, with its rescues; returns (result, chat used).

        Raises:
            errors.DeliveryError: what the failure means, caused by PTB's exception.
        """
        current = dict(params)
        migrated = plain = False
        while True:
            chat = str(current["chat_id"])
            try:
                await self.pacing.before(
                    _OPERATIONS[method], self._pacing_key(chat), breaking=context.breaking
                )
                await context.about_to_send()  # paced and leaving now: a crash is in doubt
                return await self.client.call(method, current), chat
            except tg.ChatMigrated as exc:
                if migrated:
                    raise self._error(exc, method) from exc
                migrated = True
                await self._migrated(chat, str(exc.new_chat_id), notes)
                current["chat_id"] = str(exc.new_chat_id)
            except tg.BadRequest as exc:
                field = _markup_field(method, current)
                if plain or field is None or not error_map.is_parse_error(exc):
                    raise self._error(exc, method) from exc
                plain = True
                reason = error_map.text_of(exc)
                notes.append(f"Telegram could not parse the HTML ({reason}): sent as plain text")
                current[field] = html.visible_text(current[field])
                current.pop("parse_mode", None)
            except tg.RetryAfter as exc:
                self.pacing.hold(self._pacing_key(chat), error_map.retry_after_seconds(exc))
                raise self._error(exc, method) from exc
            except tg.TelegramError as exc:
                raise self._error(exc, method) from exc

    def _pacing_key(self, chat: str) -> str:
        """One budget per chat whichever way a call names it: the "@name" once its id is known.

        Keyed by the id instead, the first post (sent to "@name" before Telegram told us the
        id) and the next one (keyed by the id) would not be spaced.
        """
        return self._names.get(chat, chat)

    def _learn(self, name: str, chat_id: str) -> None:
        self._chat_ids[name] = chat_id
        if name.startswith("@"):
            self._names[chat_id] = name

    async def _remember(self, name: str, chat_id: str) -> None:
        """Learn the id Telegram answered for ``name``; kept in the store for restarts."""
        known = self._chat_ids.get(name) == chat_id
        self._learn(name, chat_id)
        store = self.core.store
        if known or store is None or not name.startswith("@") or name != self.chat:
            return
        try:
            await store.set_channel_data(self.config.name, NAME_KEY, name)
            await store.set_channel_data(self.config.name, NAMED_ID_KEY, chat_id)
        except SQLAlchemyError:
            pass  # the post is out; a restart only learns the id again from the next post

    async def _migrated(self, old: str, new: str, notes: list[str]) -> None:
        notes.append(f"the group became the supergroup {new}")
        if old != self.chat:
            return  # an old post's chat (edit, delete): the channel itself already moved
        self.chat = new
        store = self.core.store
        if store is not None:
            await store.set_channel_data(self.config.name, CHAT_KEY, new)
            await store.set_channel_data(self.config.name, MIGRATED_FROM_KEY, self.settings.chat)

    def _check_ref(self, ref: MessageRef, operation: str) -> None:
        if not ref.message_id.isdigit():
            raise errors.MessageNotFound(
                f"post {ref.message_id!r} was never on Telegram (sent while in dry-run?)",
                channel=self.config.name,
                platform=error_map.PLATFORM,
                operation=operation,
            )

    def _error(self, exc: tg.TelegramError, method: str) -> errors.DeliveryError:
        return error_map.to_delivery_error(exc, channel=self.config.name, operation=method)

    def _rejected(self, method: str, reason: str) -> errors.PermanentDeliveryError:
        return errors.PermanentDeliveryError(
            reason, channel=self.config.name, platform=error_map.PLATFORM, operation=method
        )


def _markup_field(method: str, params: Mapping[str, Any]) -> str | None:
    """The HTML field a plain-text retry rewrites, if the call used parse_mode HTML."""
    if str(params.get("parse_mode", "")).upper() != "HTML":
        return None
    field = "caption" if method in ("sendPhoto", "editMessageCaption") else "text"
    return field if isinstance(params.get(field), str) else None
