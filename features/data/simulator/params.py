"""The strengths of the planted mechanisms, in one place.

Fail risk is a sum of per-cause hazards h_c; P(fail) = 1 - exp(-sum h_c) and a fail's cause is
drawn in proportion to h_c. A hazard near 1.9 means "almost surely fails" (p ~ 0.85).
The default values put the default world inside the calibration targets of DESIGN.md
(checked by tests/data/test_calibration.py).
"""

from __future__ import annotations

from types import MappingProxyType

# --- world -------------------------------------------------------------------------------
CPTY_TYPE_SHARE = MappingProxyType(
    {
        "BROKER_DEALER": 0.30,
        "CUSTODIAN": 0.10,
        "ASSET_MANAGER": 0.25,
        "HEDGE_FUND": 0.18,
        "INSURER_PENSION": 0.10,
        "CORPORATE": 0.07,
    }
)
# Latent operational quality multiplier by type (higher = sloppier).
CPTY_TYPE_QUALITY = MappingProxyType(
    {
        "BROKER_DEALER": 0.8,
        "CUSTODIAN": 0.7,
        "ASSET_MANAGER": 1.0,
        "HEDGE_FUND": 1.3,
        "INSURER_PENSION": 1.1,
        "CORPORATE": 1.5,
    }
)
# Affirmation latency multiplier by type.
CPTY_TYPE_AFFIRM = MappingProxyType(
    {
        "BROKER_DEALER": 0.6,
        "CUSTODIAN": 0.8,
        "ASSET_MANAGER": 1.2,
        "HEDGE_FUND": 1.6,
        "INSURER_PENSION": 1.5,
        "CORPORATE": 2.2,
    }
)
CPTY_DOMICILE_SHARE = MappingProxyType(
    {"US": 0.45, "GB": 0.16, "DE": 0.08, "FR": 0.07, "JP": 0.10, "CA": 0.14}
)
CPTY_QUALITY_SIGMA = 0.6
CPTY_NEW_SHARE = 0.08  # onboarded during the simulated period (cold start)
CPTY_DRIFTING_SHARE = 0.12  # operational quality worsens over the period
CPTY_DRIFT_END = (1.8, 3.0)  # quality multiplier reached at the end by a drifting counterparty
CPTY_VOLUME_PARETO = 1.1  # trading volume across counterparties is heavy-tailed

# Trade share by asset class, and instrument counts.
TRADE_SHARE = MappingProxyType({"EQUITY": 0.55, "ETF": 0.12, "GOVT_BOND": 0.16, "CORP_BOND": 0.17})
INSTRUMENT_SHARE = MappingProxyType(
    {"EQUITY": 0.50, "ETF": 0.12, "GOVT_BOND": 0.13, "CORP_BOND": 0.25}
)
MARKET_SHARE = MappingProxyType(
    {
        "EQUITY": {"US": 0.45, "CA": 0.10, "GB": 0.13, "DE": 0.08, "FR": 0.08, "JP": 0.16},
        "ETF": {"US": 0.60, "CA": 0.08, "GB": 0.12, "DE": 0.10, "FR": 0.04, "JP": 0.06},
        "GOVT_BOND": {"US": 0.35, "CA": 0.10, "GB": 0.15, "DE": 0.15, "FR": 0.12, "JP": 0.13},
        "CORP_BOND": {"US": 0.50, "CA": 0.10, "GB": 0.15, "DE": 0.10, "FR": 0.10, "JP": 0.05},
    }
)
NEW_ISSUE_SHARE = MappingProxyType(
    {"EQUITY": 0.03, "ETF": 0.04, "GOVT_BOND": 0.10, "CORP_BOND": 0.08}
)
NEW_ISSUE_DAYS = 30  # an instrument is "newly issued" this many calendar days after issue
MEDIAN_NOTIONAL = MappingProxyType(
    {"EQUITY": 150_000.0, "ETF": 250_000.0, "GOVT_BOND": 5_000_000.0, "CORP_BOND": 1_000_000.0}
)
NOTIONAL_SIGMA = 1.2
BLOCK_SHARE = MappingProxyType({"ASSET_MANAGER": 0.40, "INSURER_PENSION": 0.40, "HEDGE_FUND": 0.15})
BLOCK_SHARE_OTHER = 0.08
NON_STANDARD_CYCLE_SHARE = 0.02  # negotiated extended settlement (+1 business day)
CANCEL_SHARE = 0.004

# Execution time of day (local minutes) mixture: early morning, session, after close.
EARLY_MORNING_SHARE = 0.05
AFTER_CLOSE_SHARE = 0.07
EARLY_MORNING_END = 8 * 60 + 30  # before 08:30 local counts as early morning

# --- market state ---------------------------------------------------------------------------
VOL_PERSISTENCE = 0.85
VOL_NOISE = 0.12
VOL_SPIKE_PROB = 0.015  # per day; a global shock hits every market
VOL_SPIKE_SIZE = 0.8

