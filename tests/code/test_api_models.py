"""The API's request models follow the contract: the same fields, types and enumerations as
their tables, so the two cannot drift apart; the lifecycle fields follow the vocabulary."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from core.lifecycle import AMENDMENTS, STEPS
from features.data.contract import model_drift
from serving.scoring.schemas import Lifecycle, Trade
from serving.workflow.event_models import (
    EVENT_KINDS,
    InventoryEvent,
    LifecycleEvent,
    OutcomeEvent,
    SsiEvent,
)

MODELS: list[tuple[type[BaseModel], str, tuple[str, ...]]] = [
    (Trade, "trades", ("lifecycle",)),
    (LifecycleEvent, EVENT_KINDS["lifecycle"], ("kind",)),
    (SsiEvent, EVENT_KINDS["ssi"], ("kind",)),
    (InventoryEvent, EVENT_KINDS["inventory"], ("kind",)),
    (OutcomeEvent, EVENT_KINDS["outcome"], ("kind",)),
]


@pytest.mark.parametrize(
    ("model", "table", "extra"), MODELS, ids=lambda v: getattr(v, "__name__", v)
)
def test_request_models_equal_their_contract_tables(
    model: type[BaseModel], table: str, extra: tuple[str, ...]
) -> None:
    assert model_drift(model, table, extra) == []


def test_drift_is_named_field_by_field() -> None:
    class Drifted(BaseModel):
        trade_id: int  # the contract says str
        side: str  # the contract says BUY or SELL
        colour: str  # no such column

    problems = model_drift(Drifted, "trades")
    assert "Drifted.colour is no column of trades" in problems
    assert any(p.startswith("Drifted.trade_id: declared") for p in problems)
    assert any(p.startswith("Drifted.side: declared") for p in problems)
    assert "Drifted lacks column notional" in problems


def test_lifecycle_fields_are_the_vocabularys() -> None:
    assert list(Lifecycle.model_fields) == [s.field for s in STEPS] + [AMENDMENTS.field]
