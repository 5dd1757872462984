"""One reader's SMTP transaction, two-phase with the ledger.

MAIL, RCPT, DATA and the message body go out as usual; the final "." is written by the group
committer once "sent" is committed (see ``groupcommit``), and a refusal of the message after
the "." is committed through it too before the connection carries another message.
aiosmtplib's ``sendmail`` cannot stop before the dot, so this uses its lower-level API:
``execute_command`` for MAIL, RCPT and DATA, then the protocol's ``write`` and
``read_response``. Addresses were validated when readers joined (ASCII, no spaces, no
CR/LF), so they go into the commands as they are; aiosmtplib's ``mail``/``rcpt`` would
re-parse each one with ``email.utils`` (50 µs a message).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiosmtplib

from distributor_channels.email.groupcommit import GroupCommitter
from distributor_channels.email.models import SendStatus
from distributor_channels.email.sendlog import Claimed, Outcome
from distributor_channels.email.smtp import is_temporary


class ConnectionLost(Exception):
    """The connection broke mid-transaction; ``retry`` says the reader may go to another one."""

    def __init__(self, reason: str, *, retry: bool) -> None:
        super().__init__(reason)
        self.retry = retry


class SenderRefused(Exception):
    """The server will not take mail from our envelope sender (5xx on MAIL): a channel problem."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Result:
    """``outcome`` is None when the server accepted the message (it is recorded "sent").

    ``recorded`` is True when the outcome is already committed to the ledger (a refusal after
    the "."); the caller records the others.
    """

    outcome: Outcome | None
    recorded: bool = False


_BROKEN = (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError)


async def exchange(
    client: aiosmtplib.SMTP,
    reader: Claimed,
    data: bytes,
    *,
    sender: bytes,
    mail_options: list[bytes],
    committer: GroupCommitter,
    read_timeout: float,
) -> Result:
    """Mail ``data`` (dot-stuffed, without the final ".") to one reader.

    Raises:
        ConnectionLost: the connection is gone; open a new one.
        SenderRefused: the server refuses our sender for good.
    """
    sid = reader.subscriber_id
    try:
        # One deadline for the whole exchange rather than aiosmtplib's wait_for per reply
        # (timeout=None): the same protection for a quarter of the bookkeeping.
        async with asyncio.timeout(read_timeout):
            outcome = await _start(client, sid, reader.address, data, sender, mail_options)
    except (*_BROKEN, aiosmtplib.SMTPResponseException, UnicodeError) as exc:
        client.close()
        raise ConnectionLost(_reason(exc), retry=True) from exc
    if outcome is not None:
        return Result(outcome)
    protocol = client.protocol
    assert protocol is not None  # _start wrote the body through it
    pending = committer.submit(sid, client)
    try:
        # Waiting for the reply arms the protocol before the committer writes the ".".
        async with asyncio.timeout(read_timeout):
            reply = await protocol.read_response(timeout=None)
    except (*_BROKEN, aiosmtplib.SMTPResponseException) as exc:
        await pending.processed.wait()
        client.close()
        # Not committed: the server never got the "." and dropped the message; another
        # connection may mail it. Committed with the dot written: it was most likely accepted.
        # (Committed without the dot: the committer recorded it deferred.)
        raise ConnectionLost(_reason(exc), retry=not pending.committed) from exc
    if reply.code == 250:
        return Result(None)
    status = SendStatus.DEFERRED if is_temporary(reply.code) else SendStatus.FAILED
    outcome = Outcome(sid, status, f"{reply.code} {reply.message}")
    # The ledger has said "sent" since before the ".": until the refusal is committed, a crash
    # would leave this reader counted as mailed. Commit it before this connection carries
    # another message, so a crash costs at most the one message in flight per connection.
    return Result(outcome, recorded=await committer.record_refused(outcome))


async def _start(
    client: aiosmtplib.SMTP,
    sid: int,
    address: str,
    data: bytes,
    sender: bytes,
    mail_options: list[bytes],
) -> Outcome | None:
    """MAIL, RCPT, DATA and the body; an outcome when the server said no before the body."""
    reply = await client.execute_command(
        b"MAIL", b"FROM:<" + sender + b">", *mail_options, timeout=None
    )
    if reply.code != 250:
        if not is_temporary(reply.code):
            raise SenderRefused(reply.code, reply.message)
        await _reset(client)
        return Outcome(sid, SendStatus.DEFERRED, f"{reply.code} {reply.message}")
    rcpt = b"TO:<" + address.encode("ascii") + b">"
    reply = await client.execute_command(b"RCPT", rcpt, timeout=None)
    if reply.code not in (250, 251):
        await _reset(client)
        status = SendStatus.DEFERRED if is_temporary(reply.code) else SendStatus.BOUNCED
        return Outcome(sid, status, f"{reply.code} {reply.message}")
    reply = await client.execute_command(b"DATA", timeout=None)
    if reply.code != 354:
        await _reset(client)
        status = SendStatus.DEFERRED if is_temporary(reply.code) else SendStatus.FAILED
        return Outcome(sid, status, f"{reply.code} {reply.message}")
    protocol = client.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("connection lost")
    protocol.write(data)
    return None


async def _reset(client: aiosmtplib.SMTP) -> None:
    try:
        await client.rset()
    except aiosmtplib.SMTPResponseException as exc:
        client.close()
        raise ConnectionLost(f"RSET refused: {exc.code} {exc.message}", retry=True) from exc


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
