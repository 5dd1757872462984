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
from distributor.send_context import SendContext
from distributor.types import MessageRef, RenderedMessage, SendResult


def _write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:40].rstrip("-") or "story"


class OutboxAdapter:
    """Writes ``<outbox>/<channel>/<article>-<slug>-v<version>-<operation><ext>`` files.

    Being idempotent, it never calls ``SendContext.about_to_send``: a crash mid-write leaves
    nothing in doubt.
    """

    # Re-running a send rewrites the same file name, so a crash can never duplicate a post.
    idempotent = True

    def __init__(
        self, config: ChannelConfig, builder: PayloadBuilder, directory: Path, clock: Clock
    ) -> None:
        self.config = config
        self.builder = builder
        self.directory = directory
        self.clock = clock
        # A dry run does what live would do: a builder may say its platform cannot edit or
        # delete (email), so a correction or retraction takes the same path as live.
        self.supports_edit: bool = getattr(builder, "supports_edit", True)
        self.supports_delete: bool = getattr(builder, "supports_delete", True)
        self.sends_notices: bool = getattr(builder, "sends_notices", False)
        self.threads_follow_ups: bool = getattr(builder, "threads_follow_ups", False)

    async def start(self) -> None:
        await asyncio.to_thread(self.directory.mkdir, parents=True, exist_ok=True)

    async def aclose(self) -> None:
        return None

    def _path(self, context: SendContext, operation: str, entry: OutboxEntry) -> Path:
        slug = _slug(str(context.extra.get("title", "")))
        name = f"{context.article_id:05d}-{slug}-v{context.version}-{operation}{entry.suffix}"
        return self.directory / name

    async def _write(
        self,
        operation: str,
        message: RenderedMessage | None,
        refs: Sequence[MessageRef],
        context: SendContext,
    ) -> MessageRef:
        entry = self.builder.outbox_entry(operation, message, refs)
        if entry is None:  # live would send nothing
            return MessageRef(target=self.config.name, message_id="", kind="outbox")
        path = self._path(context, operation, entry)
        await asyncio.to_thread(_write_atomically, path, entry.content)
        return MessageRef(target=self.config.name, message_id=path.name, kind="outbox")

    async def send(self, message: RenderedMessage, context: SendContext) -> SendResult:
        # A builder whose platform threads a follow-up to the original (email's "Update:"
        # mail) gets the original's post, so the file holds the mail live would send.
        replying: tuple[MessageRef, ...] = ()
        if context.reply_to is not None and self.threads_follow_ups:
            replying = (context.reply_to,)
        ref = await self._write("send", message, replying, context)
        return SendResult(refs=(ref,), sent_at=self.clock())

    async def edit(
        self, refs: Sequence[MessageRef], message: RenderedMessage, context: SendContext
    ) -> SendResult:
        # A retraction's withdrawal notice gets a file of its own, beside the correction's.
        operation = "withdraw" if context.ticket.operation == "delete" else "edit"
        await self._write(operation, message, refs, context)
        return SendResult(refs=tuple(refs), sent_at=self.clock())

    async def delete(self, refs: Sequence[MessageRef], context: SendContext) -> None:
        await self._write("delete", None, refs, context)
