"""SendContext: the hook runs once, its refusal sticks, and without a hook it only records."""

from __future__ import annotations

import asyncio

import pytest

from distributor import errors
from distributor.send_context import SendContext
from distributor.types import DeliveryTicket

TICKET = DeliveryTicket(delivery_id=3, article_id=7, channel="news", version=2, attempt=1)


async def test_the_hook_runs_once_however_often_the_adapter_calls() -> None:
    calls: list[str] = []
    release = asyncio.Event()

    async def mark() -> None:
        calls.append("mark")
        await release.wait()  # still marking while the other requests ask

    context = SendContext(TICKET, mark)
    waiting = [asyncio.create_task(context.about_to_send()) for _ in range(3)]
    await asyncio.sleep(0)
    assert context.started is False  # not before the ledger has it
    release.set()
    await asyncio.gather(*waiting)
    await context.about_to_send()

    assert calls == ["mark"]
    assert context.started is True


async def test_a_lost_lease_refuses_every_later_request_too() -> None:
    calls = 0

    async def lost() -> None:
        nonlocal calls
        calls += 1
        raise errors.LeaseLost("another worker took this delivery over", channel="news")

    context = SendContext(TICKET, lost)
    for _ in range(2):
        with pytest.raises(errors.LeaseLost):
            await context.about_to_send()
    assert calls == 1
    assert context.started is False


async def test_without_a_hook_it_only_records() -> None:
    context = SendContext(TICKET)
    assert context.started is False
    await context.about_to_send()
    assert context.started is True


def test_it_reads_as_its_ticket() -> None:
    context = SendContext(TICKET)
    assert (context.delivery_id, context.article_id, context.channel) == (3, 7, "news")
    assert (context.version, context.attempt, context.extra) == (2, 1, {})
    assert context.key == TICKET.key == "a7d3"
