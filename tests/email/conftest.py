"""Fixtures for the email channel: a real SMTP server (aiosmtpd), a configured world around it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from distributor.store import Store
from tests.conftest import FakeClock
from tests.email.world import World, email_config
from tests.fakes.smtp import FakeSMTP
from tests.helpers import write_config


@pytest.fixture
def smtp_server() -> Iterator[FakeSMTP]:
    """aiosmtpd on 127.0.0.1 and a free port, recording what it accepts."""
    with FakeSMTP() as server:
        yield server


@pytest_asyncio.fixture
async def world(
    store: Store, store_url: str, smtp_server: FakeSMTP, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[World]:
    """A list "daily" on channel "newsletter", mailed through ``smtp_server``."""
    async with World.open(store, store_url, smtp_server, clock, tmp_path) as made:
        yield made


@pytest.fixture
def make_config(tmp_path: Path, store_url: str, smtp_server: FakeSMTP) -> Any:
    """Write and load a config whose email channel has the given overrides."""

    def make(**channel: Any) -> Any:
        return write_config(tmp_path, email_config(store_url, tmp_path, smtp_server, **channel))

    return make
