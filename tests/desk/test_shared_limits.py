"""Login throttling and per-token limits shared by several web processes through Redis.

Each "process" is its own web application (its own counters and Redis connections) over the
same database and configuration, as two ``distributor web`` processes behind one proxy are.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
import redis.asyncio

from distributor.desk.throttle import Counters, Window
from distributor.store import Store
from tests.desk.conftest import Desk, open_desk
from tests.desk.test_pages import login


@pytest.fixture
async def shared_redis(redis_url: str) -> AsyncIterator[str]:
    """The test Redis without any desk counts: the test databases are reused, so are keys."""

    async def forget() -> None:
        client = redis.asyncio.Redis.from_url(redis_url)
        try:
            async for key in client.scan_iter(match="*distributor-desk/*"):
                await client.delete(key)
        finally:
            await client.aclose()

    await forget()
    yield redis_url
    await forget()


async def two_processes(
    stack: AsyncExitStack, store: Store, tmp_path: Path, redis_url: str | None, **web: object
) -> tuple[Desk, Desk]:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
    first = await open_desk(store, tmp_path / "a", redis_url=redis_url, **web)
    second = await open_desk(store, tmp_path / "b", redis_url=redis_url, users=False, **web)
    second.token = first.token
    await stack.enter_async_context(first.http)
    await stack.enter_async_context(second.http)
    return first, second


async def status(desk: Desk, token: str | None = None) -> int:
    return (await desk.http.get("/api/v1/stories", headers=desk.auth(token))).status_code


async def test_a_token_limit_is_shared_by_every_web_process(
    store: Store, tmp_path: Path, shared_redis: str
) -> None:
    async with AsyncExitStack() as stack:
        a, b = await two_processes(stack, store, tmp_path, shared_redis, api_requests_per_minute=3)
        assert [await status(a), await status(b), await status(a)] == [200, 200, 200]
        assert await status(b) == 429
        assert await status(a) == 429
        limited = await b.http.get("/api/v1/stories", headers=b.auth())
        assert 1 <= int(limited.headers["retry-after"]) <= 60


async def test_without_redis_each_process_counts_alone(store: Store, tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        a, b = await two_processes(stack, store, tmp_path, None, api_requests_per_minute=2)
        assert [await status(a), await status(a), await status(a)] == [200, 200, 429]
        assert await status(b) == 200


async def test_login_throttling_is_shared_by_every_web_process(
    store: Store, tmp_path: Path, shared_redis: str
) -> None:
    async with AsyncExitStack() as stack:
        a, b = await two_processes(stack, store, tmp_path, shared_redis)
        for desk in (a, b, a, b):
            assert (await login(desk.http, "ana", "wrong password")).status_code == 401
        # A success forgets the account's failures, on every process.
        assert (await login(b.http, "ana")).status_code == 303
        b.http.cookies.clear()
        for desk in (a, b, a, b, a):
            assert (await login(desk.http, "ana", "wrong password")).status_code == 401
        blocked = await login(b.http, "ana")  # the right password, too late, elsewhere
        assert blocked.status_code == 429 and "minute(s)" in blocked.text
        assert (await login(a.http, "root")).status_code == 303


async def test_an_unreachable_redis_counts_in_memory(store: Store, tmp_path: Path) -> None:
    # Port 1 on this machine: nothing listens, the connection is refused at once.
    async with AsyncExitStack() as stack:
        a, _ = await two_processes(
            stack, store, tmp_path, "redis://127.0.0.1:1/0", api_requests_per_minute=2
        )
        assert [await status(a), await status(a), await status(a)] == [200, 200, 429]
        for _ in range(5):
            assert (await login(a.http, "ana", "wrong password")).status_code == 401
        assert (await login(a.http, "ana")).status_code == 429


async def test_two_databases_sharing_a_redis_count_apart(shared_redis: str, clock: object) -> None:
    first = Counters(shared_redis, "postgresql://db/one", clock)  # type: ignore[arg-type]
    second = Counters(shared_redis, "postgresql://db/two", clock)  # type: ignore[arg-type]
    assert first.shared and not isinstance(first.window("api", 1, 60), Window)
    one, two = first.window("api", 1, 60), second.window("api", 1, 60)
    assert await one.hit("token:1") == 0
    assert await one.hit("token:1") > 0
    assert await two.hit("token:1") == 0
    await one.reset("token:1")
    assert await one.hit("token:1") == 0
