"""The closed vocabularies of the raw-data contract, each declared once as a ``Literal`` type
(what mypy and the API models check) and the tuple of its values (what tables check)."""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "ASSET_CLASSES",
    "CPTY_TYPES",
    "CURRENCIES",
    "FAIL_REASONS",
    "MARKET_CODES",
    "OUTCOME_STATUSES",
    "SIDES",
    "AssetClass",
    "CptyType",
    "Currency",
    "FailReason",
    "MarketCode",
    "OutcomeStatus",
    "Side",
]

AssetClass = Literal["EQUITY", "ETF", "GOVT_BOND", "CORP_BOND"]
CptyType = Literal[
    "BROKER_DEALER", "CUSTODIAN", "ASSET_MANAGER", "HEDGE_FUND", "INSURER_PENSION", "CORPORATE"
]
Side = Literal["BUY", "SELL"]
OutcomeStatus = Literal["SETTLED", "FAILED", "CANCELLED"]
FailReason = Literal[
    "LACK_OF_SECURITIES", "LACK_OF_CASH", "SSI_MISMATCH", "LATE_MATCHING", "COUNTERPARTY", "OTHER"
]
MarketCode = Literal["US", "CA", "GB", "DE", "FR", "JP"]
Currency = Literal["CAD", "EUR", "GBP", "JPY", "USD"]

ASSET_CLASSES: tuple[AssetClass, ...] = get_args(AssetClass)
CPTY_TYPES: tuple[CptyType, ...] = get_args(CptyType)
SIDES: tuple[Side, ...] = get_args(Side)
OUTCOME_STATUSES: tuple[OutcomeStatus, ...] = get_args(OutcomeStatus)
FAIL_REASONS: tuple[FailReason, ...] = get_args(FailReason)
MARKET_CODES: tuple[MarketCode, ...] = get_args(MarketCode)
CURRENCIES: tuple[Currency, ...] = get_args(Currency)