# --- lack of securities (our sells) ----------------------------------------------------------
SHORT_BASE = MappingProxyType({"EQUITY": 0.06, "ETF": 0.25, "GOVT_BOND": 0.02, "CORP_BOND": 0.035})
HTB_SHARE = MappingProxyType({"EQUITY": 0.08, "ETF": 0.10, "GOVT_BOND": 0.02, "CORP_BOND": 0.05})
HTB_FTD_BOOST = 0.25  # extra hard-to-borrow probability at the top of the FTD ranking
HTB_SHORT_MULT = 2.5
NEW_ISSUE_SHORT_MULT = 2.5
SIZE_VS_ADV_SHORT = 2.0  # short propensity grows with quantity / ADV
SHORT_COVERED_BY_INCOMING = 0.40  # of short sells, the share expecting incoming receipts
EXTERNAL_INCOMING_FAIL = 0.04  # a pending receipt not in our book fails this often
EXTERNAL_EARLY_SHARE = 0.5  # of external receipts that arrive, the share in before the ISD's eve
BORROW_PROB = 0.45  # residual shortfall sourced or borrowed before the ISD
BORROW_HTB_MULT = 0.25
H_UNCOVERED = 1.9  # hazard of a sell still short at the deadline
H_SECURITIES_BASE = 0.0015

# --- lack of cash (our buys) -----------------------------------------------------------------
H_CASH = 0.0035
CASH_STRESS_SIGMA = 0.8

# --- SSI ------------------------------------------------------------------------------------
SSI_CHANGE_RATE = 1 / 150  # changes per day per (counterparty, market, asset class)
SSI_VERIFY_MEAN_DAYS = 2.5
SSI_NEVER_VERIFIED = 0.05
SSI_RECENT_DAYS = 5
SSI_STALE_DAYS = 365
H_SSI_RECENT_UNVERIFIED = 0.12
H_SSI_RECENT_VERIFIED = 0.02
H_SSI_UNVERIFIED = 0.035
H_SSI_STALE = 0.0017
H_SSI_BASE = 0.0007
H_SSI_CHANGE_IN_WINDOW = 0.15
COLD_START_DAYS = 90
COLD_START_SSI_MULT = 3.0
COLD_START_MATCH_MULT = 2.0

# --- allocation, affirmation, matching ------------------------------------------------------
ALLOC_LAG_MIN = 3.0  # mean minutes, allocations of non-block trades
BLOCK_ALLOC_MEDIAN_MIN = 60.0
BLOCK_ALLOC_SIGMA = 1.1
CONFIRM_LAG_MIN = 5.0
AFFIRM_MEDIAN_MIN = 25.0
AFFIRM_SIGMA = 1.2
AFFIRM_NEVER = 0.006
AMEND_PROB = 0.025
AMEND_BLOCK_MULT = 1.6
MANUAL_INSTRUCT_MEAN_MIN = 180.0  # unaffirmed trades get instructed by hand after the cutoff
INSTRUCT_LAG_MIN = 10.0  # mean minutes from affirmation to instruction
MATCH_MEDIAN_MIN = 20.0
MATCH_SIGMA = 1.0
MATCH_AMENDED_MULT = 6.0
MATCH_UNAFFIRMED_MULT = 4.0
MATCH_CROSS_BORDER_MULT = 1.6
MATCH_T1_TRANSITION_MULT = 1.5
T1_TRANSITION_DAYS = 30
MATCH_DEADLINE_MINUTES = 6 * 60  # matched by 06:00 local on the ISD to make the first cycle
H_LATE_MATCH = 1.9
H_MATCH_BASE = 0.0008

# Operational risk (SSI, matching, counterparty, other) by asset class: government bonds settle
# in the most automated chains, ETFs in the least.
ASSET_OPS_MULT = MappingProxyType({"EQUITY": 1.0, "ETF": 1.1, "GOVT_BOND": 0.35, "CORP_BOND": 0.75})

# --- counterparty and other ----------------------------------------------------------------
H_COUNTERPARTY = 0.0016
H_OTHER = 0.0009
EARLY_MORNING_MULT = 1.5
CROSS_BORDER_MULT = 1.4

# --- calendar effects, on every cause ------------------------------------------------------
MONTH_END_MULT = 2.2
QUARTER_END_MULT = 1.25  # on top of month end
HOLIDAY_WINDOW_MULT = 2.1
NOTIONAL_ELASTICITY = -0.12  # big tickets get more attention: value-weighted rate is lower

# --- days late --------------------------------------------------------------------------------
DAYS_LATE_GEOMETRIC = 0.6
DAYS_LATE_GEOMETRIC_SECURITIES = 0.5
DAYS_LATE_TAIL_SHARE = 0.04
DAYS_LATE_MAX = 30
