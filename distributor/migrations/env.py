"""Alembic environment: runs on the connection the store hands over (see ``store.upgrade``)."""

from __future__ import annotations

import importlib

from alembic import context
from sqlalchemy.engine import Connection

from distributor import registry
from distributor.models import Base

# Each installed platform's tables join the core's on the same metadata.
for spec in registry.installed():
    if spec.models:
        importlib.import_module(spec.models)

target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations with `distributor db upgrade`, which supplies the connection"
    )
run_migrations(connection)
