"""The one web service: security headers everywhere, bounded bodies and slow clients, sub-paths."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from distributor.store import Store
from distributor.web import MAX_BODY_BYTES, SECURITY_HEADERS, WebContext, create_app
from distributor.web_server import GuardedH11Protocol, server_config
from tests.helpers import write_config


def context(store: Store, tmp_path: Path, base_url: str = "https://news.example.org") -> WebContext:
    loaded = write_config(
        tmp_path,
        {
            "version": 1,
            "web": {"base_url": base_url},
            "channels": [
                {"name": "letter", "platform": "email", "dry_run": True, "list": "letter"}
            ],
        },
    )
    return WebContext(loaded.app, store, loaded.renderer(), tmp_path / "outbox", store.clock)


async def boom(_request: Request) -> Response:
    raise RuntimeError("a bug")


def client(app: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def assert_secured(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (response.status_code, name)


async def test_every_answer_carries_the_security_headers(store: Store, tmp_path: Path) -> None:
    app = create_app(context(store, tmp_path), extra=[Route("/boom", boom)])
    async with client(app) as http:
        answers = [
            await http.get("/healthz"),
            await http.get("/subscribe/letter"),
            await http.get("/no-such-page"),
            await http.delete("/healthz"),
            await http.get("/boom"),
        ]
    assert [a.status_code for a in answers] == [200, 200, 404, 405, 500]
    for answer in answers:
        assert_secured(answer)
    assert "a bug" not in answers[-1].text


async def test_bodies_over_the_limit_are_refused(store: Store, tmp_path: Path) -> None:
    app = create_app(context(store, tmp_path))
    big = b"email=" + b"a" * MAX_BODY_BYTES
    async with client(app) as http:
        declared = await http.post(
            "/subscribe/letter",
            content=big,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(MAX_BODY_BYTES // 1024 + 2):
                yield b"a" * 1024

        streamed = await http.post(
            "/subscribe/letter",
            content=chunks(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert declared.status_code == 413
    assert streamed.status_code == 413
    assert_secured(streamed)


async def test_routes_live_under_the_base_url_path(store: Store, tmp_path: Path) -> None:
    app = create_app(context(store, tmp_path, "https://news.example.org/newsletter"))
    async with client(app) as http:
        assert (await http.get("/newsletter/healthz")).status_code == 200
        form = await http.get("/newsletter/subscribe/letter")
        assert form.status_code == 200
        assert (await http.get("/healthz")).status_code == 404
    assert 'action="/newsletter/subscribe/letter"' in form.text


class QuickGuard(GuardedH11Protocol):
    header_timeout = 0.3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[int]:
    port = free_port()
    config = server_config(app, host="127.0.0.1", port=port)
    config.http = QuickGuard
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


async def test_a_client_that_never_finishes_its_headers_is_cut_off(
    store: Store, tmp_path: Path
) -> None:
    async with serving(create_app(context(store, tmp_path))) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        await writer.drain()
        closed = await asyncio.wait_for(reader.read(), timeout=5)
        writer.close()
        assert closed == b""  # the server hung up without answering
        # A client that sends its request promptly is served as usual.
        async with httpx.AsyncClient() as http:
            answer = await http.get(f"http://127.0.0.1:{port}/healthz")
        assert answer.status_code == 200


@pytest.mark.parametrize("size", [MAX_BODY_BYTES + 1])
async def test_the_server_refuses_a_large_body_over_the_wire(
    store: Store, tmp_path: Path, size: int
) -> None:
    async with (
        serving(create_app(context(store, tmp_path))) as port,
        httpx.AsyncClient() as http,
    ):
        answer = await http.post(
            f"http://127.0.0.1:{port}/subscribe/letter",
            content=b"a" * size,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert answer.status_code == 413
