"""SMTP connections (aiosmtplib) and what their failures mean for the dispatcher.

4xx is "try later", 5xx is "no". A refused login, a TLS failure or a sender the server will not
relay for is the channel's problem, not one story's: those pause the channel (``ChannelBroken``).
"""

from __future__ import annotations

import ssl
from typing import TypeVar

import aiosmtplib

from distributor import errors
from distributor_channels.email.config import EmailChannelConfig, SmtpConfig

PLATFORM = "email"

E = TypeVar("E", bound=errors.DeliveryError)


def is_temporary(code: int) -> bool:
    return 400 <= code < 500


def new_client(smtp: SmtpConfig, local_hostname: str) -> aiosmtplib.SMTP:
    """An unconnected client for the configured server; ``connect`` logs in (see there)."""
    return aiosmtplib.SMTP(
        hostname=smtp.host,
        port=smtp.port,
        timeout=smtp.timeout_seconds,
        use_tls=smtp.security == "tls",
        start_tls=smtp.security == "starttls",
        validate_certs=smtp.validate_certs,
        # Not socket.getfqdn(): slow without DNS, and it would announce this machine's name.
        local_hostname=local_hostname,
    )


async def connect(config: EmailChannelConfig) -> aiosmtplib.SMTP:
    """Connect, (START)TLS and log in.

    Raises:
        errors.ChannelBroken: login refused, TLS failed, the server refuses us for good.
        errors.TransientDeliveryError: unreachable, timed out, 4xx.
    """
    assert config.smtp is not None
    client = new_client(config.smtp, config.domain)
    try:
        await client.connect()
        if client.is_ehlo_or_helo_needed:
            await client.ehlo()  # so the server's extensions (8BITMIME, SIZE, AUTH) are known now
        await _login(config, config.smtp, client)
    except (aiosmtplib.SMTPException, OSError, ValueError) as exc:
        client.close()
        raise failure(config, "connect", exc) from exc
    except errors.ChannelBroken:
        client.close()
        raise
    return client


async def _login(config: EmailChannelConfig, smtp: SmtpConfig, client: aiosmtplib.SMTP) -> None:
    """Log in when credentials are configured; a server that offers no AUTH then is broken.

    Sending without the login the admin configured would be refused or, worse, relayed
    unauthenticated; and no retry makes such a server offer AUTH, so it pauses the channel.
    """
    if smtp.username is None or smtp.password is None:
        return
    if not client.supports_extension("auth"):
        raise error(
            errors.ChannelBroken,
            config,
            "connect",
            f"{smtp.describe()} offers no AUTH, yet a username and password are configured "
            "(is this the right server and port?)",
        )
    await client.login(smtp.username, smtp.password.get_secret_value())


def error(
    cls: type[E],
    config: EmailChannelConfig,
    operation: str,
    message: str,
    status: int | None = None,
) -> E:
    """A ``distributor.errors`` error in this channel's words."""
    return cls(message, channel=config.name, platform=PLATFORM, operation=operation, status=status)


def failure(config: EmailChannelConfig, operation: str, exc: BaseException) -> errors.DeliveryError:
    """The ``distributor.errors`` class for an aiosmtplib (or socket, or TLS) failure."""
    where = config.smtp.describe() if config.smtp is not None else "smtp"
    broken, transient = errors.ChannelBroken, errors.TransientDeliveryError
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return error(
            broken, config, operation, f"{where} refused the login: {exc.message}", exc.code
        )
    if isinstance(exc, ssl.SSLError):
        return error(broken, config, operation, f"TLS with {where} failed: {exc}")
    lacking = type(exc) is aiosmtplib.SMTPException
    if lacking or isinstance(exc, aiosmtplib.SMTPNotSupported | ValueError):
        # A bare SMTPException is aiosmtplib finding the server lacks what the setup needs
        # (STARTTLS, an AUTH method it knows): no retry changes that.
        return error(broken, config, operation, f"{where}: {exc}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        cls = transient if is_temporary(exc.code) else broken
        return error(cls, config, operation, f"{where} answered: {exc.message}", exc.code)
    reason = str(exc) or type(exc).__name__
    return error(transient, config, operation, f"{where} unreachable: {reason}")


async def close_quietly(client: aiosmtplib.SMTP) -> None:
    """QUIT if the connection is idle and alive, else just drop it."""
    if client.is_connected:
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            client.close()
    else:
        client.close()


def refused(config: EmailChannelConfig, what: str, code: int, text: str) -> errors.DeliveryError:
    if is_temporary(code):
        return error(
            errors.TransientDeliveryError, config, "send", f"{what} deferred: {text}", code
        )
    return error(errors.PermanentDeliveryError, config, "send", f"{what} refused: {text}", code)
