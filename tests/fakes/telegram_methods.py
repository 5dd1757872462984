"""Bot API method handlers of the fake Telegram server (mixed into ``FakeTelegramAPI``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from aiohttp import web

from tests.fakes.telegram_entities import Entity, fix_formatted_text
from tests.fakes.telegram_html import HtmlParseError, parse_html
from tests.fakes.telegram_state import ApiError, FakeChat, FloodTracker, StoredMessage

Params = dict[str, Any]
Files = dict[str, web.FileField]
Handler = Callable[[Any, Params, Files], Any]

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_RAW_BYTES = 32768
DELETE_WINDOW = 48 * 3600.0
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


def _text_param(params: Params, name: str) -> str | None:
    value = params.get(name)
    return None if value is None else str(value)


def _int_param(params: Params, name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        return int(str(value))
    except ValueError:
        raise ApiError(400, f"Bad Request: invalid {name} specified") from None


def _bool_param(params: Params, name: str) -> bool:
    value = params.get(name)
    return value is True or str(value).lower() in ("true", "1")


def _json_param(params: Params, name: str) -> Any:
    value = params.get(name)
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise ApiError(400, f"Bad Request: can't parse {name} JSON object") from None


def _explicit_entities(raw: Any) -> list[Entity]:
    """Entities given as JSON instead of a parse mode (kept as sent, minus unknown keys)."""
    out = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict) and {"type", "offset", "length"} <= item.keys():
            keep = ("url", "language", "custom_emoji_id", "unix_time", "date_time_format")
            out.append(Entity(str(item["type"]), int(item["offset"]), int(item["length"]),
                              **{k: item[k] for k in keep if k in item}))  # fmt: skip
    return out


def _check_member(chat: FakeChat) -> None:
    """403 when the bot is not in the chat, in the Bot API's wording."""
    if chat.member_status == "kicked":
        if chat.type == "private":
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        raise ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
    if chat.member_status == "left":
        if chat.type == "private":
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")


def _can_post(chat: FakeChat) -> bool:
    # In channels only administrators with can_post_messages may post.
    if chat.type == "channel":
        return chat.member_status == "administrator" and chat.can_post_messages
    return chat.can_post_messages


def _format(
    raw: str | None, parse_mode: str | None, entities: Any, *, caption: bool
) -> tuple[str, list[Entity]]:
    """Parse and check a text or caption like the Bot API: (plain text, entities)."""
    raw = raw or ""
    if len(raw.encode("utf-8", "surrogatepass")) > MAX_RAW_BYTES:
        raise ApiError(400, "Bad Request: text is too long")
    mode = (parse_mode or "").lower()
    if mode == "html":
        try:
            text, found = parse_html(raw)
        except HtmlParseError as err:
            raise ApiError(400, f"Bad Request: can't parse entities: {err.reason}") from None
    elif mode == "":
        text, found = raw, _explicit_entities(entities)
    elif mode in ("markdown", "markdownv2"):
        raise ApiError(400, f"Bad Request: the fake server does not implement parse_mode {mode}")
    else:
        raise ApiError(400, "Bad Request: unsupported parse_mode")
    try:
        text, found = fix_formatted_text(text, found, allow_empty=caption)
    except ValueError:
        raise ApiError(400, "Bad Request: message text is empty") from None
    # Telegram counts code points of the parsed text, not UTF-16 units.
    if caption and len(text) > MAX_CAPTION:
        raise ApiError(400, "Bad Request: message caption is too long")
    if not caption and len(text) > MAX_TEXT:
        raise ApiError(400, "Bad Request: message is too long")
    return text, found


