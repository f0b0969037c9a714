"""Request-time fields: what is sent with each trade (the request source), and the features
the two on-demand views compute from it and from stored values, as of the scoring instant."""

from __future__ import annotations

from core.actions import ReasonCode as R
from core.catalogue._feature import (
    NO_HISTORY,
    Dtype,
    Family,
    Feature,
    Format,
    count,
    cutoff,
    cycle,
    days_ago,
    minutes,
    pct,
    power_of_ten,
    ratio,
    yes_no,
)
from core.lifecycle import AMENDMENTS, STEP_OF, STEPS, Step

__all__ = ["CONTEXT", "CONTEXT_VIEW", "LIFECYCLE", "LIFECYCLE_VIEW", "REQUEST", "REQUEST_SOURCE"]

REQUEST_SOURCE = "trade_request"
CONTEXT_VIEW = "trade_context"
LIFECYCLE_VIEW = "lifecycle_stage"
_NO_CPTY, _NO_INST, _NO_SSI = "unknown counterparty", "unknown instrument", "no SSI on file"
_NOT_DELIVERY = "not a delivery, or no position on record"


def _request(name: str, dtype: Dtype, description: str) -> Feature:
    return Feature(name, dtype, description, REQUEST_SOURCE, Family.REQUEST)


REQUEST: tuple[Feature, ...] = (
    _request("req_execution_s", "float", "execution instant, UTC epoch seconds"),
    _request("req_scoring_s", "float", "scoring instant, UTC epoch seconds"),
    _request("req_cutoff_s", "float", "affirmation cutoff, UTC epoch seconds"),
    _request("req_isd_start_s", "float", "the ISD's local midnight, UTC epoch seconds"),
    _request("req_exec_day", "int", "execution date, days since 1970-01-01"),
    _request("req_settlement_cycle_days", "int", "business days from trade date to ISD"),
    _request("req_quantity", "float", "units traded"),
    _request("req_notional", "float", "trade value in the trade currency"),
    _request("req_is_sell", "int", "1 when we deliver securities"),
    _request("req_is_block", "int", "1 for a block trade allocated after execution"),
    _request("req_holiday_in_window", "int", "1 when a holiday falls in (trade date, ISD]"),
    _request("req_period_end", "int", "1 when the ISD is among the month's last business days"),
    _request("req_quarter_end", "int", "1 when that month ends a quarter"),
    _request("req_settlement_market_code", "int", "settlement market, index in MARKETS"),
    *[
        _request(s.request, "float", f"first {s.event} event as of scoring (NaN: none yet)")
        for s in STEPS
    ],
    _request(AMENDMENTS.request, "int", f"{AMENDMENTS.event} events as of scoring"),
)


def _context(
    name: str,
    dtype: Dtype,
    description: str,
    family: Family,
    reason: R,
    label: str,
    fmt: Format = count,
    missing: str = NO_HISTORY,
) -> Feature:
    return Feature(name, dtype, description, CONTEXT_VIEW, family, reason, label, fmt, missing)


