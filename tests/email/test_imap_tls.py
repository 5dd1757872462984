"""The bounce mailbox over TLS: IMAPS and STARTTLS against a real Dovecot with its own certificate.

The certificate is self-signed, so the reads that succeed turn certificate checks off; one test
keeps them on and must be refused. Dovecot's log says whether a login came over TLS.
"""

from __future__ import annotations

import imaplib
import time
from collections.abc import Iterator
from typing import Any

import pytest

from distributor_channels.email.bounce_config import ImapConfig
from distributor_channels.email.imap import ImapError, poll
from tests.email.dovecot import Dovecot, dovecot_path

MAIL = b"From: postmaster@example.net\r\nTo: bounces@example.org\r\nSubject: x\r\n\r\nbody\r\n"


@pytest.fixture(scope="module")
def tls_dovecot() -> Iterator[Dovecot]:
    if dovecot_path() is None:
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd)")
    with Dovecot.start(tls=True) as server:
        yield server


@pytest.fixture(scope="module")
def plain_dovecot() -> Iterator[Dovecot]:
    if dovecot_path() is None:
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd)")
    with Dovecot.start() as server:
        yield server


def imap_config(server: Dovecot, **changes: Any) -> ImapConfig:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "security": "starttls",
        "username": server.user,
        "password": server.password,
        "validate_certs": False,
        "timeout_seconds": 10,
    }
    values.update(changes)
    return ImapConfig.model_validate(values)


def deliver(server: Dovecot, count: int) -> None:
    client = imaplib.IMAP4("127.0.0.1", server.port)
    try:
        client.login(server.user, server.password)
        for _ in range(count):
            assert client.append("INBOX", None, None, MAIL)[0] == "OK"
    finally:
        client.logout()


def tls_logins(server: Dovecot) -> int:
    return sum(
        1 for line in server.log().splitlines() if "Login: user=" in line and ", TLS," in line
    )


def tls_logins_reach(server: Dovecot, count: int) -> bool:
    """Dovecot's log process writes a moment after the login: give it a few seconds."""
    deadline = time.monotonic() + 5
    while tls_logins(server) < count:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return tls_logins(server) == count


async def read_all(config: ImapConfig) -> list[bytes]:
    seen: list[bytes] = []

    async def handle(raw: bytes) -> bool:
        seen.append(raw)
        return True

    await poll(config, handle)
    return seen


async def test_starttls_upgrades_before_the_login(tls_dovecot: Dovecot) -> None:
    deliver(tls_dovecot, 2)
    before = tls_logins(tls_dovecot)
    seen = await read_all(imap_config(tls_dovecot))
    assert len(seen) == 2 and all(b"Subject: x" in raw for raw in seen)
    assert tls_logins_reach(tls_dovecot, before + 1)


async def test_imaps_reads_over_tls_from_the_first_byte(tls_dovecot: Dovecot) -> None:
    deliver(tls_dovecot, 1)
    before = tls_logins(tls_dovecot)
    config = imap_config(tls_dovecot, security="tls", port=tls_dovecot.tls_port)
    assert len(await read_all(config)) == 1
    assert tls_logins_reach(tls_dovecot, before + 1)


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_an_untrusted_certificate_is_refused_without_a_login(
    tls_dovecot: Dovecot, security: str
) -> None:
    port = tls_dovecot.port if security == "starttls" else tls_dovecot.tls_port
    config = imap_config(tls_dovecot, security=security, port=port, validate_certs=True)
    before = tls_dovecot.log().count("Login:")
    with pytest.raises(ImapError, match="CERTIFICATE_VERIFY_FAILED") as caught:
        await read_all(config)
    assert f"127.0.0.1:{port} ({security})" in str(caught.value)
    assert tls_dovecot.password not in str(caught.value)
    assert tls_dovecot.log().count("Login:") == before


async def test_a_server_without_starttls_gets_no_clear_text_login(plain_dovecot: Dovecot) -> None:
    with pytest.raises(ImapError, match="does not offer STARTTLS; the login was not sent"):
        await read_all(imap_config(plain_dovecot))
    assert "Login:" not in plain_dovecot.log()


def test_clear_text_is_refused_for_a_remote_server_but_starttls_is_not() -> None:
    values = {"host": "imap.example.org", "username": "u", "password": "p"}
    with pytest.raises(ValueError, match="use tls or starttls"):
        ImapConfig.model_validate({**values, "security": "none"})
    assert ImapConfig.model_validate({**values, "security": "starttls"}).security == "starttls"
