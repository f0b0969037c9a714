"""Stored features: one Feast feature view per family table, each row stamped with the
instant its values became known (see ``STAMPS``)."""

from __future__ import annotations

from core.actions import ReasonCode as R
from core.catalogue._feature import (
    Family,
    Feature,
    Format,
    count,
    epoch_day,
    epoch_seconds,
    minutes,
    named,
    pct,
)
from core.markets import MARKETS
from core.vocabulary import ASSET_CLASSES, CPTY_TYPES

__all__ = ["STAMPS", "STORED"]

_NO_CPTY, _NO_INST = "unknown counterparty", "unknown instrument"
_MARKET_NAMES = tuple(MARKETS)

STAMPS: dict[str, str] = {
    "counterparty_history": "every UTC midnight and whenever the counterparty's outcomes "
    "arrive; an outcome counts from its known_ts, an execution from its execution_ts, an "
    "affirmation (or its absence) from the cutoff, an SSI version from its valid_from_ts",
    "counterparty_profile": "the onboarding date",
    "instrument_profile": "the issue date",
    "instrument_history": "every UTC midnight and whenever the instrument's outcomes arrive",
    "instrument_ftd": "the SEC's publication of each half month, 15 days after it ends",
    "account_history": "every UTC midnight and whenever the account's outcomes arrive",
    "ssi_state": "when a version takes effect, and again when it is verified",
    "position": "the inventory snapshot's as_of_ts",
}
"""When each stored view's rows become known: what makes historical retrieval point in time."""


def _cpty(name: str, description: str, reason: R, label: str, fmt: Format = count) -> Feature:
    """A counterparty-history feature."""
    return Feature(
        name, "float", description, "counterparty_history", Family.COUNTERPARTY, reason, label, fmt
    )


def _rates(
    prefix: str,
    windows: tuple[int, ...],
    what: str,
    view: str,
    family: Family,
    reason: R,
    label: str,
) -> list[Feature]:
    """Smoothed fail rates over trailing windows."""
    return [
        Feature(
            f"{prefix}_fail_rate_{d}d",
            "float",
            f"{what} fail rate over {d} days, shrunk to the population",
            view,
            family,
            reason,
            f"{label}, {d} days",
            pct,
        )
        for d in windows
    ]


