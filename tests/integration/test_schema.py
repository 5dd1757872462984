"""The migrations build exactly the schema the models declare, on SQLite and PostgreSQL.

A column added to a model without a migration (or a migration that drifts from its model)
shows up here as a difference Alembic's autogenerate would write.
"""

from __future__ import annotations

import importlib
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from distributor import database, registry
from distributor.models import Base


def declared_metadata() -> MetaData:
    """The core's tables and every installed platform's, as the migrations' env sees them."""
    for spec in registry.installed():
        if spec.models:
            importlib.import_module(spec.models)
    return Base.metadata


def differences(connection: Connection, metadata: MetaData) -> list[Any]:
    opts = {"compare_type": True, "compare_server_default": True}
    context = MigrationContext.configure(connection, opts=opts)
    return list(compare_metadata(context, metadata))


async def test_the_upgraded_schema_is_what_the_models_declare(store_url: str) -> None:
    metadata = declared_metadata()
    engine = database.create_engine(store_url)
    try:
        await database.upgrade(engine)
        async with engine.connect() as conn:
            found = await conn.run_sync(differences, metadata)
    finally:
        await engine.dispose()

    # The platforms' tables are compared too: the email platform declares its own.
    assert {"articles", "deliveries", "email_subscribers"} <= set(metadata.tables)
    assert found == [], "\n".join(map(str, found))
