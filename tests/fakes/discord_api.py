"""A stateful fake of the Discord REST API v10, served over real HTTP on 127.0.0.1.

Point discord.py at it with ``discord.http.Route.BASE = fake.api_base`` (see
``tests/fakes/discord_fixtures.py``). Wire details follow the shared platform reference:
every JSON answer has exactly ``Content-Type: application/json`` (discord.py ignores the
body otherwise), every answer has a ``Via`` header (discord.py only retries a 429 that has
one), and ``X-RateLimit-Remaining`` always comes with ``-Reset-After``.

The pipeline for each request: route → auth → rate limits → scripted/random fault →
handler. A fault with ``then_process`` runs the handler first, then answers with the fault.
"""

from __future__ import annotations

import asyncio
import http
import json
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web

from tests.fakes.discord_endpoints import Call, Reply, match_route, process, snowflake
from tests.fakes.discord_limits import DEFAULT_LENGTH_UNIT, LengthUnit
from tests.fakes.discord_messages import DiscordState
from tests.fakes.discord_models import FakeBot, FakeWebhook, RecordedRequest, StoredMessage
from tests.fakes.discord_state import ApiError, Upload
from tests.fakes.discord_traffic import (
    ALL_FAULT_KINDS,
    Fault,
    FaultKind,
    FaultPlan,
    RateLimiter,
    RateLimits,
    Verdict,
    parse_route_filter,
    rate_limited_body,
    rate_limited_headers,
)
from tests.fakes.server import HttpServer, Served

__all__ = [
    "DEFAULT_LENGTH_UNIT",
    "DEFAULT_RATE_LIMITS",
    "FakeBot",
    "FakeDiscordAPI",
    "FakeWebhook",
    "LengthUnit",
    "RateLimits",
    "RecordedRequest",
    "StoredMessage",
]

API_PREFIX = "/api/v10"
DEFAULT_RATE_LIMITS = RateLimits()
_VIA = "1.1 google"
_TOKEN_IN_PATH = re.compile(r"(/webhooks/[^/]+/)[^/]+")


def _fault_reply(fault: Fault) -> Reply:
    if fault.status == 429:
        retry = fault.retry_after if fault.retry_after is not None else 1.0
        return Reply(
            429,
            rate_limited_body(
                retry, is_global=fault.is_global, message=fault.message, code=fault.code
            ),
            rate_limited_headers(retry, is_global=fault.is_global),
        )
    phrase = http.HTTPStatus(fault.status).phrase
    return Reply(
        fault.status, {"message": fault.message or f"{fault.status}: {phrase}", "code": fault.code}
    )


