"""Every adapter+fake pair the contract runs on, and the parametrisation that picks them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.contract.harness import Platform
from tests.contract.local import EMAIL, OUTBOX
from tests.contract.remote import DISCORD_BOT, DISCORD_WEBHOOK, TELEGRAM

PLATFORMS: tuple[Platform, ...] = (TELEGRAM, DISCORD_BOT, DISCORD_WEBHOOK, EMAIL, OUTBOX)


def platforms(applies: Callable[[Platform], bool] | None = None, reason: str = "") -> list[Any]:
    """``harness`` parameters: every platform, those ``applies`` rejects skipped with ``reason``.

    Use as ``@pytest.mark.parametrize("harness", platforms(...), indirect=True)``: a test that
    does not apply to a platform shows up as skipped, saying why, never as a silent pass.
    """
    chosen = []
    for platform in PLATFORMS:
        marks = list(platform.marks)
        if applies is not None and not applies(platform):
            marks.append(pytest.mark.skip(reason=f"{platform.id} {reason}"))
        chosen.append(pytest.param(platform, id=platform.id, marks=marks))
    return chosen
