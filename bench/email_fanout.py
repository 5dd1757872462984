"""Email fan-out throughput: this adapter against a one-connection smtplib baseline.

Sends one story to N confirmed readers (default 20,000) through the real email adapter (its
ledger on SQLite or PostgreSQL, the shared pacer, several SMTP connections) into a local SMTP
sink, then mails a sample of the same readers the naive way: one smtplib connection, a fresh
``EmailMessage`` built for every reader. Prints messages per second for both.

The sink is Postfix's ``smtp-sink`` when installed (Debian package ``postfix``; no daemon
needed), else an aiosmtpd sink in a child process, which tops out near 1,100 msg/s by itself.

    python -m bench.email_fanout [-n 20000] [--connections 8] [--sink auto|smtp-sink|aiosmtpd]
                                 [--baseline 5000] [--dkim] [--store URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import yaml

from bench.common import DEFAULT_ADMIN_URL, create_database, drop_database
from distributor import article_views
from distributor.adapter import AdapterContext
from distributor.clock import utcnow
from distributor.configload import load_config
from distributor.ledger import Ledger
from distributor.pacing import Pacer
from distributor.send_context import SendContext
from distributor.store import Store
from distributor.types import ArticleDraft, DeliveryTicket, RenderedMessage
from distributor_channels.email.adapter import EmailAdapter
from distributor_channels.email.config import EmailChannelConfig
from distributor_channels.email.models import Subscriber, SubscriberStatus
from distributor_channels.email.payload import EmailPayloads

SMTP_SINK_PATHS = ("/usr/sbin/smtp-sink", "/usr/lib/postfix/sbin/smtp-sink")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the SMTP sink did not listen on port {port}")


def smtp_sink_path() -> str | None:
    found = shutil.which("smtp-sink")
    if found:
        return found
    return next((p for p in SMTP_SINK_PATHS if os.access(p, os.X_OK)), None)


def start_sink(kind: str, port: int) -> tuple[subprocess.Popen[bytes], str]:
    path = smtp_sink_path()
    if kind == "smtp-sink" and path is None:
        raise SystemExit("smtp-sink not found (apt-get install postfix)")
    if kind in ("auto", "smtp-sink") and path is not None:
        command = [path]
        if os.geteuid() == 0:
            command += ["-u", "nobody"]  # smtp-sink refuses to keep root privileges
        command += [f"127.0.0.1:{port}", "1024"]
        return subprocess.Popen(command), f"Postfix smtp-sink ({path})"
    command = [sys.executable, "-m", "bench.email_fanout", "--serve-sink", str(port)]
    return subprocess.Popen(command), "aiosmtpd sink (child process)"


def serve_sink(port: int) -> None:
    """A Python sink: accept everything, keep nothing (for machines without smtp-sink)."""
    from aiosmtpd.controller import Controller

    class Sink:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "250 OK"

    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


def config_data(store_url: str, port: int, connections: int, key: Path | None) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "name": "newsletter",
        "platform": "email",
        "list": "bench",
        "list_title": "Bench Daily",
        "from_address": "Bench Newsroom <news@bench.example.org>",
        "unsubscribe_mailto": "unsubscribe@bench.example.org",
        "smtp": {"host": "127.0.0.1", "port": port, "security": "none"},
        "connections": connections,
        "rate_per_second": 1_000_000,
    }
    if key is not None:
        channel["dkim"] = {"selector": "bench", "private_key_file": str(key)}
    return {
        "version": 1,
        "store": {"url": store_url},
        "web": {
            "base_url": "https://bench.example.org",
            "secret": "bench-secret-3b9f0c8a1d2e4f6a7b9c0d",
        },
        "channels": [channel],
    }


async def add_readers(store: Store, n: int) -> None:
    now = store.clock()
    rows = [
        {
            "list_name": "bench",
            "address": f"reader{i:06d}@bench.example.org",
            "topics": "",
            "status": SubscriberStatus.CONFIRMED,
            "source": "bench",
            "created_at": now,
            "updated_at": now,
            "confirmed_at": now,
        }
        for i in range(n)
    ]
    async with store.session() as session, session.begin():
        for start in range(0, n, 2000):
            await session.execute(store.insert(Subscriber), rows[start : start + 2000])


async def story(
    store: Store, loaded: Any, channel: EmailChannelConfig
) -> tuple[RenderedMessage, SendContext]:
    body = (
        "La passerelle piétonne relie désormais les deux rives. Les travaux ont duré trois ans. "
        * 6
    )
    draft = ArticleDraft(
        title="Été : la nouvelle passerelle ouvre au public",
        body=body,
        publish_at=store.clock(),
        url="https://bench.example.org/passerelle",
        language="fr",
    )
    queued = await store.add_article(draft)
    await Ledger(store).route_due(loaded.app.channels)
    article = await store.get_article(queued.article_id)
    assert article is not None
    (delivery,) = await store.deliveries_for([article.id])
    view = article_views.article_view(
        article, channel, loaded.app, article_views.lead_cache(loaded.app)
    )
    message = EmailPayloads(channel, loaded.renderer()).render(view)
    ticket = DeliveryTicket(delivery.id, article.id, delivery.channel, article.version, 1)
    return message, SendContext(ticket)


class LoopLag:
    """The longest the event loop was blocked, seen from a 10 ms ticker."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, time.perf_counter() - start - 0.01)

    def __enter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()


