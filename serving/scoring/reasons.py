"""From SHAP contributions to what an ops analyst reads: a reason code, a sentence about the
trade, the action that fixes it and the team that owns the action.

``REASONS`` is the catalogue: one entry per model feature (a test checks that every feature
of the feature service has one). Codes group features that call for the same action.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from core.markets import MARKETS
from features.data.contract import ASSET_CLASSES, CPTY_TYPES

__all__ = [
    "ACTIONS",
    "REASONS",
    "Action",
    "Explained",
    "Reason",
    "ReasonCode",
    "Team",
    "top_reasons",
]


class Team(StrEnum):
    TRADE_SUPPORT = "Trade Support (middle office)"
    SETTLEMENTS = "Settlements"
    STATIC_DATA = "SSI & Static Data"
    SECURITIES_LENDING = "Securities Lending & Inventory"
    TREASURY = "Treasury & Cash Management"
    RELATIONSHIP = "Counterparty Relationship"


@dataclass(frozen=True)
class Action:
    text: str
    team: Team


class ReasonCode(StrEnum):
    AFFIRMATION = "AFFIRMATION_PENDING"
    ALLOCATION = "ALLOCATION_PENDING"
    MATCHING = "MATCHING_PENDING"
    INSTRUCTION = "INSTRUCTION_PENDING"
    AMENDED = "TRADE_AMENDED"
    TIME_TO_CUTOFF = "LITTLE_TIME_TO_CUTOFF"
    SSI = "SSI_RISK"
    INVENTORY = "SHORT_INVENTORY"
    HARD_TO_DELIVER = "HARD_TO_DELIVER_SECURITY"
    COUNTERPARTY = "COUNTERPARTY_FAIL_HISTORY"
    NEW_COUNTERPARTY = "NEW_COUNTERPARTY"
    LARGE_TRADE = "LARGE_TRADE"
    CALENDAR = "SETTLEMENT_CALENDAR"
    MARKET = "MARKET_CONDITIONS"
    PROFILE = "TRADE_PROFILE"


ACTIONS: dict[ReasonCode, Action] = {
    ReasonCode.AFFIRMATION: Action(
        "Chase the counterparty to affirm before the cutoff", Team.TRADE_SUPPORT
    ),
    ReasonCode.ALLOCATION: Action(
        "Chase the investment manager for the block allocation", Team.TRADE_SUPPORT
    ),
    ReasonCode.MATCHING: Action(
        "Compare instructions with the counterparty's agent and get the trade matched",
        Team.SETTLEMENTS,
    ),
    ReasonCode.INSTRUCTION: Action("Release the settlement instruction", Team.SETTLEMENTS),
    ReasonCode.AMENDED: Action(
        "Confirm the amended details with the counterparty and re-match", Team.SETTLEMENTS
    ),
    ReasonCode.TIME_TO_CUTOFF: Action(
        "Prioritise: affirm and instruct ahead of the cutoff", Team.TRADE_SUPPORT
    ),
    ReasonCode.SSI: Action(
        "Verify the standing settlement instruction with the counterparty (call-back)",
        Team.STATIC_DATA,
    ),
    ReasonCode.INVENTORY: Action(
        "Source or borrow the securities; consider partial settlement",
        Team.SECURITIES_LENDING,
    ),
    ReasonCode.HARD_TO_DELIVER: Action(
        "Check availability with securities lending now; line up a borrow",
        Team.SECURITIES_LENDING,
    ),
    ReasonCode.COUNTERPARTY: Action(
        "Pre-match with the counterparty's settlement desk; escalate if it keeps failing",
        Team.RELATIONSHIP,
    ),
    ReasonCode.NEW_COUNTERPARTY: Action(
        "Confirm SSIs and settlement contacts with the new counterparty", Team.STATIC_DATA
    ),
    ReasonCode.LARGE_TRADE: Action(
        "Arrange cash or funding early; consider partial settlement", Team.TREASURY
    ),
    ReasonCode.CALENDAR: Action(
        "Instruct early and confirm funding across the holiday or period end", Team.SETTLEMENTS
    ),
    ReasonCode.MARKET: Action(
        "Watch the market's settlement queue; instruct early", Team.SETTLEMENTS
    ),
    ReasonCode.PROFILE: Action("Review the trade's settlement set-up", Team.SETTLEMENTS),
}


Format = Callable[[float], str]


def _pct(v: float) -> str:
    return f"{v:.1%}"


def _count(v: float) -> str:
    return f"{v:,.0f}"


def _days_ago(v: float) -> str:
    return f"{v:,.0f} days ago"


def _minutes(v: float) -> str:
    return f"{v:,.0f} minutes"


def _yes_no(yes: str = "yes", no: str = "no") -> Format:
    return lambda v: yes if v >= 0.5 else no


def _named(names: tuple[str, ...]) -> Format:
    return lambda v: names[int(v)] if 0 <= int(v) < len(names) else "unknown"


def _cutoff(v: float) -> str:
    return f"in {v:,.0f} minutes" if v >= 0 else f"passed {-v:,.0f} minutes ago"


@dataclass(frozen=True)
class Reason:
    """How one feature reads as a reason: its code, and "label: value" for an analyst."""

    code: ReasonCode
    label: str
    fmt: Format = _count
    missing: str = "no history yet"

    def phrase(self, value: float | None) -> str:
        shown = self.missing if value is None or not np.isfinite(value) else self.fmt(value)
        return f"{self.label}: {shown}"


R = ReasonCode
_NO_CPTY, _NO_INST, _NO_SSI = "unknown counterparty", "unknown instrument", "no SSI on file"
_NOT_DELIVERY = "not a delivery, or no position on record"
REASONS: dict[str, Reason] = {
    # counterparty history and profile
    "cpty_fail_rate_7d": Reason(R.COUNTERPARTY, "Counterparty fail rate, 7 days", _pct),
    "cpty_fail_rate_30d": Reason(R.COUNTERPARTY, "Counterparty fail rate, 30 days", _pct),
    "cpty_fail_rate_90d": Reason(R.COUNTERPARTY, "Counterparty fail rate, 90 days", _pct),
    "cpty_value_fail_rate_7d": Reason(R.COUNTERPARTY, "Counterparty fails by value, 7 days", _pct),
    "cpty_value_fail_rate_30d": Reason(
        R.COUNTERPARTY, "Counterparty fails by value, 30 days", _pct
    ),
    "cpty_value_fail_rate_90d": Reason(
        R.COUNTERPARTY, "Counterparty fails by value, 90 days", _pct
    ),
    "cpty_securities_fail_rate_90d": Reason(
        R.COUNTERPARTY, "Counterparty fails for lack of securities, 90 days", _pct
    ),
    "cpty_ssi_fail_rate_90d": Reason(R.SSI, "Counterparty fails on SSI mismatches, 90 days", _pct),
    "cpty_late_match_fail_rate_90d": Reason(
        R.MATCHING, "Counterparty fails on late matching, 90 days", _pct
    ),
    "cpty_outcomes_90d": Reason(R.NEW_COUNTERPARTY, "Settlements with the counterparty, 90 days"),
    "cpty_trades_30d": Reason(R.COUNTERPARTY, "Trades with the counterparty, 30 days"),
    "cpty_notional_30d": Reason(R.LARGE_TRADE, "Value traded with the counterparty, 30 days"),
    "cpty_mean_notional_90d": Reason(R.LARGE_TRADE, "Counterparty's average trade value"),
    "cpty_late_affirm_rate_30d": Reason(
        R.AFFIRMATION, "Counterparty's late affirmations, 30 days", _pct
    ),
    "cpty_affirm_minutes_30d": Reason(
        R.AFFIRMATION, "Counterparty's typical time to affirm", _minutes
    ),
    "cpty_ssi_changes_30d": Reason(R.SSI, "Counterparty SSI changes, 30 days"),
    "cpty_type_code": Reason(R.PROFILE, "Counterparty type", _named(CPTY_TYPES), _NO_CPTY),
    "cpty_days_since_onboarding": Reason(
        R.NEW_COUNTERPARTY, "Counterparty onboarded", _days_ago, _NO_CPTY
    ),
    # instrument
    "asset_class_code": Reason(R.PROFILE, "Asset class", _named(ASSET_CLASSES), _NO_INST),
    "avg_daily_volume": Reason(R.HARD_TO_DELIVER, "Average daily volume", _count, _NO_INST),
    "inst_fail_rate_30d": Reason(R.HARD_TO_DELIVER, "Instrument fail rate, 30 days", _pct),
    "inst_fail_rate_90d": Reason(R.HARD_TO_DELIVER, "Instrument fail rate, 90 days", _pct),
    "inst_securities_fail_rate_90d": Reason(
        R.HARD_TO_DELIVER, "Instrument fails for lack of securities, 90 days", _pct
    ),
    "inst_outcomes_90d": Reason(R.HARD_TO_DELIVER, "Settlements in the instrument, 90 days"),
    "ftd_fails_value": Reason(
        R.HARD_TO_DELIVER, "SEC fails-to-deliver balance (USD)", _count, "not listed"
    ),
    "ftd_days_on_list_90d": Reason(
        R.HARD_TO_DELIVER, "Days on the SEC fails-to-deliver list, 90 days", _count, "none"
    ),
    "instrument_age_days": Reason(R.HARD_TO_DELIVER, "Instrument issued", _days_ago, _NO_INST),
    "size_vs_adv": Reason(
        R.HARD_TO_DELIVER, "Trade size as a share of daily volume", _pct, _NO_INST
    ),
    # pair and market
    "pair_fail_rate_90d": Reason(
        R.COUNTERPARTY, "Fail rate of this desk with this counterparty, 90 days", _pct
    ),
    "pair_outcomes_90d": Reason(
        R.NEW_COUNTERPARTY, "Settlements of this desk with this counterparty, 90 days"
    ),
    "market_fail_rate_7d": Reason(R.MARKET, "Settlement-market fail rate, 7 days", _pct),
    "market_fail_rate_30d": Reason(R.MARKET, "Settlement-market fail rate, 30 days", _pct),
    "market_outcomes_30d": Reason(R.MARKET, "Settlements in the market, 30 days"),
    # trade context
    "minutes_to_cutoff_at_execution": Reason(
        R.TIME_TO_CUTOFF, "Time from execution to the affirmation cutoff", _minutes
    ),
    "exec_local_hour": Reason(
        R.TIME_TO_CUTOFF,
        "Executed at (local time)",
        lambda v: f"{int(v):02d}:{int(v % 1 * 60):02d}",
    ),
    "settlement_cycle_days": Reason(R.CALENDAR, "Settlement cycle", lambda v: f"T+{v:.0f}"),
    "holiday_in_window": Reason(R.CALENDAR, "Holiday in the settlement window", _yes_no()),
    "period_end": Reason(R.CALENDAR, "Settles at month end", _yes_no()),
    "quarter_end": Reason(R.CALENDAR, "Settles at quarter end", _yes_no()),
    "settlement_market_code": Reason(R.MARKET, "Settlement market", _named(tuple(MARKETS))),
    "cross_border": Reason(R.SSI, "Cross-border settlement", _yes_no(), _NO_CPTY),
    "is_sell": Reason(
        R.INVENTORY, "Side", _yes_no("we deliver securities", "we receive securities")
    ),
    "is_block": Reason(R.ALLOCATION, "Block trade awaiting allocation", _yes_no()),
    "log_notional": Reason(R.LARGE_TRADE, "Trade value", lambda v: f"{10**v:,.0f}"),
    "notional_vs_cpty_mean": Reason(
        R.LARGE_TRADE, "Trade value against the counterparty's average", lambda v: f"{v:.1f}x"
    ),
    "inventory_coverage": Reason(
        R.INVENTORY, "Position plus incoming receipts cover", _pct, _NOT_DELIVERY
    ),
    "available_coverage": Reason(R.INVENTORY, "Settled position covers", _pct, _NOT_DELIVERY),
    # SSI
    "ssi_age_days": Reason(R.SSI, "SSI in force changed", _days_ago, _NO_SSI),
    "ssi_unverified": Reason(R.SSI, "SSI in force verified", _yes_no("no", "yes"), _NO_SSI),
    "ssi_days_since_verified": Reason(R.SSI, "SSI last verified", _days_ago, "never"),
    "ssi_changes_90d": Reason(R.SSI, "SSI changes, 90 days", _count, _NO_SSI),
    # lifecycle
    "minutes_since_execution": Reason(R.TIME_TO_CUTOFF, "Time since execution", _minutes),
    "minutes_to_cutoff": Reason(R.TIME_TO_CUTOFF, "Affirmation cutoff", _cutoff),
    "allocated": Reason(R.ALLOCATION, "Allocated", _yes_no("yes", "not yet")),
    "confirmed": Reason(R.AFFIRMATION, "Confirmed", _yes_no("yes", "not yet")),
    "affirmed": Reason(R.AFFIRMATION, "Affirmed", _yes_no("yes", "not yet")),
    "affirmed_late": Reason(R.AFFIRMATION, "Affirmation missed the cutoff", _yes_no()),
    "instructed": Reason(R.INSTRUCTION, "Settlement instruction sent", _yes_no("yes", "not yet")),
    "matched": Reason(R.MATCHING, "Matched at the depository", _yes_no("yes", "not yet")),
    "amendments": Reason(R.AMENDED, "Amendments since execution"),
}


@dataclass(frozen=True)
class Explained:
    """One reason on one trade, ready for the response."""

    code: str
    feature: str
    value: float | None
    contribution: float
    text: str
    action: str
    team: str


def by_action(reasons: Sequence[Mapping]) -> dict[str, list[str]]:
    """Reasons (``ReasonOut`` fields) grouped under their action and team, in order: several
    reasons often call for one action."""
    grouped: dict[str, list[str]] = {}
    for reason in reasons:
        grouped.setdefault(f"{reason['action']} ({reason['team']})", []).append(reason["text"])
    return grouped


def top_reasons(
    features: list[str], values: np.ndarray, contributions: np.ndarray, limit: int
) -> list[Explained]:
    """The ``limit`` features that raise this trade's risk most, strongest first; a feature
    that lowers the risk is never a reason to act."""
    order = np.argsort(-contributions[: len(features)], kind="stable")[:limit]
    out = []
    for i in order:
        if contributions[i] <= 0:
            break
        reason = REASONS[features[i]]
        value = float(values[i]) if np.isfinite(values[i]) else None
        action = ACTIONS[reason.code]
        out.append(
            Explained(
                code=reason.code.value,
                feature=features[i],
                value=value,
                contribution=float(contributions[i]),
                text=reason.phrase(value),
                action=action.text,
                team=action.team.value,
            )
        )
    return out
