"""Checks every request passes before any route sees it (``RequestGuard``, ASGI middleware).

The ``Host`` header must name one of ``FAILCAST_ALLOWED_HOSTS`` (a page of another site that
rebinds its name to this address sends its own name), and an ``Origin`` header, when a
browser sends one, must be one of them too (a cross-site request); either is a 403 naming the
host and the setting. The probes (``/healthz``, ``/livez``, ``/readyz``, ``/metrics``) answer
whatever the host: an orchestrator calls them by the pod's address.

A POST body must be ``application/json``; anything else is a 415 before anything parses it.
The form, multipart and plain-text bodies a browser sends cross-site without a preflight are
refused with it (and BentoML would fail on a multipart body without a boundary with a 500).
"""

from __future__ import annotations

from functools import cache
from http import HTTPStatus
from urllib.parse import urlsplit

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from core.settings import get_settings

__all__ = ["PROBES", "RequestGuard"]

_JSON = "application/json"
PROBES = frozenset({"/healthz", "/livez", "/readyz", "/metrics"})


class RequestGuard:
    """ASGI middleware: a request for a host not allowed, or from a foreign origin, is
    answered 403; a POST whose body is not JSON 415. One pass over the headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = _refusal(scope)
            if refusal is not None:
                await _refuse(scope, receive, send, *refusal)
                return
        await self.app(scope, receive, send)


def _refusal(scope: Scope) -> tuple[HTTPStatus, str] | None:
    host = origin = kind = ""
    for key, value in scope["headers"]:
        if key == b"host":
            host = value.decode("latin-1")
        elif key == b"origin":
            origin = value.decode("latin-1")
        elif key == b"content-type":
            kind = value.decode("latin-1")
    if scope["path"] not in PROBES:
        allowed = _allowed()
        name = _hostname(host)
        if name not in allowed:
            return HTTPStatus.FORBIDDEN, _unknown("Host", name or "none")
        if origin and _hostname(urlsplit(origin).netloc) not in allowed:
            return HTTPStatus.FORBIDDEN, _unknown("Origin", origin)
    if scope["method"] == "POST" and kind.split(";")[0].strip().lower() != _JSON:
        shown = kind or "none"
        return (
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            f"content-type {shown!r}: a request body must be {_JSON}",
        )
    return None


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
