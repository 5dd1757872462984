"""The bounce mailbox, read over IMAP (aioimaplib) on a schedule while ``distributor run`` runs.

Each poll logs in, reads every message of the folder, hands each to ``handle`` and deletes the
ones it handled (``\\Deleted`` + EXPUNGE), so a message is acted on once; a message whose
handling failed (the store was down) stays for the next poll. Suppressing a reader twice is
harmless, so a crash between handling and expunging costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aioimaplib

from distributor_channels.email.bounce_config import ImapConfig

log = logging.getLogger("distributor.email.imap")

BATCH = 200  # messages per poll at most: a flood waits for the next poll, the loop stays free


class ImapError(Exception):
    """The mailbox could not be read; the message names the server, never the password."""


@dataclass
class PollReport:
    read: int = 0
    handled: int = 0
    failed: int = 0


async def poll(config: ImapConfig, handle: Callable[[bytes], Awaitable[bool]]) -> PollReport:
    """Read the folder once. ``handle`` returns True when the message may be deleted.

    Raises:
        ImapError: cannot connect, log in or select the folder.
    """
    where = config.describe()
    client = _client(config)
    report = PollReport()
    try:
        await client.wait_hello_from_server()
        if config.security == "starttls":
            await _start_tls(client, config)
        reply = await client.login(config.username, config.password.get_secret_value())
        if reply.result != "OK":
            raise ImapError(f"{where} refused the login for {config.username}")
        reply = await client.select(config.folder)
        if reply.result != "OK":
            raise ImapError(f"{where}: no folder {config.folder!r}")
        reply = await client.uid_search("ALL", charset=None)
        uids = reply.lines[0].split() if reply.result == "OK" and reply.lines else []
        done: list[bytes] = []
        for uid in uids[:BATCH]:
            raw = await _fetch(client, uid.decode("ascii"))
            if raw is None:
                continue
            report.read += 1
            if await handle(raw):
                report.handled += 1
                done.append(uid)
            else:
                report.failed += 1
        if done:
            await client.uid("store", b",".join(done).decode("ascii"), "+FLAGS.SILENT (\\Deleted)")
            await client.expunge()
        await client.logout()
    except (OSError, TimeoutError, aioimaplib.AioImapException) as exc:
        raise ImapError(f"{where}: {type(exc).__name__}: {exc}") from exc
    return report


def _tls_context(config: ImapConfig) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not config.validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _client(config: ImapConfig) -> aioimaplib.IMAP4:
    if config.security == "tls":
        return aioimaplib.IMAP4_SSL(
            config.host,
            config.port,
            timeout=config.timeout_seconds,
            ssl_context=_tls_context(config),
        )
    return aioimaplib.IMAP4(config.host, config.port, timeout=config.timeout_seconds)


async def _start_tls(client: aioimaplib.IMAP4, config: ImapConfig) -> None:
    """Upgrade the connection with STARTTLS before the login, or fail: never log in in clear.

    aioimaplib knows the command but not the upgrade, so the protocol's transport is wrapped
    here (``loop.start_tls``); what the server said before TLS is forgotten (RFC 3501 6.2.1).
    """
    protocol = client.protocol
    if "STARTTLS" not in protocol.capabilities:
        raise ImapError(f"{config.describe()} does not offer STARTTLS; the login was not sent")
    reply = await asyncio.wait_for(
        protocol.execute(aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)),
        config.timeout_seconds,
    )
    if reply.result != "OK":
        raise ImapError(f"{config.describe()} refused STARTTLS; the login was not sent")
    loop = asyncio.get_running_loop()
    protocol.transport = await asyncio.wait_for(
        loop.start_tls(
            protocol.transport,
            protocol,
            _tls_context(config),
            server_hostname=config.host,
        ),
        config.timeout_seconds,
    )
    await asyncio.wait_for(protocol.capability(), config.timeout_seconds)


async def _fetch(client: aioimaplib.IMAP4, uid: str) -> bytes | None:
    reply = await client.uid("fetch", uid, "(BODY.PEEK[])")
    if reply.result != "OK":
        return None
    # lines: b'1 FETCH (UID 7 BODY[] {123}', bytearray(message), b')', b'Success'
    for line in reply.lines:
        if isinstance(line, bytearray):
            return bytes(line)
    return None
