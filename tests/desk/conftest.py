"""A web service over a real store, with the three platforms as dry-run channels."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from distributor.configload import LoadedConfig
from distributor.desk.accounts import Accounts
from distributor.desk.models import Role
from distributor.store import Store
from distributor.web import WebContext, create_app
from tests.helpers import outbox_config, write_config

PASSWORD = "a long enough password"


def desk_config(
    store_url: str,
    tmp_path: Path,
    channel_keys: Mapping[str, Any] | None = None,
    redis_url: str | None = None,
    **web: Any,
) -> dict[str, Any]:
    data = outbox_config(store_url, tmp_path)
    if redis_url:
        data["redis"] = {"url": redis_url}
    for channel in data["channels"]:
        channel.update((channel_keys or {}).get(channel["name"], {}))
    data["channels"].append(
        {
            "name": "english-only",
            "platform": "telegram",
            "dry_run": True,
            "chat": "@english",
            "filters": {"languages": ["en"]},
        }
    )
    data["web"] = {"base_url": "http://testserver", **web}
    return data


@dataclass
class Desk:
    loaded: LoadedConfig
    context: WebContext
    http: httpx.AsyncClient
    token: str  # an editor token
    store: Store

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}


async def open_desk(
    store: Store,
    tmp_path: Path,
    channel_keys: Mapping[str, Any] | None = None,
    redis_url: str | None = None,
    users: bool = True,
    **web: Any,
) -> Desk:
    """``channel_keys``: channel name → keys added to that channel's entry. ``users=False``:
    another web process of the same deployment (its token and users exist already)."""
    url = store.engine.url.render_as_string(False)
    loaded = write_config(tmp_path, desk_config(url, tmp_path, channel_keys, redis_url, **web))
    context = WebContext(loaded.app, store, loaded.renderer(), tmp_path / "outbox", store.clock)
    app = create_app(context)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    if not users:
        return Desk(loaded, context, http, "", store)
    accounts = Accounts(store)
    token = (await accounts.create_token("cms")).secret
    await accounts.add_user("ana", Role.EDITOR, PASSWORD, "fr")
    await accounts.add_user("root", Role.ADMIN, PASSWORD)
    return Desk(loaded, context, http, token, store)


@pytest.fixture
async def desk(store: Store, tmp_path: Path) -> AsyncIterator[Desk]:
    opened = await open_desk(store, tmp_path)
    async with opened.http:
        yield opened
