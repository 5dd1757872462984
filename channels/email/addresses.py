"""Email addresses: validated by a library, normalised once, never trusted raw in a header.

Subscriber addresses are kept in their ASCII form (IDN domains as punycode, no SMTPUTF8 local
parts), lower-cased, so one reader is one row and the address can go into an envelope and a
``To:`` header byte for byte.
"""

from __future__ import annotations

import email.policy
from email.headerregistry import Address
from email.utils import formataddr

from email_validator import EmailNotValidError, validate_email


class InvalidAddress(ValueError):
    """An address that cannot be mailed; the message says why, for the person who typed it."""


def normalise(address: str) -> str:
    """Validate a reader's address (syntax only, no DNS) and return its canonical form.

    Raises:
        InvalidAddress: the address is malformed, has CR/LF, or needs SMTPUTF8.
    """
    candidate = address.strip()
    if not candidate or any(ch in candidate for ch in "\r\n\0"):
        raise InvalidAddress("an email address is a single line like reader@example.org")
    try:
        checked = validate_email(candidate, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from exc
    return str(checked.ascii_email).lower()


def mailbox(value: str) -> tuple[str, str]:
    """Split ``"Name <addr@domain>"`` (or a bare address) into a display name and an address.

    The address is validated; the name may not carry CR/LF. Used for From, Reply-To and the
    envelope sender, which come from the admin's configuration.

    Raises:
        InvalidAddress: the value is not one mailbox.
    """
    if any(ch in value for ch in "\r\n\0"):
        raise InvalidAddress("line breaks are not allowed in an address")
    header = email.policy.default.header_factory("to", value)
    found = header.addresses
    if len(found) != 1 or header.defects:
        raise InvalidAddress(f"not one mailbox: {value!r}")
    name, address = str(found[0].display_name), str(found[0].addr_spec)
    try:
        checked = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(f"{address!r}: {exc}") from exc
    return name, str(checked.ascii_email)


def format_mailbox(value: str) -> str:
    """The header form of a configured mailbox, quoted the way ``email`` expects."""
    name, address = mailbox(value)
    return formataddr((name, address)) if name else address


def domain_of(value: str) -> str:
    """The domain of a configured mailbox: ``example.org`` for ``News <a@example.org>``."""
    _name, address = mailbox(value)
    return Address(addr_spec=address).domain.lower()
