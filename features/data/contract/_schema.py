"""The raw-data contract of DESIGN.md as data: tables, columns, types, enumerations, keys."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.lifecycle import EVENT_TYPES
from core.limits import MAX_CYCLE_DAYS, MAX_DAYS_LATE, MAX_ID_LENGTH, MAX_SSI_VERSION
from core.vocabulary import (
    ASSET_CLASSES,
    CPTY_TYPES,
    CURRENCIES,
    FAIL_REASONS,
    MARKET_CODES,
    OUTCOME_STATUSES,
    SIDES,
)

__all__ = ["TABLES", "Column", "Kind", "Table"]


class Kind(StrEnum):
    STRING = "string"
    FLOAT = "float"
    INT = "int"
    BOOL = "bool"
    DATE = "date"
    TIMESTAMP = "timestamp"


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    description: str
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    minimum: float | None = None  # inclusive unless exclusive_minimum
    exclusive_minimum: bool = False
    maximum: float | None = None
    max_length: int | None = None  # strings only
    printable: bool = False  # strings only: no control characters


@dataclass(frozen=True)
class Table:
    name: str
    one_row_per: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    simulator_only: bool = False

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _id(name: str, description: str) -> Column:
    """An identifier: a non-empty string of at most ``MAX_ID_LENGTH`` printable characters
    (the API's rule; keys joined with a control character between them stay apart)."""
    return Column(name, Kind.STRING, description, max_length=MAX_ID_LENGTH, printable=True)


def _c(name: str, kind: Kind, description: str, **rules: object) -> Column:
    return Column(name, kind, description, **rules)  # type: ignore[arg-type]


S, F, INT, B, D, T = Kind.STRING, Kind.FLOAT, Kind.INT, Kind.BOOL, Kind.DATE, Kind.TIMESTAMP
_POSITIVE = {"minimum": 0.0, "exclusive_minimum": True}
_PROBABILITY = {"minimum": 0.0, "maximum": 1.0}

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "instruments",
            "instrument",
            (
                _id("instrument_id", "ISIN or internal identifier"),
                _c("symbol", S, "ticker or short name"),
                _c("asset_class", S, "asset class", allowed=ASSET_CLASSES),
                _c("market", S, "home settlement market", allowed=MARKET_CODES),
                _c("currency", S, "ISO 4217 currency", allowed=CURRENCIES),
                _c("issue_date", D, "date of issue"),
                _c("avg_daily_volume", F, "average daily volume, units", minimum=0.0),
                _c("reference_price", F, "reference price (percent of par for bonds)", **_POSITIVE),
            ),
            key=("instrument_id",),
        ),
        Table(
            "counterparties",
            "counterparty",
            (
                _id("counterparty_id", "counterparty identifier (LEI-like)"),
                _c("name", S, "legal name"),
                _c("cpty_type", S, "type of counterparty", allowed=CPTY_TYPES),
                _c("domicile_market", S, "home market", allowed=MARKET_CODES),
                _c("onboarded_date", D, "date the counterparty was onboarded"),
            ),
            key=("counterparty_id",),
        ),
        Table(
            "trades",
            "executed trade (allocation level)",
            (
                _id("trade_id", "trade identifier"),
                _c("execution_ts", T, "execution time"),
                _c("trade_date", D, "local business date of the trade"),
                _c("settlement_date", D, "intended settlement date (ISD)"),
                _c(
                    "settlement_cycle_days",
                    INT,
                    "business days from trade date to ISD",
                    minimum=0.0,
                    maximum=float(MAX_CYCLE_DAYS),
                ),
                _id("desk_id", "trading desk"),
                _id("account_id", "our account"),
                _id("counterparty_id", "counterparty"),
                _id("instrument_id", "instrument"),
                _c("side", S, "our side", allowed=SIDES),
                _c("quantity", F, "quantity (units or face amount)", **_POSITIVE),
                _c("price", F, "execution price", **_POSITIVE),
                _c("notional", F, "settlement amount in the trade currency", **_POSITIVE),
                _c("currency", S, "trade currency", allowed=CURRENCIES),
                _c("settlement_market", S, "market where the trade settles", allowed=MARKET_CODES),
                _c("is_block", B, "allocation of a block trade"),
            ),
            key=("trade_id",),
        ),
        Table(
            "events",
            "lifecycle event",
            (
                _id("trade_id", "trade"),
                _c("event_ts", T, "when the event happened"),
                _c("event_type", S, "lifecycle step", allowed=EVENT_TYPES),
                _c("detail", S, "free text", nullable=True),
            ),
            key=(),
        ),
        Table(
            "ssi",
            "version of a standing settlement instruction",
            (
                _id("counterparty_id", "counterparty"),
                _c("market", S, "settlement market", allowed=MARKET_CODES),
                _c("asset_class", S, "asset class", allowed=ASSET_CLASSES),
                _c(
                    "version",
                    INT,
                    "version number, 1 for the first",
                    minimum=1.0,
                    maximum=float(MAX_SSI_VERSION),
                ),
                _c("valid_from_ts", T, "when this version took effect"),
                _c("verified_ts", T, "when this version was verified", nullable=True),
            ),
            key=("counterparty_id", "market", "asset_class", "version"),
        ),
        Table(
            "inventory",
            "position snapshot",
            (
                _id("account_id", "our account"),
                _id("instrument_id", "instrument"),
                _c("as_of_ts", T, "snapshot time"),
                _c("available_qty", F, "settled position available to deliver", minimum=0.0),
                _c(
                    "incoming_qty", F, "pending receipts due by the snapshot's horizon", minimum=0.0
                ),
            ),
            key=("account_id", "instrument_id", "as_of_ts"),
        ),
        Table(
            "holidays",
            "market holiday",
            (
                _c("market", S, "market", allowed=MARKET_CODES),
                _c("date", D, "holiday"),
                _c("name", S, "holiday name"),
            ),
            key=("market", "date"),
        ),
        Table(
            "outcomes",
            "settled or failed trade",
            (
                _id("trade_id", "trade"),
                _c("status", S, "outcome", allowed=OUTCOME_STATUSES),
                _c("settled_ts", T, "when the trade settled", nullable=True),
                _c(
                    "days_late",
                    INT,
                    "business days after the ISD it settled",
                    minimum=0.0,
                    maximum=float(MAX_DAYS_LATE),
                ),
                _c("fail_reason", S, "why it failed", nullable=True, allowed=FAIL_REASONS),
                _c("known_ts", T, "when the outcome became known (end of the ISD)"),
            ),
            key=("trade_id",),
        ),
        Table(
            "truth",
            "trade (simulator only)",
            (
                _id("trade_id", "trade"),
                _c("p_fail_final", F, "probability the label was drawn from", **_PROBABILITY),
                _c(
                    "p_fail_at_execution",
                    F,
                    "p_fail_final averaged over everything after execution",
                    **_PROBABILITY,
                ),
                _c(
                    "p_fail_at_isd_1",
                    F,
                    "p_fail_final averaged over everything after the ISD-1 snapshot",
                    **_PROBABILITY,
                ),
                _c("primary_cause", S, "largest fail-risk component", allowed=FAIL_REASONS),
            ),
            key=("trade_id",),
            simulator_only=True,
        ),
    )
}
