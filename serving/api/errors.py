"""How the service answers an error: the one place the error tree meets HTTP statuses.

A failcast error raised by an endpoint becomes a JSON body ``{"error": message}`` with the
status below (BentoML's own handling would hide the message of a 401, 403 or 5xx, and a 503
must say which dependency is down and when to try again).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any, TypeVar, cast

from starlette.responses import JSONResponse

from core.errors import (
    BatchTooLarge,
    Conflict,
    FailcastError,
    InvalidInput,
    InvalidTransition,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    Unavailable,
)

__all__ = ["HTTP_STATUS", "RETRY_AFTER_SECONDS", "error_response", "http_errors", "http_status"]

HTTP_STATUS: tuple[tuple[type[FailcastError], HTTPStatus], ...] = (
    (InvalidInput, HTTPStatus.BAD_REQUEST),
    (NotAuthenticated, HTTPStatus.UNAUTHORIZED),
    (PermissionDenied, HTTPStatus.FORBIDDEN),
    (NotFound, HTTPStatus.NOT_FOUND),
    (InvalidTransition, HTTPStatus.CONFLICT),
    (Conflict, HTTPStatus.CONFLICT),
    (BatchTooLarge, HTTPStatus.REQUEST_ENTITY_TOO_LARGE),
    (Unavailable, HTTPStatus.SERVICE_UNAVAILABLE),
    (FailcastError, HTTPStatus.INTERNAL_SERVER_ERROR),
)
"""The first class an error is an instance of gives its status."""
RETRY_AFTER_SECONDS = 5
"""What a 503 tells the caller to wait before trying again."""

F = TypeVar("F", bound=Callable[..., Any])


def http_status(exc: FailcastError) -> HTTPStatus:
    return next(status for kind, status in HTTP_STATUS if isinstance(exc, kind))


def error_response(exc: FailcastError) -> JSONResponse:
    status = http_status(exc)
    headers = None
    if isinstance(exc, Unavailable):
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    elif isinstance(exc, NotAuthenticated):  # RFC 6750: what the caller must send
        headers = {"WWW-Authenticate": 'Bearer realm="failcast"'}
    return JSONResponse({"error": str(exc)}, status_code=status, headers=headers)


def http_errors(endpoint: F) -> F:
    """An endpoint whose failcast errors are answered as ``HTTP_STATUS`` says (BentoML sends a
    returned response as it is)."""
    if inspect.iscoroutinefunction(endpoint):

        @functools.wraps(endpoint)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await cast(Callable[..., Awaitable[Any]], endpoint)(*args, **kwargs)
            except FailcastError as exc:
                return error_response(exc)

        return cast(F, run_async)

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return endpoint(*args, **kwargs)
        except FailcastError as exc:
            return error_response(exc)

    return cast(F, run)
