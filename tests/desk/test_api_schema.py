"""schemathesis against the API's own OpenAPI document, on the real server: no 5xx, and every
answer (successes and problems) matches the document. The number of examples is bounded."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from distributor.desk import api
from distributor.desk.accounts import Accounts
from distributor.store import Store
from tests.desk.conftest import desk_config
from tests.desk.live import LiveDesk
from tests.helpers import write_config

EXAMPLES_PER_OPERATION = 40
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveDesk, str]]:
    folder = tmp_path_factory.mktemp("api")
    loaded = write_config(
        folder, desk_config(f"sqlite+aiosqlite:///{folder / 'api.sqlite3'}", folder)
    )
    tokens: list[str] = []

    async def setup(store: Store) -> None:
        tokens.append((await Accounts(store).create_token("schemathesis")).secret)

    with LiveDesk(loaded, folder, setup) as server:
        yield server, tokens[0]


# The document the server serves is this same function's output (checked below).
schema = schemathesis.openapi.from_dict(api.openapi("http://127.0.0.1"))


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_to_its_document(case: schemathesis.Case, live: tuple[LiveDesk, str]) -> None:
    server, token = live
    case.call_and_validate(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS
    )


def test_the_server_serves_that_document(live: tuple[LiveDesk, str]) -> None:
    server, _ = live
    served = httpx.get(f"{server.url}/api/v1/openapi.json").json()
    assert served["paths"] == schema.raw_schema["paths"]
    assert served["components"] == schema.raw_schema["components"]
