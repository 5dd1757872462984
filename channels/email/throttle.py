"""Limits on the subscribe form, so nobody can use it to mail-bomb an address or a domain.

Counted with the ``limits`` library's moving windows in the same storage as the pacer (memory
for one process, Redis when ``redis`` is configured, shared by every web process). Each
``hit`` is atomic in both, so a burst of parallel requests cannot all slip under a limit. The
"one confirmation per recipient per interval" rule is also enforced by the database (see
``requests``), which holds even across web processes that share no Redis.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import limits

from distributor.pacing import Pacer
from distributor_channels.email.config import SubscribeLimits

log = logging.getLogger("distributor.email.throttle")

_NAMESPACE = "distributor-subscribe"


def recipient_key(address: str) -> str:
    """The mailbox an address reaches: ``victim+1@x`` and ``victim+2@x`` count as one."""
    local, _, domain = address.rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


@dataclass(frozen=True, slots=True)
class _Limit:
    name: str
    item: limits.RateLimitItem
    key: str


class SubscribeThrottle:
    """Counts subscribe requests per client, and confirmation mails per recipient, domain, list."""

    def __init__(self, pacer: Pacer) -> None:
        self._pacer = pacer

    @classmethod
    def for_redis(cls, redis_url: str | None) -> SubscribeThrottle:
        return cls(Pacer.for_redis(redis_url))

    async def aclose(self) -> None:
        await self._pacer.aclose()

    async def client_allowed(self, list_name: str, settings: SubscribeLimits, client: str) -> bool:
        """Counts one request from ``client``; False once it is over its hourly budget."""
        item = limits.RateLimitItemPerHour(settings.per_client_per_hour)
        return await self._hit(_Limit("per client", item, f"{list_name}:client:{client}"))

    async def mail_allowed(self, list_name: str, settings: SubscribeLimits, address: str) -> bool:
        """Counts one confirmation mail to ``address``; False (and nothing sent) over a limit."""
        domain = address.rpartition("@")[2]
        checks = [
            _Limit(
                "per recipient per day",
                limits.RateLimitItemPerDay(settings.per_recipient_per_day),
                f"{list_name}:to:{recipient_key(address)}",
            ),
            _Limit(
                "per domain per hour",
                limits.RateLimitItemPerHour(settings.per_domain_per_hour),
                f"{list_name}:domain:{domain}",
            ),
            _Limit(
                "per list per hour",
                limits.RateLimitItemPerHour(settings.per_list_per_hour),
                f"{list_name}:list",
            ),
        ]
        for check in checks:
            if not await self._hit(check):
                # No address in the log: the refusals of an attack would fill it with victims.
                log.warning("list %s: confirmation email refused by the %s limit", list_name,
                            check.name)  # fmt: skip
                return False
        return True

    async def _hit(self, limit: _Limit) -> bool:
        return await self._pacer.limiter.hit(limit.item, _NAMESPACE, limit.key)
