"""Alembic's environment for the exception store: the models' metadata, and the connection
failcast hands over (``serving.workflow.store.engine.upgrade``) or, run from the command
line (``alembic upgrade head`` beside alembic.ini), the configured store."""

from __future__ import annotations

from alembic import context

from core.settings import get_settings
from serving.workflow.store.engine import make_engine
from serving.workflow.store.tables import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(get_settings().exception_store)
    try:
        with engine.begin() as connection:
            context.configure(connection=connection, target_metadata=target_metadata)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


run_migrations()
