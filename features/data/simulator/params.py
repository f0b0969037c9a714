"""The strengths of the planted mechanisms, as data: one validated model whose defaults are the
project's default world. A world zoo varies them (``features.data.simulator.zoo``).

Fail risk is a sum of per-cause hazards h_c; P(fail) = 1 - exp(-sum h_c) and a fail's cause is
drawn in proportion to h_c. A hazard near 1.9 means "almost surely fails" (p ~ 0.85).
The default values put the default world inside the calibration targets of DESIGN.md
(checked by tests/data/test_calibration.py).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Mechanisms"]


class Mechanisms(BaseModel):
    """Every strength the simulator draws with; names as the mechanisms read in DESIGN.md.
    Unknown names are refused, so a typo in a zoo entry cannot pass unseen."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- world -------------------------------------------------------------------------------
    CPTY_TYPE_SHARE: dict[str, float] = {
        "BROKER_DEALER": 0.30,
        "CUSTODIAN": 0.10,
        "ASSET_MANAGER": 0.25,
        "HEDGE_FUND": 0.18,
        "INSURER_PENSION": 0.10,
        "CORPORATE": 0.07,
    }
    # Latent operational quality multiplier by type (higher = sloppier).
    CPTY_TYPE_QUALITY: dict[str, float] = {
        "BROKER_DEALER": 0.8,
        "CUSTODIAN": 0.7,
        "ASSET_MANAGER": 1.0,
        "HEDGE_FUND": 1.3,
        "INSURER_PENSION": 1.1,
        "CORPORATE": 1.5,
    }
    # Affirmation latency multiplier by type.
    CPTY_TYPE_AFFIRM: dict[str, float] = {
        "BROKER_DEALER": 0.6,
        "CUSTODIAN": 0.8,
        "ASSET_MANAGER": 1.2,
        "HEDGE_FUND": 1.6,
        "INSURER_PENSION": 1.5,
        "CORPORATE": 2.2,
    }
    CPTY_DOMICILE_SHARE: dict[str, float] = {
        "US": 0.45,
        "GB": 0.16,
        "DE": 0.08,
        "FR": 0.07,
        "JP": 0.10,
        "CA": 0.14,
    }
    CPTY_QUALITY_SIGMA: float = 0.6
    CPTY_NEW_SHARE: float = 0.08  # onboarded during the simulated period (cold start)
    CPTY_DRIFTING_SHARE: float = 0.12  # operational quality worsens over the period
    CPTY_DRIFT_END: tuple[float, float] = (
        1.8,
        3.0,
    )  # quality multiplier reached at the end by a drifting counterparty
    CPTY_VOLUME_PARETO: float = 1.1  # trading volume across counterparties is heavy-tailed

    # Trade share by asset class, and instrument counts.
    TRADE_SHARE: dict[str, float] = {
        "EQUITY": 0.55,
        "ETF": 0.12,
        "GOVT_BOND": 0.16,
        "CORP_BOND": 0.17,
    }
    INSTRUMENT_SHARE: dict[str, float] = {
        "EQUITY": 0.50,
        "ETF": 0.12,
        "GOVT_BOND": 0.13,
        "CORP_BOND": 0.25,
    }
    MARKET_SHARE: dict[str, dict[str, float]] = {
        "EQUITY": {"US": 0.45, "CA": 0.10, "GB": 0.13, "DE": 0.08, "FR": 0.08, "JP": 0.16},
        "ETF": {"US": 0.60, "CA": 0.08, "GB": 0.12, "DE": 0.10, "FR": 0.04, "JP": 0.06},
        "GOVT_BOND": {"US": 0.35, "CA": 0.10, "GB": 0.15, "DE": 0.15, "FR": 0.12, "JP": 0.13},
        "CORP_BOND": {"US": 0.50, "CA": 0.10, "GB": 0.15, "DE": 0.10, "FR": 0.10, "JP": 0.05},
    }
    NEW_ISSUE_SHARE: dict[str, float] = {
        "EQUITY": 0.03,
        "ETF": 0.04,
        "GOVT_BOND": 0.10,
        "CORP_BOND": 0.08,
    }
    NEW_ISSUE_DAYS: int = 30  # an instrument is "newly issued" this many calendar days after issue
    MEDIAN_NOTIONAL: dict[str, float] = {
        "EQUITY": 150_000.0,
        "ETF": 250_000.0,
        "GOVT_BOND": 5_000_000.0,
        "CORP_BOND": 1_000_000.0,
    }
    NOTIONAL_SIGMA: float = 1.2
    BLOCK_SHARE: dict[str, float] = {
        "ASSET_MANAGER": 0.40,
        "INSURER_PENSION": 0.40,
        "HEDGE_FUND": 0.15,
    }
    BLOCK_SHARE_OTHER: float = 0.08
    NON_STANDARD_CYCLE_SHARE: float = 0.02  # negotiated extended settlement (+1 business day)
    CANCEL_SHARE: float = 0.004

    # Execution time of day (local minutes) mixture: early morning, session, after close.
    EARLY_MORNING_SHARE: float = 0.05
    AFTER_CLOSE_SHARE: float = 0.07
    EARLY_MORNING_END: float = 8 * 60 + 30  # before 08:30 local counts as early morning

    # --- market state ---------------------------------------------------------------------------
    VOL_PERSISTENCE: float = 0.85
    VOL_NOISE: float = 0.12
    VOL_SPIKE_PROB: float = 0.015  # per day; a global shock hits every market
    VOL_SPIKE_SIZE: float = 0.8

    # --- lack of securities (our sells) ----------------------------------------------------------
    SHORT_BASE: dict[str, float] = {
        "EQUITY": 0.06,
        "ETF": 0.25,
        "GOVT_BOND": 0.02,
        "CORP_BOND": 0.035,
    }
    HTB_SHARE: dict[str, float] = {
        "EQUITY": 0.08,
        "ETF": 0.10,
        "GOVT_BOND": 0.02,
        "CORP_BOND": 0.05,
    }
    HTB_FTD_BOOST: float = 0.25  # extra hard-to-borrow probability at the top of the FTD ranking
    HTB_SHORT_MULT: float = 2.5
    NEW_ISSUE_SHORT_MULT: float = 2.5
    SIZE_VS_ADV_SHORT: float = 2.0  # short propensity grows with quantity / ADV
    ACCOUNT_SHORT_SIGMA: float = 0.7  # short-selling propensity varies by account (latent)
    SHORT_COVERED_BY_INCOMING: float = 0.40  # of short sells, the share expecting incoming receipts
    EXTERNAL_INCOMING_FAIL: float = 0.04  # a pending receipt not in our book fails this often
    EXTERNAL_EARLY_SHARE: float = (
        0.5  # of external receipts that arrive, the share in before the ISD's eve
    )
    BORROW_PROB: float = 0.45  # residual shortfall sourced or borrowed before the ISD
    BORROW_HTB_MULT: float = 0.25
    H_UNCOVERED: float = 1.9  # hazard of a sell still short at the deadline
    H_SECURITIES_BASE: float = 0.0015

    # --- lack of cash (our buys) -----------------------------------------------------------------
    H_CASH: float = 0.0035
    CASH_STRESS_SIGMA: float = 0.8

    # --- SSI ------------------------------------------------------------------------------------
    SSI_CHANGE_RATE: float = 1 / 150  # changes per day per (counterparty, market, asset class)
    SSI_VERIFY_MEAN_DAYS: float = 2.5
    SSI_NEVER_VERIFIED: float = 0.05
    SSI_RECENT_DAYS: int = 5
    SSI_STALE_DAYS: int = 365
    H_SSI_RECENT_UNVERIFIED: float = 0.12
    H_SSI_RECENT_VERIFIED: float = 0.02
    H_SSI_UNVERIFIED: float = 0.035
    H_SSI_STALE: float = 0.0017
    H_SSI_BASE: float = 0.0007
    H_SSI_CHANGE_IN_WINDOW: float = 0.15
    COLD_START_DAYS: int = 90
    COLD_START_SSI_MULT: float = 3.0
    COLD_START_MATCH_MULT: float = 2.0

    # --- allocation, affirmation, matching ------------------------------------------------------
    ALLOC_LAG_MIN: float = 3.0  # mean minutes, allocations of non-block trades
    BLOCK_ALLOC_MEDIAN_MIN: float = 60.0
    BLOCK_ALLOC_SIGMA: float = 1.1
    CONFIRM_LAG_MIN: float = 5.0
    AFFIRM_MEDIAN_MIN: float = 25.0
    AFFIRM_SIGMA: float = 1.2
    AFFIRM_NEVER: float = 0.006
    AMEND_PROB: float = 0.025
    AMEND_BLOCK_MULT: float = 1.6
    MANUAL_INSTRUCT_MEAN_MIN: float = (
        180.0  # unaffirmed trades get instructed by hand after the cutoff
    )
    INSTRUCT_LAG_MIN: float = 10.0  # mean minutes from affirmation to instruction
    MATCH_MEDIAN_MIN: float = 20.0
    MATCH_SIGMA: float = 1.0
    MATCH_AMENDED_MULT: float = 6.0
    MATCH_UNAFFIRMED_MULT: float = 4.0
    MATCH_CROSS_BORDER_MULT: float = 1.6
    MATCH_T1_TRANSITION_MULT: float = 1.5
    T1_TRANSITION_DAYS: int = 30
    MATCH_DEADLINE_MINUTES: float = (
        6 * 60
    )  # matched by 06:00 local on the ISD to make the first cycle
    H_LATE_MATCH: float = 1.9
    H_MATCH_BASE: float = 0.0008

    # Operational risk (SSI, matching, counterparty, other) by asset class: government bonds settle
    # in the most automated chains, ETFs in the least.
    ASSET_OPS_MULT: dict[str, float] = {
        "EQUITY": 1.0,
        "ETF": 1.1,
        "GOVT_BOND": 0.35,
        "CORP_BOND": 0.75,
    }

    # --- counterparty and other ----------------------------------------------------------------
    H_COUNTERPARTY: float = 0.0016
    H_OTHER: float = 0.0009
    EARLY_MORNING_MULT: float = 1.5
    CROSS_BORDER_MULT: float = 1.4

    # --- calendar effects, on every cause ------------------------------------------------------
    MONTH_END_MULT: float = 2.2
    QUARTER_END_MULT: float = 1.25  # on top of month end
    HOLIDAY_WINDOW_MULT: float = 2.1
    NOTIONAL_ELASTICITY: float = (
        -0.12
    )  # big tickets get more attention: value-weighted rate is lower

    # --- days late --------------------------------------------------------------------------------
    DAYS_LATE_GEOMETRIC: float = 0.6
    DAYS_LATE_GEOMETRIC_SECURITIES: float = 0.5
    DAYS_LATE_TAIL_SHARE: float = 0.04
    DAYS_LATE_MAX: int = 30

    # --- mechanisms the default world leaves off (0), switched on by worlds of the zoo -------
    # Bad operational days: on a share of (counterparty, day), (settlement market, day) and
    # (desk, day) the lags that party controls are multiplied: the counterparty's affirmation
    # and matching, the CSD's matching, our desk's allocation and instruction.
    CPTY_BAD_DAY_SHARE: float = 0.0
    CPTY_BAD_DAY_MULT: float = 20.0
    MARKET_BAD_DAY_SHARE: float = 0.0
    MARKET_BAD_DAY_MULT: float = 8.0
    DESK_BAD_DAY_SHARE: float = 0.0
    DESK_BAD_DAY_MULT: float = 20.0
    # Time of day: each counterparty affirms trades executed late in the settlement market's
    # day (from LATE_DAY_START local) or outside its own market's hours exp(sigma * z) times
    # more slowly, z standard normal per counterparty.
    CPTY_LATE_DAY_SIGMA: float = 0.0
    LATE_DAY_START: float = 15 * 60
    HOME_HOURS: tuple[float, float] = (8 * 60, 18 * 60)  # local minutes of a working day
    # Scarcity spells: an instrument enters a spell with this probability a day and leaves it
    # with SCARCITY_EXIT; in a spell our sells are short more often and receipts fail more.
    SCARCITY_ENTER: float = 0.0
    SCARCITY_EXIT: float = 0.05
    SCARCITY_SHORT_MULT: float = 4.0
    SCARCITY_RECEIPT_MULT: float = 4.0
    # Client accounts that allocate late: block-allocation lag × exp(sigma * z) per account.
    ACCOUNT_ALLOC_SIGMA: float = 0.0
