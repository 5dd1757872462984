"""DKIM signatures: dkimpy's canonicalisation, OpenSSL's RSA and Ed25519 (through cryptography).

``h=`` always lists both List-Unsubscribe headers (RFC 8058 §4): dkimpy's default header list
has ``list-unsubscribe`` but not ``list-unsubscribe-post`` (docs/email.md).

Why it is fast. dkimpy signs with RSA in pure Python (about 6 ms a message). Here dkimpy only
canonicalises (relaxed/relaxed) and selects the headers, exactly as it does when it signs; the
hashing and the signature are OpenSSL's (about 0.25 ms for RSA-2048). And a story's copies
differ only in three values (address, Message-ID, unsubscribe URL) that hold no whitespace and
no line break, so canonicalising the story once with its markers in place and then filling in
each reader's values gives the same bytes as canonicalising each reader's copy
(``StorySigner``; tests check every signature with dkimpy's own verifier, and that the body
hash and the RSA signature equal dkimpy's for the same message and time).

Ed25519 (RFC 8463) may be added as a second signature: receivers that do not know it ignore it.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import dkim
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from dkim.canonicalization import CanonicalizationPolicy

from distributor_channels.email.config import DkimConfig

SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"reply-to",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"mime-version",
    b"content-type",
    b"content-language",
)
RELAXED = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
MIN_RSA_BITS = 1024  # Gmail's floor; 2048 is recommended
_FOLD_AT = 76
_B64_LINE = 72


class DkimKeyError(ValueError):
    """The private key file cannot be read or is not a usable PEM key."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One key and the selector its public half is published under."""

    selector: str
    algorithm: bytes  # b"rsa-sha256" or b"ed25519-sha256"
    sign: Callable[[bytes], bytes]  # the canonical header bytes -> the raw signature

    @classmethod
    def load(cls, selector: str, pem: bytes, where: str) -> SigningKey:
        """Raises:
        DkimKeyError: not a PEM RSA or Ed25519 private key (the message never shows it).
        """
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise DkimKeyError(f"the DKIM key in {where} is not a usable PEM private key") from exc
        if isinstance(key, rsa.RSAPrivateKey):
            if key.key_size < MIN_RSA_BITS:
                raise DkimKeyError(
                    f"the DKIM key in {where} has {key.key_size} bits; mailbox providers "
                    f"require at least {MIN_RSA_BITS} (2048 recommended)"
                )
            rsa_key = key
            pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
            return cls(selector, b"rsa-sha256", lambda data: rsa_key.sign(data, pkcs1, sha256))
        if isinstance(key, ed25519.Ed25519PrivateKey):
            ed_key = key
            # RFC 8463 §3: Ed25519 signs the SHA-256 hash of the canonical headers.
            return cls(
                selector,
                b"ed25519-sha256",
                lambda data: ed_key.sign(hashlib.sha256(data).digest()),
            )
        raise DkimKeyError(f"the DKIM key in {where} is neither RSA nor Ed25519")


def read_key(selector: str, path: str | Path) -> SigningKey:
    """Raises:
    DkimKeyError: unreadable file, or not a PEM private key.
    """
    try:
        pem = Path(path).read_bytes()
    except OSError as exc:
        raise DkimKeyError(f"cannot read the DKIM key file {path}: {exc.strerror}") from exc
    if b"PRIVATE KEY-----" not in pem:
        raise DkimKeyError(f"the DKIM key file {path} holds no PEM private key")
    return SigningKey.load(selector, pem, str(path))


def _fold_list(names: Sequence[bytes], start: int) -> bytes:
    """``a : b : c`` folded before a name when a line would pass ``_FOLD_AT`` octets."""
    out, width = b"", start
    for index, name in enumerate(names):
        piece = name if index == 0 else b" : " + name
        if index and width + len(piece) > _FOLD_AT:
            piece = b" :\r\n " + name
            width = 1 + len(name)
        else:
            width += len(piece)
        out += piece
    return out


def signer_for(config: DkimConfig, default_domain: str) -> DkimSigner:
    """The signer a channel's ``dkim:`` describes (reads the key files: call it off the loop).

    Raises:
        DkimKeyError: an unreadable or unusable key file.
    """
    return DkimSigner.from_file(
        config.selector,
        config.domain or default_domain,
        config.private_key_file,
        ed25519_selector=config.ed25519_selector,
        ed25519_path=config.ed25519_private_key_file,
    )


