"""python-telegram-bot's exceptions → the distributor's delivery errors.

PTB maps the Bot API envelope onto its classes (docs/telegram.md): ``RetryAfter``,
``ChatMigrated``, ``Forbidden`` (403), ``InvalidToken`` (401/404), ``BadRequest`` (400),
``TimedOut`` and ``NetworkError`` (transport failures, 5xx). ``BadRequest`` and ``TimedOut``
subclass ``NetworkError``, so the order of the checks below matters. What a ``BadRequest``
means is only in its text, which PTB passes through ``str.capitalize()``: match lower-cased.
"""

from __future__ import annotations

import re
import warnings
from datetime import timedelta
from typing import TypedDict

import httpx
from telegram import error as tg

from distributor import errors
from distributor.logs import REDACTOR

PLATFORM = "telegram"


class _Where(TypedDict):
    channel: str
    platform: str
    operation: str


_PREFIXES = ("bad request: ", "forbidden: ", "unauthorized: ", "not found: ")
# A 429 that arrived without parameters.retry_after becomes a plain NetworkError in PTB.
_TOO_MANY = re.compile(r"too many requests(?:: retry after (\d+))?", re.IGNORECASE)

# BadRequest texts that say the chat itself is unusable: pause the channel, tell the admin.
_BROKEN_HINTS: tuple[tuple[str, str], ...] = (
    ("chat not found", "check `chat` (@channelname or the numeric id) and that the bot is in it"),
    ("not enough rights", "give the bot the right to post (channels: admin with 'Post messages')"),
    ("have no rights", "give the bot the right to post (channels: admin with 'Post messages')"),
    ("need administrator rights", "make the bot an administrator of the chat"),
    ("chat_write_forbidden", "give the bot the right to post in the chat"),
    ("chat_admin_required", "make the bot an administrator of the chat"),
    ("message thread not found", "check `topic`: no such forum topic in this chat"),
    ("topic_closed", "reopen the forum topic or change `topic`"),
    ("topic_deleted", "change `topic`: the forum topic was deleted"),
    ("group chat was deactivated", "the group no longer exists: change `chat`"),
)
_FORBIDDEN_HINTS: tuple[tuple[str, str], ...] = (
    ("kicked", "add the bot back to the chat (channels: as admin with 'Post messages')"),
    ("not a member", "add the bot to the chat (channels: as admin with 'Post messages')"),
    ("blocked by the user", "the user has to unblock the bot (or remove this channel)"),
    ("deactivated", "the account is gone: remove this channel"),
    ("can't initiate", "the user has to start a conversation with the bot first"),
)
_PHOTO_REFUSED = (
    "wrong file identifier",
    "http url",
    "web page content",
    "photo",
    "image",
    "file must be non-empty",
    "wrong remote file",
    "caption is too long",
)


def text_of(exc: BaseException) -> str:
    """Telegram's description as PTB gives it, prefix removed, never holding a secret."""
    text = REDACTOR.scrub(str(exc)).strip()
    lowered = text.lower()
    for prefix in _PREFIXES:
        if lowered.startswith(prefix):
            text = text[len(prefix) :]
            break
    return text[:1].lower() + text[1:]


def _has(exc: BaseException | None, *fragments: str) -> bool:
    if exc is None:
        return False
    text = str(exc).lower()
    return any(fragment in text for fragment in fragments)


def is_parse_error(exc: BaseException | None) -> bool:
    """Telegram could not parse the HTML (``can't parse entities: …``)."""
    return isinstance(exc, tg.BadRequest) and _has(exc, "can't parse entities")


def is_not_modified(exc: BaseException | None) -> bool:
    """An edit that changes nothing: what the edit wanted is already there."""
    return isinstance(exc, tg.BadRequest) and _has(exc, "message is not modified")


def is_photo_refused(exc: BaseException | None) -> bool:
    """sendPhoto failed because of the photo (URL, media, rights to send photos, caption)."""
    if not isinstance(exc, tg.BadRequest) or is_parse_error(exc):
        return False
    return _has(exc, *_PHOTO_REFUSED) and not _has(exc, "chat not found")


