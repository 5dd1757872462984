"""State kept by the fake Telegram Bot API server: chats, messages, flood limits, faults."""

from __future__ import annotations

import math
import random
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Literal

from tests.fakes.telegram_entities import Entity

ChatType = Literal["channel", "group", "supergroup", "private"]
MemberStatus = Literal["administrator", "member", "kicked", "left"]
FaultKind = Literal["error", "timeout", "drop"]
RandomFaultKind = Literal["5xx", "429", "timeout", "drop"]


MIGRATED = "Bad Request: group chat was upgraded to a supergroup chat"
MUTATING_METHODS = frozenset(
    {"sendmessage", "sendphoto", "editmessagetext", "editmessagecaption", "deletemessage",
     "deletemessages", "pinchatmessage", "unpinchatmessage"}
)  # fmt: skip


class ApiError(Exception):
    """An error reply: HTTP status == ``error_code``, Telegram's description and parameters."""

    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters or {}


def default_description(status: int) -> str:
    """The description prefix the Bot API uses for a bare status."""
    known = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
             409: "Conflict", 500: "Internal Server Error", 502: "Bad Gateway"}  # fmt: skip
    if status in known:
        return known[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"Error {status}"


@dataclass
class FakeChat:
    """A chat the fake knows, with the bot's membership in it."""

    id: int
    type: ChatType
    username: str | None = None
    title: str = "Fake chat"
    is_forum: bool = False
    topics: set[int] = field(default_factory=set)
    member_status: MemberStatus = "administrator"
    can_post_messages: bool = True
    # The right to pin (channels: "Edit messages of others", groups: "Pin messages").
    can_pin_messages: bool = True
    migrated_to: int | None = None
    next_message_id: int = 1

    def to_json(self) -> dict[str, Any]:
        """The Chat object embedded in messages."""
        out: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private":
            out["first_name"] = self.title
        else:
            out["title"] = self.title
        if self.username:
            out["username"] = self.username
        if self.is_forum:
            out["is_forum"] = True
        return out


@dataclass
class StoredMessage:
    """A message the bot has sent, as the fake stores it for assertions."""

    chat_id: int
    message_id: int
    thread_id: int | None
    kind: Literal["text", "photo"]
    text: str  # the parsed plain text, or the caption
    entities: list[Entity]
    raw: str  # the text or caption exactly as received
    parse_mode: str | None
    photo: list[dict[str, Any]] | None
    photo_source: str | None  # the URL or file_id given, or "upload:<filename>"
    link_preview_options: dict[str, Any] | None
    disable_notification: bool
    protect_content: bool
    date: int
    created_at: float  # on the fake's clock, for the 48 h deletion rule
    seq: int  # global send order
    show_caption_above_media: bool = False
    edit_date: int | None = None
    edits: int = 0

    def content_key(self) -> tuple[Any, ...]:
        """What "message is not modified" compares."""
        options = self.link_preview_options if self.kind == "text" else None
        return (self.text, self.entities, options, self.show_caption_above_media)


@dataclass
class RecordedRequest:
    """One HTTP call the fake answered (or deliberately did not)."""

    time: float
    method: str  # Telegram's spelling, e.g. "sendMessage"
    chat_id: int | str | None  # the numeric id when the chat is known
    status: int = 0  # 0 while unanswered, and for dropped connections
    fault: FaultKind | None = None
    processed: bool = False
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class FaultRule:
    """A scripted fault waiting for its next matching call(s)."""

    kind: FaultKind
    method: str | None
    chat_id: int | str | None
    times: int
    status: int = 500
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    then_process: bool = False

    def matches(self, method: str, chat_id: int | str | None) -> bool:
        """Whether this rule applies to a call of ``method`` on ``chat_id``."""
        if self.method is not None and self.method != method:
            return False
        return self.chat_id is None or self.chat_id == chat_id


@dataclass(frozen=True)
class FloodLimits:
    """Telegram-like flood limits; a call over a limit is answered 429 with ``retry_after``.

    Semantics (all on the fake's clock; calls answered 429 or failing validation consume
    nothing):

    * **Private chats**: a token bucket per chat holding at most ``per_chat_burst`` tokens,
      refilled at ``per_chat_per_second``; each send or edit takes one token.
    * **Groups, supergroups and channels**: a sliding window per chat; at most
      ``per_group_per_minute`` sends and edits in any 60 s.
    * **Global**: a sliding window across all chats; at most ``global_per_second`` sends
      (sendMessage, sendPhoto) in any 1 s. Edits and deletions do not count here.

    ``retry_after`` is the ceiling of the real seconds until every exceeded limit has a free
    slot, and at least 1 (it is an integer on the wire).

    Attributes:
        speed: Time compression set by :meth:`scaled`: all rates are multiplied by it, so
            windows last ``60 / speed`` and ``1 / speed`` seconds.
        enabled: False disables every limit (see :meth:`off`).
    """

    per_chat_per_second: float = 1.0
    per_chat_burst: int = 3
    per_group_per_minute: int = 20
    global_per_second: int = 30
    speed: float = 1.0
    enabled: bool = True

    def scaled(self, k: float) -> FloodLimits:
        """The same limits with every rate multiplied by ``k`` (``k > 1`` makes tests faster)."""
        if k <= 0:
            raise ValueError("scale factor must be positive")
        return replace(self, speed=self.speed * k)

    @classmethod
    def off(cls) -> FloodLimits:
        """Limits that never trigger."""
        return cls(enabled=False)


class FloodTracker:
    """Applies :class:`FloodLimits`; see there for the semantics."""

    def __init__(self, limits: FloodLimits | None, clock: Callable[[], float]) -> None:
        self.limits = limits or FloodLimits.off()
        self._clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}  # chat -> (tokens, updated at)
        self._windows: dict[int, deque[float]] = {}
        self._global: deque[float] = deque()

    def acquire(self, chat_id: int, *, private: bool, is_send: bool) -> None:
        """Take a slot for one call, or raise the 429 :class:`ApiError` without taking any."""
        lim = self.limits
        if not lim.enabled:
            return
        now = self._clock()
        waits: list[float] = []
        rate = lim.per_chat_per_second * lim.speed
        tokens = 0.0
        if private:
            tokens, updated = self._buckets.get(chat_id, (float(lim.per_chat_burst), now))
            tokens = min(float(lim.per_chat_burst), tokens + (now - updated) * rate)
            if tokens < 1.0:
                waits.append((1.0 - tokens) / rate)
        else:
            window = self._windows.setdefault(chat_id, deque())
            span = 60.0 / lim.speed
            waits.append(self._window_wait(window, lim.per_group_per_minute, span, now))
        if is_send:
            span = 1.0 / lim.speed
            waits.append(self._window_wait(self._global, lim.global_per_second, span, now))
        wait = max(waits, default=0.0)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}",
                           {"retry_after": retry_after})  # fmt: skip
        if private:
            self._buckets[chat_id] = (tokens - 1.0, now)
        else:
            self._windows[chat_id].append(now)
        if is_send:
            self._global.append(now)

    @staticmethod
    def _window_wait(window: deque[float], limit: int, span: float, now: float) -> float:
        while window and window[0] <= now - span:
            window.popleft()
        if len(window) < limit:
            return 0.0
        return window[len(window) - limit] + span - now


