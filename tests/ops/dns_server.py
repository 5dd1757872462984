"""A local DNS server (dnslib) answering TXT queries from a dict: SPF, DKIM and DMARC tests."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSServer


def _chunks(text: str) -> list[bytes]:
    data = text.encode()
    return [data[i : i + 255] for i in range(0, len(data), 255)]  # a TXT string holds 255


class Zone(BaseResolver):  # type: ignore[misc]
    """Names (without the final dot) → their TXT records; other names do not exist."""

    def __init__(self, records: dict[str, list[str]]) -> None:
        self.records = records

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        if name not in self.records:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.TXT:
            for text in self.records[name]:
                reply.add_answer(RR(name, QTYPE.TXT, rdata=TXT(_chunks(text)), ttl=60))
        return reply


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        port: int = udp.getsockname()[1]
        return port


@contextmanager
def dns_server(zone: Zone) -> Iterator[int]:
    """Serve ``zone`` over UDP and TCP on 127.0.0.1; yields the port."""
    port = _free_port()
    servers = [DNSServer(zone, port=port, address="127.0.0.1", tcp=tcp) for tcp in (False, True)]
    for server in servers:
        server.start_thread()
    try:
        yield port
    finally:
        for server in servers:
            server.stop()
