"""Which role each route needs: one table, read by the request guard before any route runs.

The probes answer anyone (an orchestrator calls them); the page and the OpenAPI document hold
no data and load before sign-in. Every other route needs an authenticated caller with one of
the roles below; a route not listed needs any role (so that an unknown path is a 404 only to
someone signed in). The team rule of a status change is checked by the store, against the
exception's team, in the transaction that changes it.
"""

from __future__ import annotations

from core.access import Role

__all__ = ["DURABLE", "PROBES", "PUBLIC", "needed", "route_of"]

PROBES = frozenset({"/healthz", "/livez", "/readyz", "/metrics"})
PUBLIC = PROBES | {"/ui", "/docs.json"}
_ANY = frozenset(Role)
_READERS = frozenset({Role.ANALYST, Role.LEAD})
_RULES: dict[tuple[str, str], frozenset[Role]] = {
    ("POST", "/score"): frozenset({Role.FEED}),
    ("POST", "/events"): frozenset({Role.FEED}),
    ("POST", "/explain"): frozenset({Role.FEED, Role.ANALYST, Role.LEAD}),
    ("POST", "/model"): _ANY,
    ("POST", "/model/refresh"): frozenset({Role.ADMIN}),
    ("GET", "/status"): _ANY,
    ("GET", "/queue"): _READERS,
    ("GET", "/trades/*"): _READERS,
    ("POST", "/trades/*/status"): _READERS,
}
DURABLE = frozenset({("POST", "/events"), ("POST", "/trades/*/status")})
"""Changes whose audit entry is written before the answer goes out (the rest are batched)."""


def route_of(method: str, path: str) -> tuple[str, str]:
    """The rule's key for a request: ``/trades/T1/status`` is ``/trades/*/status``."""
    parts = path.rstrip("/").split("/") if path != "/" else [""]
    if len(parts) >= 3 and parts[1] == "trades":
        parts[2] = "*"
    return method, "/".join(parts)


def needed(method: str, path: str) -> frozenset[Role] | None:
    """The roles one of which a request needs; None for a public route."""
    if path in PUBLIC:
        return None
    return _RULES.get(route_of(method, path), _ANY)
