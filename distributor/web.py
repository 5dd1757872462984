"""The one web service (``distributor web``): the core's routes plus every platform's.

Platforms bring their routes through their spec's ``web_routes`` (email's reader pages); the
editors' desk (``/desk/``) and the CMS API (``/api/v1/``) are the core's own. Every answer,
error pages included, carries the same security headers. No access log is written: platform
URLs carry readers' tokens.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from distributor import registry
from distributor.clock import Clock
from distributor.config import DEVELOPMENT_WEB_SECRET, AppConfig
from distributor.ops_web import OpsEndpoints
from distributor.rendering import Renderer
from distributor.store import Store

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # a token in the URL must not leak to the next site
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
}


# Forms need a few kilobytes; anything larger is refused before it is read into memory.
MAX_BODY_BYTES = 64 * 1024
# A client that has not sent its whole request by then is cut off (slow-loris).
REQUEST_TIMEOUT_SECONDS = 10.0
# Connections served at once; beyond this new ones get 503 instead of queueing without end.
MAX_CONNECTIONS = 200


@dataclass(frozen=True)
class WebContext:
    """What the web service and the routes it mounts work with."""

    app: AppConfig
    store: Store
    renderer: Renderer
    outbox_dir: Path
    clock: Clock

    @property
    def development_secret(self) -> bool:
        return self.app.web.secret.get_secret_value() == DEVELOPMENT_WEB_SECRET


class _SecurityHeaders:
    """Adds the security headers to every response the app sends (error pages included)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.raw = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def secured_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.raw if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, secured_send)


class _BodyLimit:
    """Refuses bodies over ``limit`` bytes (413) and bodies that trickle in too slowly (408)."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _refuse(413, "request body too large", scope, receive, send)
            return
        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT_SECONDS):
                    message = await receive()
            except TimeoutError:
                # Raised inside the app's read, the app's own error handling answers it.
                raise HTTPException(408, "request body too slow") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise HTTPException(413, "request body too large")
            return message

        await self.app(scope, bounded_receive, send)


async def _refuse(status: int, reason: str, scope: Scope, receive: Receive, send: Send) -> None:
    response: Response
    if "/api/" in scope.get("path", ""):  # the API answers every error as RFC 9457 problems
        problem = {"type": "about:blank", "title": reason, "status": status, "detail": reason}
        response = Response(
            json.dumps(problem),
            status_code=status,
            headers=SECURITY_HEADERS,
            media_type="application/problem+json",
        )
    else:
        response = PlainTextResponse(reason, status_code=status, headers=SECURITY_HEADERS)
    response.headers["Connection"] = "close"
    await response(scope, receive, send)


async def _server_error(_request: Request, _exc: Exception) -> Response:
    # Starlette's last-resort handler sits outside the middleware: add the headers here too.
    return PlainTextResponse("internal error", status_code=500, headers=SECURITY_HEADERS)


def base_path(context: WebContext) -> str:
    """The path part of ``web.base_url`` (``""`` at the root), where every route is served."""
    return urlsplit(context.app.web.base_url).path.rstrip("/")


def platform_routes(context: WebContext) -> list[BaseRoute]:
    """The routes of every installed platform that has a channel in this configuration."""
    configured = {channel.platform for channel in context.app.channels}
    routes: list[BaseRoute] = []
    for spec in registry.installed():
        if spec.web_routes and spec.name in configured:
            factory = registry.load_attribute(spec.web_routes)
            routes.extend(factory(context))
    return routes


def desk_routes(context: WebContext) -> list[BaseRoute]:
    """The editors' desk and the CMS API."""
    from distributor.desk import api, pages, throttle

    redis = context.app.redis.url.get_secret_value() if context.app.redis else None
    database = context.store.engine.url.render_as_string(hide_password=True)
    counters = throttle.counters_for(redis, database, context.clock)
    return [*api.routes(context, counters), *pages.routes(context, counters)]


def create_app(context: WebContext, extra: Sequence[BaseRoute] = ()) -> Starlette:
    """The ASGI application: metrics and health probes, the desk and the API, then each
    platform's routes."""

    # /metrics, /healthz, /readyz: the same as every worker's, without a scheduler to watch.
    channels = [channel.name for channel in context.app.channels]
    routes: list[BaseRoute] = OpsEndpoints(context.store, channels).routes()
    routes.extend(desk_routes(context))
    routes.extend(platform_routes(context))
    routes.extend(extra)
    prefix = base_path(context)
    if prefix:
        # Behind a reverse proxy at a sub-path: links in mails carry the prefix, so do routes.
        routes = [Mount(prefix, routes=routes)]
    return Starlette(
        routes=routes,
        middleware=[Middleware(_BodyLimit), Middleware(_SecurityHeaders)],
        exception_handlers={500: _server_error},
    )
