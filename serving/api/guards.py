"""Checks every request passes before any route sees it (``RequestGuard``, ASGI middleware).

The ``Host`` header must name one of ``FAILCAST_ALLOWED_HOSTS`` (a page of another site that
rebinds its name to this address sends its own name), and an ``Origin`` header, when a
browser sends one, must be one of them too (a cross-site request); either is a 403 naming the
host and the setting. The probes (``/healthz``, ``/livez``, ``/readyz``, ``/metrics``) answer
whatever the host: an orchestrator calls them by the pod's address.

A POST body must be ``application/json``; anything else is a 415 before anything parses it.
The form, multipart and plain-text bodies a browser sends cross-site without a preflight are
refused with it (and BentoML would fail on a multipart body without a boundary with a 500).

Then the caller: every route but the public ones (``serving.api.policy``) needs a bearer
credential (a 401 names what is missing) of a role the route allows (a 403 names the role).
The caller is left in the ASGI scope for the routes (``principal``), and every request, let
in or not, is an entry of the audit trail: who, as what, when, which route, which status.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import urlsplit

import anyio
import bentoml
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.access import Principal
from core.errors import FailcastError
from core.settings import get_settings
from serving.api.auth import Access
from serving.api.errors import error_response
from serving.api.policy import DURABLE, PROBES, needed, route_of
from serving.workflow.store.users import AuditEntry

__all__ = ["RequestGuard", "principal"]

_JSON = "application/json"
_PRINCIPAL = "failcast.principal"
ANONYMOUS = "-"


def principal(scope: Scope) -> Principal:
    """The caller the guard let in (every route but the public ones has one)."""
    return cast(Principal, scope[_PRINCIPAL])


class RequestGuard:
    """ASGI middleware: a request for a host not allowed, or from a foreign origin, is
    answered 403; a POST whose body is not JSON 415; a caller without a valid credential
    401, one without the role 403. One pass over the headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._access: Access | None = None

    @property
    def access(self) -> Access:
        """The service's (built in its worker, after this middleware)."""
        if self._access is None:
            self._access = cast(Access, cast(Any, bentoml.get_current_service()).access)
        return self._access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        refusal, authorization = _refusal(scope)
        if refusal is not None:
            await _refuse(scope, receive, send, *refusal)
            self._audit(None, method, path, int(refusal[0]), refusal[1])
            return
        roles = needed(method, path)
        if roles is None:
            await self.app(scope, receive, send)
            return
        caller: Principal | None = None
        try:
            caller = await self.access.authenticate(authorization)
            caller.require(roles, f"{method} {path}")
        except FailcastError as exc:
            answer = error_response(exc)
            await answer(scope, receive, send)
            self._audit(caller, method, path, answer.status_code, str(exc))
            return
        scope[_PRINCIPAL] = caller
        await self._admitted(caller, scope, receive, send)

    async def _admitted(
        self, caller: Principal, scope: Scope, receive: Receive, send: Send
    ) -> None:
        method, path = scope["method"], scope["path"]
        durable = route_of(method, path) in DURABLE
        status, written = 500, False

        async def sending(message: Message) -> None:
            nonlocal status, written
            if message["type"] == "http.response.start":
                status = message["status"]
                if durable:  # the change's entry is stored before its answer goes out
                    entry = _entry(caller, method, path, status, "")
                    await anyio.to_thread.run_sync(self.access.audit.write, entry)
                    written = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if not written:
                self._audit(caller, method, path, status, "")

    def _audit(
        self, caller: Principal | None, method: str, path: str, status: int, detail: str
    ) -> None:
        if path in PROBES:  # an orchestrator's polls are not an audit's business
            return
        self.access.audit.add(_entry(caller, method, path, status, detail))


def _entry(
    caller: Principal | None, method: str, path: str, status: int, detail: str
) -> AuditEntry:
    now = dt.datetime.now(dt.UTC)
    if caller is None:
        return AuditEntry(now, ANONYMOUS, "none", method, path, status, detail)
    return AuditEntry(now, caller.subject, caller.role, method, path, status, detail or caller.via)


def _refusal(scope: Scope) -> tuple[tuple[HTTPStatus, str] | None, str]:
    """Why the request is refused before its caller is asked for (None: it is not), and
    its ``Authorization`` header."""
    host = origin = kind = authorization = ""
    for key, value in scope["headers"]:
        if key == b"host":
            host = value.decode("latin-1")
        elif key == b"origin":
            origin = value.decode("latin-1")
        elif key == b"content-type":
            kind = value.decode("latin-1")
        elif key == b"authorization":
            authorization = value.decode("latin-1")
    if scope["path"] not in PROBES:
        allowed = _allowed()
        name = _hostname(host)
        if name not in allowed:
            return (HTTPStatus.FORBIDDEN, _unknown("Host", name or "none")), authorization
        if origin and _hostname(urlsplit(origin).netloc) not in allowed:
            return (HTTPStatus.FORBIDDEN, _unknown("Origin", origin)), authorization
    if scope["method"] == "POST" and kind.split(";")[0].strip().lower() != _JSON:
        shown = kind or "none"
        return (
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            f"content-type {shown!r}: a request body must be {_JSON}",
        ), authorization
    return None, authorization


@cache
def _allowed() -> frozenset[str]:
    return frozenset(h.lower() for h in get_settings().allowed_hosts)


def _unknown(header: str, value: str) -> str:
    return (
        f"{header} {value!r} is not an allowed host ({', '.join(sorted(_allowed()))}); "
        "set FAILCAST_ALLOWED_HOSTS to serve another name"
    )


def _hostname(netloc: str) -> str:
    """The host of ``host[:port]`` or ``[v6]:port``, lower case."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[1 : netloc.find("]")] if "]" in netloc else netloc
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc


async def _refuse(
    scope: Scope, receive: Receive, send: Send, status: HTTPStatus, message: str
) -> None:
    """Answer with the body every failcast error has (``serving.api.errors``)."""
    await JSONResponse({"error": message}, status_code=int(status))(scope, receive, send)
