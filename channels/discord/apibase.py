"""``api_base_url`` → ``discord.http.Route.BASE``, a setting of the whole process.

discord.py computes each request's URL from the class attribute ``Route.BASE`` when it builds
the route, for bots and webhooks alike; there is no per-client setting. So every Discord
channel of a process shares one API root: the adapters claim it while they run, a second,
different root is refused, and the original is put back when the last claim is released.
"""

from __future__ import annotations

import discord.http

from distributor import errors

_claims: dict[int, str] = {}
_original: str | None = None


def claim(owner: object, base: str, channel: str) -> None:
    """Point discord.py at ``base`` for ``owner`` (an adapter) until it calls ``release``.

    Raises:
        ConfigError: Another running Discord channel uses a different ``api_base_url``.
    """
    global _original
    others = {url for key, url in _claims.items() if key != id(owner)}
    if others and others != {base}:
        raise errors.ConfigError(
            [
                f"channel {channel!r}: api_base_url {base!r} differs from {sorted(others)[0]!r} "
                "used by another Discord channel; discord.py has one API root per process"
            ]
        )
    if not _claims:
        _original = discord.http.Route.BASE
    _claims[id(owner)] = base
    discord.http.Route.BASE = base


def release(owner: object) -> None:
    """Drop ``owner``'s claim; the last one out restores the root discord.py had before."""
    global _original
    if _claims.pop(id(owner), None) is None:
        return
    if not _claims and _original is not None:
        discord.http.Route.BASE = _original
        _original = None
