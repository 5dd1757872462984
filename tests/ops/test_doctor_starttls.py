"""`distributor doctor` checks STARTTLS for real: aiosmtpd with a certificate this test makes.

The server offers STARTTLS and accepts no login before it. The doctor passes when the
certificate is trusted (its own file given as the trust store, as a private CA would be) or
when the admin turned certificate checks off, and fails, saying why, when the certificate is
untrusted or the server offers no STARTTLS at all.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.email.world import email_config
from tests.fakes.smtp import FakeSMTP
from tests.integration.test_cli import cli
from tests.ops.dns_server import Zone, dns_server
from tests.ops.test_doctor import rows
from tests.tls import self_signed

PASSWORD = "tls-only-password"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key (PEM files)."""
    return self_signed(tmp_path_factory.mktemp("tls"), "doctor test SMTP")


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[FakeSMTP]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    with FakeSMTP(username="news", password=PASSWORD, tls_context=context) as server:
        yield server


async def smtp_check(
    tmp_path: Path, server: FakeSMTP, *, validate_certs: bool, trust: Path | None = None
) -> tuple[str, subprocess.CompletedProcess[str]]:
    """The doctor's verdict on the SMTP server ("ok" or "FAIL") and its whole run."""
    data = email_config(f"sqlite+aiosqlite:///{tmp_path / 'news.sqlite3'}", tmp_path, server)
    data["channels"][0]["smtp"].update(
        security="starttls", username="news", password=PASSWORD, validate_certs=validate_certs
    )
    config = tmp_path / "news.yaml"
    config.write_text(yaml.safe_dump(data))
    env = {"DISTRIBUTOR_WEB_SECRET": "s" * 40}
    if trust is not None:  # OpenSSL's trust store for this process: the private CA
        env["SSL_CERT_FILE"] = str(trust)
    with dns_server(Zone({})) as port:  # the DNS checks fail here; only SMTP is looked at
        result = await asyncio.to_thread(
            cli, "doctor", "-c", str(config), "--nameserver", f"127.0.0.1:{port}",
            cwd=tmp_path, env=env,
        )  # fmt: skip
    return rows(result.stdout)[("newsletter", "smtp")], result


async def test_starttls_with_a_trusted_certificate_passes(
    tls_server: FakeSMTP, certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    verdict, result = await smtp_check(
        tmp_path, tls_server, validate_certs=True, trust=certificate[0]
    )
    assert verdict == "ok", result.stdout + result.stderr
    assert "STARTTLS, AUTH as news" in result.stdout
    assert tls_server.messages == []
    assert PASSWORD not in result.stdout + result.stderr


async def test_an_untrusted_certificate_fails_unless_checks_are_off(
    tls_server: FakeSMTP, tmp_path: Path
) -> None:
    verdict, result = await smtp_check(tmp_path, tls_server, validate_certs=True)
    assert verdict == "FAIL"
    assert "certificate" in result.stdout.lower()
    assert result.returncode == 1

    verdict, result = await smtp_check(tmp_path, tls_server, validate_certs=False)
    assert verdict == "ok", result.stdout + result.stderr


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_a_server_without_starttls_fails(tmp_path: Path) -> None:
    with FakeSMTP(username="news", password=PASSWORD) as plain:
        verdict, result = await smtp_check(tmp_path, plain, validate_certs=False)
    assert verdict == "FAIL"
    assert "starttls" in result.stdout.lower()
