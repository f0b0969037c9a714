"""The exception workflow's HTTP routes, mounted on the scoring service (an ASGI app):

GET  /docs.json                                the OpenAPI 3.1 document of every route
GET  /ui                                       the queue as a web page (filters, reasons, buttons)
GET  /status                                   journal, outbox, dead letters, stores, watermark
GET  /queue?settlement_date=&team=&capacity=   open at-risk trades, largest expected cost first
GET  /trades/{trade_id}                        the exception, its score trajectory and history
POST /trades/{trade_id}/status                 acknowledge, resolve, reassign (who: the caller)
GET  /whoami                                   who the credential names: subject, roles, teams
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import bentoml
from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from core.actions import Team
from core.errors import FailcastError, NotFound
from core.limits import MAX_QUEUE_CAPACITY
from serving.api.errors import error_response
from serving.api.guards import principal
from serving.api.openapi import document
from serving.workflow.store import ExceptionStore, Status, as_dict

__all__ = ["ops"]

ops = FastAPI(title="failcast exception workflow")


@ops.exception_handler(FailcastError)
async def _failcast_error(request: Request, exc: FailcastError) -> JSONResponse:
    return error_response(exc)


class StatusChange(BaseModel):
    """A change of an exception's status, made by the caller (the actor is who signed in:
    never a field)."""

    model_config = ConfigDict(extra="forbid")

    status: Status
    note: str = Field(default="", max_length=2_000)
    action_taken: str | None = Field(default=None, max_length=2_000)
    team: Team | None = Field(default=None, description="reassign to this team (a lead's)")


def _service() -> Any:
    """The running ``Failcast`` service (BentoML hands it over untyped)."""
    return bentoml.get_current_service()


def _store() -> ExceptionStore:
    store: ExceptionStore = _service().exceptions
    return store


def _flush() -> None:
    """What was acknowledged before this call, by any worker, is in the store."""
    _service().drain.catch_up()


def _row(row: object, fields: list[str]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in fields}


@cache
def _page() -> str:
    page = (Path(__file__).parent / "static" / "queue.html").read_text()
    return page.replace("__TEAMS__", json.dumps([team.value for team in Team]))


@ops.get("/docs.json", include_in_schema=False)
def docs() -> dict[str, Any]:
    """The OpenAPI document (BentoML's own route, relabelled and completed)."""
    return _document()


@cache
def _document() -> dict[str, Any]:
    return document(_service().bento_service.openapi_spec.asdict())


@ops.get("/ui", response_class=HTMLResponse)
def ui() -> str:
    """The exception queue as a web page."""
    return _page()


@ops.get("/status")
def status() -> dict[str, Any]:
    """Whether the service is ready and why not; what waits in the journal and the outbox;
    the dead letters; the stores and the online store's watermark."""
    report: dict[str, Any] = _service().status()
    return report


@ops.get("/queue")
def queue(
    settlement_date: dt.date | None = None,
    team: str | None = None,
    capacity: Annotated[int | None, Query(ge=1, le=MAX_QUEUE_CAPACITY)] = None,
) -> list[dict[str, Any]]:
    _flush()  # what was scored before this call is in the queue
    rows = _store().queue(settlement_date, team, capacity)
    return [as_dict(r) for r in rows]


@ops.get("/trades/{trade_id}")
def trade(trade_id: str) -> dict[str, Any]:
    _flush()
    store = _store()
    trajectory = store.trajectory(trade_id)
    if not trajectory:
        raise NotFound(f"trade_id {trade_id!r}: never scored")
    exception = store.get(trade_id)
    return {
        "trade_id": trade_id,
        "exception": as_dict(exception) if exception else None,
        "trajectory": [
            _row(s, ["scored_at", "stage", "fail_probability", "risk_tier", "expected_cost"])
            for s in trajectory
        ],
        "history": [_row(h, ["at", "status", "actor", "note"]) for h in store.history(trade_id)],
    }


@ops.post("/trades/{trade_id}/status")
def change_status(trade_id: str, change: StatusChange, request: Request) -> dict[str, Any]:
    caller = principal(request.scope)
    team = change.team.value if change.team else None
    _store().transition(
        trade_id, change.status, caller, change.note, change.action_taken, team=team
    )
    return {"trade_id": trade_id, "status": change.status, "actor": caller.subject}


@ops.get("/whoami")
def whoami(request: Request) -> dict[str, Any]:
    """Who the credential sent names: for the page's sign-in, and for anyone checking a key."""
    caller = principal(request.scope)
    return {"subject": caller.subject, "roles": sorted(caller.roles), "teams": sorted(caller.teams)}
