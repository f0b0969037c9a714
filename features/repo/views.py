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

from core.catalogue import STAMPS, STORED_VIEWS, of_view
from features.repo import entities as E
from features.repo.sources import Sources

__all__ = ["HISTORY_TTL", "VIEW_KEYS", "VIEW_SCHEMAS", "feature_views", "fields"]

HISTORY_TTL = timedelta(days=2)
POSITION_TTL = timedelta(days=3)
NEVER_EXPIRES = timedelta(0)


_DTYPES = {"float": Float64, "int": Int64}


def fields(view: str, described: bool = True) -> list[Field]:
    """A view's Feast fields, from the catalogue."""
    return [
        Field(name=f.name, dtype=_DTYPES[f.dtype], description=f.description if described else "")
        for f in of_view(view)
    ]


VIEW_SCHEMAS: dict[str, list[Field]] = {view: fields(view) for view in STORED_VIEWS}
"""Each stored view's fields, in its table's column order."""

_VIEWS = {
    "counterparty_history": ([E.counterparty], HISTORY_TTL, "counterparty behaviour"),
    "counterparty_profile": ([E.counterparty], NEVER_EXPIRES, "counterparty reference data"),
    "instrument_profile": ([E.instrument], NEVER_EXPIRES, "instrument reference and liquidity"),
    "instrument_history": ([E.instrument], HISTORY_TTL, "instrument fail history"),
    "instrument_ftd": ([E.instrument], NEVER_EXPIRES, "SEC fails-to-deliver scarcity signal"),
    "account_history": ([E.account], HISTORY_TTL, "booking account history"),
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
            tags={"owner": "failcast", "known_at": STAMPS[name]},
        )
        for name, (entities, ttl, description) in _VIEWS.items()
    }
