"""The exception workflow as a state machine: its statuses and who may follow whom."""

from __future__ import annotations

from enum import StrEnum

from core.errors import InvalidTransition

__all__ = ["ACTIVE", "CLOSING", "TRANSITIONS", "Status", "check_transition"]


class Status(StrEnum):
    OPEN = "OPEN"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RESOLVED = "RESOLVED"
    SETTLED = "SETTLED"
    FAILED = "FAILED"


ACTIVE = (Status.OPEN, Status.ACKNOWLEDGED)
"""Statuses that keep a trade in the queue."""
TRANSITIONS: dict[Status, tuple[Status, ...]] = {
    Status.OPEN: (Status.ACKNOWLEDGED, Status.RESOLVED, Status.SETTLED, Status.FAILED),
    Status.ACKNOWLEDGED: (Status.OPEN, Status.RESOLVED, Status.SETTLED, Status.FAILED),
    Status.RESOLVED: (Status.OPEN, Status.SETTLED, Status.FAILED),
    Status.SETTLED: (),
    Status.FAILED: (),
}
"""Who may follow whom: settled and failed trades are closed for good."""


CLOSING = {"SETTLED": Status.SETTLED, "FAILED": Status.FAILED, "CANCELLED": Status.RESOLVED}
"""Exception status once the trade's outcome is known (a cancelled trade needs no work)."""


def check_transition(trade_id: str, current: Status, status: Status) -> None:
    """Raise ``InvalidTransition`` unless the workflow lets ``status`` follow ``current``."""
    if status not in TRANSITIONS[current]:
        allowed = ", ".join(TRANSITIONS[current]) or "none (closed)"
        raise InvalidTransition(
            f"trade_id {trade_id!r}: cannot go from {current} to {status}; allowed: {allowed}"
        )
