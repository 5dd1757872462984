"""The outbox transport: the platform's own payload builder, with files instead of a network.

It is the zero-config default and what ``run --dry-run`` uses: every send, edit and delete
becomes one file holding exactly what would have gone over the wire.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Sequence
from pathlib import Path

from distributor.adapter import OutboxEntry, PayloadBuilder
from distributor.clock import Clock
from distributor.config import ChannelConfig
from distributor.types import DeliveryTicket, MessageRef, RenderedMessage, SendResult


def _write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:40].rstrip("-") or "story"


class OutboxAdapter:
    """Writes ``<outbox>/<channel>/<article>-<slug>-v<version>-<operation><ext>`` files."""

    supports_edit = True
    supports_delete = True
    # Re-running a send rewrites the same file name, so a crash can never duplicate a post.
    idempotent = True

    def __init__(
        self, config: ChannelConfig, builder: PayloadBuilder, directory: Path, clock: Clock
    ) -> None:
        self.config = config
        self.builder = builder
        self.directory = directory
        self.clock = clock

    async def start(self) -> None:
        await asyncio.to_thread(self.directory.mkdir, parents=True, exist_ok=True)

    async def aclose(self) -> None:
        return None

    def _path(self, ticket: DeliveryTicket, operation: str, entry: OutboxEntry) -> Path:
        slug = _slug(str(ticket.extra.get("title", "")))
        name = f"{ticket.article_id:05d}-{slug}-v{ticket.version}-{operation}{entry.suffix}"
        return self.directory / name

    async def _write(
        self,
        operation: str,
        message: RenderedMessage | None,
        refs: Sequence[MessageRef],
        ticket: DeliveryTicket,
    ) -> MessageRef:
        entry = self.builder.outbox_entry(operation, message, refs)
        path = self._path(ticket, operation, entry)
        await asyncio.to_thread(_write_atomically, path, entry.content)
        return MessageRef(target=self.config.name, message_id=path.name, kind="outbox")

    async def send(self, message: RenderedMessage, ticket: DeliveryTicket) -> SendResult:
        ref = await self._write("send", message, (), ticket)
        return SendResult(refs=(ref,), sent_at=self.clock())

    async def edit(
        self, refs: Sequence[MessageRef], message: RenderedMessage, ticket: DeliveryTicket
    ) -> SendResult:
        await self._write("edit", message, refs, ticket)
        return SendResult(refs=tuple(refs), sent_at=self.clock())

    async def delete(self, refs: Sequence[MessageRef], ticket: DeliveryTicket) -> None:
        await self._write("delete", None, refs, ticket)
