"""What ops does about a risk: reason codes, the action each calls for, and the team that
owns it. Data an ops lead can read; the feature catalogue maps every feature to a code."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["ACTIONS", "NO_REASON", "Action", "ReasonCode", "Team"]


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
    FUNDING = "ACCOUNT_FUNDING"
    RECEIPT = "RECEIPT_AT_RISK"
    CALENDAR = "SETTLEMENT_CALENDAR"
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
    ReasonCode.FUNDING: Action(
        "Confirm the account's cash for the settlement date with treasury; fund it early",
        Team.TREASURY,
    ),
    ReasonCode.RECEIPT: Action(
        "Chase the buy whose securities this delivery waits on; line up a borrow or a partial "
        "delivery if it fails",
        Team.SECURITIES_LENDING,
    ),
    ReasonCode.CALENDAR: Action(
        "Instruct early and confirm funding across the holiday or period end", Team.SETTLEMENTS
    ),
    ReasonCode.PROFILE: Action("Review the trade's settlement set-up", Team.SETTLEMENTS),
}

NO_REASON = ACTIONS[ReasonCode.PROFILE]
"""What an at-risk trade with no risk-raising reason is given to do."""
