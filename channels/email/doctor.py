"""``distributor doctor`` for email: the SMTP server takes our login, the domain's DNS is right.

SMTP: connect, (START)TLS and AUTH as configured, then QUIT; no message is sent. DNS (dnspython):
the From domain's SPF and DMARC records, and, when DKIM signing is configured, that the key
published at ``<selector>._domainkey.<domain>`` is the public half of the configured key.
"""

from __future__ import annotations

import asyncio
import base64
import re
from pathlib import Path

import dkim.crypto
import dns.asyncresolver
import dns.exception
import dns.resolver

from distributor import errors
from distributor.config import AppConfig, ChannelConfig
from distributor.doctor import DoctorOptions, Finding
from distributor_channels.email import addresses, smtp
from distributor_channels.email.config import EmailChannelConfig


async def check(config: ChannelConfig, app: AppConfig, options: DoctorOptions) -> list[Finding]:
    assert isinstance(config, EmailChannelConfig)
    findings = [await _smtp(config)]
    resolver = dns.asyncresolver.Resolver(configure=options.nameserver is None)
    if options.nameserver is not None:
        resolver.nameservers = [options.nameserver[0]]
        resolver.port = options.nameserver[1]
    resolver.lifetime = options.timeout_seconds
    domain = addresses.domain_of(config.from_address)
    findings.append(await _spf(config.name, resolver, domain))
    findings.append(await _dmarc(config.name, resolver, domain))
    if config.dkim is not None:
        findings.append(await _dkim(config, resolver, config.dkim.domain or domain))
    return findings


async def _smtp(config: EmailChannelConfig) -> Finding:
    if config.smtp is None:
        return Finding(config.name, "smtp", False, "no smtp server configured")
    steps = {"starttls": "connect, STARTTLS", "tls": "connect over TLS", "none": "connect"}
    done = steps[config.smtp.security]
    if config.smtp.username is not None:
        done += f", AUTH as {config.smtp.username}"
    try:
        client = await smtp.connect(config)
    except errors.DeliveryError as exc:
        return Finding(config.name, "smtp", False, str(exc))
    await smtp.close_quietly(client)
    return Finding(config.name, "smtp", True, f"{config.smtp.describe()}: {done}")


async def _txt(resolver: dns.asyncresolver.Resolver, name: str) -> list[str]:
    """The TXT strings at ``name`` (each record's parts joined); [] when there are none."""
    try:
        answer = await resolver.resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]


async def _spf(channel: str, resolver: dns.asyncresolver.Resolver, domain: str) -> Finding:
    try:
        records = [r for r in await _txt(resolver, domain) if r.lower().startswith("v=spf1")]
    except dns.exception.DNSException as exc:
        return Finding(channel, "SPF", False, f"{domain}: DNS failed: {type(exc).__name__}")
    if not records:
        return Finding(channel, "SPF", False, f"{domain} publishes no SPF record (v=spf1 …)")
    if len(records) > 1:  # RFC 7208 4.5: more than one is a permanent error
        return Finding(channel, "SPF", False, f"{domain} publishes {len(records)} SPF records")
    return Finding(channel, "SPF", True, f"{domain}: {records[0]}")


async def _dmarc(channel: str, resolver: dns.asyncresolver.Resolver, domain: str) -> Finding:
    name = f"_dmarc.{domain}"
    try:
        records = [r for r in await _txt(resolver, name) if r.startswith("v=DMARC1")]
    except dns.exception.DNSException as exc:
        return Finding(channel, "DMARC", False, f"{name}: DNS failed: {type(exc).__name__}")
    if len(records) != 1:
        found = "no" if not records else str(len(records))
        return Finding(channel, "DMARC", False, f"{name}: {found} DMARC record (v=DMARC1 …)")
    policy = re.search(r"\bp=(\w+)", records[0])
    return Finding(channel, "DMARC", True, f"{name}: policy {policy[1] if policy else '?'}")


async def _dkim(
    config: EmailChannelConfig, resolver: dns.asyncresolver.Resolver, domain: str
) -> Finding:
    assert config.dkim is not None
    name = f"{config.dkim.selector}._domainkey.{domain}"
    try:
        pem = await asyncio.to_thread(Path(config.dkim.private_key_file).read_bytes)
        private = dkim.crypto.parse_pem_private_key(pem)
    except (OSError, dkim.crypto.UnparsableKeyError) as exc:
        return Finding(config.name, "DKIM", False, f"the private key cannot be read: {exc}")
    try:
        records = [r for r in await _txt(resolver, name) if "p=" in r]
    except dns.exception.DNSException as exc:
        return Finding(config.name, "DKIM", False, f"{name}: DNS failed: {type(exc).__name__}")
    if not records:
        return Finding(config.name, "DKIM", False, f"{name} publishes no DKIM key")
    tags = dict(part.strip().split("=", 1) for part in records[0].split(";") if "=" in part.strip())
    try:
        published = dkim.crypto.parse_public_key(base64.b64decode("".join(tags["p"].split())))
    except (ValueError, dkim.crypto.UnparsableKeyError) as exc:
        return Finding(config.name, "DKIM", False, f"{name}: the key does not parse: {exc}")
    if published["modulus"] != private["modulus"]:
        return Finding(
            config.name, "DKIM", False, f"{name}: the published key is not the configured key's"
        )
    return Finding(config.name, "DKIM", True, f"{name} matches the configured key")
