"""Email fan-out throughput: this adapter against a one-connection smtplib baseline.

Sends one story to N confirmed readers (default 20,000) through the real email adapter (its
ledger on SQLite or PostgreSQL, the shared pacer, several SMTP connections) into a local SMTP
sink, then mails a sample of the same readers the naive way: one smtplib connection, a fresh
``EmailMessage`` built for every reader. Prints messages per second for both.

The sink is Postfix's ``smtp-sink`` when installed (Debian package ``postfix``; no daemon
needed), else an aiosmtpd sink in a child process, which tops out near 1,100 msg/s by itself.

    python -m bench.email_fanout [-n 20000] [--connections 8] [--sink auto|smtp-sink|aiosmtpd]
                                 [--baseline 5000] [--no-dkim] [--ed25519] [--postgresql URL|none]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519 as ed25519_keys
from cryptography.hazmat.primitives.asymmetric import rsa

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
SMTP_SOURCE_PATHS = ("/usr/sbin/smtp-source", "/usr/lib/postfix/sbin/smtp-source")


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


def config_data(
    store_url: str, port: int, connections: int, keys: tuple[Path, Path | None] | None
) -> dict[str, Any]:
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
    if keys is not None:
        rsa_key, ed_key = keys
        channel["dkim"] = {"selector": "bench", "private_key_file": str(rsa_key)}
        if ed_key is not None:
            channel["dkim"]["ed25519_selector"] = "bench-ed"
            channel["dkim"]["ed25519_private_key_file"] = str(ed_key)
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


@dataclass(frozen=True)
class Run:
    """One adapter run: which ledger, signed or not."""

    label: str
    store: str  # "sqlite" or a PostgreSQL admin URL (a throwaway database is made)
    sign: bool = False


async def run_adapter(
    args: argparse.Namespace, run: Run, port: int, workdir: Path
) -> dict[str, Any]:
    folder = workdir / run.label.replace(" ", "-")
    folder.mkdir()
    if run.store != "sqlite":  # a throwaway database, dropped afterwards
        pg_url = await create_database(run.store)
        try:
            return await _run_adapter(args, run, port, folder, pg_url)
        finally:
            await drop_database(run.store, pg_url)
    store_url = f"sqlite+aiosqlite:///{folder / 'bench.sqlite3'}"
    return await _run_adapter(args, run, port, folder, store_url)


async def _run_adapter(
    args: argparse.Namespace, run: Run, port: int, workdir: Path, store_url: str
) -> dict[str, Any]:
    keys = (workdir.parent / "dkim.pem", workdir.parent / "ed.pem" if args.ed25519 else None)
    path = workdir / "bench.yaml"
    data = config_data(store_url, port, args.connections, keys if run.sign else None)
    path.write_text(yaml.safe_dump(data))
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
            "size": len(adapter.builder.outbox_entry("send", message, ()).content),
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


def run_smtp_source(path: str, port: int, n: int, sessions: int, size: int) -> float:
    """Postfix's C load generator into the same sink: what the sink and the loopback allow."""
    command = [path, "-d", "-s", str(sessions), "-m", str(n), "-l", str(size)]
    command += ["-f", "news@bench.example.org", "-t", "reader@bench.example.org"]
    start = time.perf_counter()
    subprocess.run([*command, f"127.0.0.1:{port}"], check=True, capture_output=True)
    return n / (time.perf_counter() - start)


def smtp_source_path() -> str | None:
    return shutil.which("smtp-source") or next(
        (p for p in SMTP_SOURCE_PATHS if os.access(p, os.X_OK)), None
    )


