"""The exception workflow as a state machine: its statuses, who may follow whom, and when a
resolved exception comes back.

    OPEN ──► ACKNOWLEDGED ──► RESOLVED ──► (reopened: OPEN)
      │            │              │
      └────────────┴──────────────┴──► OVERDUE ──► SETTLED | FAILED
                                   └──────────────► SETTLED | FAILED

An exception stays in the queue while OPEN, ACKNOWLEDGED or OVERDUE. RESOLVED is not the end:
one failcast resolved (the risk fell) reopens when a later score puts the trade at risk again;
one a person resolved reopens when the risk tier rises above the tier it had when they
resolved it. Past its settlement deadline with no outcome, an exception is OVERDUE whatever it
was, and stays so until the outcome arrives. SETTLED and FAILED are final.
"""

from __future__ import annotations

from enum import StrEnum

from core.errors import InvalidTransition

__all__ = [
    "ACTIVE",
    "CLOSING",
    "TRANSITIONS",
    "Status",
    "check_transition",
    "reopens",
    "tier_rank",
]


class Status(StrEnum):
    OPEN = "OPEN"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RESOLVED = "RESOLVED"
    OVERDUE = "OVERDUE"
    SETTLED = "SETTLED"
    FAILED = "FAILED"


ACTIVE = (Status.OPEN, Status.ACKNOWLEDGED, Status.OVERDUE)
"""Statuses that keep a trade in the queue."""
TRANSITIONS: dict[Status, tuple[Status, ...]] = {
    Status.OPEN: (
        Status.ACKNOWLEDGED,
        Status.RESOLVED,
        Status.OVERDUE,
        Status.SETTLED,
        Status.FAILED,
    ),
    Status.ACKNOWLEDGED: (
        Status.OPEN,
        Status.RESOLVED,
        Status.OVERDUE,
        Status.SETTLED,
        Status.FAILED,
    ),
    Status.RESOLVED: (Status.OPEN, Status.OVERDUE, Status.SETTLED, Status.FAILED),
    Status.OVERDUE: (Status.SETTLED, Status.FAILED),
    Status.SETTLED: (),
    Status.FAILED: (),
}
"""Who may follow whom: settled and failed trades are closed for good, an overdue one waits
for its outcome."""
CLOSING = {"SETTLED": Status.SETTLED, "FAILED": Status.FAILED, "CANCELLED": Status.RESOLVED}
"""Exception status once the trade's outcome is known (a cancelled trade needs no work)."""
_TIERS = ("LOW", "MEDIUM", "HIGH")


def tier_rank(tier: str) -> int:
    """LOW < MEDIUM < HIGH."""
    return _TIERS.index(tier)


def check_transition(trade_id: str, current: Status, status: Status) -> None:
    """Raise ``InvalidTransition`` unless the workflow lets ``status`` follow ``current``."""
    if status not in TRANSITIONS[current]:
        allowed = ", ".join(TRANSITIONS[current]) or "none (closed)"
        raise InvalidTransition(
            f"trade_id {trade_id!r}: cannot go from {current} to {status}; allowed: {allowed}"
        )


def reopens(resolved_by_system: bool, resolved_tier: str | None, tier: str) -> bool:
    """Whether a new score of tier ``tier`` brings a RESOLVED exception back: any at-risk
    tier when failcast resolved it, a tier above the one at resolution when a person did."""
    if resolved_by_system or resolved_tier is None:
        return tier != "LOW"
    return tier_rank(tier) > tier_rank(resolved_tier)
