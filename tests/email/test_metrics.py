"""`distributor_email_messages_total` counts each reader's message once, by list and outcome."""

from __future__ import annotations

import pytest

from distributor import metrics
from tests.email.world import World

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def counted(outcome: str) -> float:
    value = metrics.REGISTRY.get_sample_value(
        "distributor_email_messages_total", {"list": "daily", "outcome": outcome}
    )
    return value or 0.0


async def test_sent_and_refused_readers_are_counted(world: World) -> None:
    await world.subscribe("a@example.org", "b@example.org", "c@example.org")
    world.smtp.refuse("c@example.org")
    sent, bounced = counted("sent"), counted("bounced")
    message, context = await world.story()

    await world.adapter().send(message, context)
    await world.adapter().send(message, context)  # a resend mails nobody again

    assert counted("sent") - sent == 2
    assert counted("bounced") - bounced == 1