async def run_adapter(args: argparse.Namespace, port: int, workdir: Path) -> dict[str, Any]:
    if args.store == "postgresql":  # a throwaway database, dropped afterwards
        pg_url = await create_database(DEFAULT_ADMIN_URL)
        try:
            return await _run_adapter(args, port, workdir, pg_url)
        finally:
            await drop_database(DEFAULT_ADMIN_URL, pg_url)
    store_url = args.store or f"sqlite+aiosqlite:///{workdir / 'bench.sqlite3'}"
    return await _run_adapter(args, port, workdir, store_url)


async def _run_adapter(
    args: argparse.Namespace, port: int, workdir: Path, store_url: str
) -> dict[str, Any]:
    key = workdir / "dkim.pem" if args.dkim else None
    path = workdir / "bench.yaml"
    path.write_text(yaml.safe_dump(config_data(store_url, port, args.connections, key)))
    loaded = load_config(path, environ={})
    channel = loaded.app.channels[0]
    assert isinstance(channel, EmailChannelConfig)
    store = await Store.open(loaded.app.store, auto_upgrade=True)
    pacer = Pacer()
    try:
        await add_readers(store, args.n)
        message, sending = await story(store, loaded, channel)
        context = AdapterContext(
            app=loaded.app,
            renderer=loaded.renderer(),
            clock=utcnow,
            outbox_dir=workdir / "outbox",
            pacer=pacer,
            store=store,
        )
        adapter = EmailAdapter(channel, EmailPayloads(channel, context.renderer), context)
        with LoopLag() as lag:
            start, cpu = time.perf_counter(), time.process_time()
            result = await adapter.send(message, sending)
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        report = adapter.last_report
        return {
            "commits": report.commits if report is not None else 0,
            "seconds": seconds,
            "cpu_ms": cpu / args.n * 1000,
            "rate": args.n / seconds,
            "note": result.note,
            "lag_ms": lag.worst * 1000,
            "payload": message.payload,
            "store": store.dialect,
        }
    finally:
        await pacer.aclose()
        await store.close()


def run_baseline(n: int, port: int, payload: dict[str, Any]) -> float:
    """One connection, a fresh ``EmailMessage`` per reader, ``send_message``: the naive way."""
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, local_hostname="bench.example.org") as client:
        for i in range(n):
            address = f"reader{i:06d}@bench.example.org"
            url = f"https://bench.example.org/unsubscribe/bench.{i + 1}.token"
            msg = EmailMessage()
            msg["From"] = "Bench Newsroom <news@bench.example.org>"
            msg["To"] = address
            msg["Subject"] = payload["subject"]
            msg["Date"] = format_datetime(utcnow())
            msg["Message-ID"] = make_msgid(domain="bench.example.org")
            msg["List-Id"] = "Bench Daily <bench.bench.example.org>"
            msg["List-Unsubscribe"] = f"<{url}>"
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
            marker = "https://unsubscribe.invalid/distributor-unsubscribe-marker"
            msg.set_content(payload["text"].replace(marker, url))
            msg.add_alternative(payload["html"].replace(marker, url), subtype="html")
            client.send_message(msg)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=20_000, help="readers (default 20,000)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--sink", choices=("auto", "smtp-sink", "aiosmtpd"), default="auto")
    parser.add_argument(
        "--baseline", type=int, default=5_000, help="readers mailed by the baseline (0: skip)"
    )
    parser.add_argument("--dkim", action="store_true", help="sign every message (2048-bit key)")
    parser.add_argument(
        "--store",
        help="'postgresql' (a throwaway database), a store URL, or nothing: a fresh SQLite file",
    )
    parser.add_argument("--serve-sink", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sink:
        serve_sink(args.serve_sink)
        return
    port = free_port()
    sink, sink_name = start_sink(args.sink, port)
    try:
        wait_for_port(port)
        with tempfile.TemporaryDirectory(prefix="email-bench-") as tmp:
            if args.dkim:
                command = ["openssl", "genrsa", "-traditional", "-out", f"{tmp}/dkim.pem", "2048"]
                subprocess.run(command, check=True, capture_output=True)
            adapter = asyncio.run(run_adapter(args, port, Path(tmp)))
        baseline = run_baseline(args.baseline, port, adapter["payload"]) if args.baseline else 0
    finally:
        sink.terminate()
        sink.wait(timeout=10)
    print(f"sink:       {sink_name}")
    print(f"machine:    {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}")
    dkim = ", DKIM-signed" if args.dkim else ""
    print(
        f"adapter:    {args.n} readers, {args.connections} connections, "
        f"{adapter['store']} ledger{dkim}: {adapter['seconds']:.2f} s = "
        f"{adapter['rate']:,.0f} msg/s ({adapter['note']})"
    )
    commits = adapter["commits"]
    per_commit = args.n / commits if commits else 0
    print(
        f"            {commits} group commits ({per_commit:.1f} messages each), "
        f"longest event-loop stall: {adapter['lag_ms']:.1f} ms"
    )
    print(f"            sender CPU: {adapter['cpu_ms']:.2f} ms per message (all threads)")
    if baseline:
        print(
            f"baseline:   smtplib, 1 connection, a new EmailMessage per reader, "
            f"{args.baseline} readers: {baseline:,.0f} msg/s"
        )
        print(f"speed-up:   {adapter['rate'] / baseline:.1f}x")


if __name__ == "__main__":
    main()
