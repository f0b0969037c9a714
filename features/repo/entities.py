"""Entities: the things features describe, and the keys that join them to a trade."""

from feast import Entity, ValueType

counterparty = Entity(
    name="counterparty",
    join_keys=["counterparty_id"],
    value_type=ValueType.STRING,
    description="The firm on the other side of the trade.",
)
instrument = Entity(
    name="instrument",
    join_keys=["instrument_id"],
    value_type=ValueType.STRING,
    description="The security traded (ISIN).",
)
desk = Entity(
    name="desk",
    join_keys=["desk_id"],
    value_type=ValueType.STRING,
    description="Our trading desk; with a counterparty it forms a desk×counterparty pair.",
)
market = Entity(
    name="market",
    join_keys=["settlement_market"],
    value_type=ValueType.STRING,
    description="Settlement market (CSD).",
)
asset_class = Entity(
    name="asset_class",
    join_keys=["asset_class"],
    value_type=ValueType.STRING,
    description="Asset class; with counterparty and market it keys a settlement instruction.",
)
account = Entity(
    name="account",
    join_keys=["account_id"],
    value_type=ValueType.STRING,
    description="Our booking account; with an instrument it keys a position.",
)

ENTITIES = (counterparty, instrument, desk, market, asset_class, account)
