"""The editors' desk, ``/desk/`` (filled in by the next step)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from distributor.web import WebContext


def routes(context: WebContext) -> list[BaseRoute]:
    return []
