"""``/metrics``, ``/healthz`` and ``/readyz``: served by every worker and by the web service.

A worker serves them on its own port (``metrics: {host, port}``) with a small uvicorn server
in its event loop; the web service mounts the same routes beside the readers' pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Iterator, Sequence

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from distributor import health, metrics
from distributor.store import Store

log = logging.getLogger("distributor.ops")


class OpsEndpoints:
    """The three endpoints over one store; ``heartbeat`` is the worker's scheduler, if any."""

    def __init__(
        self,
        store: Store,
        channels: Sequence[str],
        heartbeat: health.Heartbeat | None = None,
    ) -> None:
        self.store = store
        self.heartbeat = heartbeat
        self.gauges = metrics.QueueGauges(channels)
        # Per endpoint, not in the shared registry: a process may serve several (tests do).
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(self.gauges)
        self._refresh = asyncio.Lock()

    async def metrics(self, _request: Request) -> Response:
        async with self._refresh:  # concurrent scrapes share one database read
            try:
                async with asyncio.timeout(health.CHECK_TIMEOUT_SECONDS):
                    await self.gauges.refresh(self.store, self.store.clock())
            except Exception as exc:  # the counters are still worth serving
                log.warning("metrics: the store did not answer: %s", type(exc).__name__)
        body = generate_latest(metrics.REGISTRY) + generate_latest(self.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def healthz(self, _request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(self, _request: Request) -> Response:
        result = health.report(await health.readiness(self.store, self.heartbeat))
        return JSONResponse(result, status_code=200 if result["ready"] else 503)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/metrics", self.metrics, methods=["GET"]),
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/readyz", self.readyz, methods=["GET"]),
        ]


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signals to the worker (its SIGTERM stops everything)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serve(endpoints: OpsEndpoints, host: str, port: int) -> AsyncIterator[tuple[str, int]]:
    """Serve the endpoints on ``host:port`` while the block runs; yields the bound address.

    Raises:
        OSError: the address cannot be bound (taken, unknown host); said before anything runs.
    """
    config = uvicorn.Config(
        Starlette(routes=endpoints.routes()),
        access_log=False,
        log_level="warning",
        server_header=False,
        lifespan="off",
    )
    # Bound here, not by uvicorn: a taken port is then an OSError, not uvicorn's sys.exit.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}") from exc
    bound = sock.getsockname()
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield str(bound[0]), int(bound[1])
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()
