"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, recording every accepted message.

It can be scripted per recipient (``script_rcpt``: a 5xx refusal, or 4xx a few times then
accept; ``script_data``: the same for the answer to the final "."), can refuse a share of
messages after their "." at random (``data_fault_rate``), can require a login (and STARTTLS
before it, given a ``tls_context``), and can run a hook in the server thread when a message
arrives (``on_message``), before it answers 250: the crash tests use that to kill the sender
at a known point. Every transaction is logged per
connection (``connections``), with how the connection ended, so a crash test can tell which
message each killed connection had in flight. ``port=0`` does not work with aiosmtpd's
controller (docs/email.md), so a free port is picked first.
"""

from __future__ import annotations

import email
import email.policy
import random
import ssl
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.fakes.server import START_TIMEOUT, free_port

ACCEPTED = "250 2.0.0 Message accepted for delivery"


@dataclass(frozen=True)
class Received:
    """One message the server accepted (it answered 250 to the final ".")."""

    mail_from: str
    rcpt_to: tuple[str, ...]
    data: bytes
    mail_options: tuple[str, ...] = ()

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Transaction:
    """One MAIL … transaction as the server saw it.

    ``data`` and ``reply`` stay empty while the final "." never came (the client went away
    after the body, or before it); ``reply`` is then the answer to the ".".
    """

    rcpt_to: list[str] = field(default_factory=list)
    data: bytes = b""
    reply: str = ""

    @property
    def accepted(self) -> bool:
        return self.reply.startswith("250")


@dataclass
class Connection:
    """One client connection: its transactions in order, and whether it ended with QUIT."""

    number: int
    transactions: list[Transaction] = field(default_factory=list)
    quit: bool = False


@dataclass
class _State:
    messages: list[Received] = field(default_factory=list)
    rcpt_script: dict[str, list[str]] = field(default_factory=dict)
    rcpt_seen: Counter[str] = field(default_factory=Counter)
    data_script: dict[str, list[str]] = field(default_factory=dict)
    # Keyed by id() of aiosmtpd's per-connection session, which the tuple keeps alive.
    connections: dict[int, tuple[Any, Connection]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def connection(self, session: Any) -> Connection:
        """The log of ``session``'s connection (call with ``lock`` held)."""
        entry = self.connections.get(id(session))
        if entry is None:
            entry = self.connections[id(session)] = (session, Connection(len(self.connections)))
        return entry[1]


class _Handler:
    def __init__(self, fake: FakeSMTP) -> None:
        self.fake = fake

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if self.fake.mail_reply:
            return self.fake.mail_reply
        state = self.fake.state
        with state.lock:
            state.connection(session).transactions.append(Transaction())
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        state = self.fake.state
        with state.lock:
            state.rcpt_seen[address] += 1
            script = state.rcpt_script.get(address)
            reply = script.pop(0) if script else None
            if reply is None and self.fake.rng.random() < self.fake.rcpt_fault_rate:
                reply = "451 4.3.0 Temporary failure, try again later"
                self.fake.faults += 1
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        with state.lock:
            transactions = state.connection(session).transactions
            if transactions:
                transactions[-1].rcpt_to.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        received = Received(
            mail_from=envelope.mail_from,
            rcpt_to=tuple(envelope.rcpt_tos),
            data=bytes(envelope.original_content or envelope.content),
            mail_options=tuple(envelope.mail_options),
        )
        hook = self.fake.on_message
        state = self.fake.state
        with state.lock:
            transactions = state.connection(session).transactions
            transaction = transactions[-1] if transactions else Transaction()
            transaction.data = received.data
            refusal = self._data_refusal(received.rcpt_to)
            transaction.reply = refusal or ACCEPTED
            if refusal:
                return refusal
            state.messages.append(received)
            count = len(state.messages)
        if hook is not None:
            hook(received, count)
        return ACCEPTED

    def _data_refusal(self, recipients: tuple[str, ...]) -> str | None:
        """The scripted or random refusal of a message after its "." (lock held)."""
        for address in recipients:
            script = self.fake.state.data_script.get(address)
            if script:
                return script.pop(0)
        if self.fake.rng.random() < self.fake.data_fault_rate:
            self.fake.data_faults += 1
            return "451 4.3.0 Temporary failure after the data, try again later"
        return None

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        with self.fake.state.lock:
            self.fake.state.connection(session).quit = True
        return "221 Bye"


class FakeSMTP:
    """``with FakeSMTP() as smtp:`` starts it; ``smtp.messages`` is what it accepted."""

    def __init__(
        self,
        *,
        username: str | None = None,
        password: str | None = None,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.state = _State()
        self.on_message: Callable[[Received, int], None] | None = None
        self.mail_reply: str | None = None  # e.g. "553 5.7.1 Sender not allowed" for every MAIL
        self.rcpt_fault_rate = 0.0  # share of recipients answered 451 (retry later), at random
        self.data_fault_rate = 0.0  # share of messages answered 451 after their final "."
        self.rng = random.Random(0)
        self.faults = 0
        self.data_faults = 0
        self.credentials = (username, password) if username is not None else None
        options: dict[str, Any] = {}
        if self.credentials is not None:
            options.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=tls_context is not None,
            )
        if tls_context is not None:  # offers STARTTLS, and takes no mail before it
            options.update(tls_context=tls_context, require_starttls=True)
        self.controller = Controller(
            _Handler(self),
            hostname=self.host,
            port=self.port,
            ready_timeout=START_TIMEOUT,
            **options,
        )

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and self.credentials is not None
            and (auth_data.login.decode(), auth_data.password.decode()) == self.credentials
        )
        return AuthResult(success=ok, handled=False)

    def start(self) -> FakeSMTP:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> FakeSMTP:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting ------------------------------------------------------------------------

    def script_rcpt(self, address: str, *replies: str) -> None:
        """Answer RCPT TO:<address> with these replies, in order, then accept it.

        ``script_rcpt(a, "550 5.1.1 No such user")`` refuses once; use ``refuse`` to refuse
        every time.
        """
        with self.state.lock:
            self.state.rcpt_script[address] = list(replies)

    def refuse(self, address: str, reply: str = "550 5.1.1 No such user") -> None:
        with self.state.lock:
            self.state.rcpt_script[address] = [reply] * 1000

    def script_data(self, address: str, *replies: str) -> None:
        """Answer the final "." of the next messages to ``address`` with these replies, in
        order (e.g. ``"451 4.3.0 Try again later"``), then accept them."""
        with self.state.lock:
            self.state.data_script[address] = list(replies)

    # -- what happened --------------------------------------------------------------------

    @property
    def messages(self) -> list[Received]:
        with self.state.lock:
            return list(self.state.messages)

    def per_recipient(self) -> Counter[str]:
        """How many messages each address received."""
        counts: Counter[str] = Counter()
        for message in self.messages:
            counts.update(message.rcpt_to)
        return counts

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages if address in m.rcpt_to]

    def rcpt_attempts(self, address: str) -> int:
        with self.state.lock:
            return self.state.rcpt_seen[address]

    @property
    def connections(self) -> list[Connection]:
        """Every connection that began a transaction, in the order they began."""
        with self.state.lock:
            return [connection for _session, connection in self.state.connections.values()]