def make_keys(folder: Path, ed25519: bool) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = serialization.PrivateFormat.TraditionalOpenSSL
    (folder / "dkim.pem").write_bytes(
        rsa_key.private_bytes(serialization.Encoding.PEM, pem, serialization.NoEncryption())
    )
    if ed25519:
        ed = ed25519_keys.Ed25519PrivateKey.generate()
        pkcs8 = serialization.PrivateFormat.PKCS8
        (folder / "ed.pem").write_bytes(
            ed.private_bytes(serialization.Encoding.PEM, pkcs8, serialization.NoEncryption())
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=20_000, help="readers (default 20,000)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--sink", choices=("auto", "smtp-sink", "aiosmtpd"), default="auto")
    parser.add_argument(
        "--baseline", type=int, default=5_000, help="readers mailed by the baseline (0: skip)"
    )
    parser.add_argument(
        "--no-dkim", action="store_true", help="skip the DKIM-signed run (2048-bit RSA)"
    )
    parser.add_argument(
        "--ed25519", action="store_true", help="sign with Ed25519 too (RFC 8463 dual signing)"
    )
    parser.add_argument(
        "--postgresql",
        default=DEFAULT_ADMIN_URL,
        help="PostgreSQL server for the PostgreSQL-ledger run (a throwaway database is made "
        "there), or 'none' to skip it",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="pairs of SQLite and PostgreSQL ledger runs, alternated; the median of their "
        "ratios is printed (on a busy machine one pair says little)",
    )
    parser.add_argument("--serve-sink", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sink:
        serve_sink(args.serve_sink)
        return
    runs = [Run("unsigned", "sqlite")]
    if not args.no_dkim:
        runs.append(Run("signed", "sqlite", sign=True))
    if args.postgresql != "none":
        runs.append(Run("postgresql", args.postgresql))
    port = free_port()
    sink, sink_name = start_sink(args.sink, port)
    results: dict[str, dict[str, Any]] = {}
    pairs: list[float] = []  # PostgreSQL / SQLite, one per alternated pair of runs
    ceiling = 0.0
    try:
        wait_for_port(port)
        with tempfile.TemporaryDirectory(prefix="email-bench-") as tmp:
            make_keys(Path(tmp), args.ed25519)
            for run in runs:
                results[run.label] = asyncio.run(run_adapter(args, run, port, Path(tmp)))
            if "postgresql" in results:
                pairs.append(results["postgresql"]["rate"] / results["unsigned"]["rate"])
                for n in range(2, args.rounds + 1):
                    again = Run(f"sqlite-{n}", "sqlite"), Run(f"postgresql-{n}", args.postgresql)
                    sqlite, pg = (asyncio.run(run_adapter(args, r, port, Path(tmp))) for r in again)
                    pairs.append(pg["rate"] / sqlite["rate"])
        first = results["unsigned"]
        baseline = run_baseline(args.baseline, port, first["payload"]) if args.baseline else 0
        source = smtp_source_path()
        if source is not None:
            ceiling = run_smtp_source(source, port, args.n, args.connections, first["size"])
    finally:
        sink.terminate()
        sink.wait(timeout=10)
    print(f"sink:       {sink_name}")
    print(f"machine:    {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}")
    for run in runs:
        result = results[run.label]
        signed = ""
        if run.sign:
            signed = ", DKIM-signed (RSA-2048" + (" + Ed25519)" if args.ed25519 else ")")
        commits = result["commits"]
        per_commit = args.n / commits if commits else 0
        print(
            f"{run.label + ':':<11} {args.n} readers, {args.connections} connections, "
            f"{result['store']} ledger{signed}: {result['seconds']:.2f} s = "
            f"{result['rate']:,.0f} msg/s ({result['note']})"
        )
        print(
            f"            {commits} group commits ({per_commit:.1f} messages each), "
            f"longest event-loop stall: {result['lag_ms']:.1f} ms, "
            f"sender CPU: {result['cpu_ms']:.2f} ms per message"
        )
    unsigned = first["rate"]
    if "signed" in results:
        print(f"signed / unsigned:       {results['signed']['rate'] / unsigned:.2f}x")
    if len(pairs) > 1:
        shown = ", ".join(f"{r:.2f}" for r in pairs)
        print(f"postgresql / sqlite:     {statistics.median(pairs):.2f}x (median of {shown})")
    elif "postgresql" in results:
        print(f"postgresql / sqlite:     {results['postgresql']['rate'] / unsigned:.2f}x")
    if baseline:
        print(
            f"baseline:   smtplib, 1 connection, a new EmailMessage per reader, "
            f"{args.baseline} readers: {baseline:,.0f} msg/s"
        )
        print(f"unsigned / baseline:     {unsigned / baseline:.1f}x")
    if ceiling:
        print(
            f"ceiling:    smtp-source, {args.connections} sessions, {args.n} messages of "
            f"{first['size']} bytes: {ceiling:,.0f} msg/s"
        )
        for run in runs:
            print(f"  {run.label + ' / ceiling:':<22} {results[run.label]['rate'] / ceiling:.2f}")
    else:
        print("ceiling:    smtp-source not installed (apt-get install postfix)")


if __name__ == "__main__":
    main()
