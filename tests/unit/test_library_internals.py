"""The client libraries' internals the adapters rely on are still there, with the same shape.

The adapters reach below some libraries' public API: aiosmtplib's protocol (to hold back a
message's final "." until the ledger has committed), discord.py's ``Route.BASE`` (the only way
to set an API root) and voice-warning switches, python-telegram-bot's wording and exception
chaining (to tell a request that never left from one that may have posted). A new major version
may drop any of them without a type error anywhere, so these tests name what went missing and
the module that needs it. pyproject.toml pins each library to the major version tested here.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import socket
import tomllib
import warnings
from collections.abc import AsyncIterator
from datetime import timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import aiohttp
import aiosmtplib
import aiosmtplib.protocol
import discord
import discord.http
import discord.webhook.async_
import httpx
import pytest
import pytest_asyncio
import telegram
import telegram.request
import telegram.warnings
from aiosmtpd.smtp import SMTP as SMTPServer
from telegram import error as tg

from distributor_channels.telegram import client as tg_client
from distributor_channels.telegram import error_map

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
# Distribution → the major version whose internals the code uses (and pyproject pins).
PINNED_MAJORS = {"aiosmtplib": 5, "dkimpy": 1, "discord.py": 2, "python-telegram-bot": 22}


def internals_gone(library: str, what: str, needed_by: str) -> str:
    version = metadata.version(library)
    return (
        f"{library} {version} no longer has {what}, which {needed_by} relies on; "
        "adapt that module before allowing this version in pyproject.toml"
    )


# -- the pins ------------------------------------------------------------------------------------


def _requirement(name: str) -> str:
    dependencies = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["dependencies"]
    for line in dependencies:
        found = re.match(r"^([A-Za-z0-9_.-]+)", line)
        if found and found.group(1).lower() == name.lower():
            return str(line)
    raise AssertionError(f"{name} is not a dependency in pyproject.toml")


@pytest.mark.parametrize(("library", "major"), sorted(PINNED_MAJORS.items()))
def test_libraries_with_used_internals_are_pinned_to_the_tested_major(
    library: str, major: int
) -> None:
    requirement = _requirement(library)
    assert f"<{major + 1}" in requirement and f">={major}." in requirement, (
        f"pyproject.toml must pin {library} to the tested major version "
        f"(>={major}.x,<{major + 1}); it says {requirement!r}"
    )
    installed = int(metadata.version(library).split(".")[0])
    assert installed == major, (
        f"{library} {metadata.version(library)} is installed, but its internals were checked "
        f"against {major}.x: review this file and the modules it names, then update the pin"
    )


# -- dkimpy: channels/email/dkim.py (tests/email/test_dkim.py checks the results) ---------------


def test_dkimpy_still_has_the_canonicalisation_the_signer_uses() -> None:
    import dkim
    from dkim import canonicalization

    for name in ("rfc822_parse", "select_headers"):
        assert callable(getattr(dkim, name, None)), internals_gone(
            "dkimpy", f"dkim.{name}", "channels/email/dkim.py"
        )
    policy = getattr(canonicalization, "CanonicalizationPolicy", None)
    assert policy is not None and hasattr(policy, "from_c_value"), internals_gone(
        "dkimpy", "CanonicalizationPolicy.from_c_value", "channels/email/dkim.py"
    )


# -- aiosmtplib: channels/email/exchange.py and groupcommit.py ---------------------------------

EXCHANGE = "channels/email/exchange.py (and groupcommit.py)"


class _Accept:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


@pytest_asyncio.fixture
async def smtp_port() -> AsyncIterator[int]:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTPServer(_Accept()), "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def test_aiosmtplib_api_shapes() -> None:
    command = inspect.signature(aiosmtplib.SMTP.execute_command).parameters
    assert any(p.kind is p.VAR_POSITIONAL for p in command.values()) and "timeout" in command, (
        internals_gone("aiosmtplib", "SMTP.execute_command(*args, timeout=…)", EXCHANGE)
    )
    protocol = aiosmtplib.protocol.SMTPProtocol
    assert callable(getattr(protocol, "write", None)), internals_gone(
        "aiosmtplib", "SMTPProtocol.write(data)", EXCHANGE
    )
    read = getattr(protocol, "read_response", None)
    assert inspect.iscoroutinefunction(read) and "timeout" in inspect.signature(read).parameters, (
        internals_gone("aiosmtplib", "SMTPProtocol.read_response(timeout=…)", EXCHANGE)
    )
    client = aiosmtplib.SMTP(hostname="127.0.0.1")
    assert hasattr(client, "protocol") and client.protocol is None, internals_gone(
        "aiosmtplib", "SMTP.protocol (None until connected)", EXCHANGE
    )


async def test_aiosmtplib_protocol_writes_raw_bytes_and_reads_replies(smtp_port: int) -> None:
    # The two-phase send: commands through execute_command, the body and the final "." written
    # straight to the protocol, the reply read from it.
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp_port, timeout=10, start_tls=False)
    await client.connect()
    try:
        assert isinstance(client.protocol, aiosmtplib.protocol.SMTPProtocol), internals_gone(
            "aiosmtplib", "an SMTPProtocol on SMTP.protocol once connected", EXCHANGE
        )
        await client.ehlo()
        reply = await client.execute_command(b"MAIL", b"FROM:<news@example.org>", timeout=None)
        assert reply.code == 250
        reply = await client.execute_command(b"RCPT", b"TO:<reader@example.org>", timeout=None)
        assert reply.code == 250
        reply = await client.execute_command(b"DATA", timeout=None)
        assert reply.code == 354
        client.protocol.write(b"Subject: x\r\n\r\nbody\r\n")
        client.protocol.write(b".\r\n")
        final = await client.protocol.read_response(timeout=None)
        assert (final.code, isinstance(final.message, str)) == (250, True), internals_gone(
            "aiosmtplib", "SMTPProtocol.read_response returning an SMTPResponse", EXCHANGE
        )
    finally:
        client.close()


# -- discord.py: channels/discord/apibase.py and transport.py ----------------------------------


def test_discord_route_base_sets_every_url() -> None:
    route = getattr(discord.http, "Route", None)
    assert route is not None and isinstance(getattr(route, "BASE", None), str), internals_gone(
        "discord.py", "discord.http.Route.BASE", "channels/discord/apibase.py"
    )
    assert discord.webhook.async_.Route is route, internals_gone(
        "discord.py",
        "webhooks building their URLs from discord.http.Route",
        "channels/discord/apibase.py",
    )
    original = route.BASE
    try:
        route.BASE = "http://127.0.0.1:9/api/v10"
        hook = route(
            "POST", "/webhooks/{webhook_id}/{webhook_token}", webhook_id=1, webhook_token="t"
        )
        bot = route("POST", "/channels/{channel_id}/messages", channel_id=2)
    finally:
        route.BASE = original
    assert hook.url == "http://127.0.0.1:9/api/v10/webhooks/1/t", internals_gone(
        "discord.py", "Route.url read from Route.BASE", "channels/discord/apibase.py"
    )
    assert bot.url == "http://127.0.0.1:9/api/v10/channels/2/messages"


def test_discord_voice_warning_switches_exist() -> None:
    for switch in ("warn_nacl", "warn_dave"):
        assert isinstance(getattr(discord.VoiceClient, switch, None), bool), internals_gone(
            "discord.py", f"VoiceClient.{switch}", "channels/discord/transport.py"
        )


async def test_discord_client_takes_the_trace_hooks_and_the_rate_limit_cap() -> None:
    trace = aiohttp.TraceConfig()
    intents = discord.Intents.none()
    client = discord.Client(intents=intents, http_trace=trace, max_ratelimit_timeout=45.0)
    try:
        assert getattr(client.http, "http_trace", None) is trace, internals_gone(
            "discord.py",
            "Client(http_trace=…) reaching its HTTP client",
            "channels/discord/transport.py and request_hooks.py",
        )
        assert getattr(client.http, "max_ratelimit_timeout", None) == 45.0, internals_gone(
            "discord.py",
            "Client(max_ratelimit_timeout=…) reaching its HTTP client",
            "channels/discord/transport.py",
        )
    finally:
        await client.close()


# -- python-telegram-bot: channels/telegram/client.py and error_map.py -------------------------

ERROR_MAP = "channels/telegram/error_map.py"


def test_ptb_pool_timeout_wording() -> None:
    source = inspect.getsource(telegram.request.HTTPXRequest)
    assert "was *not* sent" in source, internals_gone(
        "python-telegram-bot",
        'the words "was *not* sent" in its pool-timeout error',
        f"{ERROR_MAP} (request_was_not_sent)",
    )


async def test_ptb_network_errors_chain_the_httpx_cause() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nobody listens there any more: the connection is refused before anything is written.
    request = telegram.request.HTTPXRequest(connect_timeout=5.0)
    await request.initialize()
    try:
        with pytest.raises(tg.NetworkError) as caught:
            await request.post(f"http://127.0.0.1:{port}/bot1:x/sendMessage")
    finally:
        await request.shutdown()
    assert isinstance(caught.value.__cause__, httpx.HTTPError), internals_gone(
        "python-telegram-bot", "NetworkError raised from the httpx error", ERROR_MAP
    )
    assert error_map.request_was_not_sent(caught.value)


def test_ptb_retry_after_and_its_deprecation_warning() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exc = tg.RetryAfter(7)
        fractional = tg.RetryAfter(timedelta(seconds=1.5))
    assert error_map.retry_after_seconds(exc) == 7.0
    assert error_map.retry_after_seconds(fractional) == 1.5
    deprecations = [
        w for w in caught if issubclass(w.category, telegram.warnings.PTBDeprecationWarning)
    ]
    # client.py silences exactly this warning by its wording; without it, every 429 warns.
    for warning in deprecations:
        assert re.match(r"(?s).*`retry_after`", str(warning.message)), internals_gone(
            "python-telegram-bot",
            "the `retry_after` wording of its deprecation warning",
            "channels/telegram/client.py",
        )


def test_ptb_bot_methods_take_api_kwargs() -> None:
    for method, name in tg_client.METHODS.items():
        function = getattr(telegram.Bot, name, None)
        assert function is not None and "api_kwargs" in inspect.signature(function).parameters, (
            internals_gone(
                "python-telegram-bot",
                f"Bot.{name}(…, api_kwargs=…) for {method}",
                "channels/telegram/client.py",
            )
        )
    parameters = inspect.signature(telegram.request.HTTPXRequest).parameters
    assert "httpx_kwargs" in parameters, internals_gone(
        "python-telegram-bot", "HTTPXRequest(httpx_kwargs=…)", "channels/telegram/client.py"
    )
