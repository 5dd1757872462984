"""The moment a platform call may start to have effects, told back to the dispatcher.

A delivery is "in doubt" after a crash only if its request may have reached the platform.
Pacing can hold a send for minutes (Telegram allows 20 posts a minute in a channel); a
worker killed while waiting must not leave the post in doubt. So the dispatcher does not
mark a delivery started before calling the adapter: the adapter calls ``about_to_send()``
right before each request that changes something, and the first such call records it.
Adapters that never call it (the outbox, whose writes are idempotent) are never in doubt.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar

Hook = Callable[[], Awaitable[None]]

_HOOK: ContextVar[Hook | None] = ContextVar("distributor_inflight_hook", default=None)


async def about_to_send() -> None:
    """Adapters call this just before a request that may change something on the platform.

    Raises ``errors.LeaseLost`` when another worker has taken the delivery meanwhile: the
    request must then not be made.
    """
    hook = _HOOK.get()
    if hook is not None:
        await hook()


def install(hook: Hook | None) -> object:
    return _HOOK.set(hook)


def reset(token: object) -> None:
    _HOOK.reset(token)  # type: ignore[arg-type]
