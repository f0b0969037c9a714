"""The events ``POST /events`` and ``failcast events ingest`` take: each a row of a contract
table plus ``kind``, its fields carrying the column's description and rules (a test holds
them equal to the tables); and ``Applied``, what a batch of them did."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from core.lifecycle import EventType
from core.vocabulary import AssetClass, FailReason, MarketCode, OutcomeStatus
from features.data.contract import Identifier, Instant, contract_field
from serving.scoring.schemas import Strict

__all__ = [
    "EVENT_KINDS",
    "KIND_OF_TABLE",
    "AnyEvent",
    "Applied",
    "Event",
    "InventoryEvent",
    "LifecycleEvent",
    "OutcomeEvent",
    "RescoredTrade",
    "SsiEvent",
    "digest",
    "event_key",
    "events_adapter",
]

EVENT_KINDS = {"lifecycle": "events", "ssi": "ssi", "inventory": "inventory", "outcome": "outcomes"}
"""Each event kind and the contract table its rows follow."""
KIND_OF_TABLE = {table: kind for kind, table in EVENT_KINDS.items()}


def _kind(kind: str) -> Any:
    return Field(description=f"'{kind}': a row of the {EVENT_KINDS[kind]} table")


class _Event(Strict):
    event_id: Identifier | None = Field(
        default=None,
        description="The sender's id of the event: an event sent again with the same id is "
        "applied once. Without one, the id is the SHA-256 of the event's content, so an "
        "identical event sent again is applied once.",
    )


class LifecycleEvent(_Event):
    """A step of a trade's lifecycle: a row of the events table."""

    kind: Literal["lifecycle"] = _kind("lifecycle")
    trade_id: Identifier = contract_field("events", "trade_id")
    event_ts: Instant = contract_field("events", "event_ts")
    event_type: EventType = contract_field("events", "event_type")
    detail: str | None = contract_field("events", "detail")


class SsiEvent(_Event):
    """A new or newly verified standing settlement instruction: a row of the ssi table."""

    kind: Literal["ssi"] = _kind("ssi")
    counterparty_id: Identifier = contract_field("ssi", "counterparty_id")
    market: MarketCode = contract_field("ssi", "market")
    asset_class: AssetClass = contract_field("ssi", "asset_class")
    version: int = contract_field("ssi", "version")
    valid_from_ts: Instant = contract_field("ssi", "valid_from_ts")
    verified_ts: Instant | None = contract_field("ssi", "verified_ts")


class InventoryEvent(_Event):
    """A position snapshot: a row of the inventory table."""

    kind: Literal["inventory"] = _kind("inventory")
    account_id: Identifier = contract_field("inventory", "account_id")
    instrument_id: Identifier = contract_field("inventory", "instrument_id")
    as_of_ts: Instant = contract_field("inventory", "as_of_ts")
    available_qty: float = contract_field("inventory", "available_qty")
    incoming_qty: float = contract_field("inventory", "incoming_qty")


class OutcomeEvent(_Event):
    """A trade settled, failed or was cancelled: a row of the outcomes table."""

    kind: Literal["outcome"] = _kind("outcome")
    trade_id: Identifier = contract_field("outcomes", "trade_id")
    status: OutcomeStatus = contract_field("outcomes", "status")
    settled_ts: Instant | None = contract_field("outcomes", "settled_ts")
    days_late: int = contract_field("outcomes", "days_late")
    fail_reason: FailReason | None = contract_field("outcomes", "fail_reason")
    known_ts: Instant = contract_field("outcomes", "known_ts")


AnyEvent = LifecycleEvent | SsiEvent | InventoryEvent | OutcomeEvent
Event = Annotated[AnyEvent, Field(discriminator="kind")]
events_adapter: TypeAdapter[list[AnyEvent]] = TypeAdapter(list[Event])


def digest(event: AnyEvent) -> str:
    """SHA-256 of the event's content (everything but its id), as hex."""
    content = event.model_dump(mode="json", exclude={"event_id"})
    body = json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(body.encode()).hexdigest()


def event_key(event: AnyEvent) -> tuple[str, str]:
    """The event's id (given, or its content's digest) and its content's digest."""
    content = digest(event)
    return event.event_id or content, content


# what a batch did: the answer of POST /events ----------------------------------------------


class RescoredTrade(BaseModel):
    trade_id: str
    stage: str
    fail_probability: float
    previous_probability: float | None = Field(description="the latest score before the event")
    risk_tier: str
    expected_cost: float
    currency: str
    scored_at: dt.datetime


class Applied(BaseModel):
    """What a batch of events did."""

    events: dict[str, int] = Field(description="events applied, by kind")
    duplicates: int = Field(0, description="events received before: nothing is done again")
    pending: int = Field(
        0,
        description="batches of those re-sent events whose effects are still being applied "
        "(by another process, or after a store comes back)",
    )
    pushed: dict[str, int] = Field(description="feature rows pushed online, by view")
    rescored: list[RescoredTrade] = Field(description="undecided trades scored again")
    opened: int = Field(description="exceptions opened")
    updated: int = Field(description="exceptions given a newer score")
    closed: int = Field(description="exceptions closed (settled, failed, cancelled or safe)")
