"""The real web service (uvicorn, the hardened protocol) in a thread, for schemathesis and the
browser; optionally with the dispatcher running beside it, as ``distributor run`` would."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType

import uvicorn

from distributor.configload import LoadedConfig
from distributor.service import Service
from distributor.store import Store
from distributor.web import WebContext, create_app
from distributor.web_server import server_config

START_TIMEOUT = 30.0


class LiveDesk:
    def __init__(
        self,
        loaded: LoadedConfig,
        workdir: Path,
        setup: Callable[[Store], Awaitable[object]] | None = None,
        *,
        dispatch: bool = False,
    ) -> None:
        self.loaded = loaded
        self.workdir = workdir
        self.setup = setup
        self.dispatch = dispatch
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server: uvicorn.Server | None = None
        self.failure: BaseException | None = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.stop: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self.failure = exc
            self.ready.set()

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stop = asyncio.Event()
        store = await Store.open(self.loaded.app.store, auto_upgrade=True)
        try:
            if self.setup is not None:
                await self.setup(store)
            outbox = self.workdir / "outbox"
            context = WebContext(
                self.loaded.app, store, self.loaded.renderer(), outbox, store.clock
            )
            self.server = uvicorn.Server(server_config(create_app(context), host="", port=0))
            service = Service(self.loaded, dry_run=True, workdir=self.workdir)
            worker = asyncio.create_task(service.run_forever(self.stop)) if self.dispatch else None
            serving = asyncio.create_task(self.server.serve(sockets=[self.sock]))
            while not self.server.started and not serving.done():
                await asyncio.sleep(0.01)
            self.ready.set()
            await serving
            self.stop.set()
            if worker is not None:
                await worker
        finally:
            await store.close()

    def __enter__(self) -> LiveDesk:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.ready.wait(0.05):
            if time.monotonic() > deadline:
                raise RuntimeError("the web service did not start")
        if self.failure is not None:
            raise self.failure
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.server is not None:
            self.server.should_exit = True
        self.thread.join(30)
        with contextlib.suppress(OSError):
            self.sock.close()
