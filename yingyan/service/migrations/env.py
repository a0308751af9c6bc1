"""Alembic environment: migrations run on the engine the service opened (``Database``)."""

from __future__ import annotations

from alembic import context

from yingyan.service.models import Base

config = context.config
engine = config.attributes["connection_engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()
