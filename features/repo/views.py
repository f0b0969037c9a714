"""Feature views: one per family of DESIGN.md, each over a table of the same name.

Every table row holds an entity's values as of ``event_timestamp``, the instant they became
known, so ``get_historical_features`` is point-in-time correct. History views are refreshed
at least daily (UTC midnight) and when outcomes arrive, so a two-day TTL never hides a live
entity while keeping Feast's as-of join small; reference views never expire.
"""

from __future__ import annotations

from datetime import timedelta

from feast import FeatureView, Field
from feast.types import Float64, Int64

from features.repo import entities as E
from features.repo.sources import Sources

__all__ = ["HISTORY_TTL", "VIEW_KEYS", "VIEW_SCHEMAS", "feature_views"]

HISTORY_TTL = timedelta(days=2)
POSITION_TTL = timedelta(days=3)
NEVER_EXPIRES = timedelta(0)


def _f(name: str, description: str, dtype=Float64) -> Field:
    return Field(name=name, dtype=dtype, description=description)


def _rates(prefix: str, windows: tuple[int, ...], what: str) -> list[Field]:
    return [
        _f(f"{prefix}_fail_rate_{d}d", f"{what} fail rate over {d} days, shrunk to the population")
        for d in windows
    ]


VIEW_SCHEMAS: dict[str, list[Field]] = {
    "counterparty_history": [
        *_rates("cpty", (7, 30, 90), "counterparty"),
        *[
            _f(f"cpty_value_fail_rate_{d}d", f"value-weighted counterparty fail rate, {d} days")
            for d in (7, 30, 90)
        ],
        _f("cpty_securities_fail_rate_90d", "counterparty fails for lack of securities, 90 days"),
        _f("cpty_ssi_fail_rate_90d", "counterparty fails for SSI mismatch, 90 days"),
        _f("cpty_late_match_fail_rate_90d", "counterparty fails for late matching, 90 days"),
        _f("cpty_outcomes_90d", "settled or failed trades known in 90 days (history depth)"),
        _f("cpty_trades_30d", "trades executed in 30 days"),
        _f("cpty_notional_30d", "notional executed in 30 days"),
        _f("cpty_mean_notional_90d", "mean trade notional over 90 days"),
        _f("cpty_late_affirm_rate_30d", "share of trades not affirmed by the cutoff, 30 days"),
        _f("cpty_affirm_minutes_30d", "mean minutes from execution to affirmation, 30 days"),
        _f("cpty_ssi_changes_30d", "new SSI versions across markets, 30 days"),
    ],
    "counterparty_profile": [
        _f("cpty_type_code", "counterparty type, index in CPTY_TYPES", Int64),
        _f("cpty_domicile_code", "home market, index in MARKETS", Int64),
        _f("cpty_onboarded_day", "onboarding date, days since 1970-01-01", Int64),
    ],
    "instrument_profile": [
        _f("asset_class_code", "asset class, index in ASSET_CLASSES", Int64),
        _f("instrument_market_code", "home market, index in MARKETS", Int64),
        _f("avg_daily_volume", "average daily volume, units"),
        _f("reference_price", "reference price"),
        _f("issue_day", "issue date, days since 1970-01-01", Int64),
    ],
    "instrument_history": [
        *_rates("inst", (30, 90), "instrument"),
        _f("inst_securities_fail_rate_90d", "instrument fails for lack of securities, 90 days"),
        _f("inst_outcomes_90d", "settled or failed trades known in 90 days"),
    ],
    "instrument_ftd": [
        _f("ftd_fails_value", "SEC fails-to-deliver balance value at the last published date"),
        _f("ftd_days_on_list_90d", "settlement dates on the SEC FTD list in 90 days"),
    ],
    "pair_history": [
        *_rates("pair", (90,), "desk×counterparty"),
        _f("pair_outcomes_90d", "settled or failed trades of the pair known in 90 days"),
    ],
    "market_history": [
        *_rates("market", (7, 30), "settlement market"),
        _f("market_outcomes_30d", "settled or failed trades in the market known in 30 days"),
    ],
    "ssi_state": [
        _f("ssi_valid_from_s", "the SSI in force took effect, UTC epoch seconds"),
        _f("ssi_verified_s", "it was verified, UTC epoch seconds (NaN: not verified)"),
        _f("ssi_prev_valid_from_s", "the previous version took effect, UTC epoch seconds"),
    ],
    "position": [
        _f("available_qty", "settled position available to deliver"),
        _f("incoming_qty", "pending receipts expected before the ISD"),
    ],
}

_VIEWS = {
    "counterparty_history": ([E.counterparty], HISTORY_TTL, "counterparty behaviour"),
    "counterparty_profile": ([E.counterparty], NEVER_EXPIRES, "counterparty reference data"),
    "instrument_profile": ([E.instrument], NEVER_EXPIRES, "instrument reference and liquidity"),
    "instrument_history": ([E.instrument], HISTORY_TTL, "instrument fail history"),
    "instrument_ftd": ([E.instrument], NEVER_EXPIRES, "SEC fails-to-deliver scarcity signal"),
    "pair_history": ([E.desk, E.counterparty], HISTORY_TTL, "desk×counterparty history"),
    "market_history": ([E.market], HISTORY_TTL, "settlement market fail rates"),
    "ssi_state": (
        [E.counterparty, E.market, E.asset_class],
        NEVER_EXPIRES,
        "standing settlement instruction in force",
    ),
    "position": ([E.account, E.instrument], POSITION_TTL, "inventory position"),
}


VIEW_KEYS: dict[str, list[str]] = {
    name: [entity.join_key for entity in entities] for name, (entities, _, _) in _VIEWS.items()
}
"""Each view's join-key columns, in its table."""


def feature_views(sources: Sources) -> dict[str, FeatureView]:
    return {
        name: FeatureView(
            name=name,
            entities=entities,
            ttl=ttl,
            schema=VIEW_SCHEMAS[name],
            source=sources.for_view(name),
            online=True,
            description=description,
        )
        for name, (entities, ttl, description) in _VIEWS.items()
    }
