"""The exception store's database: an engine set up for concurrent writers, and its schema
brought to the latest migration (Alembic) before anything reads or writes.

SQLite (the embedded default) runs in WAL mode with a busy timeout, and every transaction
starts with ``BEGIN IMMEDIATE``: writers queue for the lock instead of failing, and a
transaction that reads then writes holds the lock from its first read, so two writers
(two workers, the CLI beside the service) never interleave. PostgreSQL connections are
checked before use, so a restarted server costs a reconnect, not an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

__all__ = ["MIGRATIONS", "current_revision", "head_revision", "make_engine", "upgrade"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_S = 30.0
"""How long a SQLite writer waits for the lock before giving up."""
_UPGRADE_LOCK = 7_201_942_517
"""PostgreSQL advisory lock key: one process migrates at a time."""
FIRST_REVISION = "0001"


def make_engine(url: str, *, writer: bool = False) -> sa.Engine:
    """An engine on the store; a ``writer`` engine's SQLite transactions begin IMMEDIATE
    (readers keep WAL's deferred transactions, which never wait for a writer)."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})
        _sqlite_setup(engine, "BEGIN IMMEDIATE" if writer else "BEGIN")
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def _sqlite_setup(engine: sa.Engine, begin: str) -> None:
    """WAL, a busy timeout, and our own BEGIN for every transaction (pysqlite's implicit
    one is switched off so that the transaction starts where SQLAlchemy starts it)."""

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA synchronous=FULL")  # a commit is on disk when it returns
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql(begin)


def _config(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The latest migration in the code."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None, "the migrations directory holds no revision"
    return head


def current_revision(engine: sa.Engine) -> str | None:
    """The migration the database is at (None: never migrated)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; a no-op when it is there already. Concurrent
    callers (several workers starting at once) take turns."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK}
            )
        config = _config(connection)
        if _created_before_migrations(connection):
            command.stamp(config, FIRST_REVISION)
        command.upgrade(config, revision)


def _created_before_migrations(connection: sa.Connection) -> bool:
    """A store whose tables were made before it had migrations: it holds revision 0001's
    schema, and is adopted at that revision."""
    if MigrationContext.configure(connection).get_current_revision() is not None:
        return False
    return sa.inspect(connection).has_table("exceptions")
