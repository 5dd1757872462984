"""The ``harness`` fixture: each contract test runs once per adapter+fake pair."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from distributor.pacing import Pacer
from tests.conftest import FakeClock
from tests.contract.harness import Env, Harness, Platform
from tests.contract.platforms import platforms


@pytest_asyncio.fixture(params=platforms())
async def harness(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[Harness]:
    """A started adapter on its fake; ``harness.platform`` says what the adapter declares."""
    platform: Platform = request.param
    pacer = Pacer()
    try:
        async with platform.open(Env(tmp_path, clock, pacer)) as opened:
            opened.platform = platform
            yield opened
    finally:
        await pacer.aclose()