class MethodsMixin:
    """sendMessage, sendPhoto, editMessageText/Caption, deleteMessage(s), (un)pinChatMessage
    and getMe."""

    METHODS: ClassVar[dict[str, Handler]] = {}
    chats: dict[int, FakeChat]
    messages: dict[int, dict[int, StoredMessage]]
    deleted: list[StoredMessage]
    pins: dict[int, dict[int, bool]]
    unpinned: list[tuple[int, int]]
    flood: FloodTracker
    bot_id: int
    _refusals: list[tuple[Callable[[str], bool], str]]
    _file_ids: dict[str, list[dict[str, Any]]]
    _seq: int

    if TYPE_CHECKING:

        def _resolve_chat(self, value: Any) -> FakeChat: ...
        def now(self) -> float: ...
        def wall_time(self) -> int: ...
        def _photo_sizes(self, source: str, content: bytes = b"") -> list[dict[str, Any]]: ...

    def bot_user(self) -> dict[str, Any]:
        """The bot's User object (getMe, ``from`` of group messages)."""
        return {"id": self.bot_id, "is_bot": True, "first_name": "Fake Distributor Bot",
                "username": "fake_distributor_bot", "can_join_groups": True,
                "can_read_all_group_messages": False, "supports_inline_queries": False}  # fmt: skip

    def message_json(self, msg: StoredMessage) -> dict[str, Any]:
        """The Message object the Bot API returns for a stored message."""
        chat = self.chats[msg.chat_id]
        out: dict[str, Any] = {"message_id": msg.message_id, "date": msg.date,
                               "chat": chat.to_json()}  # fmt: skip
        if chat.type == "channel":
            out["sender_chat"] = chat.to_json()
        else:
            out["from"] = self.bot_user()
        if msg.thread_id is not None:
            out["message_thread_id"] = msg.thread_id
            out["is_topic_message"] = True
        entities = [e.to_json() for e in msg.entities]
        if msg.kind == "text":
            out["text"] = msg.text
            if entities:
                out["entities"] = entities
            if msg.link_preview_options is not None:
                out["link_preview_options"] = msg.link_preview_options
        else:
            out["photo"] = msg.photo
            if msg.text:
                out["caption"] = msg.text
            if entities:
                out["caption_entities"] = entities
            if msg.show_caption_above_media:
                out["show_caption_above_media"] = True
        if msg.edit_date is not None:
            out["edit_date"] = msg.edit_date
        if msg.protect_content:
            out["has_protected_content"] = True
        return out

    def _thread(self, chat: FakeChat, params: Params) -> int | None:
        thread_id = _int_param(params, "message_thread_id")
        if thread_id is None:
            return None
        if chat.is_forum:
            if thread_id not in chat.topics:
                raise ApiError(400, "Bad Request: message thread not found")
            return thread_id
        if chat.type == "supergroup":
            raise ApiError(400, "Bad Request: message thread not found")
        return None  # ignored where threads do not exist

    def _photo(self, params: Params, files: Files) -> tuple[list[dict[str, Any]], str]:
        value = params.get("photo")
        upload = files.get("photo")
        if isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value[len("attach://") :])
        if upload is not None:
            content = upload.file.read()
            if not content:
                raise ApiError(400, "Bad Request: file must be non-empty")
            source = f"upload:{upload.filename}"
            return self._photo_sizes(source, content), source
        if not value:
            raise ApiError(400, "Bad Request: there is no photo in the request")
        source = str(value)
        for check, description in self._refusals:
            if check(source):
                raise ApiError(400, description)
        if source.lower().startswith(("http://", "https://")):
            return self._photo_sizes(source), source
        if source in self._file_ids:
            return self._file_ids[source], source
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    def _send(self, params: Params, files: Files, kind: Literal["text", "photo"]) -> Any:
        chat = self._resolve_chat(params.get("chat_id"))
        _check_member(chat)
        if not _can_post(chat):
            what = "text messages" if kind == "text" else "photos"
            raise ApiError(400, f"Bad Request: not enough rights to send {what} to the chat")
        thread_id = self._thread(chat, params)
        parse_mode = _text_param(params, "parse_mode")
        photo: list[dict[str, Any]] | None = None
        source: str | None = None
        if kind == "text":
            raw = _text_param(params, "text") or ""
            text, entities = _format(raw, parse_mode, _json_param(params, "entities"),
                                     caption=False)  # fmt: skip
        else:
            photo, source = self._photo(params, files)
            raw = _text_param(params, "caption") or ""
            text, entities = _format(raw, parse_mode, _json_param(params, "caption_entities"),
                                     caption=True)  # fmt: skip
        link_preview = _json_param(params, "link_preview_options") if kind == "text" else None
        self.flood.acquire(chat.id, private=chat.type == "private", is_send=True)
        self._seq += 1
        msg = StoredMessage(
            chat_id=chat.id, message_id=chat.next_message_id, thread_id=thread_id, kind=kind,
            text=text, entities=entities, raw=raw, parse_mode=parse_mode, photo=photo,
            photo_source=source, link_preview_options=link_preview,
            disable_notification=_bool_param(params, "disable_notification"),
            protect_content=_bool_param(params, "protect_content"), date=self.wall_time(),
            created_at=self.now(), seq=self._seq,
            show_caption_above_media=_bool_param(params, "show_caption_above_media"),
        )  # fmt: skip
        chat.next_message_id += 1
        self.messages.setdefault(chat.id, {})[msg.message_id] = msg
        return self.message_json(msg)

    def _find(self, chat: FakeChat, message_id: int | None, action: str) -> StoredMessage:
        msg = self.messages.get(chat.id, {}).get(message_id or 0)
        if msg is None:
            raise ApiError(400, f"Bad Request: message to {action} not found")
        return msg

    def _edit(self, params: Params, kind: Literal["text", "photo"]) -> Any:
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat = self._resolve_chat(params.get("chat_id"))
        _check_member(chat)
        msg = self._find(chat, _int_param(params, "message_id"), "edit")
        if msg.kind != kind:
            what = "text" if kind == "text" else "caption"
            raise ApiError(400, f"Bad Request: there is no {what} in the message to edit")
        if chat.type == "channel" and not _can_post(chat):
            raise ApiError(400, "Bad Request: message can't be edited")
        parse_mode = _text_param(params, "parse_mode")
        field = "text" if kind == "text" else "caption"
        raw = _text_param(params, field) or ""
        entities_field = "entities" if kind == "text" else "caption_entities"
        text, entities = _format(raw, parse_mode, _json_param(params, entities_field),
                                 caption=kind == "photo")  # fmt: skip
        link_preview = _json_param(params, "link_preview_options") if kind == "text" else None
        above = _bool_param(params, "show_caption_above_media")
        if (text, entities, link_preview, above) == msg.content_key():
            raise ApiError(400, _NOT_MODIFIED)
        self.flood.acquire(chat.id, private=chat.type == "private", is_send=False)
        msg.text, msg.entities, msg.raw, msg.parse_mode = text, entities, raw, parse_mode
        msg.link_preview_options, msg.show_caption_above_media = link_preview, above
        msg.edit_date = self.wall_time()
        msg.edits += 1
        return self.message_json(msg)

    def _pin_rights(self, params: Params) -> FakeChat:
        chat = self._resolve_chat(params.get("chat_id"))
        _check_member(chat)
        allowed = chat.can_pin_messages and (
            chat.type != "channel" or chat.member_status == "administrator"
        )
        if not allowed:
            raise ApiError(
                400, "Bad Request: not enough rights to manage pinned messages in the chat"
            )
        return chat

    def _pin_chat_message(self, params: Params, files: Files) -> Any:
        """Pin a live message; pinning it again moves it to the top, like Telegram."""
        chat = self._pin_rights(params)
        msg = self._find(chat, _int_param(params, "message_id"), "pin")
        pinned = self.pins.setdefault(chat.id, {})
        pinned.pop(msg.message_id, None)
        pinned[msg.message_id] = _bool_param(params, "disable_notification")
        return True

    def _unpin_chat_message(self, params: Params, files: Files) -> Any:
        """Unpin one message (or, without ``message_id``, the most recent pin)."""
        chat = self._pin_rights(params)
        pinned = self.pins.setdefault(chat.id, {})
        message_id = _int_param(params, "message_id")
        if message_id is None:
            message_id = next(reversed(pinned), None)
        if message_id is None or message_id not in pinned:
            raise ApiError(400, "Bad Request: message to unpin not found")
        del pinned[message_id]
        self.unpinned.append((chat.id, message_id))
        return True

    def _delete_one(self, chat: FakeChat, message_id: int | None) -> None:
        msg = self._find(chat, message_id, "delete")
        too_old = self.now() - msg.created_at >= DELETE_WINDOW
        if too_old or (chat.type == "channel" and not _can_post(chat)):
            raise ApiError(400, "Bad Request: message can't be deleted")
        del self.messages[chat.id][msg.message_id]
        self.pins.get(chat.id, {}).pop(msg.message_id, None)  # a deleted post is no pin
        self.deleted.append(msg)

    # Handlers, registered in METHODS under Telegram's lower-cased method names.
    def _get_me(self, params: Params, files: Files) -> Any:
        return self.bot_user()

    def _get_chat(self, params: Params, files: Files) -> Any:
        """ChatFullInfo; a chat the bot was removed from answers 403 like the Bot API."""
        chat = self._resolve_chat(params.get("chat_id"))
        _check_member(chat)
        gifts = dict.fromkeys(
            ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription"), False
        )
        return {**chat.to_json(), "accent_color_id": 0, "max_reaction_count": 11,
                "accepted_gift_types": gifts}  # fmt: skip

    def _get_chat_member(self, params: Params, files: Files) -> Any:
        """The bot's own membership (the only user this fake knows in a chat)."""
        chat = self._resolve_chat(params.get("chat_id"))
        if str(params.get("user_id")) != str(self.bot_id):
            raise ApiError(400, "Bad Request: user not found")
        member: dict[str, Any] = {"user": self.bot_user(), "status": chat.member_status}
        if chat.member_status == "administrator":
            member.update(can_be_edited=False, is_anonymous=False, can_manage_chat=True,
                          can_post_messages=_can_post(chat))  # fmt: skip
        elif chat.member_status == "member" and not chat.can_post_messages:
            member.update(status="restricted", is_member=True, can_send_messages=False)
        return member

    def _send_message(self, params: Params, files: Files) -> Any:
        return self._send(params, files, "text")

    def _send_photo(self, params: Params, files: Files) -> Any:
        return self._send(params, files, "photo")

    def _edit_message_text(self, params: Params, files: Files) -> Any:
        return self._edit(params, "text")

    def _edit_message_caption(self, params: Params, files: Files) -> Any:
        return self._edit(params, "photo")

    def _delete_message(self, params: Params, files: Files) -> Any:
        chat = self._resolve_chat(params.get("chat_id"))
        _check_member(chat)
        self._delete_one(chat, _int_param(params, "message_id"))
        return True

    def _delete_messages(self, params: Params, files: Files) -> Any:
        chat = self._resolve_chat(params.get("chat_id"))
        _check_member(chat)
        ids = _json_param(params, "message_ids")
        if not isinstance(ids, list) or not ids:
            raise ApiError(400, "Bad Request: message identifiers are not specified")
        if len(ids) > 100:
            raise ApiError(400, "Bad Request: too many message identifiers specified")
        deleted = 0
        first_error: ApiError | None = None
        for message_id in ids:
            try:
                self._delete_one(chat, int(message_id))
                deleted += 1
            except ApiError as err:  # the Bot API skips messages it cannot delete
                first_error = first_error or err
            except (ValueError, TypeError):
                continue
        if not deleted:
            raise first_error or ApiError(400, "Bad Request: message to delete not found")
        return True


_HANDLERS: dict[str, Handler] = {
    "getMe": MethodsMixin._get_me,
    "getChat": MethodsMixin._get_chat,
    "getChatMember": MethodsMixin._get_chat_member,
    "sendMessage": MethodsMixin._send_message,
    "sendPhoto": MethodsMixin._send_photo,
    "editMessageText": MethodsMixin._edit_message_text,
    "editMessageCaption": MethodsMixin._edit_message_caption,
    "deleteMessage": MethodsMixin._delete_message,
    "deleteMessages": MethodsMixin._delete_messages,
    "pinChatMessage": MethodsMixin._pin_chat_message,
    "unpinChatMessage": MethodsMixin._unpin_chat_message,
}
MethodsMixin.METHODS.update({name.lower(): handler for name, handler in _HANDLERS.items()})
# Lower-cased name -> Telegram's spelling, as recorded in RecordedRequest.method.
METHOD_NAMES = {name.lower(): name for name in _HANDLERS}
