"""``distributor doctor`` for Telegram: the token works, the chat exists, the bot may post there.

Read-only Bot API calls (getMe, getChat, getChatMember): nothing is posted.
"""

from __future__ import annotations

from typing import Any

from telegram import Bot
from telegram.error import TelegramError
from telegram.request import HTTPXRequest

from distributor.config import AppConfig, ChannelConfig
from distributor.doctor import DoctorOptions, Finding, failed
from distributor_channels.telegram.client import base_url
from distributor_channels.telegram.config import TelegramChannelConfig


def _may_post(chat: dict[str, Any], member: dict[str, Any]) -> tuple[bool, str]:
    status = member.get("status")
    if chat.get("type") == "channel":
        if status == "creator":
            return True, "the bot owns the channel"
        if status == "administrator" and member.get("can_post_messages"):
            return True, "administrator with 'Post messages'"
        return False, f"the bot is {status} without 'Post messages': make it an admin who may post"
    if status in ("creator", "administrator", "member"):
        return True, f"the bot is {status}"
    if status == "restricted" and member.get("can_send_messages"):
        return True, "the bot is restricted but may send messages"
    return False, f"the bot is {status} and may not send messages"


async def check(config: ChannelConfig, app: AppConfig, options: DoctorOptions) -> list[Finding]:
    assert isinstance(config, TelegramChannelConfig)
    name = config.name
    if config.token is None:
        return [Finding(name, "bot token", False, "no token configured")]
    timeout = options.timeout_seconds
    request = HTTPXRequest(connect_timeout=timeout, read_timeout=timeout, write_timeout=timeout)
    bot = Bot(config.token.get_secret_value(), base_url=base_url(config.api_base_url),
              request=request)  # fmt: skip
    findings: list[Finding] = []
    try:
        me = await bot.get_me()
        findings.append(Finding(name, "bot token (getMe)", True, f"@{me.username}"))
    except TelegramError as exc:
        return [failed(name, "bot token (getMe)", exc)]
    try:
        chat = await bot.do_api_request("get_chat", api_kwargs={"chat_id": config.chat})
        shown = chat.get("title") or chat.get("username") or chat.get("id")
        findings.append(Finding(name, "chat exists", True, f"{chat.get('type')} {shown}"))
        member = await bot.do_api_request(
            "get_chat_member", api_kwargs={"chat_id": config.chat, "user_id": me.id}
        )
        ok, why = _may_post(chat, member)
        findings.append(Finding(name, "bot may post", ok, why))
    except TelegramError as exc:
        findings.append(failed(name, "chat exists", exc))
    finally:
        await request.shutdown()
    return findings