class DkimSigner:
    """Signs for ``domain`` with one key, or two (RSA and Ed25519: RFC 8463 dual signing)."""

    def __init__(
        self,
        domain: str,
        keys: Sequence[SigningKey],
        *,
        clock: Callable[[], float] = time.time,
        include_headers: Sequence[bytes] = SIGNED_HEADERS,
    ) -> None:
        if not keys:
            raise ValueError("a DKIM signer needs at least one key")
        self.domain = domain.encode("ascii")
        self.keys = tuple(keys)
        self.include = tuple(name.lower() for name in include_headers)
        self._clock = clock
        # Everything before t= is the same for every message a key signs.
        self._prefixes = [self._prefix(key) for key in self.keys]

    def __repr__(self) -> str:
        selectors = ", ".join(f"{k.selector}:{k.algorithm.decode()}" for k in self.keys)
        return f"DkimSigner(domain={self.domain.decode()!r}, keys=[{selectors}])"

    @classmethod
    def from_file(
        cls,
        selector: str,
        domain: str,
        path: str | Path,
        *,
        ed25519_selector: str | None = None,
        ed25519_path: str | Path | None = None,
    ) -> DkimSigner:
        """Raises:
        DkimKeyError: an unreadable or unusable key file (the message never shows the key).
        """
        keys = [read_key(selector, path)]
        if ed25519_path is not None:
            second = read_key(ed25519_selector or selector, ed25519_path)
            if second.algorithm != b"ed25519-sha256":
                raise DkimKeyError(f"the DKIM key file {ed25519_path} is not an Ed25519 key")
            keys.append(second)
        signer = cls(domain, keys)
        signer.sign(b"From: a@example.org\r\nSubject: key check\r\n\r\nkey check\r\n")
        return signer

    def _prefix(self, key: SigningKey) -> tuple[bytes, bytes]:
        # dkimpy's order of tags (t= before h=), so its signature over the same message and
        # time is ours byte for byte.
        head = (
            b" v=1; a=" + key.algorithm + b"; c=relaxed/relaxed;\r\n d=" + self.domain
            + b"; i=@" + self.domain + b";\r\n q=dns/txt; s=" + key.selector.encode("ascii")
            + b"; t="
        )  # fmt: skip
        return head, b";\r\n h=" + _fold_list(self.include, 3) + b";\r\n bh="

    def sign(self, message: bytes) -> bytes:
        """The message with its ``DKIM-Signature`` header(s) prepended (CRLF line endings)."""
        headers, body = dkim.rfc822_parse(message)
        return self._headers(self._signed_headers(headers), RELAXED.canonicalize_body(body)) + (
            message
        )

    def for_story(self, raw: bytes, markers: Sequence[str]) -> StorySigner:
        """A signer for the copies of one message that differ only where ``markers`` are."""
        return StorySigner(self, raw, markers)

    def _signed_headers(self, headers: list[tuple[bytes, bytes]]) -> bytes:
        selected = dkim.select_headers(RELAXED.canonicalize_headers(headers), self.include)
        return b"".join(name + b":" + value for name, value in selected)

    def _headers(self, signed_headers: bytes, canonical_body: bytes) -> bytes:
        body_hash = base64.b64encode(hashlib.sha256(canonical_body).digest())
        stamp = b"%d" % int(self._clock())
        out = []
        for key, (head, tail) in zip(self.keys, self._prefixes, strict=True):
            value = head + stamp + tail + body_hash + b";\r\n b="
            ((name, canonical),) = RELAXED.canonicalize_headers([(b"DKIM-Signature", value)])
            # RFC 6376 §3.7: the signature's own header is hashed last, b= empty, no CRLF.
            hashed = signed_headers + name + b":" + canonical.rstrip()
            signature = base64.b64encode(key.sign(hashed))
            lines = [signature[i : i + _B64_LINE] for i in range(0, len(signature), _B64_LINE)]
            out.append(b"DKIM-Signature:" + value + b"\r\n ".join(lines) + b"\r\n")
        return b"".join(out)


class _Filled:
    """Bytes split at marker strings; ``fill`` joins them back with one reader's values."""

    def __init__(self, data: bytes, markers: Sequence[str]) -> None:
        encoded = [marker.encode("ascii") for marker in markers]
        index = {marker: i for i, marker in enumerate(encoded)}
        split = re.compile(b"(" + b"|".join(re.escape(marker) for marker in encoded) + b")")
        self.pieces = split.split(data)
        self.slots = [(i, index[self.pieces[i]]) for i in range(1, len(self.pieces), 2)]

    def fill(self, values: Sequence[bytes]) -> bytes:
        out = self.pieces.copy()
        for position, field in self.slots:
            out[position] = values[field]
        return b"".join(out)


class StorySigner:
    """Signs each reader's copy of one story: canonicalised once, filled in per reader.

    Equal to canonicalising each copy because relaxed canonicalisation only touches whitespace
    and line ends (and header names), and markers and values hold neither.
    """

    def __init__(self, signer: DkimSigner, raw: bytes, markers: Sequence[str]) -> None:
        self.signer = signer
        headers, body = dkim.rfc822_parse(raw)
        self._headers = _Filled(signer._signed_headers(headers), markers)
        self._body = _Filled(RELAXED.canonicalize_body(body), markers)

    def headers(self, values: Sequence[bytes]) -> bytes:
        """The ``DKIM-Signature`` header(s) for the copy with these values (no dot-stuffing
        needed: no line of them starts with ".")."""
        return self.signer._headers(self._headers.fill(values), self._body.fill(values))
