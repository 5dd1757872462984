"""The message a reader receives: parts, headers, per-reader fields, DKIM, header injection."""

from __future__ import annotations

import base64
import email
import email.policy
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import dkim
import pytest

from distributor import errors
from distributor.rendering import Renderer
from distributor.types import RenderedMessage
from distributor_channels.email import addresses, markers
from distributor_channels.email.config import EmailChannelConfig
from distributor_channels.email.message import (
    PREVIEW_RECIPIENT,
    Recipient,
    build_story,
    fold_lines,
    preview_message,
)
from distributor_channels.email.payload import UNSUBSCRIBE_MARKER, EmailPayloads
from tests.email.world import World
from tests.helpers import write_config

DATE = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
READER = Recipient(
    address="reader@example.org",
    message_id="<a7.daily.r3@news.example.org>",
    unsubscribe_url="https://news.example.org/unsubscribe/daily.3.abc",
)


def channel(**changes: object) -> EmailChannelConfig:
    values: dict[str, object] = {
        "name": "newsletter",
        "platform": "email",
        "list": "daily",
        "list_title": "Daily News",
        "from_address": "Rédaction Daily <news@news.example.org>",
        "reply_to": "desk@news.example.org",
        "unsubscribe_mailto": "unsubscribe@news.example.org",
        "dry_run": True,
    }
    values.update(changes)
    return EmailChannelConfig.model_validate(values)


def payload(text: str = "Bonjour.\n", html: str = "<p>Bonjour.</p>\n", **extra: object) -> dict:  # type: ignore[type-arg]
    unsubscribe = markers.new_unsubscribe()  # what EmailPayloads puts in the template's slot
    values: dict[str, object] = {
        "subject": "Été : la passerelle ouvre",
        "text": f"{text}Unsubscribe: {unsubscribe}\n",
        "html": f'{html}<a href="{unsubscribe}">Unsubscribe</a>\n',
        "language": "fr",
        "article_id": 7,
        "unsubscribe_marker": unsubscribe,
    }
    values.update(extra)
    return values


def parse(data: bytes) -> email.message.EmailMessage:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


def test_the_message_has_the_parts_and_headers_mailbox_providers_expect() -> None:
    raw = build_story(channel(), payload(text="Été à Lyon.\n"), DATE).raw(READER)
    msg = parse(raw)
    assert msg.get_content_type() == "multipart/alternative"
    kinds = [part.get_content_type() for part in msg.iter_parts()]
    assert kinds == ["text/plain", "text/html"]  # plain first, the preferred part last
    assert msg["From"] == "Rédaction Daily <news@news.example.org>"
    assert msg["To"] == "reader@example.org"
    assert msg["Reply-To"] == "desk@news.example.org"
    assert msg["Subject"] == "Été : la passerelle ouvre"
    assert msg["Date"] == "Sun, 29 Nov 2026 09:00:00 +0000"
    assert msg["Message-ID"] == "<a7.daily.r3@news.example.org>"
    assert msg["List-Id"] == "Daily News <daily.news.example.org>"
    assert msg["List-Unsubscribe"] == (
        "<https://news.example.org/unsubscribe/daily.3.abc>, "
        "<mailto:unsubscribe@news.example.org?subject=unsubscribe>"
    )
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Content-Language"] == "fr"
    for name in ("From", "To", "Subject", "Date", "Message-ID"):
        assert len(msg.get_all(name) or []) == 1
    # Readable headers (no RFC 2047 words around URLs), 8bit bodies, CRLF, lines <= 998.
    assert b"List-Unsubscribe: <https://" in raw
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"")
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    assert text["Content-Transfer-Encoding"] == "8bit"
    assert "Unsubscribe: https://news.example.org/unsubscribe/daily.3.abc" in text.get_content()
    assert 'href="https://news.example.org/unsubscribe/daily.3.abc"' in html.get_content()


def test_copies_differ_only_in_the_reader_fields() -> None:
    story = build_story(channel(), payload(), DATE)
    other = Recipient("other@example.org", "<a7.daily.r4@news.example.org>", "https://x.org/u/4")
    first, second = story.raw(READER), story.raw(other)
    for value in (READER.address, READER.message_id, READER.unsubscribe_url):
        assert value.encode() in first and value.encode() not in second
    strip = re.compile(
        rb"reader@example\.org|<a7\.daily\.r3@[^>]+>|https://news\.example\.org/unsubscribe/daily\.3\.abc"
    )
    strip2 = re.compile(rb"other@example\.org|<a7\.daily\.r4@[^>]+>|https://x\.org/u/4")
    assert strip.sub(b"", first) == strip2.sub(b"", second)


def test_the_wire_copy_is_dot_stuffed() -> None:
    story = build_story(channel(), payload(text=".hidden line\n"), DATE)
    assert b"\r\n.hidden line" in story.raw(READER)
    wire = story.wire(READER)
    assert b"\r\n..hidden line" in wire and wire.endswith(b"\r\n")
    assert b"\r\n.\r\n" not in wire  # the final "." is written only after the ledger commit


def test_long_lines_are_folded_for_8bit() -> None:
    html = "<p>" + " ".join(["mot"] * 600) + "</p>"
    folded = fold_lines(html)
    assert max(len(line.encode()) for line in folded.split("\n")) <= 900
    assert folded.replace("\n", " ") == html
    raw = build_story(channel(), payload(html=html + "\n"), DATE).raw(READER)
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))


def test_ascii_stories_go_out_7bit() -> None:
    story = build_story(
        channel(from_address="news@news.example.org"), payload(subject="Hello"), DATE
    )
    assert not story.eight_bit
    assert b"Content-Transfer-Encoding: 7bit" in story.raw(READER)


