"""Alembic environment: runs on the connection the store hands over (see ``store.upgrade``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

import channels.email.models  # noqa: F401  (registers the email tables on Base.metadata)
from distributor.models import Base

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
