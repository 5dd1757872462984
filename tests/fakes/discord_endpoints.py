"""Route table and endpoint handlers of the fake Discord API (HTTP-free)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tests.fakes import discord_wire as wire
from tests.fakes.discord_messages import DiscordState
from tests.fakes.discord_models import FakeBot, FakeWebhook
from tests.fakes.discord_state import ApiError, Upload, invalid_form

# (method, template, auth kind): templates are discord.py's Route paths, so fault filters
# can be written as e.g. "POST /webhooks/{webhook_id}/{webhook_token}".
ROUTES: tuple[tuple[str, str, str], ...] = (
    ("GET", "/users/@me", "bot"),
    ("GET", "/oauth2/applications/@me", "bot"),
    ("GET", "/channels/{channel_id}", "bot"),
    ("POST", "/channels/{channel_id}/messages", "bot"),
    ("GET", "/channels/{channel_id}/messages/{message_id}", "bot"),
    ("PATCH", "/channels/{channel_id}/messages/{message_id}", "bot"),
    ("DELETE", "/channels/{channel_id}/messages/{message_id}", "bot"),
    ("GET", "/webhooks/{webhook_id}/{webhook_token}", "webhook"),
    ("POST", "/webhooks/{webhook_id}/{webhook_token}", "webhook"),
    ("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", "webhook"),
    ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", "webhook"),
    ("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", "webhook"),
)


def _compile(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$")


COMPILED = [(method, template, kind, _compile(template)) for method, template, kind in ROUTES]


@dataclass(slots=True)
class Call:
    """One decoded request on its way through the pipeline."""

    method: str
    template: str
    kind: str
    params: dict[str, str]
    query: dict[str, str]
    authorization: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    uploads: list[Upload] = field(default_factory=list)
    body_error: ApiError | None = None
    bot: FakeBot | None = None
    hook: FakeWebhook | None = None

    @property
    def route(self) -> str:
        """``"METHOD /template"``."""
        return f"{self.method} {self.template}"


@dataclass(slots=True)
class Reply:
    """An answer: status, JSON body (``None`` for no body) and extra headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def match_route(method: str, path: str) -> tuple[Call | None, bool]:
    """Find the route for ``path`` (below ``/api/v10``); the flag says the path exists."""
    exists = False
    for route_method, template, kind, pattern in COMPILED:
        found = pattern.match(path)
        if found:
            exists = True
            if route_method == method:
                return Call(method, template, kind, found.groupdict(), {}), True
    return None, exists


def snowflake(name: str, raw: str | None) -> int | None:
    """Parse a snowflake parameter, answering 50035 like Discord when it is not one."""
    if raw is None:
        return None
    if not raw.isdigit():
        raise invalid_form(
            {
                name: {
                    "_errors": [
                        {
                            "code": "NUMBER_TYPE_COERCE",
                            "message": f'Value "{raw}" is not snowflake.',
                        }
                    ]
                }
            }
        )
    return int(raw)


def _truthy(raw: str | None) -> bool:
    return (raw or "").lower() in ("1", "true")


def process(state: DiscordState, call: Call) -> Reply:
    """Perform an authorised request; Discord errors come back as error replies."""
    try:
        if call.body_error is not None:
            raise call.body_error
        if call.hook is not None:
            return _webhook_route(state, call, call.hook)
        if call.bot is not None:
            return _bot_route(state, call, call.bot)
        raise ApiError(401, 0, "401: Unauthorized")
    except ApiError as exc:
        return Reply(exc.status, exc.body())


def _bots_by_id(state: DiscordState) -> dict[int, FakeBot]:
    return {bot.user_id: bot for bot in state.bots.values()}


def _bot_route(state: DiscordState, call: Call, bot: FakeBot) -> Reply:
    if call.template == "/users/@me":
        return Reply(200, wire.user_json(bot))
    if call.template == "/oauth2/applications/@me":
        return Reply(200, wire.application_json(bot))
    channel_id = snowflake("channel_id", call.params["channel_id"]) or 0
    message_id = snowflake("message_id", call.params.get("message_id"))
    if message_id is None:
        if call.method == "GET":
            channel, _ = state.bot_channel(channel_id)
            last = max(state.messages.get(channel.id, {}), default=None)
            return Reply(200, wire.channel_json(channel, last))
        msg = state.bot_create(bot, channel_id, call.payload, call.uploads)
        return Reply(200, wire.message_json(msg, _bots_by_id(state)))
    if call.method == "GET":
        msg = state.bot_message(bot, channel_id, message_id)
    elif call.method == "PATCH":
        msg = state.bot_edit(bot, channel_id, message_id, call.payload, call.uploads)
    else:
        state.bot_delete(bot, channel_id, message_id)
        return Reply(204)
    return Reply(200, wire.message_json(msg, _bots_by_id(state)))


def _webhook_route(state: DiscordState, call: Call, hook: FakeWebhook) -> Reply:
    thread_id = snowflake("thread_id", call.query.get("thread_id"))
    message_id = snowflake("message_id", call.params.get("message_id"))
    if message_id is None:
        if call.method == "GET":
            return Reply(200, wire.webhook_json(hook, with_token=True))
        msg = state.webhook_execute(hook, call.payload, call.uploads, thread_id)
        if not _truthy(call.query.get("wait")):
            # wait=false (the default): stored, but answered with 204 and no message.
            return Reply(204)
        return Reply(200, wire.message_json(msg, _bots_by_id(state)))
    if call.method == "GET":
        msg = state.webhook_message(hook, message_id, thread_id)
    elif call.method == "PATCH":
        msg = state.webhook_edit(hook, message_id, thread_id, call.payload, call.uploads)
    else:
        state.webhook_delete(hook, message_id, thread_id)
        return Reply(204)
    return Reply(200, wire.message_json(msg, _bots_by_id(state)))