def retry_after_seconds(exc: tg.RetryAfter) -> float:
    """``exc.retry_after`` in seconds, without PTB's deprecation warning about its type."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        value = exc.retry_after
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    return max(seconds, 0.0)


def _transport_cause(exc: BaseException) -> httpx.HTTPError | None:
    cause = exc.__cause__
    return cause if isinstance(cause, httpx.HTTPError) else None


def request_was_not_sent(exc: tg.NetworkError) -> bool:
    """True when the failure happened before Telegram could have seen the request."""
    cause = _transport_cause(exc)
    # No free connection, or none could be opened: nothing was written to the wire.
    if isinstance(cause, httpx.PoolTimeout | httpx.ConnectTimeout | httpx.ConnectError):
        return True
    return "was *not* sent" in str(exc)  # PTB's own words for a pool timeout


def _hinted(text: str, hints: tuple[tuple[str, str], ...]) -> str | None:
    lowered = text.lower()
    for fragment, hint in hints:
        if fragment in lowered:
            return f"{text}; {hint}"
    return None


def to_delivery_error(
    exc: tg.TelegramError, *, channel: str, operation: str
) -> errors.DeliveryError:
    """The distributor error that says what ``exc`` means for this delivery and channel."""
    where = _Where(channel=channel, platform=PLATFORM, operation=operation)
    text = text_of(exc)
    if isinstance(exc, tg.RetryAfter):
        seconds = retry_after_seconds(exc)
        return errors.RateLimited(
            f"flood control: retry after {seconds:g} s", retry_after=seconds, **where
        )
    if isinstance(exc, tg.ChatMigrated):
        return errors.ChannelBroken(
            f"the group became the supergroup {exc.new_chat_id}: set `chat` to that id",
            status=400,
            **where,
        )
    if isinstance(exc, tg.InvalidToken):
        return errors.ChannelBroken(
            f"{text}: Telegram rejected the bot token (or `api_base_url` is wrong); "
            "check the token @BotFather gave you",
            status=401,
            **where,
        )
    if isinstance(exc, tg.Forbidden):
        reason = _hinted(text, _FORBIDDEN_HINTS) or f"{text}; check the bot's access to the chat"
        return errors.ChannelBroken(reason, status=403, **where)
    if isinstance(exc, tg.BadRequest):
        return _bad_request(text, where)
    if isinstance(exc, tg.TimedOut):
        in_doubt = not request_was_not_sent(exc)
        reason = f"{text} (Telegram may have posted it)" if in_doubt else text
        return errors.TransientDeliveryError(reason, in_doubt=in_doubt, **where)
    if isinstance(exc, tg.NetworkError):
        return _network_error(exc, text, where)
    # Unparsable replies and the like: the request went out, so it may have been acted on.
    return errors.TransientDeliveryError(text or type(exc).__name__, in_doubt=True, **where)


def _bad_request(text: str, where: _Where) -> errors.DeliveryError:
    lowered = text.lower()
    if re.search(r"message to (edit|delete|pin|unpin) not found", lowered):
        return errors.MessageNotFound(text, status=400, **where)
    if "message can't be deleted" in lowered:
        return errors.NotDeletable(
            f"{text}: Telegram lets bots delete a post only during the 48 hours after it was "
            "sent (and in channels only with 'Post messages'); delete it by hand in Telegram",
            status=400,
            **where,
        )
    if "no text in the message to edit" in lowered:
        return errors.PermanentDeliveryError(
            f"{text}: the post is a photo and the new version has no image and is too long "
            "for a caption; delete the post and queue the story again",
            status=400,
            **where,
        )
    broken = _hinted(text, _BROKEN_HINTS)
    if broken is not None:
        return errors.ChannelBroken(broken, status=400, **where)
    return errors.PermanentDeliveryError(text, status=400, **where)


def _network_error(exc: tg.NetworkError, text: str, where: _Where) -> errors.DeliveryError:
    too_many = _TOO_MANY.search(text)
    if too_many is not None:
        seconds = float(too_many.group(1) or 1)
        return errors.RateLimited(f"{text}", retry_after=seconds, **where)
    if exc.__cause__ is None or isinstance(exc.__cause__, tg.TelegramError):
        # Telegram (or a proxy) answered with an error status: it did not take the request.
        return errors.TransientDeliveryError(text, **where)
    in_doubt = not request_was_not_sent(exc)
    reason = f"{text} (Telegram may have posted it)" if in_doubt else text
    return errors.TransientDeliveryError(reason, in_doubt=in_doubt, **where)
