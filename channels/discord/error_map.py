"""discord.py and aiohttp failures → the distributor's error classes, in one place.

Decided by Discord's JSON error code first (the status alone is ambiguous: 403 is both
"Missing Permissions", which breaks the channel, and "Cannot edit a message authored by
another user", which only dooms that message), then by the status.
"""

from __future__ import annotations

import aiohttp
import discord

from distributor import errors
from distributor.logs import REDACTOR
from distributor_channels.discord import request_hooks

PLATFORM = "discord"

UNKNOWN_CHANNEL = 10003
UNKNOWN_MESSAGE = 10008
UNKNOWN_WEBHOOK = 10015
MISSING_ACCESS = 50001
MISSING_PERMISSIONS = 50013
INVALID_WEBHOOK_TOKEN = 50027
INVALID_FORM_BODY = 50035

# The channel itself is unusable: pause it, tell the admins, keep the others going.
CHANNEL_BROKEN_CODES = {
    UNKNOWN_CHANNEL: "the channel or thread no longer exists",
    UNKNOWN_WEBHOOK: "the webhook was deleted",
    MISSING_ACCESS: "the bot cannot see the channel",
    MISSING_PERMISSIONS: "the bot lacks a permission here (Send Messages, Embed Links)",
    INVALID_WEBHOOK_TOKEN: "the webhook URL's token is wrong",
}


def _text(exc: discord.HTTPException) -> str:
    # discord.py joins nested form errors as "In embeds.0.description: …" lines.
    lines = [line.strip() for line in (exc.text or "").splitlines() if line.strip()]
    text = "; ".join(lines)
    if not text:
        text = exc.response.reason or ""
    code = f" [code {exc.code}]" if exc.code else ""
    return REDACTOR.scrub(f"{text or 'no message'}{code}")


def from_http(
    exc: discord.HTTPException,
    *,
    channel: str,
    operation: str,
    retry_after: float | None = None,
) -> errors.DeliveryError:
    """Map an error answer discord.py raised (it holds the status, the code and the text).

    ``retry_after`` is the wait the last 429 body asked for, which discord.py does not keep.
    """
    status, code = exc.status, exc.code
    text = _text(exc)
    if status == 429:
        if retry_after is None:
            retry_after = request_hooks.retry_after_header(exc.response.headers.get("Retry-After"))
        return errors.RateLimited(
            text,
            retry_after=retry_after,
            channel=channel,
            platform=PLATFORM,
            operation=operation,
            status=status,
        )
    broken = None
    if code in CHANNEL_BROKEN_CODES:
        broken = CHANNEL_BROKEN_CODES[code]
    elif status == 401:
        broken = "the token was refused"
    elif status in (403, 404) and not code:
        # No Discord code: a proxy or a wrong api_base_url answered, not Discord about a post.
        broken = "check api_base_url and the network path"
    if broken is not None:
        return errors.ChannelBroken(
            f"{text}: {broken}",
            channel=channel,
            platform=PLATFORM,
            operation=operation,
            status=status,
        )
    if code == UNKNOWN_MESSAGE and operation == "send":
        # discord.py documents it: the nonce matches a post deleted moments ago.
        return errors.PermanentDeliveryError(
            f"{text}: this delivery's post was deleted moments after it was made",
            channel=channel,
            platform=PLATFORM,
            operation=operation,
            status=status,
        )
    if code == UNKNOWN_MESSAGE:
        return errors.MessageNotFound(
            text, channel=channel, platform=PLATFORM, operation=operation, status=status
        )
    if status >= 500:
        return errors.TransientDeliveryError(
            text,
            channel=channel,
            platform=PLATFORM,
            operation=operation,
            status=status,
            in_doubt=operation == "send",
        )
    # 50035 Invalid Form Body names the offending field in the text; 50006, 40005, AutoMod…
    return errors.PermanentDeliveryError(
        text, channel=channel, platform=PLATFORM, operation=operation, status=status
    )


def from_answer(
    exc: request_hooks.DiscordAnswer, *, channel: str, operation: str
) -> errors.DeliveryError:
    """Map an answer the request hooks stopped before discord.py could retry it."""
    text = REDACTOR.scrub(exc.text)
    if isinstance(exc, request_hooks.LongRateLimit):
        scope = "global rate limit" if exc.is_global else "rate limited"
        return errors.RateLimited(
            f"{text} [{scope}, retry after {exc.retry_after:.3f}s]",
            retry_after=exc.retry_after,
            channel=channel,
            platform=PLATFORM,
            operation=operation,
        )
    # A 5xx may come after Discord stored the post: in doubt for a create.
    return errors.TransientDeliveryError(
        text,
        channel=channel,
        platform=PLATFORM,
        operation=operation,
        status=exc.status,
        in_doubt=operation == "send",
    )


def from_exception(
    exc: BaseException,
    *,
    channel: str,
    operation: str,
    written: bool,
    retry_after: float | None = None,
) -> errors.DeliveryError | None:
    """Map any other library failure; ``None`` if it is not one this adapter knows.

    Args:
        exc: What discord.py or aiohttp raised.
        channel: The channel's name.
        operation: ``send``, ``edit``, ``delete`` or ``login``.
        written: Whether a request reached Discord before the failure.
        retry_after: The wait the last 429 body asked for, if any.
    """
    if isinstance(exc, request_hooks.DiscordAnswer):
        return from_answer(exc, channel=channel, operation=operation)
    if isinstance(exc, discord.HTTPException):
        return from_http(exc, channel=channel, operation=operation, retry_after=retry_after)
    if isinstance(exc, discord.RateLimited):
        return errors.RateLimited(
            f"rate limited for {exc.retry_after:.3f}s",
            retry_after=exc.retry_after,
            channel=channel,
            platform=PLATFORM,
            operation=operation,
        )
    if isinstance(exc, discord.LoginFailure):
        return errors.ChannelBroken(
            "the bot token was refused",
            channel=channel,
            platform=PLATFORM,
            operation=operation,
            status=401,
        )
    text = _failure_text(exc, written)
    if text is not None:
        return errors.TransientDeliveryError(
            text,
            channel=channel,
            platform=PLATFORM,
            operation=operation,
            in_doubt=written and operation == "send",
        )
    if isinstance(exc, discord.DiscordException | ValueError | TypeError):
        # discord.py refusing the arguments before any request (e.g. more than 10 embeds).
        return errors.PermanentDeliveryError(
            f"refused by discord.py: {type(exc).__name__}: {REDACTOR.scrub(str(exc))}",
            channel=channel,
            platform=PLATFORM,
            operation=operation,
        )
    return None


def _failure_text(exc: BaseException, written: bool) -> str | None:
    """Why a request got no answer, for timeouts and connection failures; else ``None``."""
    if isinstance(exc, TimeoutError):  # asyncio's and aiohttp's timeouts alike
        return "timed out " + ("waiting for Discord's answer" if written else "before sending")
    if isinstance(exc, aiohttp.ClientConnectorError):
        # Never connected: nothing reached Discord. The text names host and port only.
        return f"cannot connect: {REDACTOR.scrub(str(exc))}"
    if isinstance(exc, aiohttp.ClientError | OSError):
        # Not str(exc): some aiohttp errors print the request URL (a webhook's token).
        return f"connection failed: {type(exc).__name__}"
    return None
