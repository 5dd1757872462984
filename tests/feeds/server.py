"""A real HTTP server on 127.0.0.1 (aiohttp.web, a free port) that plays newsroom sites.

Each path answers what the test set for it: a body with its type, an ETag or Last-Modified it
honours with 304s, gzip, a status with headers (429 + Retry-After, a redirect), an answer that
never comes, or a body streamed without a length. A path given several replies plays them in
turn and then repeats the last. Every request is recorded with its headers.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

RSS = "application/rss+xml; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"
JSON_FEED = "application/feed+json"
HTML = "text/html; charset=utf-8"


@dataclass
class Reply:
    body: bytes | str = b""
    status: int = 200
    content_type: str = RSS
    headers: Mapping[str, str] = field(default_factory=dict)
    etag: str | None = None  # answered with 304 when the request's If-None-Match matches
    last_modified: str | None = None  # likewise with If-Modified-Since
    gzip: bool = False
    hang: bool = False  # accept the request, never answer
    stream_bytes: int = 0  # stream this many bytes in chunks, with no Content-Length


@dataclass(frozen=True)
class Seen:
    path: str
    headers: Mapping[str, str]


class FeedServer:
    def __init__(self) -> None:
        self.replies: dict[str, list[Reply]] = {}
        self.requests: list[Seen] = []
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def set(self, path: str, *replies: Reply) -> None:
        self.replies[path] = list(replies)

    def hits(self, path: str) -> list[Seen]:
        return [seen for seen in self.requests if seen.path == path]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path_qs
        self.requests.append(Seen(path, dict(request.headers)))
        queue = self.replies.get(path) or self.replies.get(request.path)
        if not queue:
            return web.Response(status=404, text="no such page")
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        if reply.hang:
            await self._stopping.wait()
            return web.Response(status=503)
        validators = {}
        if reply.etag:
            validators["ETag"] = reply.etag
        if reply.last_modified:
            validators["Last-Modified"] = reply.last_modified
        if (reply.etag and request.headers.get("If-None-Match") == reply.etag) or (
            reply.last_modified and request.headers.get("If-Modified-Since") == reply.last_modified
        ):
            return web.Response(status=304, headers=validators)
        headers = {**validators, **reply.headers}
        if reply.stream_bytes:
            response = web.StreamResponse(status=reply.status, headers=headers)
            response.content_type = reply.content_type.split(";")[0]
            response.enable_chunked_encoding()
            await response.prepare(request)
            chunk = b"<!-- " + b"x" * 16_378 + b" -->\n"
            sent = 0
            try:
                while sent < reply.stream_bytes and not self._stopping.is_set():
                    await response.write(chunk)
                    sent += len(chunk)
            except (ConnectionResetError, asyncio.CancelledError):
                return response
            await response.write_eof()
            return response
        body = reply.body.encode() if isinstance(reply.body, str) else reply.body
        if reply.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        headers["Content-Type"] = reply.content_type
        return web.Response(status=reply.status, body=body, headers=headers)
