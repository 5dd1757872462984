"""DKIM: OpenSSL's signatures over dkimpy's canonicalisation, checked by dkimpy's verifier.

RSA PKCS#1 v1.5 is deterministic, so for the same message and time our ``bh=`` and ``b=`` must
be dkimpy's own, byte for byte: that is the proof that the canonicalisation and the header
selection are dkimpy's.
"""

from __future__ import annotations

import base64
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from distributor_channels.email import markers
from distributor_channels.email.config import DkimConfig
from distributor_channels.email.dkim import (
    SIGNED_HEADERS,
    DkimKeyError,
    DkimSigner,
    SigningKey,
    signer_for,
)
from distributor_channels.email.message import Recipient, build_story
from tests.email.test_message import channel

NOW = 1_790_000_000
DOMAIN = "news.example.org"


@pytest.fixture(scope="module")
def rsa_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


@pytest.fixture(scope="module")
def ed_pem() -> bytes:
    return ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def txt_record(pem: bytes) -> bytes:
    key = serialization.load_pem_private_key(pem, password=None)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return b"v=DKIM1; k=ed25519; p=" + base64.b64encode(raw)
    assert isinstance(key, rsa.RSAPrivateKey)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def dns_for(records: dict[bytes, bytes]):  # type: ignore[no-untyped-def]
    def dns(name: bytes, timeout: int = 5) -> bytes:
        return records[name]

    return dns


def tags(message: bytes, index: int = 0) -> dict[bytes, bytes]:
    headers, _ = dkim.rfc822_parse(message)
    values = [v for n, v in headers if n.lower() == b"dkim-signature"]
    return {k: re.sub(rb"\s+", b"", v) for k, v in dkim.util.parse_tag_value(values[index]).items()}


# Messages that exercise every rule of relaxed canonicalisation: runs of spaces and tabs, trailing
# whitespace, folded headers, empty lines at the end of the body, a lone LF, upper-case header
# names, a repeated header, 8-bit text, a line that starts with a dot.
MESSAGES = [
    b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hello\r\n\r\nbody\r\n",
    b"FROM:  Someone \t <a@news.example.org>  \r\nTo: b@example.org\r\n"
    b"Subject: a folded\r\n\t subject   line\r\nDate: Sun, 29 Nov 2026 09:00:00 +0000\r\n"
    b"List-Unsubscribe: <https://x.example/u/1>,\r\n <mailto:u@x.example?subject=unsubscribe>\r\n"
    b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nX-Other: not signed\r\n\r\n"
    b"line  with   spaces \t \r\n\ttabbed\r\n.dot line\r\n\r\n\r\n\r\n",
    b"From: a@example.org\r\nSubject: empty body\r\n\r\n",
    "From: Rédaction <a@example.org>\nTo: b@example.org\nSubject: =?utf-8?q?=C3=89t=C3=A9?=\n"
    "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
    "Été à Paris  \n\n".encode(),
    b"From: a@example.org\r\nTo: first@example.org\r\nTo: second@example.org\r\n\r\nx\r\n",
]