STORED: tuple[Feature, ...] = (
    # counterparty behaviour
    *_rates(
        "cpty",
        (7, 30, 90),
        "counterparty",
        "counterparty_history",
        Family.COUNTERPARTY,
        R.COUNTERPARTY,
        "Counterparty fail rate",
    ),
    *[
        _cpty(
            f"cpty_value_fail_rate_{d}d",
            f"value-weighted counterparty fail rate, {d} days",
            R.COUNTERPARTY,
            f"Counterparty fails by value, {d} days",
            pct,
        )
        for d in (7, 30, 90)
    ],
    _cpty(
        "cpty_securities_fail_rate_90d",
        "counterparty fails for lack of securities, 90 days",
        R.COUNTERPARTY,
        "Counterparty fails for lack of securities, 90 days",
        pct,
    ),
    _cpty(
        "cpty_ssi_fail_rate_90d",
        "counterparty fails for SSI mismatch, 90 days",
        R.SSI,
        "Counterparty fails on SSI mismatches, 90 days",
        pct,
    ),
    _cpty(
        "cpty_late_match_fail_rate_90d",
        "counterparty fails for late matching, 90 days",
        R.MATCHING,
        "Counterparty fails on late matching, 90 days",
        pct,
    ),
    _cpty(
        "cpty_outcomes_90d",
        "settled or failed trades known in 90 days (history depth)",
        R.NEW_COUNTERPARTY,
        "Settlements with the counterparty, 90 days",
    ),
    _cpty(
        "cpty_trades_30d",
        "trades executed in 30 days",
        R.COUNTERPARTY,
        "Trades with the counterparty, 30 days",
    ),
    _cpty(
        "cpty_notional_30d",
        "notional executed in 30 days",
        R.LARGE_TRADE,
        "Value traded with the counterparty, 30 days",
    ),
    _cpty(
        "cpty_mean_notional_90d",
        "mean trade notional over 90 days",
        R.LARGE_TRADE,
        "Counterparty's average trade value",
    ),
    _cpty(
        "cpty_late_affirm_rate_30d",
        "share of trades not affirmed by the cutoff, 30 days",
        R.AFFIRMATION,
        "Counterparty's late affirmations, 30 days",
        pct,
    ),
    _cpty(
        "cpty_affirm_minutes_30d",
        "mean minutes from execution to affirmation, 30 days",
        R.AFFIRMATION,
        "Counterparty's typical time to affirm",
        minutes,
    ),
    _cpty(
        "cpty_late_match_rate_30d",
        "share of trades not matched by the eve of their ISD, 30 days",
        R.MATCHING,
        "Counterparty's trades unmatched on the eve of settlement, 30 days",
        pct,
    ),
    _cpty(
        "cpty_match_minutes_30d",
        "mean minutes from settlement instruction to matching, 30 days",
        R.MATCHING,
        "Counterparty's typical time to match",
        minutes,
    ),
    _cpty(
        "cpty_ssi_changes_30d",
        "new SSI versions across markets, 30 days",
        R.SSI,
        "Counterparty SSI changes, 30 days",
    ),
    # counterparty reference data
    Feature(
        "cpty_type_code",
        "int",
        "counterparty type, index in CPTY_TYPES",
        "counterparty_profile",
        Family.COUNTERPARTY,
        R.PROFILE,
        "Counterparty type",
        named(CPTY_TYPES),
        _NO_CPTY,
    ),
    Feature(
        "cpty_domicile_code",
        "int",
        "home market, index in MARKETS",
        "counterparty_profile",
        Family.COUNTERPARTY,
        fmt=named(_MARKET_NAMES),
        missing=_NO_CPTY,
    ),
    Feature(
        "cpty_onboarded_day",
        "int",
        "onboarding date, days since 1970-01-01",
        "counterparty_profile",
        Family.COUNTERPARTY,
        fmt=epoch_day,
        missing=_NO_CPTY,
    ),
    # instrument reference data and liquidity
    Feature(
        "asset_class_code",
        "int",
        "asset class, index in ASSET_CLASSES",
        "instrument_profile",
        Family.INSTRUMENT,
        R.PROFILE,
        "Asset class",
        named(ASSET_CLASSES),
        _NO_INST,
    ),
    Feature(
        "instrument_market_code",
        "int",
        "home market, index in MARKETS",
        "instrument_profile",
        Family.INSTRUMENT,
        fmt=named(_MARKET_NAMES),
        missing=_NO_INST,
    ),
    Feature(
        "avg_daily_volume",
        "float",
        "average daily volume, units",
        "instrument_profile",
        Family.INSTRUMENT,
        R.HARD_TO_DELIVER,
        "Average daily volume",
        count,
        _NO_INST,
    ),
    Feature(
        "reference_price",
        "float",
        "reference price",
        "instrument_profile",
        Family.INSTRUMENT,
        missing=_NO_INST,
    ),
    Feature(
        "issue_day",
        "int",
        "issue date, days since 1970-01-01",
        "instrument_profile",
        Family.INSTRUMENT,
        fmt=epoch_day,
        missing=_NO_INST,
    ),
    # instrument fail history
    *_rates(
        "inst",
        (30, 90),
        "instrument",
        "instrument_history",
        Family.INSTRUMENT,
        R.HARD_TO_DELIVER,
        "Instrument fail rate",
    ),
    Feature(
        "inst_securities_fail_rate_90d",
        "float",
        "instrument fails for lack of securities, 90 days",
        "instrument_history",
        Family.INSTRUMENT,
        R.HARD_TO_DELIVER,
        "Instrument fails for lack of securities, 90 days",
        pct,
    ),
    Feature(
        "inst_outcomes_90d",
        "float",
        "settled or failed trades known in 90 days",
        "instrument_history",
        Family.INSTRUMENT,
        R.HARD_TO_DELIVER,
        "Settlements in the instrument, 90 days",
        count,
    ),
    # SEC fails-to-deliver scarcity signal
    Feature(
        "ftd_fails_value",
        "float",
        "SEC fails-to-deliver balance value at the last published date",
        "instrument_ftd",
        Family.INSTRUMENT,
        R.HARD_TO_DELIVER,
        "SEC fails-to-deliver balance (USD)",
        count,
        "not listed",
    ),
    Feature(
        "ftd_days_on_list_90d",
        "float",
        "settlement dates on the SEC FTD list in 90 days",
        "instrument_ftd",
        Family.INSTRUMENT,
        R.HARD_TO_DELIVER,
        "Days on the SEC fails-to-deliver list, 90 days",
        count,
        "none",
    ),
    # our booking account: how often its buys have lacked the cash to settle
    Feature(
        "acct_cash_fail_rate_90d",
        "float",
        "the account's fails for lack of cash among its settled or failed trades, 90 days, "
        "shrunk to the population",
        "account_history",
        Family.ACCOUNT,
        R.FUNDING,
        "Account's fails for lack of cash, 90 days",
        pct,
    ),
    # the SSI in force (read by the request-time SSI features)
    Feature(
        "ssi_valid_from_s",
        "float",
        "the SSI in force took effect, UTC epoch seconds",
        "ssi_state",
        Family.SSI,
        fmt=epoch_seconds,
        missing="no SSI on file",
    ),
    Feature(
        "ssi_verified_s",
        "float",
        "it was verified, UTC epoch seconds (NaN: not verified)",
        "ssi_state",
        Family.SSI,
        fmt=epoch_seconds,
        missing="not verified",
    ),
    Feature(
        "ssi_prev_valid_from_s",
        "float",
        "the previous version took effect, UTC epoch seconds",
        "ssi_state",
        Family.SSI,
        fmt=epoch_seconds,
        missing="no earlier version",
    ),
    # inventory position (read by the request-time coverage features)
    Feature(
        "available_qty",
        "float",
        "settled position available to deliver",
        "position",
        Family.INVENTORY,
        fmt=count,
        missing="no position on record",
    ),
    Feature(
        "incoming_qty",
        "float",
        "pending receipts expected before the ISD",
        "position",
        Family.INVENTORY,
        fmt=count,
        missing="no position on record",
    ),
)
