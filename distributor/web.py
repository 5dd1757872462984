"""The one web service (``distributor web``): the core's routes plus every platform's.

Platforms bring their routes through their spec's ``web_routes`` (email's reader pages); the
editors' desk and the API will be mounted here too. Every answer, error pages included, carries
the same security headers. No access log is written: platform URLs carry readers' tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from distributor import registry
from distributor.clock import Clock
from distributor.config import DEVELOPMENT_WEB_SECRET, AppConfig
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


class _SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def platform_routes(context: WebContext) -> list[BaseRoute]:
    """The routes of every installed platform that has a channel in this configuration."""
    configured = {channel.platform for channel in context.app.channels}
    routes: list[BaseRoute] = []
    for spec in registry.installed():
        if spec.web_routes and spec.name in configured:
            factory = registry.load_attribute(spec.web_routes)
            routes.extend(factory(context))
    return routes


def create_app(context: WebContext, extra: Sequence[BaseRoute] = ()) -> Starlette:
    """The ASGI application: health, then each platform's routes."""

    async def health(_request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    routes: list[BaseRoute] = [Route("/healthz", health, methods=["GET"])]
    routes.extend(platform_routes(context))
    routes.extend(extra)
    return Starlette(routes=routes, middleware=[Middleware(_SecurityHeaders)])