@pytest.mark.parametrize(
    "value",
    [
        "reader@example.org\r\nBcc: victim@example.org",
        "reader@example.org\nRCPT TO:<x@example.org>",
        "a b@example.org",
    ],
)
def test_header_injection_through_reader_values_is_refused(value: str) -> None:
    story = build_story(channel(), payload(), DATE)
    with pytest.raises(ValueError, match="unsafe value"):
        story.raw(Recipient(value, READER.message_id, READER.unsubscribe_url))
    with pytest.raises(addresses.InvalidAddress):
        addresses.normalise(value)


def test_a_title_with_line_breaks_becomes_one_subject_line() -> None:
    raw = build_story(channel(), payload(subject="Title\r\nBcc: victim@example.org"), DATE).raw(
        READER
    )
    msg = parse(raw)
    assert msg["Subject"] == "Title Bcc: victim@example.org"
    assert msg["Bcc"] is None


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("from_address", "News <news@example.org>\r\nBcc: victim@example.org"),
        ("reply_to", "a@example.org, b@example.org"),
        ("unsubscribe_mailto", "not an address"),
        ("list_title", "Daily\nBcc: x"),
        ("message_id_domain", "bad domain"),
    ],
)
def test_config_refuses_header_injection_and_bad_addresses(key: str, value: str) -> None:
    with pytest.raises(ValueError, match=key):
        channel(**{key: value})


def test_addresses_are_normalised_once() -> None:
    assert addresses.normalise("  John.Doe@Example.ORG ") == "john.doe@example.org"
    assert addresses.normalise("x@bücher.de") == "x@xn--bcher-kva.de"
    for bad in ("用户@example.org", '"quoted"@example.org', "nobody", "a@localhost"):
        with pytest.raises(addresses.InvalidAddress):
            addresses.normalise(bad)


def test_the_outbox_preview_is_the_real_message(tmp_path: Path) -> None:
    config = channel()
    message = RenderedMessage(payload=payload(), summary="")
    preview = parse(preview_message(config, "send", message, []))
    assert preview["To"] == PREVIEW_RECIPIENT
    assert preview["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert preview["List-Id"] == "Daily News <daily.news.example.org>"
    assert UNSUBSCRIBE_MARKER not in preview.as_string()


def test_templates_without_an_unsubscribe_link_are_refused(tmp_path: Path) -> None:
    (tmp_path / "bare.html.j2").write_text("<p>{{ title }}</p>", encoding="utf-8")
    builder = EmailPayloads(channel(template="bare.html.j2"), Renderer([tmp_path]))
    from tests.unit.test_payloads import view

    with pytest.raises(errors.TemplateError, match="unsubscribe"):
        builder.render(view("email"))


@pytest.fixture(scope="session")
def dkim_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """A 2048-bit RSA key made for this test session, and its DNS TXT record."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a DKIM test key")
    folder = tmp_path_factory.mktemp("dkim")
    key = folder / "dkim.pem"
    subprocess.run(
        ["openssl", "genrsa", "-traditional", "-out", str(key), "2048"],
        check=True,
        capture_output=True,
    )
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return key, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


async def test_a_dkim_signature_covers_both_list_unsubscribe_headers_and_verifies(
    world: World, tmp_path: Path, dkim_key: tuple[Path, bytes]
) -> None:
    key, record = dkim_key
    signing = {"selector": "news2026", "private_key_file": str(key)}
    data = {**world.loaded.app.model_dump(mode="json")}
    loaded = write_config(
        tmp_path,
        {
            "version": 1,
            "store": data["store"],
            "web": {
                "base_url": "https://news.example.org",
                "secret": "dkim-test-secret-91b2c3d4e5f60718293a",
            },
            "channels": [
                {
                    **world.channel.model_dump(mode="json", exclude_none=True),
                    "dkim": signing,
                }
            ],
        },
        name="dkim.yaml",
    )
    world.loaded = loaded
    await world.subscribe("a@example.org", "b@example.org")
    message, context = await world.story()
    await world.adapter().send(message, context)
    looked_up: list[bytes] = []

    def dns(name: bytes, timeout: int = 5) -> bytes:
        looked_up.append(name)
        return record

    for received in world.smtp.messages:
        signed = received.data
        assert dkim.verify(signed, dnsfunc=dns)
        header = parse(signed)["DKIM-Signature"].replace(" ", "").replace("\r\n", "")
        tags = dict(part.split("=", 1) for part in header.split(";") if "=" in part)
        signed_headers = tags["h"].lower().split(":")
        assert "list-unsubscribe" in signed_headers
        assert "list-unsubscribe-post" in signed_headers
        assert tags["d"] == "news.example.org" and tags["s"] == "news2026"
        # A changed List-Unsubscribe (someone else's link) breaks the signature.
        forged = signed.replace(b"/unsubscribe/daily.", b"/unsubscribe/dailx.", 1)
        assert not dkim.verify(forged, dnsfunc=dns)
    assert looked_up[0] == b"news2026._domainkey.news.example.org."


async def test_an_unreadable_dkim_key_breaks_the_channel(world: World, tmp_path: Path) -> None:
    (tmp_path / "bad.pem").write_text("not a key", encoding="utf-8")
    from distributor_channels.email.config import DkimConfig

    signing = DkimConfig(selector="s1", private_key_file=str(tmp_path / "bad.pem"))
    await world.subscribe("a@example.org")
    message, context = await world.story()
    with pytest.raises(errors.ChannelBroken, match="no PEM private key"):
        await world.adapter(dkim=signing).send(message, context)
    assert world.smtp.messages == []
