"""One ``telegram.Bot`` per bot token, shared by that bot's channels, its token kept out of sight.

No polling and no ``Application``: posting needs neither, and the distributor paces itself
(``AIORateLimiter`` only works with ``ExtBot`` and has no per-chat limit, docs/telegram.md).
"""

from __future__ import annotations

import inspect
import ssl
import warnings
import weakref
from collections.abc import Awaitable, Callable, Mapping
from functools import cache
from typing import Any, ClassVar

import httpx
from telegram import Bot, LinkPreviewOptions, Message, ReplyParameters
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from distributor_channels.telegram.config import TelegramTimeouts

DEFAULT_BASE_URL = "https://api.telegram.org/bot"
ClientKey = tuple[str, str, TelegramTimeouts]
# Shared by every channel of one bot: at real flood limits (30/s) 8 warm connections are plenty.
POOL_SIZE = 8

METHODS = {
    "sendMessage": "send_message",
    "sendPhoto": "send_photo",
    "editMessageText": "edit_message_text",
    "editMessageCaption": "edit_message_caption",
    "deleteMessage": "delete_message",
    "pinChatMessage": "pin_chat_message",
    "unpinChatMessage": "unpin_chat_message",
}


def base_url(configured: str | None) -> str:
    """The URL python-telegram-bot appends the token to (``…/bot``), from the admin's value."""
    if not configured:
        return DEFAULT_BASE_URL
    if "{token}" in configured or "{bot_token}" in configured:
        return configured
    url = configured.rstrip("/")
    return url if url.endswith("/bot") else f"{url}/bot"


@cache
def tls_context() -> ssl.SSLContext:
    """httpx's default verifying TLS context, built once per process.

    Loading the CA bundle costs ~20 ms per client: a newsroom with many channels would pay it
    for each of them at every start.
    """
    return httpx.create_ssl_context()


def _argument(name: str, value: Any) -> Any:
    if name == "link_preview_options" and isinstance(value, Mapping):
        return LinkPreviewOptions(**value)
    if name == "reply_parameters" and isinstance(value, Mapping):
        return ReplyParameters(**value)
    return value


class BotClient:
    """Calls Bot API methods by name with a payload's parameters; one httpx pool, reused.

    Channels of the same bot share one client (``shared``): a newsroom posting to many chats
    keeps a few warm connections instead of opening one per chat. Sharing is per service
    (keyed by its pacer), so a client never outlives the event loop that opened it.
    """

    _shared: ClassVar[weakref.WeakKeyDictionary[object, dict[ClientKey, BotClient]]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, token: str, api_base_url: str | None, timeouts: TelegramTimeouts) -> None:
        # PTB warns on every 429 (it reads its own deprecated int ``retry_after``); we read the
        # value without the warning (error_map.retry_after_seconds), so silence just that one.
        warnings.filterwarnings(
            "ignore", message=r"(?s).*`retry_after`", category=PTBDeprecationWarning
        )
        self._request = HTTPXRequest(
            connection_pool_size=POOL_SIZE,
            connect_timeout=timeouts.connect,
            read_timeout=timeouts.read,
            write_timeout=timeouts.write,
            pool_timeout=timeouts.pool,
            httpx_kwargs={"verify": tls_context()},
        )
        # The same request object for getUpdates, which is never called: no second pool.
        self._bot = Bot(
            token,
            base_url=base_url(api_base_url),
            request=self._request,
            get_updates_request=self._request,
        )

        self._users = 0
        self._registry: dict[ClientKey, BotClient] | None = None
        self._key: ClientKey | None = None

    @classmethod
    def shared(
        cls, owner: object, token: str, api_base_url: str | None, timeouts: TelegramTimeouts
    ) -> BotClient:
        """The client of this bot (token, server, timeouts) in ``owner``'s service."""
        registry = cls._shared.setdefault(owner, {})
        key = (token, base_url(api_base_url), timeouts)
        client = registry.get(key)
        if client is None:
            client = registry[key] = cls(token, api_base_url, timeouts)
            client._registry, client._key = registry, key
        return client

    def __repr__(self) -> str:
        return "BotClient(token=***)"

    async def start(self) -> None:
        """Open the connection pool (no network call: ``getMe`` is not needed to post)."""
        if self._users == 0:
            await self._request.initialize()
        self._users += 1

    async def aclose(self) -> None:
        """Let go of the client; the last channel to let go closes the connection pool."""
        self._users = max(0, self._users - 1)
        if self._users:
            return
        if self._registry is not None and self._key is not None:
            self._registry.pop(self._key, None)
        await self._request.shutdown()

    async def call(self, method: str, params: Mapping[str, Any]) -> Message | bool:
        """Call ``method`` (Bot API spelling) with ``params``; PTB's exceptions pass through.

        Parameters PTB's method does not name go through ``api_kwargs`` unchanged, so a
        template author's extra Bot API fields still reach Telegram.
        """
        name = METHODS.get(method)
        if name is None:
            raise ValueError(f"unsupported Telegram method {method!r}")
        function: Callable[..., Awaitable[Message | bool]] = getattr(self._bot, name)
        accepted = inspect.signature(function).parameters
        kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in params.items():
            if value is None:
                continue
            if key in accepted and key != "api_kwargs":
                kwargs[key] = _argument(key, value)
            else:
                extra[key] = value
        if extra:
            kwargs["api_kwargs"] = extra
        return await function(**kwargs)
