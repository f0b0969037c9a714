"""The service's OpenAPI document, served at ``/docs.json``.

BentoML labels its document 3.0.2, but its schemas are pydantic's JSON Schema 2020-12
(numeric ``exclusiveMinimum``, ``anyOf`` with ``{"type": "null"}``): that is OpenAPI 3.1,
so the document is labelled 3.1.0, which it validates as. Each operation also lists the
refusals it answers, with the body every failcast error has and, on a 503, ``Retry-After``;
every operation but the public ones needs a bearer credential (``security``) and may answer
401 and 403.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from serving.api.policy import PUBLIC

__all__ = ["OPENAPI_VERSION", "REFUSALS", "document"]

OPENAPI_VERSION = "3.1.0"

_ERROR = "FailcastError"
_SCHEME = "bearer"
_BODY = (HTTPStatus.BAD_REQUEST, HTTPStatus.UNSUPPORTED_MEDIA_TYPE)
_BATCH = (*_BODY, HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
_STORE = (HTTPStatus.SERVICE_UNAVAILABLE,)
REFUSALS: dict[tuple[str, str], tuple[HTTPStatus, ...]] = {
    ("post", "/score"): (*_BATCH, *_STORE),
    ("post", "/explain"): (*_BATCH, HTTPStatus.NOT_FOUND, *_STORE),
    ("post", "/events"): (*_BATCH, HTTPStatus.CONFLICT, *_STORE),
    ("post", "/model"): (*_BODY, *_STORE),
    ("post", "/model/refresh"): (*_BODY, *_STORE),
    ("get", "/readyz"): _STORE,
    ("get", "/queue"): _STORE,
    ("get", "/trades/{trade_id}"): (HTTPStatus.NOT_FOUND, *_STORE),
    ("post", "/trades/{trade_id}/status"): (
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        HTTPStatus.NOT_FOUND,
        HTTPStatus.CONFLICT,
        *_STORE,
    ),
}
"""The refusals each operation may answer besides its validation errors."""


def document(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` (BentoML's, as a dict) as a valid OpenAPI 3.1 document with the refusals."""
    doc: dict[str, Any] = json.loads(json.dumps(spec))  # status codes as strings, a copy
    doc["openapi"] = OPENAPI_VERSION
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas[_ERROR] = {
        "title": _ERROR,
        "type": "object",
        "properties": {"error": {"type": "string", "description": "what was refused and why"}},
        "required": ["error"],
    }
    doc["components"]["securitySchemes"] = {
        _SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": "a failcast API key (`failcast users add`) or the identity "
            "provider's JWT",
        }
    }
    for (method, path), statuses in REFUSALS.items():
        operation = doc["paths"].get(path, {}).get(method)
        if operation is None:
            continue
        responses = operation.setdefault("responses", {})
        for status in statuses:
            responses[str(int(status))] = _refusal(status)
    for path, operations in doc["paths"].items():
        if path in PUBLIC:
            continue
        for operation in operations.values():
            operation["security"] = [{_SCHEME: []}]
            responses = operation.setdefault("responses", {})
            for status in (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN):
                responses[str(int(status))] = _refusal(status)
    return doc


def _refusal(status: HTTPStatus) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": status.phrase,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{_ERROR}"}}},
    }
    if status == HTTPStatus.UNAUTHORIZED:
        response["description"] = "no credential, or one that does not verify (named)"
    elif status == HTTPStatus.FORBIDDEN:
        response["description"] = "the caller lacks the role or team required (named)"
    if status == HTTPStatus.SERVICE_UNAVAILABLE:
        response["description"] = "a dependency is down, named in the error; try again later"
        response["headers"] = {
            "Retry-After": {
                "description": "seconds to wait before trying again",
                "schema": {"type": "integer"},
            }
        }
    return response
