"""A stateful fake of the Telegram Bot API server, for tests.

It speaks the real wire format (see the project's platform notes, Telegram section), so the
real python-telegram-bot client can be pointed at it with ``Bot(token, base_url=fake.base_url)``.
Tests then assert on :attr:`FakeTelegramAPI.messages` and script faults and refusals.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Literal

from aiohttp import web

from tests.fakes.server import HttpServer, Served
from tests.fakes.telegram_methods import METHOD_NAMES, MethodsMixin
from tests.fakes.telegram_state import (
    MIGRATED,
    ApiError,
    ChatType,
    FakeChat,
    FaultRule,
    FaultsMixin,
    FloodLimits,
    FloodTracker,
    MemberStatus,
    RandomFaultKind,
    RecordedRequest,
    StoredMessage,
)

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "FakeChat",
    "FakeTelegramAPI",
    "FloodLimits",
    "RecordedRequest",
    "StoredMessage",
]

DEFAULT_TOKEN = "123456789:AAFakeTelegramTokenForTests-0123456789"


class FakeTelegramAPI(Served, MethodsMixin, FaultsMixin):
    """An aiohttp server on 127.0.0.1 that behaves like the Telegram Bot API.

    Args:
        tokens: Bot tokens it accepts; others get 401.
        flood: Flood limits to enforce; ``None`` disables them.
        clock: Monotonic clock for flood windows and message ages (injectable for tests).
        seed: Seed of the random fault generator (see :meth:`set_fault_rate`).

    Attributes:
        messages: chat id -> message id -> live message.
        deleted: Messages removed by deleteMessage(s), in deletion order.
        pins: chat id -> pinned message id -> whether it was pinned silently
            (``disable_notification``), oldest pin first.
        unpinned: (chat id, message id) of every unpinChatMessage that unpinned something.
        requests: Every call received, in arrival order.
        chats: chat id -> chat.
        fault_timeout_seconds: How long random "timeout" faults hold the reply.
    """

    def __init__(
        self,
        *,
        tokens: Iterable[str] = (DEFAULT_TOKEN,),
        flood: FloodLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
        seed: int = 0,
    ) -> None:
        self.tokens = set(tokens)
        first = next(iter(sorted(self.tokens)), DEFAULT_TOKEN).split(":")[0]
        self.bot_id = int(first) if first.isdigit() else 123456789
        self._clock = clock
        self.clock_offset = 0.0
        self.flood = FloodTracker(flood, self.now)
        self.chats: dict[int, FakeChat] = {}
        self.messages: dict[int, dict[int, StoredMessage]] = {}
        self.deleted: list[StoredMessage] = []
        self.pins: dict[int, dict[int, bool]] = {}
        self.unpinned: list[tuple[int, int]] = []
        self.requests: list[RecordedRequest] = []
        self.fault_timeout_seconds = 6.0  # above python-telegram-bot's 5 s read timeout
        self.latency = 0.0  # seconds added to every answer (benchmarks: a distant server)
        self._rules: list[FaultRule] = []
        self._refusals: list[tuple[Callable[[str], bool], str]] = []
        self._file_ids: dict[str, list[dict[str, Any]]] = {}
        self._rng = random.Random(seed)
        self._fault_rate = 0.0
        self._fault_kinds: tuple[RandomFaultKind, ...] = ()
        self._seq = 0
        self._lock = threading.Lock()  # control calls may come from another thread
        self.server = HttpServer(
            self._handle, path="/bot{token}/{method}", client_max_size=60 * 1024 * 1024
        )

    # ----------------------------------------------------------------- lifecycle
    # start, stop, ``async with`` and ``running_in_thread`` come from ``Served``.
    @property
    def port(self) -> int:
        """The port served on (0 until started)."""
        return self.server.port

    @property
    def api_root(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.server.root

    @property
    def base_url(self) -> str:
        """What ``telegram.Bot(base_url=...)`` takes; python-telegram-bot appends the token."""
        return f"{self.api_root}/bot"

    # ----------------------------------------------------------------- clock
    def now(self) -> float:
        """The fake's monotonic time: the injected clock plus :attr:`clock_offset`."""
        return self._clock() + self.clock_offset

    def wall_time(self) -> int:
        """Unix time for ``date`` fields, shifted by :attr:`clock_offset`."""
        return int(time.time() + self.clock_offset)

    def advance_clock(self, seconds: float) -> None:
        """Move the fake's clock (message ages, flood windows, dates) forward."""
        self.clock_offset += seconds

    def age_message(self, chat_id: int, message_id: int, seconds: float) -> None:
        """Make one stored message ``seconds`` older (e.g. past the 48 h deletion limit)."""
        msg = self.messages[chat_id][message_id]
        msg.created_at -= seconds
        msg.date -= int(seconds)

    # ----------------------------------------------------------------- chats
    def add_chat(
        self,
        chat_id: int,
        *,
        type: ChatType,
        username: str | None = None,
        title: str = "Fake chat",
        is_forum: bool = False,
        topics: Iterable[int] = (),
        member_status: MemberStatus = "administrator",
        can_post_messages: bool = True,
    ) -> FakeChat:
        """Register a chat the bot can be asked to post in."""
        chat = FakeChat(chat_id, type, username.lstrip("@") if username else None, title,
                        is_forum, set(topics), member_status, can_post_messages)  # fmt: skip
        self.chats[chat_id] = chat
        self.messages.setdefault(chat_id, {})
        return chat

    def upgrade_to_supergroup(self, chat_id: int) -> int:
        """Migrate a basic group: the old id now answers 400 with ``migrate_to_chat_id``."""
        old = self.chats[chat_id]
        if old.type != "group":
            raise ValueError(f"chat {chat_id} is a {old.type}, not a basic group")
        new_id = int(f"-100{abs(chat_id):010d}")
        while new_id in self.chats:
            new_id -= 1
        self.add_chat(new_id, type="supergroup", title=old.title, member_status=old.member_status,
                      can_post_messages=old.can_post_messages)  # fmt: skip
        old.migrated_to = new_id
        return new_id

    def kick(self, chat_id: int) -> None:
        """The bot is removed from the chat (or, in a private chat, blocked by the user)."""
        self.chats[chat_id].member_status = "kicked"

    def deny_pins(self, chat_id: int) -> None:
        """Take the bot's right to pin and unpin messages in the chat away."""
        self.chats[chat_id].can_pin_messages = False

    def restrict(self, chat_id: int, can_post_messages: bool = False) -> None:
        """Change the bot's right to post in the chat."""
        self.chats[chat_id].can_post_messages = can_post_messages

    def _by_username(self, key: str) -> FakeChat | None:
        # Only public groups and channels can be addressed as @username, not users.
        for chat in self.chats.values():
            if chat.type != "private" and (chat.username or "").lower() == key[1:].lower():
                return chat
        return None

    def _resolve_chat(self, value: Any) -> FakeChat:
        if value is None or value == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        key = str(value).strip()
        if key.startswith("@"):
            found = self._by_username(key)
            if found is not None:
                return found
        else:
            try:
                chat_id = int(key)
            except ValueError:
                chat_id = 0
            if chat_id in self.chats:
                chat = self.chats[chat_id]
                if chat.migrated_to is not None:
                    raise ApiError(400, MIGRATED, {"migrate_to_chat_id": chat.migrated_to})
                return chat
        raise ApiError(400, "Bad Request: chat not found")

    def _chat_key(self, value: Any) -> int | str | None:
        """A request's chat as recorded and matched by faults: the numeric id when known."""
        if value is None:
            return None
        key = str(value).strip()
        if key.startswith("@"):
            found = self._by_username(key)
            return key if found is None else found.id
        try:
            return int(key)
        except ValueError:
            return key

    # ----------------------------------------------------------------- photos
    def refuse_photo(
        self,
        url_or_predicate: str | Callable[[str], bool],
        *,
        reason: Literal["wrong_url", "fetch_failed"] = "wrong_url",
    ) -> None:
        """Make sendPhoto with this URL (or any URL the predicate accepts) fail with 400.

        ``reason="wrong_url"`` answers ``wrong file identifier/HTTP URL specified``;
        ``"fetch_failed"`` answers ``failed to get HTTP URL content``.
        """
        check = url_or_predicate if callable(url_or_predicate) else url_or_predicate.__eq__
        text = ("Bad Request: wrong file identifier/HTTP URL specified" if reason == "wrong_url"
                else "Bad Request: failed to get HTTP URL content")  # fmt: skip
        self._refusals.append((check, text))

    def _photo_sizes(self, source: str, content: bytes = b"") -> list[dict[str, Any]]:
        digest = hashlib.sha256(source.encode() + content).hexdigest()
        sizes: list[dict[str, Any]] = []
        for n, (w, h) in enumerate(((90, 60), (320, 213), (800, 533))):
            file_id = f"AgACAgQAAxkDFake{digest[:24]}{n}"
            sizes.append({"file_id": file_id, "file_unique_id": f"AQAD{digest[:10]}{n}",
                          "width": w, "height": h, "file_size": 1000 * (n + 1) * 7})  # fmt: skip
        for size in sizes:
            self._file_ids[size["file_id"]] = sizes
        return sizes

    # ----------------------------------------------------------------- assertions
    def all_messages(self) -> list[StoredMessage]:
        """Every live message, in send order."""
        return sorted((m for chat in self.messages.values() for m in chat.values()),
                      key=lambda m: m.seq)  # fmt: skip

    def count_status(self, status: int) -> int:
        """How many calls were answered with this HTTP status."""
        return sum(1 for r in self.requests if r.status == status)

    # ----------------------------------------------------------------- HTTP
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        params, files = await _read_params(request)
        method = request.match_info["method"].lower()  # Telegram ignores the case
        chat_key = self._chat_key(params.get("chat_id"))
        name = METHOD_NAMES.get(method, request.match_info["method"])
        record = RecordedRequest(self.now(), name, chat_key,
                                 params={k: str(v) for k, v in params.items()})  # fmt: skip
        self.requests.append(record)
        if self.latency > 0:
            await self.server.hold(self.latency)
        if request.match_info["token"] not in self.tokens:
            return _reply(record, ApiError(401, "Unauthorized: invalid token specified"))
        handler = self.METHODS.get(method)
        if handler is None:
            return _reply(record, ApiError(404, "Not Found: method not found"))
        fault = self._take_fault(method, chat_key)
        if fault is not None:
            record.fault = fault.kind
            if fault.kind == "error":
                return _reply(record, ApiError(fault.status, fault.description, fault.parameters))
        outcome: Any = ApiError(fault.status, fault.description) if fault else None
        if fault is None or fault.then_process:
            try:
                outcome = handler(self, params, files)
                record.processed = True
            except ApiError as err:
                outcome = err
        if fault is not None and fault.kind == "drop":
            if request.transport is not None:
                request.transport.abort()
            return web.Response()
        if fault is not None and fault.kind == "timeout":
            await self.server.hold(fault.seconds)
        return _reply(record, outcome)


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, web.FileField]]:
    """Merge query string, form (urlencoded or multipart) and JSON bodies into one dict."""
    params: dict[str, Any] = dict(request.query)
    files: dict[str, web.FileField] = {}
    if request.content_type == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            params.update(body)
    elif request.can_read_body:
        for key, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                files[key] = value
            else:
                params[key] = value
    return params, files


def _reply(record: RecordedRequest, outcome: Any) -> web.Response:
    """The Bot API envelope; errors carry HTTP status == error_code."""
    headers = {"Content-Type": "application/json"}
    if isinstance(outcome, ApiError):
        payload: dict[str, Any] = {"ok": False, "error_code": outcome.status,
                                   "description": outcome.description}  # fmt: skip
        if outcome.parameters:
            payload["parameters"] = outcome.parameters
        if "retry_after" in outcome.parameters:
            headers["Retry-After"] = str(outcome.parameters["retry_after"])
        status = outcome.status
    else:
        payload, status = {"ok": True, "result": outcome}, 200
    record.status = status
    return web.Response(body=json.dumps(payload).encode(), status=status, headers=headers)
