"""Every HTTP request discord.py makes for one adapter call, seen through aiohttp's trace hooks.

discord.py owns the requests, so this is where the adapter takes back control of them:

- the in-doubt duty: each request that may post first awaits the call's
  ``SendContext.about_to_send()``, once paced, so a crash while waiting is not in doubt;
- pacing: each request (retries and the login calls included) first takes a slot of the
  per-token budget in ``context.pacer``, under Discord's global 50 requests/s;
- a deadline per request, which discord.py does not have (aiohttp's default is 5 minutes);
- whether a request reached Discord, so a timeout can say if the post may exist (``in_doubt``);
- discord.py's own retries are cut short: a 5xx is reported at once instead of being resent
  after 1, 3, 5, 7 and 9 seconds (a webhook resend can duplicate the post; the dispatcher's
  persisted backoff retries instead); a 429 on a request that may post ends the call (see
  ``_on_request_end``), and so does a 429 on any request asking for more than the configured
  wait, instead of putting the worker to sleep (discord.py sleeps through any webhook 429).

The hooks run in the task that called discord.py, so they find the call's ``Exchange`` in a
context variable; requests made outside an exchange are left alone.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import SimpleNamespace

import aiohttp

from distributor.pacing import Pacer, Slot
from distributor.send_context import SendContext

DEFAULT_RETRY_AFTER = 60.0  # a 429 that names no wait (a proxy's, Cloudflare's ban)


class DiscordAnswer(Exception):
    """An answer the adapter handles itself, raised before discord.py could retry it."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"{text} ({status})")
        self.status = status
        self.text = text


class ServerErrorAnswer(DiscordAnswer):
    """Discord answered 5xx: it may or may not have acted on the request."""


class LongRateLimit(DiscordAnswer):
    """Discord answered 429 and the call ends instead of discord.py sleeping and resending:
    the request may post (the delivery is marked started), or the wait is longer than the
    channel lets a worker sleep."""

    def __init__(self, text: str, retry_after: float, *, is_global: bool) -> None:
        super().__init__(429, text)
        self.retry_after = retry_after
        self.is_global = is_global


@dataclass(frozen=True, slots=True)
class Rules:
    """What every request of one channel goes through."""

    pacer: Pacer
    slots: Sequence[Slot]
    request_timeout: float
    max_ratelimit_wait: float


@dataclass(slots=True)
class Exchange:
    """The requests of one adapter call (send, edit, delete or login).

    Attributes:
        rules: The channel's pacing, deadline and rate-limit rules.
        context: The delivery the call belongs to, told before each request that may post;
            None for calls that only read (the login).
        deadline: The ``asyncio.timeout`` around the call: armed while a request is in flight,
            disarmed while discord.py sleeps on a rate limit.
        requests: How many HTTP requests the call made.
        posting: Whether the request in flight may post (it marked the delivery started).
        written: Whether a request's headers reached the server, i.e. whether Discord may have
            acted on it even if no answer came back.
        statuses: The statuses answered, in order.
        retry_after: The wait the last 429 asked for (discord.py does not keep it).
    """

    rules: Rules
    context: SendContext | None = None
    deadline: asyncio.Timeout | None = None
    requests: int = 0
    posting: bool = False
    written: bool = False
    statuses: list[int] = field(default_factory=list)
    retry_after: float | None = None

    def arm(self) -> None:
        if self.deadline is not None and not self.deadline.expired():
            loop = asyncio.get_running_loop()
            self.deadline.reschedule(loop.time() + self.rules.request_timeout)

    def disarm(self) -> None:
        if self.deadline is not None and not self.deadline.expired():
            self.deadline.reschedule(None)


CURRENT: ContextVar[Exchange | None] = ContextVar("discord_exchange", default=None)


async def _on_request_start(
    session: aiohttp.ClientSession, ctx: SimpleNamespace, params: aiohttp.TraceRequestStartParams
) -> None:
    exchange = CURRENT.get()
    if exchange is None:
        return
    await exchange.rules.pacer.acquire(exchange.rules.slots)
    exchange.posting = params.method != "GET" and exchange.context is not None
    if exchange.posting:
        assert exchange.context is not None
        await exchange.context.about_to_send()  # paced and leaving now: a crash is in doubt
    exchange.requests += 1
    exchange.arm()


async def _on_headers_sent(
    session: aiohttp.ClientSession,
    ctx: SimpleNamespace,
    params: aiohttp.TraceRequestHeadersSentParams,
) -> None:
    exchange = CURRENT.get()
    if exchange is not None:
        exchange.written = True


async def _on_request_end(
    session: aiohttp.ClientSession, ctx: SimpleNamespace, params: aiohttp.TraceRequestEndParams
) -> None:
    exchange = CURRENT.get()
    if exchange is None:
        return
    response = params.response
    # Read the body while the deadline is still armed; aiohttp keeps it for discord.py.
    body = await response.read()
    exchange.disarm()
    exchange.statuses.append(response.status)
    if response.status >= 500:
        raise ServerErrorAnswer(response.status, _message(body) or response.reason or "")
    if response.status == 429:
        retry_after, is_global = _retry_after(response, body)
        exchange.retry_after = retry_after
        # A 429 on a request that may post ends the call, however short the wait. discord.py
        # would sleep and resend inside the call, and all that time the delivery stays marked
        # started with nothing on the wire: a worker killed in that sleep leaves a post that
        # was never made "in doubt", and with `in_doubt: skip` it is never sent. Ending the
        # call instead reports `errors.RateLimited` (nothing was posted, so not in doubt); the
        # dispatcher's failure record clears the started mark and its persisted retry honours
        # `retry_after`. (The alternative, clearing the mark before the sleep and setting it
        # again before the resend, would need the core to un-mark a delivery.) The adapter
        # then waits the rest of the limit out before its next request, before any mark.
        if exchange.posting or retry_after > exchange.rules.max_ratelimit_wait:
            text = _message(body) or "You are being rate limited."
            raise LongRateLimit(text, retry_after, is_global=is_global)


async def _on_request_exception(
    session: aiohttp.ClientSession,
    ctx: SimpleNamespace,
    params: aiohttp.TraceRequestExceptionParams,
) -> None:
    exchange = CURRENT.get()
    if exchange is not None:
        exchange.disarm()


def trace_config() -> aiohttp.TraceConfig:
    """The hooks, for ``discord.Client(http_trace=...)`` and the webhook's own session."""
    config = aiohttp.TraceConfig()
    config.on_request_start.append(_on_request_start)
    config.on_request_headers_sent.append(_on_headers_sent)
    config.on_request_end.append(_on_request_end)
    config.on_request_exception.append(_on_request_exception)
    config.freeze()
    return config


def _json(body: bytes) -> dict[str, object]:
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _message(body: bytes) -> str:
    message = _json(body).get("message")
    return message if isinstance(message, str) else ""


def _retry_after(response: aiohttp.ClientResponse, body: bytes) -> tuple[float, bool]:
    """Seconds to wait and whether the limit is global, from the body first (it is fractional)."""
    data = _json(body)
    is_global = bool(data.get("global")) or response.headers.get("X-RateLimit-Global") == "true"
    value = data.get("retry_after")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return max(float(value), 0.0), is_global
    return retry_after_header(response.headers.get("Retry-After")), is_global


def retry_after_header(value: str | None) -> float:
    """``Retry-After`` in seconds, or a cautious default when it is missing or unreadable."""
    try:
        return max(float(value), 0.0) if value is not None else DEFAULT_RETRY_AFTER
    except ValueError:
        return DEFAULT_RETRY_AFTER