class FaultsMixin:
    """Scripted and random faults of the fake server (mixed into ``FakeTelegramAPI``)."""

    fault_timeout_seconds: float
    _rules: list[FaultRule]
    _lock: threading.Lock
    _rng: random.Random
    _fault_rate: float
    _fault_kinds: tuple[RandomFaultKind, ...]

    if TYPE_CHECKING:

        def _chat_key(self, value: Any) -> int | str | None: ...

    def fail_next(
        self,
        *,
        method: str | None = None,
        chat_id: int | str | None = None,
        status: int,
        description: str | None = None,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` matching calls with this error (a 429 gets retry_after 1)."""
        params: dict[str, Any] = {}
        if status == 429 and retry_after is None:
            retry_after = 1
        if retry_after is not None:
            params["retry_after"] = retry_after
        if migrate_to_chat_id is not None:
            params["migrate_to_chat_id"] = migrate_to_chat_id
        if description is None:
            if status == 429:
                description = f"Too Many Requests: retry after {retry_after}"
            elif migrate_to_chat_id is not None:
                description = MIGRATED
            else:
                description = default_description(status)
        self._add_rule(FaultRule("error", method, chat_id, times, status, description, params))

    def timeout_next(
        self,
        *,
        method: str | None = None,
        chat_id: int | str | None = None,
        seconds: float,
        times: int = 1,
        then_process: bool,
    ) -> None:
        """Hold the reply ``seconds``; with ``then_process`` the call still takes effect."""
        self._add_rule(FaultRule("timeout", method, chat_id, times, 502, "Bad Gateway",
                                 seconds=seconds, then_process=then_process))  # fmt: skip

    def drop_next(
        self,
        *,
        method: str | None = None,
        chat_id: int | str | None = None,
        times: int = 1,
        then_process: bool,
    ) -> None:
        """Close the connection without a reply; with ``then_process`` the call took effect."""
        self._add_rule(FaultRule("drop", method, chat_id, times, then_process=then_process))

    def set_fault_rate(
        self,
        rate: float,
        *,
        kinds: Sequence[RandomFaultKind] = ("5xx", "429", "timeout", "drop"),
        seed: int | None = None,
    ) -> None:
        """Inject random faults into that fraction of send/edit/delete calls.

        The draws come from a generator seeded with ``seed`` (default: the constructor's), so
        the same call sequence gets the same faults. Timeouts (held
        :attr:`fault_timeout_seconds`) and drops process the call half of the time.
        """
        with self._lock:
            self._fault_rate = rate
            self._fault_kinds = tuple(kinds)
            if seed is not None:
                self._rng = random.Random(seed)

    def _add_rule(self, rule: FaultRule) -> None:
        rule.method = rule.method.lower() if rule.method else None
        rule.chat_id = self._chat_key(rule.chat_id)
        with self._lock:
            self._rules.append(rule)

    def _take_fault(self, method: str, chat_key: int | str | None) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, chat_key):
                    rule.times -= 1
                    if rule.times <= 0:
                        self._rules.remove(rule)
                    return rule
            if method not in MUTATING_METHODS or not self._fault_kinds:
                return None
            if self._rng.random() >= self._fault_rate:
                return None
            kind = self._rng.choice(self._fault_kinds)
            then_process = self._rng.random() < 0.5
        if kind == "5xx":
            status = 500 if then_process else 502
            return FaultRule("error", None, None, 1, status, default_description(status))
        if kind == "429":
            return FaultRule("error", None, None, 1, 429, "Too Many Requests: retry after 1",
                             {"retry_after": 1})  # fmt: skip
        return FaultRule(kind, None, None, 1, 502, "Bad Gateway",
                         seconds=self.fault_timeout_seconds, then_process=then_process)  # fmt: skip
