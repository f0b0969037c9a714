"""`failcast users ...` and `failcast audit`: who may call the service, and what they did.

These commands write the exception store directly: whoever can run them on its machine (or
holds its database's credentials) is its administrator. Each change they make is itself an
entry of the audit trail, under the operating-system user who ran it.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from core.access import Role
from core.settings import get_settings
from pipelines.console import console, err_console
from serving.workflow.keyring import Keyring
from serving.workflow.store import ExceptionStore

__all__ = ["audit_cmd", "users_app"]

users_app = typer.Typer(help="API keys: who may call the service, as what.", no_args_is_help=True)


def _store() -> ExceptionStore:
    return ExceptionStore.from_settings(get_settings())


def _snapshot(store: ExceptionStore) -> None:
    """This home's keyring snapshot follows the change (a service starting while the store
    is down reads it)."""
    Keyring.from_store(store).save(get_settings().keyring_file)


@users_app.command("add")
def add_cmd(
    name: Annotated[str, typer.Argument(help="who: a person or a system (1-64 characters)")],
    role: Annotated[Role, typer.Option(help="feed, analyst, lead or admin")],
    team: Annotated[
        list[str] | None, typer.Option(help="a team whose exceptions an analyst works (repeat)")
    ] = None,
) -> None:
    """Add a user and print their API key: it is shown once, only its hash is kept."""
    store = _store()
    try:
        issued = store.add_user(name, role, team or [])
        _snapshot(store)
    finally:
        store.close()
    teams = f" for {', '.join(issued.teams)}" if issued.teams else ""
    err_console.print(f"added {issued.name} as {issued.role}{teams}; their key (shown once):")
    print(issued.key)


@users_app.command("list")
def list_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON lines")] = False,
) -> None:
    """Every user, their role, teams, and whether their key still works."""
    store = _store()
    try:
        rows = store.users()
    finally:
        store.close()
    if as_json:
        for r in rows:
            revoked = r.revoked_at.isoformat() if r.revoked_at else None
            print(
                json.dumps({"name": r.name, "role": r.role, "teams": r.teams, "revoked": revoked})
            )
        return
    table = Table(title=f"{len(rows)} user(s)", box=box.SIMPLE_HEAD)
    for column in ("name", "role", "teams", "key id", "created", "revoked"):
        table.add_column(column)
    for r in rows:
        revoked = f"{r.revoked_at:%Y-%m-%d %H:%M}" if r.revoked_at else ""
        table.add_row(
            r.name, r.role, ", ".join(r.teams), r.key_id, f"{r.created_at:%Y-%m-%d %H:%M}", revoked
        )
    console.print(table)


@users_app.command("revoke")
def revoke_cmd(
    name: Annotated[str, typer.Argument(help="the user whose key stops working")],
) -> None:
    """Revoke a user's key (workers forget it within FAILCAST_AUTH_CACHE_SECONDS)."""
    store = _store()
    try:
        store.revoke_user(name)
        _snapshot(store)
    finally:
        store.close()
    console.print(f"revoked {name}")


def audit_cmd(
    since: Annotated[
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"], help="from this instant (UTC)"),
    ] = None,
    actor: Annotated[str | None, typer.Option(help="only this subject's entries")] = None,
    limit: Annotated[int, typer.Option(min=1, help="the latest entries shown")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON lines")] = False,
) -> None:
    """The audit trail: every request and user change, who made it, as what, its outcome."""
    store = _store()
    try:
        since_utc = since.replace(tzinfo=dt.UTC) if since and since.tzinfo is None else since
        entries = store.audit(since_utc, actor, limit)
    finally:
        store.close()
    if as_json:
        for e in entries:
            print(json.dumps({**e.__dict__, "at": e.at.isoformat()}))
        return
    table = Table(title=f"audit trail: {len(entries)} entries", box=box.SIMPLE_HEAD)
    for column in ("at (UTC)", "subject", "role", "action", "route", "outcome", "detail"):
        table.add_column(column)
    for e in entries:
        table.add_row(
            f"{e.at:%Y-%m-%d %H:%M:%S}",
            e.subject,
            e.role,
            e.action,
            e.route,
            str(e.outcome),
            e.detail[:60],
            style="red" if e.outcome >= 400 else None,
        )
    console.print(table)
