"""Serving the web app with uvicorn, hardened against slow and greedy clients.

uvicorn bounds idle keep-alive connections but not a client that sends its request headers a
byte at a time: such connections would be held for ever. ``GuardedH11Protocol`` gives every
request a deadline for its headers; the app's body limit bounds the body; ``limit_concurrency``
answers 503 beyond a number of connections instead of holding them all.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from distributor.web import MAX_BODY_BYTES, MAX_CONNECTIONS, REQUEST_TIMEOUT_SECONDS


class GuardedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing connections whose request headers come too slowly."""

    header_timeout: float = REQUEST_TIMEOUT_SECONDS

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None:  # a whole request head arrived: its handler runs now
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()  # the next request on this connection gets its own deadline

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()


def server_config(app: Any, *, host: str, port: int, verbose: int = 0) -> uvicorn.Config:
    """The uvicorn settings of ``distributor web``."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=GuardedH11Protocol,
        access_log=False,  # the URLs carry readers' tokens
        log_level="debug" if verbose >= 2 else "warning",
        server_header=False,
        proxy_headers=True,
        limit_concurrency=MAX_CONNECTIONS,
        timeout_keep_alive=5,
        h11_max_incomplete_event_size=MAX_BODY_BYTES,
    )
