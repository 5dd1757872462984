"""A send interrupted mid-way and resumed: every reader gets the story exactly once.

Three interruptions, each at a point the test controls:
- the send task is cancelled while messages are in flight (several connections);
- the sending process is SIGKILLed right after a message's final "." reached the server;
- the sending process is SIGKILLed after a message's body went out but before its final "."
  (the ledger commit that must precede the dot is held up by a lock the test takes).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from distributor.send_context import SendContext
from distributor.types import RenderedMessage
from distributor_channels.email.models import SendStatus
from distributor_channels.email.sendlog import SendLog
from tests.email.world import World, email_config
from tests.fakes.smtp import Received
from tests.fakes.tcp_tap import TcpTap
from tests.helpers import write_config

REPO = Path(__file__).resolve().parents[2]
READERS = [f"reader{i:02d}@example.org" for i in range(12)]


def assert_each_once(world: World, readers: list[str]) -> None:
    counts = world.smtp.per_recipient()
    assert sorted(counts) == sorted(readers)
    assert set(counts.values()) == {1}, {a: n for a, n in counts.items() if n != 1}


async def test_a_cancelled_send_finishes_its_messages_in_flight_then_resumes(
    world: World,
) -> None:
    readers = [f"r{i:03d}@example.org" for i in range(40)]
    await world.subscribe(*readers)
    message, context = await world.story()
    loop = asyncio.get_running_loop()
    seventh = asyncio.Event()

    def on_message(_received: Received, count: int) -> None:
        if count == 7:
            loop.call_soon_threadsafe(seventh.set)

    world.smtp.on_message = on_message
    adapter = world.adapter(connections=4, rate_per_second=20)
    task = asyncio.create_task(adapter.send(message, context))
    await seventh.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    first_run = len(world.smtp.messages)
    assert 7 <= first_run < 40
    counts = await SendLog(world.store, context.delivery_id, "test").counts()
    assert counts.get(SendStatus.SENT) == first_run
    assert SendStatus.SENDING not in counts  # nothing left half-done

    world.smtp.on_message = None
    result = await world.adapter().send(message, context)
    assert result.note.startswith("40 of 40 sent")
    assert_each_once(world, readers)


def _job(tmp_path: Path, message: RenderedMessage, context: SendContext) -> Path:
    job = tmp_path / "job.json"
    fields = ("delivery_id", "article_id", "channel", "version", "attempt")
    data = {"payload": dict(message.payload), "ticket": {f: getattr(context, f) for f in fields}}
    job.write_text(json.dumps(data), encoding="utf-8")
    return job


async def _spawn(config: Path, job: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.email.sender_proc",
        str(config),
        str(job),
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_a_process_killed_after_a_final_dot_does_not_mail_that_reader_again(
    store_url: str, world: World, tmp_path: Path
) -> None:
    await world.subscribe(*READERS)
    message, context = await world.story()
    job = _job(tmp_path, message, context)
    config = _single_connection(world, tmp_path)
    victim: dict[str, int] = {}

    def kill_at_fifth(_received: Received, count: int) -> None:
        # Runs in the server before it answers 250: the sender is waiting for that reply.
        if count == 5:
            os.kill(victim["pid"], signal.SIGKILL)

    world.smtp.on_message = kill_at_fifth
    proc = await _spawn(config, job)
    victim["pid"] = proc.pid
    _out, err = await proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err.decode()
    assert len(world.smtp.messages) == 5

    world.smtp.on_message = None
    result = await world.adapter().send(message, context)
    assert result.note.startswith(f"{len(READERS)} of {len(READERS)} sent")
    assert_each_once(world, READERS)


class LedgerLock:
    """Holds the ledger's write lock from another connection, so the sender cannot commit."""

    def __init__(self, store_url: str) -> None:
        self.url = make_url(store_url)
        self.conn: Any = None

    def acquire(self) -> None:
        if self.url.get_backend_name() == "sqlite":
            self.conn = sqlite3.connect(
                str(self.url.database), timeout=10, check_same_thread=False, isolation_level=None
            )
            self.conn.execute("BEGIN IMMEDIATE")
        else:
            dsn = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
            self.conn = psycopg.connect(dsn)
            self.conn.execute("LOCK TABLE email_sends IN EXCLUSIVE MODE")

    def release(self) -> None:
        if self.conn is not None:
            self.conn.rollback()
            self.conn.close()


async def test_a_process_killed_between_body_and_final_dot_resends_that_reader_once(
    store_url: str, world: World, tmp_path: Path
) -> None:
    await world.subscribe(*READERS)
    message, context = await world.story()
    job = _job(tmp_path, message, context)
    lock = LedgerLock(store_url)

    def lock_after_fourth(_received: Received, count: int) -> None:
        # The fourth message is recorded and accepted; the fifth one's "sent" will wait.
        if count == 4:
            lock.acquire()

    world.smtp.on_message = lock_after_fourth
    async with TcpTap(world.smtp.port) as tap:
        config = _single_connection(world, tmp_path, port=tap.port)
        proc = await _spawn(config, job)
        try:
            # The fifth body is out (its HTML part ended) and its commit is blocked: no dot.
            await tap.wait_until(lambda sent: sent.count(b"</html>") == 5)
            proc.kill()
            await proc.communicate()
        finally:
            lock.release()
        fifth_body = bytes(tap.sent).rsplit(b"</html>", 1)[1]
        assert b"\r\n.\r\n" not in fifth_body
    assert len(world.smtp.messages) == 4  # the server dropped the fifth: it never got the "."

    world.smtp.on_message = None
    result = await world.adapter().send(message, context)
    assert result.note.startswith(f"{len(READERS)} of {len(READERS)} sent")
    assert_each_once(world, READERS)


def _single_connection(world: World, tmp_path: Path, *, port: int | None = None) -> Path:
    """A config file for the sending process: one connection, maybe another SMTP port."""
    smtp = {"host": "127.0.0.1", "port": port or world.smtp.port, "security": "none"}
    data = email_config(world.loaded.app.store.url, tmp_path, world.smtp)
    data["channels"][0].update(connections=1, smtp=smtp)
    return write_config(tmp_path, data, name="sender.yaml").path
