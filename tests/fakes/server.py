"""How every fake platform server starts and stops: 127.0.0.1, a free port, one set of timeouts.

A fake serves in the test's own event loop (``async with fake``) or, for synchronous code and
other processes, from a daemon thread with a loop of its own (``fake.running_in_thread()``).
Fakes that are aiohttp applications get both from ``Served`` around an ``HttpServer``; the
SMTP fake (aiosmtpd runs its own thread) takes its port and start timeout from here.

``HttpServer.arrivals`` lets a test look at each request as it arrives, before the fake acts
on it: the contract suite checks there that the adapter declared the send first.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from types import TracebackType
from typing import Self

from aiohttp import web

# Binding a local port takes milliseconds; the margin is for a machine busy with other tests.
START_TIMEOUT = 10.0
# Stopping releases held replies first, then gives running handlers HANDLER_GRACE to finish.
STOP_TIMEOUT = 30.0
HANDLER_GRACE = 1.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Arrival = Callable[[web.Request], None]


def free_port() -> int:
    """A port nobody listens on now, for servers that must be told one (aiosmtpd)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class HttpServer:
    """One aiohttp handler serving every path matching ``path``, on 127.0.0.1.

    Args:
        handler: Answers each request.
        path: The route pattern (aiohttp syntax), for every method.
        client_max_size: The largest request body accepted, in bytes.

    Attributes:
        port: The port served on (0 until started).
        arrivals: Called with each request as it arrives, before ``handler`` sees it.
    """

    def __init__(
        self, handler: Handler, *, path: str = "/{tail:.*}", client_max_size: int = 1024**2
    ) -> None:
        self.handler = handler
        self.path = path
        self.client_max_size = client_max_size
        self.port = 0
        self.arrivals: list[Arrival] = []
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None

    @property
    def root(self) -> str:
        """``http://127.0.0.1:PORT``."""
        if not self.port:
            raise RuntimeError("the fake server is not started")
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Bind a free port and serve."""
        app = web.Application(client_max_size=self.client_max_size, middlewares=[self._arrived])
        app.router.add_route("*", self.path, self.handler)
        self._stopping = asyncio.Event()
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=HANDLER_GRACE)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", 0))
            await web.SockSite(runner, sock).start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self.port = sock.getsockname()[1]
        self._runner = runner

    async def stop(self) -> None:
        """Stop serving; replies held by ``hold`` are released first."""
        if self._stopping is not None:
            self._stopping.set()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        self.port = 0

    async def hold(self, seconds: float) -> bool:
        """Wait ``seconds`` of real time; False if the server started stopping meanwhile."""
        if self._stopping is None:
            return True
        with suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
            return False
        return True

    @web.middleware
    async def _arrived(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        for arrival in list(self.arrivals):
            arrival(request)
        return await handler(request)


@contextmanager
def running_in_thread(
    start: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]], *, name: str
) -> Iterator[None]:
    """Run ``start`` on a new event loop in a daemon thread; ``stop`` it on the way out."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name=name, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=START_TIMEOUT)
        yield
    finally:
        try:
            asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=STOP_TIMEOUT)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=STOP_TIMEOUT)
            loop.close()


class Served:
    """Start, stop, ``async with`` and ``running_in_thread`` for a fake built on ``server``."""

    server: HttpServer

    async def start(self) -> None:
        """Bind a free port on 127.0.0.1 and start serving."""
        await self.server.start()

    async def stop(self) -> None:
        """Stop serving; replies held by faults are released first."""
        await self.server.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @contextmanager
    def running_in_thread(self) -> Iterator[Self]:
        """Serve from a daemon thread with its own event loop (for sync code or subprocesses)."""
        with running_in_thread(self.start, self.stop, name=f"fake-{type(self).__name__}"):
            yield self

    def on_arrival(self, callback: Arrival) -> None:
        """Call ``callback`` with each request as it arrives, before the fake acts on it."""
        self.server.arrivals.append(callback)
