"""`failcast db ...`: the exception store's schema (Alembic migrations)."""

from __future__ import annotations

import typer

from core.settings import get_settings
from pipelines.console import console

__all__ = ["db_app"]

db_app = typer.Typer(help="The exception store's schema.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade_cmd() -> None:
    """Migrate the exception store to the latest schema (the service also does on start)."""
    from serving.workflow.store.engine import current_revision, make_engine, upgrade

    settings = get_settings()
    engine = make_engine(settings.exception_store, writer=True)
    try:
        before = current_revision(engine)
        upgrade(engine)
        after = current_revision(engine)
    finally:
        engine.dispose()
    moved = "already at" if before == after else f"from {before or 'an empty store'} to"
    console.print(f"exception store {moved} revision {after}")


@db_app.command("current")
def current_cmd() -> None:
    """The exception store's revision beside the latest one in the code."""
    from serving.workflow.store.engine import current_revision, head_revision, make_engine

    engine = make_engine(get_settings().exception_store)
    try:
        at = current_revision(engine)
    finally:
        engine.dispose()
    head = head_revision()
    state = "up to date" if at == head else "needs `failcast db upgrade`"
    console.print(f"exception store at revision {at or '(none)'}; latest {head}: {state}")
