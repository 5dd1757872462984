"""The adapter protocol every platform fills in, and what the core hands each adapter.

An adapter is a payload builder (pure: article view → platform payload) plus a transport
(the platform's client library, or the outbox's files). ``send``, ``edit`` and ``delete``
return typed results or raise one of the errors in ``distributor.errors``:
``TransientDeliveryError`` (retry later; ``RateLimited`` carries ``retry_after``),
``PermanentDeliveryError`` (this message will never go), ``ChannelBroken`` (pause the channel).
Each call gets a ``SendContext``: the delivery it belongs to, and ``about_to_send()``, which an
adapter that is not ``idempotent`` must await right before every request that may post.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol

from distributor.clock import Clock
from distributor.config import AppConfig, ChannelConfig
from distributor.rendering import Renderer
from distributor.send_context import SendContext
from distributor.types import ArticleView, MessageRef, RenderedMessage, SendResult

if TYPE_CHECKING:
    from distributor.pacing import Pacer
    from distributor.store import Store


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """What the outbox writes for one operation: a file suffix and the exact bytes."""

    suffix: str
    content: bytes


class PayloadBuilder(Protocol):
    """Turns an article into exactly what the platform would receive. No I/O."""

    platform: ClassVar[str]

    def render(self, view: ArticleView) -> RenderedMessage: ...

    def outbox_entry(
        self, operation: str, message: RenderedMessage | None, refs: Sequence[MessageRef]
    ) -> OutboxEntry | None:
        """The request ``operation`` (send/edit/delete) would make, as the outbox records it;
        None when live would send nothing (a silent correction on email)."""
        ...


class ChannelAdapter(Protocol):
    """One configured channel, ready to post."""

    config: ChannelConfig
    builder: PayloadBuilder
    supports_edit: bool
    supports_delete: bool
    # True when resending after a crash cannot create a duplicate (Discord nonce, email
    # ledger, outbox file names): such channels need no in-doubt policy.
    idempotent: bool
    # True when ``edit`` of a post that cannot be edited tells its readers instead (email:
    # a correction or withdrawal mail to those who received the story). The message carries
    # ``ArticleView.notice``; without one there is nothing to tell.
    sends_notices: bool

    async def start(self) -> None: ...

    async def send(self, message: RenderedMessage, context: SendContext) -> SendResult: ...

    async def edit(
        self, refs: Sequence[MessageRef], message: RenderedMessage, context: SendContext
    ) -> SendResult: ...

    async def delete(self, refs: Sequence[MessageRef], context: SendContext) -> None: ...

    async def aclose(self) -> None: ...


class BackgroundWork(Protocol):
    """Work a platform does between deliveries (a queue of its own), on the workers' tick."""

    async def run_due(self) -> int:
        """Do what is due now; returns how many items were handled."""
        ...

    async def aclose(self) -> None: ...


class ProgressSink(Protocol):
    """Receives progress of long sends (an email fan-out) for a progress bar."""

    def update(self, channel: str, key: str, done: int, total: int) -> None: ...


@dataclass(frozen=True, slots=True)
class AdapterContext:
    """Everything an adapter may need from the core, passed in rather than imported."""

    app: AppConfig
    renderer: Renderer
    clock: Clock
    outbox_dir: Path
    pacer: Pacer
    store: Store | None = None
    progress: ProgressSink | None = None
