"""A trade as the exception store keeps it for re-scoring: its contract fields (JSON) and its
lifecycle so far, which events extend. Merging lifecycles is idempotent, so an event applied
twice, or a lifecycle sent again with a later ``/score``, changes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from core.instants import iso
from core.lifecycle import AMENDMENTS, STEP_OF, STEPS
from serving.scoring.schemas import Lifecycle, Trade

__all__ = [
    "StoredTrade",
    "as_trade",
    "lifecycle_after",
    "merge_lifecycles",
    "stored_trade",
]


StoredTrade = tuple[dict[str, Any], dict[str, Any]]
"""(contract fields, lifecycle) as JSON values."""


def stored_trade(trade: Trade | Mapping[str, Any]) -> StoredTrade:
    """A validated ``Trade`` (or its JSON) as what the store keeps."""
    if not isinstance(trade, Trade):
        trade = Trade.model_validate(trade)
    payload = trade.model_dump(mode="json", exclude={"lifecycle"})
    state = trade.lifecycle or Lifecycle()
    lifecycle: dict[str, Any] = {
        step.field: None if (at := state.at(step.field)) is None else iso(at) for step in STEPS
    }
    lifecycle[AMENDMENTS.field] = state.amendments
    return payload, lifecycle


def merge_lifecycles(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """What both lifecycles know: the first time of each step, every amendment once."""
    out: dict[str, Any] = {}
    for step in STEPS:
        times = [t for t in (a.get(step.field), b.get(step.field)) if t is not None]
        out[step.field] = min(times, key=_instant) if times else None
    seen = AMENDMENTS.seen  # the instants of the amendments counted, so that each counts once
    amended = sorted(set(a.get(seen, [])) | set(b.get(seen, [])), key=_instant)
    out[seen] = amended
    count = AMENDMENTS.field
    out[count] = max(a.get(count, 0), b.get(count, 0), len(amended))
    return out


def lifecycle_after(lifecycle: Mapping[str, Any], event_type: str, at: str) -> dict[str, Any]:
    """The lifecycle once an event of ``event_type`` at ``at`` (ISO 8601) has happened."""
    if event_type in STEP_OF:
        return merge_lifecycles(lifecycle, {STEP_OF[event_type].field: at})
    if event_type == AMENDMENTS.event:
        return merge_lifecycles(lifecycle, {AMENDMENTS.seen: [at]})
    return merge_lifecycles(lifecycle, {})


def as_trade(payload: Mapping[str, Any], lifecycle: Mapping[str, Any]) -> Trade:
    """The ``Trade`` to score again."""
    state = {name: lifecycle.get(name) for name in Lifecycle.model_fields}
    state[AMENDMENTS.field] = lifecycle.get(AMENDMENTS.field, 0)
    return Trade.model_validate({**payload, "lifecycle": state})


def _instant(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp)