class FakeDiscordAPI(Served, DiscordState):
    """Fake Discord REST API v10: bots, channels, webhooks, messages, limits and faults.

    Registration (``add_bot``, ``add_channel``, ``add_thread``, ``add_webhook``, ...) and
    the stored state (``messages``, ``deleted``, ``nonce_hits``) come from DiscordState.

    Args:
        clock: Source of "now" in epoch seconds (timestamps, nonce window, rate-limit
            windows). Fault delays always use real time.
        seed: Seeds generated webhook tokens, bucket hashes and nothing else.
        rate_limits: Limits to enforce, or ``None`` to disable rate limiting.

    Attributes:
        requests: Every request received, in order (webhook tokens masked).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        seed: int = 0,
        rate_limits: RateLimits | None = DEFAULT_RATE_LIMITS,
    ) -> None:
        super().__init__(clock=clock, seed=seed)
        self.rate_limits = rate_limits
        self._limiter = RateLimiter(rate_limits, seed) if rate_limits is not None else None
        self._faults = FaultPlan()
        self.requests: list[RecordedRequest] = []
        self.latency = 0.0  # seconds added to every answer (benchmarks: a distant server)
        self.server = HttpServer(self._handle)

    # -- lifecycle (start, stop, ``async with``, ``running_in_thread``: from ``Served``) -----

    @property
    def api_base(self) -> str:
        """``http://127.0.0.1:PORT/api/v10``: the value for ``discord.http.Route.BASE``."""
        if not self.server.port:
            raise RuntimeError("FakeDiscordAPI is not started")
        return f"{self.server.root}{API_PREFIX}"

    # -- scripting -------------------------------------------------------------------------

    def fail_next(
        self,
        *,
        route: str | None = None,
        status: int,
        code: int = 0,
        message: str = "",
        retry_after: float | None = None,
        global_: bool = False,
        times: int = 1,
        then_process: bool = False,
    ) -> None:
        """Answer the next matching request(s) with ``status``.

        Args:
            route: ``"METHOD /template"`` (e.g. ``"POST /channels/{channel_id}/messages"``),
                a bare template or a bare method; ``None`` matches every request.
            status: HTTP status. A 429 gets Discord's rate-limit body and headers.
            code: JSON error code (left out of a 429 body when 0).
            message: JSON message; a default matching the status is used when empty.
            retry_after: Seconds for a 429 (default 1.0).
            global_: Make a 429 global (``X-RateLimit-Global``, ``X-RateLimit-Scope: global``).
            times: How many matching requests get this answer.
            then_process: Perform the request (e.g. store the message) before answering.
        """
        method, template = parse_route_filter(route)
        self._faults.add(
            Fault(
                "status",
                method,
                template,
                status=status,
                code=code,
                message=message,
                retry_after=retry_after,
                is_global=global_,
                then_process=then_process,
                times=times,
            )
        )

    def timeout_next(
        self, *, route: str | None = None, seconds: float, then_process: bool, times: int = 1
    ) -> None:
        """Hold the next matching request(s) for ``seconds`` of real time.

        With ``then_process`` the request is performed at once and its normal answer is sent
        after the delay. Without it nothing is performed and, after the delay, the
        connection is closed with no answer.
        """
        method, template = parse_route_filter(route)
        self._faults.add(
            Fault(
                "timeout", method, template, seconds=seconds, then_process=then_process, times=times
            )
        )

    def drop_next(self, *, route: str | None = None, then_process: bool, times: int = 1) -> None:
        """Close the connection of the next matching request(s) without an answer."""
        method, template = parse_route_filter(route)
        self._faults.add(Fault("drop", method, template, then_process=then_process, times=times))

    def set_fault_rate(
        self,
        rate: float,
        *,
        kinds: Sequence[FaultKind] = ALL_FAULT_KINDS,
        seed: int = 0,
        route: str | None = None,
        then_process: bool | None = None,
        timeout_seconds: float = 0.5,
        retry_after: float = 0.05,
    ) -> None:
        """Inject random, reproducible faults into a share ``rate`` of matching requests.

        Scripted faults take precedence. 5xx statuses are drawn from 500/502/503/504.
        ``then_process=None`` flips a seeded coin per fault (429s are never processed).
        ``rate=0`` turns random faults off.
        """
        self._faults.set_random(
            rate,
            kinds=kinds,
            seed=seed,
            route=route,
            then_process=then_process,
            timeout_seconds=timeout_seconds,
            retry_after=retry_after,
        )

    def count_status(self, status: int) -> int:
        """How many recorded requests were answered with ``status`` (0 = dropped)."""
        return sum(1 for r in self.requests if r.status == status)

    # -- HTTP pipeline ---------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        rec = RecordedRequest(
            time=self._clock(),
            method=request.method,
            path=_TOKEN_IN_PATH.sub(r"\1***", request.path),
            route=None,
            query=dict(request.query),
        )
        self.requests.append(rec)
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        path = request.path
        call, exists = (
            match_route(request.method, path[len(API_PREFIX) :])
            if path.startswith(API_PREFIX)
            else (None, False)
        )
        if call is None:
            status = 405 if exists else 404
            return self._respond(
                rec,
                Reply(
                    status, {"message": f"{status}: {http.HTTPStatus(status).phrase}", "code": 0}
                ),
            )
        call.query = dict(request.query)
        call.authorization = request.headers.get("Authorization")
        rec.route = call.route
        await self._read_body(request, call)
        if call.method in ("POST", "PATCH") and call.body_error is None:
            rec.body = call.payload
        try:
            verdict = self._authorize_and_limit(call, rec)
        except ApiError as exc:
            return self._respond(rec, Reply(exc.status, exc.body()))
        if verdict is not None and verdict.limited:
            return self._respond(
                rec,
                Reply(
                    429,
                    rate_limited_body(verdict.retry_after, is_global=verdict.is_global),
                    verdict.headers,
                ),
            )

        fault = self._faults.take(call.method, call.template)
        if fault is not None:
            rec.fault = fault.label
            if not fault.then_process:
                if fault.kind == "status":
                    return self._respond(rec, _fault_reply(fault))
                if fault.kind == "timeout":
                    await self.server.hold(fault.seconds)
                return self._drop(request)
        reply = process(self, call)
        if verdict is not None:
            reply.headers.update(verdict.headers)
        if fault is not None:
            if fault.kind == "status":
                return self._respond(rec, _fault_reply(fault))
            if fault.kind == "drop" or not await self.server.hold(fault.seconds):
                return self._drop(request)
        return self._respond(rec, reply)

    async def _read_body(self, request: web.Request, call: Call) -> None:
        if call.method not in ("POST", "PATCH"):
            return
        raw: Any = {}
        try:
            if request.content_type == "multipart/form-data":
                form = await request.post()
                for name, value in form.items():
                    if isinstance(value, web.FileField):
                        size = len(value.file.read())
                        call.uploads.append(Upload(value.filename, value.content_type, size))
                    elif name == "payload_json":
                        raw = json.loads(value)
            else:
                text = await request.text()
                raw = json.loads(text) if text.strip() else {}
        except (ValueError, UnicodeDecodeError):
            raw = None
        if isinstance(raw, dict):
            call.payload = raw
        else:
            call.body_error = ApiError(400, 50109, "The request body contains invalid JSON.")

    def _authorize_and_limit(self, call: Call, rec: RecordedRequest) -> Verdict | None:
        identity: str | None = None
        if call.kind == "webhook":
            hook = self.webhooks.get(snowflake("webhook_id", call.params["webhook_id"]) or 0)
            if hook is None:
                raise ApiError(404, 10015, "Unknown Webhook")
            if call.params["webhook_token"] != hook.token:
                raise ApiError(401, 50027, "Invalid Webhook Token")
            call.hook = hook
            rec.webhook_id = hook.id
            major = f"webhook:{hook.id}:{hook.token}"
        else:
            scheme, _, token = (call.authorization or "").partition(" ")
            bot = self.bots.get(token.strip()) if scheme == "Bot" else None
            if bot is None:
                raise ApiError(401, 0, "401: Unauthorized")
            call.bot = bot
            rec.bot_id = bot.user_id
            identity = f"bot:{bot.user_id}"
            major = f"channel:{call.params.get('channel_id', '')}"
        if self._limiter is None:
            return None
        return self._limiter.check(
            call.route, major, identity, webhook=call.kind == "webhook", now=self._clock()
        )

    def _drop(self, request: web.Request) -> web.StreamResponse:
        # The recorded status stays 0. The returned response is never written.
        request.protocol.force_close()
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=204)

    def _respond(self, rec: RecordedRequest, reply: Reply) -> web.StreamResponse:
        rec.status = reply.status
        if reply.status == 429 and isinstance(reply.body, dict):
            rec.retry_after = float(reply.body["retry_after"])
        headers = {"Via": _VIA, **reply.headers}
        if reply.body is None:
            return web.Response(status=reply.status, headers=headers)
        # Exactly "application/json": web.json_response adds "; charset=utf-8", and then
        # discord.py treats the body as text.
        headers["Content-Type"] = "application/json"
        return web.Response(
            status=reply.status, body=json.dumps(reply.body).encode(), headers=headers
        )
