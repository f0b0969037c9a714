"""The post-trade lifecycle, declared once: each step with every name it goes by.

A step is an event type of the ``events`` table (ALLOCATED ... MATCHED); the API's
``Lifecycle`` and the exception store keep its first time under ``field``; the Feast request
source carries it as ``request`` (epoch seconds, NaN while not yet done); the model sees
``feature`` (1 once done by the scoring instant). Amendments are counted, not timed; a
cancellation ends the trade.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

__all__ = [
    "AMENDMENTS",
    "CANCELLED",
    "EVENT_TYPES",
    "STEPS",
    "STEP_OF",
    "Count",
    "EventType",
    "Step",
]

EventType = Literal[
    "ALLOCATED", "CONFIRMED", "AFFIRMED", "INSTRUCTED", "MATCHED", "AMENDED", "CANCELLED"
]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)


@dataclass(frozen=True)
class Step:
    """A lifecycle step that happens once; its first time is what counts."""

    event: EventType  # the events table's event_type
    feature: str  # model feature: done by the scoring instant
    field: str  # /score's Lifecycle field and the stored lifecycle's key (ISO 8601)
    request: str  # Feast request field: epoch seconds (NaN: not yet)
    label: str  # how an analyst names it


@dataclass(frozen=True)
class Count:
    """A lifecycle event that may happen many times; how many is what counts."""

    event: EventType
    feature: str
    field: str
    request: str
    seen: str  # the stored lifecycle's list of the instants already counted


STEPS: tuple[Step, ...] = (
    Step("ALLOCATED", "allocated", "allocated_ts", "req_allocated_s", "Allocated"),
    Step("CONFIRMED", "confirmed", "confirmed_ts", "req_confirmed_s", "Confirmed"),
    Step("AFFIRMED", "affirmed", "affirmed_ts", "req_affirmed_s", "Affirmed"),
    Step(
        "INSTRUCTED",
        "instructed",
        "instructed_ts",
        "req_instructed_s",
        "Settlement instruction sent",
    ),
    Step("MATCHED", "matched", "matched_ts", "req_matched_s", "Matched at the depository"),
)
STEP_OF: dict[EventType, Step] = {s.event: s for s in STEPS}
AMENDMENTS = Count("AMENDED", "amendments", "amendments", "req_amendments", seen="amended")
CANCELLED: EventType = "CANCELLED"
