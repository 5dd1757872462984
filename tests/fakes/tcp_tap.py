"""A TCP relay that records what a client sent, so a test can act at a precise byte.

The email crash test puts it between the sender and the SMTP server to see the moment a
message's body has gone out without its final "." line.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable


class TcpTap:
    """Listens on 127.0.0.1 and forwards every connection to ``upstream_port``."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.sent = bytearray()  # everything clients wrote, all connections, in arrival order
        self.port = 0
        self._changed = asyncio.Condition()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> TcpTap:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._server.wait_closed()

    async def wait_until(self, condition: Callable[[bytes], bool]) -> None:
        """Until ``condition(bytes sent so far)`` holds (at most 30 s: a hang fails the test)."""
        async with asyncio.timeout(30), self._changed:
            await self._changed.wait_for(lambda: condition(bytes(self.sent)))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        for source, sink, record in ((reader, up_writer, True), (up_reader, writer, False)):
            task = asyncio.create_task(self._pipe(source, sink, record))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, record: bool
    ) -> None:
        try:
            while data := await source.read(65536):
                if record:
                    async with self._changed:
                        self.sent.extend(data)
                        self._changed.notify_all()
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            sink.close()
