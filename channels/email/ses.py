"""Amazon SES bounce and complaint notifications, delivered by SNS to ``POST /bounces/ses``.

Every notification is checked before it is believed: its topic must be one the configuration
lists, its signing certificate must come from SNS (``https://sns.<region>.amazonaws.com/…pem``,
or the configured folder of trusted certificates, which is what tests and closed networks use),
and its signature (SignatureVersion 1: SHA-1, 2: SHA-256, RSA PKCS#1 v1.5) must verify over the
fields SNS signs. A subscription confirmation is logged with its URL for the admin to open;
nothing is fetched on a notification's say-so.

The SES event names the message's envelope sender (``mail.source``): our per-message bounce
address, so the reader and the story come from our own signed token, not from SES's text.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from distributor_channels.email.bounce_config import SesConfig
from distributor_channels.email.bounces import Notice
from distributor_channels.email.models import BounceKind
from distributor_channels.email.verp import BounceTokens

log = logging.getLogger("distributor.email.ses")

_SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
_SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
    ),
    "UnsubscribeConfirmation": (
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
    ),
}  # fmt: skip
_KINDS = {"Permanent": BounceKind.HARD, "Transient": BounceKind.SOFT}


class Refused(Exception):
    """The notification is not one we can believe; the message says why (for the log)."""


class CertificateSource:
    """Signing certificates by URL: from a trusted folder, else fetched once from SNS."""

    def __init__(self, folder: str | None, client: httpx.AsyncClient | None = None) -> None:
        self.folder = Path(folder) if folder else None
        self.client = client
        self._cache: dict[str, x509.Certificate] = {}

    async def get(self, url: str) -> x509.Certificate:
        parts = urlsplit(url)
        name = PurePosixPath(parts.path).name
        if parts.scheme != "https" or not _SNS_HOST.match(parts.hostname or ""):
            raise Refused(f"signing certificate not from SNS: {parts.hostname!r}")
        if not name.endswith(".pem"):
            raise Refused("the signing certificate URL names no .pem file")
        if url in self._cache:
            return self._cache[url]
        if self.folder is not None:
            path = self.folder / name
            if not path.is_file():
                raise Refused(f"signing certificate {name} is not among the trusted ones")
            pem = path.read_bytes()
        else:
            client = self.client or httpx.AsyncClient(timeout=10.0)
            try:
                response = await client.get(url)
                response.raise_for_status()
                pem = response.content
            except httpx.HTTPError as exc:
                raise Refused(f"cannot fetch the signing certificate: {exc}") from exc
            finally:
                if self.client is None:
                    await client.aclose()
        try:
            certificate = x509.load_pem_x509_certificate(pem)
        except ValueError as exc:
            raise Refused(f"signing certificate {name} is not a PEM certificate") from exc
        self._cache[url] = certificate
        return certificate


async def verify(envelope: Mapping[str, Any], certificates: CertificateSource) -> None:
    """Raises Refused unless SNS signed this envelope."""
    kind = str(envelope.get("Type", ""))
    fields = _SIGNED_FIELDS.get(kind)
    if fields is None:
        raise Refused(f"unknown SNS message type {kind!r}")
    version = str(envelope.get("SignatureVersion", ""))
    algorithm: hashes.HashAlgorithm
    if version == "1":
        algorithm = hashes.SHA1()  # noqa: S303 - SNS SignatureVersion 1 is SHA-1
    elif version == "2":
        algorithm = hashes.SHA256()
    else:
        raise Refused(f"unknown SignatureVersion {version!r}")
    signed = "".join(
        f"{name}\n{envelope[name]}\n" for name in fields if envelope.get(name) is not None
    ).encode("utf-8")
    try:
        signature = base64.b64decode(str(envelope.get("Signature", "")), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Refused("the signature is not base64") from exc
    certificate = await certificates.get(str(envelope.get("SigningCertURL", "")))
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise Refused("the signing certificate has no RSA key")
    try:
        key.verify(signature, signed, padding.PKCS1v15(), algorithm)
    except InvalidSignature as exc:
        raise Refused("the signature does not verify") from exc


def notices(event: Mapping[str, Any], tokens: BounceTokens) -> list[Notice]:
    """The bounce or complaint in one SES event (``notificationType`` or ``eventType``)."""
    kind = str(event.get("notificationType") or event.get("eventType") or "")
    mail = event.get("mail") or {}
    tag = tokens.parse(str(mail.get("source", ""))) if isinstance(mail, dict) else None
    if tag is None:
        return []
    if kind == "Bounce":
        bounce = event.get("bounce") or {}
        bounce_kind = _KINDS.get(str(bounce.get("bounceType")), BounceKind.SOFT)
        recipients = bounce.get("bouncedRecipients") or [{}]
        first = recipients[0] if isinstance(recipients[0], dict) else {}
        detail = " ".join(
            str(x) for x in (first.get("status"), first.get("diagnosticCode")) if x
        ) or str(bounce.get("bounceSubType", "bounce"))
        return [Notice(bounce_kind, f"SES: {detail}"[:300], tag=tag)]
    if kind == "Complaint":
        complaint = event.get("complaint") or {}
        feedback = complaint.get("complaintFeedbackType") or "abuse"
        return [Notice(BounceKind.COMPLAINT, f"spam complaint (SES, {feedback})", tag=tag)]
    return []


def topics(configs: list[SesConfig]) -> set[str]:
    return {arn for config in configs for arn in config.topic_arns}


def parse(body: bytes) -> dict[str, Any]:
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("the body is not JSON") from exc
    if not isinstance(envelope, dict):
        raise ValueError("the body is not an SNS message")
    return envelope
