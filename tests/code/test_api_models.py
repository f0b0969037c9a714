"""The API's request models follow the contract: the same fields, types and enumerations as
their tables, so the two cannot drift apart; the lifecycle fields follow the vocabulary."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from core.lifecycle import AMENDMENTS, STEPS
from features.data.contract import model_drift
from serving.scoring.schemas import Lifecycle, Trade
from serving.workflow.event_models import (
    EVENT_KINDS,
    InventoryEvent,
    LifecycleEvent,
    OutcomeEvent,
    SsiEvent,
    events_adapter,
)

MODELS: list[tuple[type[BaseModel], str, tuple[str, ...]]] = [
    (Trade, "trades", ("lifecycle",)),
    (LifecycleEvent, EVENT_KINDS["lifecycle"], ("kind", "event_id")),
    (SsiEvent, EVENT_KINDS["ssi"], ("kind", "event_id")),
    (InventoryEvent, EVENT_KINDS["inventory"], ("kind", "event_id")),
    (OutcomeEvent, EVENT_KINDS["outcome"], ("kind", "event_id")),
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


_TRADE = {
    "trade_id": "T1",
    "execution_ts": "2024-12-20T14:30:00Z",
    "trade_date": "2024-12-20",
    "settlement_date": "2024-12-23",
    "settlement_cycle_days": 1,
    "desk_id": "D01",
    "account_id": "A001",
    "counterparty_id": "C0001",
    "instrument_id": "US0000000001",
    "side": "SELL",
    "quantity": 5000,
    "price": 101.5,
    "notional": 507500,
    "currency": "USD",
    "settlement_market": "US",
    "is_block": False,
}


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"execution_ts": "9999-12-31T23:30:00-05:00"}, "execution_ts", "between 2000-01-01"),
        ({"execution_ts": "1999-12-31T23:30:00Z"}, "execution_ts", "between 2000-01-01"),
        (
            {"lifecycle": {"affirmed_ts": "9999-12-31T23:30:00-05:00"}},
            "affirmed_ts",
            "days from now",
        ),
        ({"trade_id": "T" * 65}, "trade_id", "1 to 64 printable characters"),
        ({"desk_id": "D\x00"}, "desk_id", "control character"),
        ({"counterparty_id": ""}, "counterparty_id", "1 to 64 printable"),
        ({"settlement_cycle_days": 2**65}, "settlement_cycle_days", "less than or equal to 30"),
        ({"settlement_date": "2025-06-20"}, "settlement_date", "at most 90 days after"),
        ({"trade_date": "2024-12-18", "settlement_date": "2024-12-19"}, "trade_date", "local date"),
        ({"notional": 50_750_000}, "notional", "quantity × price"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_a_trade_out_of_bounds_is_refused_naming_the_field_and_the_rule(
    change: dict, field: str, rule: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        Trade.model_validate({**_TRADE, **change})
    text = str(caught.value)
    assert field in text and rule in text, text


def test_a_bond_notional_in_percent_of_par_is_consistent() -> None:
    bond = {**_TRADE, "quantity": 1_000_000, "price": 99.5, "notional": 995_000}
    assert Trade.model_validate(bond).notional == 995_000


def test_an_event_dated_far_ahead_is_refused() -> None:
    event = {
        "kind": "ssi",
        "counterparty_id": "C1",
        "market": "US",
        "asset_class": "EQUITY",
        "version": 2,
        "valid_from_ts": "2099-01-01T00:00:00Z",
        "verified_ts": None,
    }
    with pytest.raises(ValidationError, match="valid_from_ts"):
        events_adapter.validate_python([event])
    event["valid_from_ts"] = "2024-06-03T00:00:00Z"
    assert events_adapter.validate_python([event])[0].version == 2