CONTEXT: tuple[Feature, ...] = (
    _context(
        "settlement_cycle_days",
        "int",
        "settlement cycle (T+1, T+2, extended)",
        Family.CALENDAR,
        R.CALENDAR,
        "Settlement cycle",
        cycle,
    ),
    _context(
        "holiday_in_window",
        "int",
        "a holiday in the settlement window",
        Family.CALENDAR,
        R.CALENDAR,
        "Holiday in the settlement window",
        yes_no(),
    ),
    _context(
        "period_end",
        "int",
        "month-end settlement",
        Family.CALENDAR,
        R.CALENDAR,
        "Settles at month end",
        yes_no(),
    ),
    _context(
        "quarter_end",
        "int",
        "quarter-end settlement",
        Family.CALENDAR,
        R.CALENDAR,
        "Settles at quarter end",
        yes_no(),
    ),
    _context(
        "cross_border",
        "float",
        "counterparty domiciled outside the settlement market",
        Family.TRADE,
        R.SSI,
        "Cross-border settlement",
        yes_no(),
        _NO_CPTY,
    ),
    _context(
        "is_sell",
        "int",
        "we deliver securities",
        Family.TRADE,
        R.INVENTORY,
        "Side",
        yes_no("we deliver securities", "we receive securities"),
    ),
    _context(
        "is_block",
        "int",
        "block trade",
        Family.TRADE,
        R.ALLOCATION,
        "Block trade awaiting allocation",
        yes_no(),
    ),
    _context(
        "log_notional",
        "float",
        "log10 of the trade value",
        Family.TRADE,
        R.LARGE_TRADE,
        "Trade value",
        power_of_ten,
    ),
    _context(
        "notional_vs_cpty_mean",
        "float",
        "trade value over the counterparty's 90-day mean",
        Family.TRADE,
        R.LARGE_TRADE,
        "Trade value against the counterparty's average",
        ratio,
    ),
    _context(
        "size_vs_adv",
        "float",
        "quantity over the instrument's average daily volume",
        Family.TRADE,
        R.HARD_TO_DELIVER,
        "Trade size as a share of daily volume",
        pct,
        _NO_INST,
    ),
    _context(
        "inventory_coverage",
        "float",
        "(available + incoming) / quantity on our sells",
        Family.INVENTORY,
        R.INVENTORY,
        "Position plus incoming receipts cover",
        pct,
        _NOT_DELIVERY,
    ),
    _context(
        "available_coverage",
        "float",
        "available / quantity on our sells (receipts not in)",
        Family.INVENTORY,
        R.INVENTORY,
        "Settled position covers",
        pct,
        _NOT_DELIVERY,
    ),
    _context(
        "cpty_days_since_onboarding",
        "float",
        "counterparty relationship age, days",
        Family.COUNTERPARTY,
        R.NEW_COUNTERPARTY,
        "Counterparty onboarded",
        days_ago,
        _NO_CPTY,
    ),
    _context(
        "instrument_age_days",
        "float",
        "days since issue (newly issued instruments)",
        Family.INSTRUMENT,
        R.HARD_TO_DELIVER,
        "Instrument issued",
        days_ago,
        _NO_INST,
    ),
    _context(
        "ssi_age_days",
        "float",
        "days since the SSI in force took effect",
        Family.SSI,
        R.SSI,
        "SSI in force changed",
        days_ago,
        _NO_SSI,
    ),
    _context(
        "ssi_unverified",
        "float",
        "the SSI in force has not been verified",
        Family.SSI,
        R.SSI,
        "SSI in force verified",
        yes_no("no", "yes"),
        _NO_SSI,
    ),
    _context(
        "ssi_days_since_verified",
        "float",
        "days since the SSI in force was verified",
        Family.SSI,
        R.SSI,
        "SSI last verified",
        days_ago,
        "never",
    ),
    _context(
        "ssi_changes_90d",
        "float",
        "SSI versions that took effect in the last 90 days",
        Family.SSI,
        R.SSI,
        "SSI changes, 90 days",
        count,
        _NO_SSI,
    ),
)


def _lifecycle(
    name: str, dtype: Dtype, description: str, reason: R, label: str, fmt: Format
) -> Feature:
    return Feature(name, dtype, description, LIFECYCLE_VIEW, Family.LIFECYCLE, reason, label, fmt)


def _done(step: Step, description: str, reason: R) -> Feature:
    """Whether a lifecycle step is done by the scoring instant."""
    return _lifecycle(
        step.feature, "int", description, reason, step.label, yes_no("yes", "not yet")
    )


LIFECYCLE: tuple[Feature, ...] = (
    _lifecycle(
        "minutes_since_execution",
        "float",
        "age of the trade at scoring",
        R.TIME_TO_CUTOFF,
        "Time since execution",
        minutes,
    ),
    _lifecycle(
        "minutes_to_isd",
        "float",
        "minutes from scoring to the start of the ISD (weekends and holidays included)",
        R.TIME_TO_CUTOFF,
        "Time left before the settlement date",
        minutes,
    ),
    _lifecycle(
        "minutes_to_cutoff",
        "float",
        "minutes left to the affirmation cutoff (negative after)",
        R.TIME_TO_CUTOFF,
        "Affirmation cutoff",
        cutoff,
    ),
    _done(STEP_OF["ALLOCATED"], "allocated as of scoring", R.ALLOCATION),
    _done(STEP_OF["CONFIRMED"], "confirmed as of scoring", R.AFFIRMATION),
    _done(STEP_OF["AFFIRMED"], "affirmed as of scoring", R.AFFIRMATION),
    _lifecycle(
        "affirmed_late",
        "int",
        "affirmed after the cutoff, or still unaffirmed past it",
        R.AFFIRMATION,
        "Affirmation missed the cutoff",
        yes_no(),
    ),
    _done(STEP_OF["INSTRUCTED"], "settlement instruction sent as of scoring", R.INSTRUCTION),
    _done(STEP_OF["MATCHED"], "matched at the CSD as of scoring", R.MATCHING),
    _lifecycle(
        "minutes_waiting_to_match",
        "float",
        "minutes since the settlement instruction of a trade instructed and not yet matched",
        R.MATCHING,
        "Instructed and waiting to match for",
        minutes,
    ),
    _lifecycle(
        AMENDMENTS.feature,
        "int",
        "amendments as of scoring (each restarts matching)",
        R.AMENDED,
        "Amendments since execution",
        count,
    ),
)
