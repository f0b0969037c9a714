"""Request bodies are JSON: a POST with a body of another media type is refused with 415
before anything parses it (BentoML would try a multipart form without a boundary, and fail
with a 500)."""

from __future__ import annotations

import json
from http import HTTPStatus

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["JsonBodies"]

_JSON = "application/json"


class JsonBodies:
    """ASGI middleware: a POST whose ``content-type`` is not JSON is answered 415."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            headers = dict(scope["headers"])
            kind = headers.get(b"content-type", b"").decode("latin-1")
            if kind.split(";")[0].strip().lower() != _JSON:
                await _refuse(send, kind)
                return
        await self.app(scope, receive, send)


async def _refuse(send: Send, kind: str) -> None:
    shown = kind or "none"
    body = json.dumps({"error": f"content-type {shown!r}: a request body must be {_JSON}"}).encode()
    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    await send(
        {
            "type": "http.response.start",
            "status": int(status),
            "headers": [(b"content-type", _JSON.encode()), (b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})
