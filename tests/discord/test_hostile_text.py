"""Hostile article text through summary + render: always within Discord's limits, pinging nobody.

The property runs on what discord.py would put on the wire (the adapter's conversion, then
discord.py's own ``handle_message_parameters``), checked with the fake Discord API's pure
validation and mention rules; a fixed sample of the same text also goes through the fake.
"""

from __future__ import annotations

from typing import Any

import discord.http
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distributor import summary
from distributor.types import ArticleView
from distributor_channels.discord.config import DiscordChannelConfig
from distributor_channels.discord.parts import message_parts
from distributor_channels.discord.payload import DiscordPayloads
from tests.discord.conftest import RENDERER, ROLE_ID, OpenAdapter, article, render, send_context
from tests.fakes import discord_limits as limits
from tests.fakes.discord_api import FakeDiscordAPI

HOSTILE = [
    "@everyone",
    "@here",
    "@ everyone",
    "@\u200beveryone",
    f"<@&{ROLE_ID}>",
    "<@&123>",
    "<@123>",
    "<@!123>",
    "<#123>",
    "**bold**",
    "__under__",
    "~~strike~~",
    "||spoiler||",
    "`code`",
    "```\nblock\n```",
    "> quote",
    "# Heading",
    "-# subtext",
    "1. list",
    "[link](https://evil.example/@everyone)",
    "https://evil.example/<@123>",
    "\\",
    "\n",
    ".",
    "!",
    "😀" * 40,
    "👩‍👩‍👧‍👦",
    "\U0001f1eb\U0001f1f7",
    "a" * 5000,
    "é" * 300,
    "x" * 70,
]
CONFIG: dict[str, Any] = {
    "name": "news",
    "platform": "discord",
    "mention_role": ROLE_ID,
    "mention_min_priority": 5,
    "source_name": "Newsroom @everyone <@&123> " + "😀" * 100,
    "footer": "Footer **@here** " + "😀" * 1000,
}
BOT = DiscordChannelConfig.model_validate(
    {**CONFIG, "mode": "bot", "token": "t", "channel_id": 1187402731185881091}
)
WEBHOOK = DiscordChannelConfig.model_validate(
    {
        **CONFIG,
        "mode": "webhook",
        "username": "Desk @everyone",
        "webhook_url": "https://discord.com/api/webhooks/1187402731185881092/" + "t" * 68,
    }
)

hostile_text = st.lists(
    st.one_of(st.sampled_from(HOSTILE), st.text(max_size=60)), min_size=1, max_size=25
).map(" ".join)


def hostile_view(
    title: str, paragraphs: list[str], priority: int, budget: int | None
) -> ArticleView:
    lead = summary.lead_sentences(
        standfirst=None, body="\n\n".join(paragraphs), body_format="text", language="en"
    )
    return article(title=title, lead=lead, priority=priority, summary_max_chars=budget)


def wire_payload(config: DiscordChannelConfig, payload: dict[str, Any]) -> dict[str, Any]:
    """Exactly the JSON discord.py sends for this payload through the adapter."""
    parts = message_parts(payload, mention_role=config.mention_role)
    params = discord.http.handle_message_parameters(
        content=parts.content,
        embeds=parts.embeds,
        allowed_mentions=parts.allowed_mentions,
        username=parts.username or discord.utils.MISSING,
        nonce="n" * 25,
    )
    assert params.payload is not None
    wire: dict[str, Any] = params.payload
    return wire


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=hostile_text,
    paragraphs=st.lists(hostile_text, min_size=1, max_size=6),
    priority=st.integers(0, 10),
    budget=st.one_of(st.none(), st.integers(40, 5000)),
)
def test_hostile_text_fits_and_pings_at_most_the_role(
    title: str, paragraphs: list[str], priority: int, budget: int | None
) -> None:
    view = hostile_view(title, paragraphs, priority, budget)
    for config in (BOT, WEBHOOK):
        payload = dict(DiscordPayloads(config, RENDERER).render(view).payload)
        wire = wire_payload(config, payload)
        webhook = config.mode == "webhook"
        for unit in ("codepoints", "utf16"):
            assert limits.validate_payload(wire, webhook=webhook, unit=unit) is None
        assert not limits.is_empty_message(wire.get("content") or "", wire["embeds"], [], wire)
        pings = limits.compute_pings(
            wire.get("content") or "",
            wire["allowed_mentions"],
            default_parse=limits.WEBHOOK_DEFAULT_PARSE if webhook else limits.BOT_DEFAULT_PARSE,
            can_mention_everyone=True,
        )
        assert pings.everyone is False
        assert pings.users == []
        assert pings.roles == ([ROLE_ID] if priority >= 5 else [])


SAMPLES = [
    ("@everyone @here <@&123> <@123>", ["@everyone look <@&123456789012345678> **now** <@1>."]),
    ("😀" * 300, ["😀" * 3000 + ".", "a" * 5000]),
    ("# Title " + "a" * 5000, ["> quoted @here", "```\n<@&1>\n```", "||<@!2>||"]),
]


@pytest.mark.parametrize(("title", "paragraphs"), SAMPLES)
async def test_hostile_samples_through_the_fake_ping_nobody(
    fake: FakeDiscordAPI,
    open_adapter: OpenAdapter,
    mode: str,
    title: str,
    paragraphs: list[str],
) -> None:
    fake.length_unit = "utf16"  # the stricter reading of Discord's limits
    extra: dict[str, Any] = {"source_name": CONFIG["source_name"], "footer": CONFIG["footer"]}
    if mode == "webhook":
        extra["username"] = "Desk @everyone"
    adapter = await open_adapter(mode, **extra)
    sent = await adapter.send(
        render(adapter, hostile_view(title, paragraphs, 0, None)), send_context()
    )
    [stored] = fake.all_messages()
    assert str(stored.id) == sent.refs[0].message_id
    assert (stored.pinged_everyone, stored.pinged_roles, stored.pinged_users) == (False, [], [])
    assert stored.allowed_mentions == {"parse": []}