@pytest.mark.parametrize("message", MESSAGES)
def test_signatures_equal_dkimpys_and_verify(
    message: bytes, rsa_pem: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    signer = DkimSigner(DOMAIN, [SigningKey.load("s1", rsa_pem, "test")], clock=lambda: NOW)
    ours = signer.sign(message)
    monkeypatch.setattr(dkim.time, "time", lambda: NOW)  # dkimpy's t= is the clock's
    theirs = dkim.sign(
        message,
        b"s1",
        DOMAIN.encode(),
        rsa_pem,
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=list(SIGNED_HEADERS),
    )
    mine, reference = tags(ours), tags(theirs + message)
    assert mine[b"bh"] == reference[b"bh"]
    assert mine[b"b"] == reference[b"b"]
    assert mine[b"h"] == reference[b"h"]
    dns = dns_for({b"s1._domainkey.news.example.org.": txt_record(rsa_pem)})
    assert dkim.verify(ours, dnsfunc=dns)
    assert ours.endswith(message)
    for line in ours[: -len(message)].split(b"\r\n"):
        assert len(line) <= 78  # folded like a well-behaved header


def second_verifies(message: bytes, dns: object) -> bool:
    try:
        return bool(dkim.DKIM(message).verify(idx=1, dnsfunc=dns))
    except dkim.DKIMException:
        return False


def story_payload(text: str, html: str) -> dict[str, object]:
    unsubscribe = markers.new_unsubscribe()
    return {
        "subject": "Été : la passerelle   ouvre",
        "text": text.replace("URL", unsubscribe),
        "html": html.replace("URL", unsubscribe),
        "unsubscribe_marker": unsubscribe,
        "language": "fr",
    }


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("Bonjour.\nUnsubscribe: URL\n", '<p>Bonjour.</p><a href="URL">unsubscribe</a>\n'),
        # Whitespace right around the reader's value, trailing spaces, blank lines at the end.
        ("A  line \t\nLeave:\t URL  \n.starts with a dot\n\n\n", "<p>\tURL\t</p>  \n\n"),
        ("ASCII only\r\nURL", "<b>URL</b>"),
    ],
)
def test_a_storys_copies_are_signed_as_dkimpy_would_sign_each(
    text: str, html: str, rsa_pem: bytes, ed_pem: bytes
) -> None:
    """Canonicalised once with markers, filled per reader == canonicalising each copy."""
    config = channel()
    story = build_story(config, story_payload(text, html), datetime(2026, 11, 29, tzinfo=UTC))
    keys = [SigningKey.load("s1", rsa_pem, "rsa"), SigningKey.load("ed1", ed_pem, "ed")]
    signer = DkimSigner(DOMAIN, keys, clock=lambda: NOW)
    per_story = signer.for_story(story.template, story.markers.all)
    dns = dns_for(
        {
            b"s1._domainkey.news.example.org.": txt_record(rsa_pem),
            b"ed1._domainkey.news.example.org.": txt_record(ed_pem),
        }
    )
    for n in (1, 22, 333):
        reader = Recipient(
            f"reader{n}@example.org",
            f"<a7.daily.r{n}@news.example.org>",
            f"https://news.example.org/unsubscribe/daily.{n}.{'x' * n}",
        )
        raw = story.raw(reader)
        signed = per_story.headers(reader.values()) + raw
        assert signed == signer.sign(raw)
        assert dkim.verify(signed, dnsfunc=dns)  # the RSA signature, on top
        assert second_verifies(signed, dns)  # the Ed25519 one
        assert tags(signed, 1)[b"a"] == b"ed25519-sha256"
        # Another reader's link in this copy breaks both signatures.
        forged = raw.replace(f"daily.{n}.".encode(), b"daily.9.")
        forged = per_story.headers(reader.values()) + forged
        assert not dkim.verify(forged, dnsfunc=dns)
        assert not second_verifies(forged, dns)


def test_key_files_are_checked(tmp_path: Path, rsa_pem: bytes, ed_pem: bytes) -> None:
    # cryptography will not make a key this small; OpenSSL's command line will.
    command = ["openssl", "genrsa", "-out", str(tmp_path / "small.pem"), "768"]
    subprocess.run(command, check=True, capture_output=True)
    (tmp_path / "rsa.pem").write_bytes(rsa_pem)
    (tmp_path / "ed.pem").write_bytes(ed_pem)
    (tmp_path / "junk.pem").write_bytes(b"-----BEGIN PRIVATE KEY-----\nnope\n")
    with pytest.raises(DkimKeyError, match="768 bits"):
        DkimSigner.from_file("s1", DOMAIN, tmp_path / "small.pem")
    with pytest.raises(DkimKeyError, match="not a usable PEM") as caught:
        DkimSigner.from_file("s1", DOMAIN, tmp_path / "junk.pem")
    assert "nope" not in str(caught.value)
    with pytest.raises(DkimKeyError, match="not an Ed25519 key"):
        DkimSigner.from_file("s1", DOMAIN, tmp_path / "rsa.pem", ed25519_path=tmp_path / "rsa.pem")
    config = DkimConfig(
        selector="s1",
        private_key_file=str(tmp_path / "rsa.pem"),
        ed25519_selector="ed1",
        ed25519_private_key_file=str(tmp_path / "ed.pem"),
    )
    signer = signer_for(config, DOMAIN)
    assert [k.algorithm for k in signer.keys] == [b"rsa-sha256", b"ed25519-sha256"]
    assert "BEGIN" not in repr(signer)


def test_the_ed25519_settings_go_together() -> None:
    with pytest.raises(ValueError, match="go together"):
        DkimConfig(selector="s1", private_key_file="k.pem", ed25519_selector="ed1")
    with pytest.raises(ValueError, match="must differ"):
        DkimConfig(
            selector="s1",
            private_key_file="k.pem",
            ed25519_selector="s1",
            ed25519_private_key_file="e.pem",
        )
