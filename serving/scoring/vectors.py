"""Feature vectors at request time: stored features from the Feast online store, and the
request-time features computed by the feature service's own on-demand transforms.

``get_online_features`` on the feature service runs the python-mode transforms through
Feast's machinery and converts every value through protos twice, which costs more than the
lookup itself. This module reads the stored features with ``serving.scoring.online_read`` (the
online store's own tables or ``online_read``) and applies the registered transforms on
arrays. The vector is the same (tested against ``features.retrieval.OnlineRetriever``, on
SQLite and on Redis).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from feast import FeatureStore

from core.stages import STAGES
from features.compute.book import BookState, book_request_fields
from features.reference import UNKNOWN_KEY, Reference
from features.repo import FAIL_MODEL_V1
from features.request import DateFacts, request_fields
from features.retrieval import ServiceParts
from serving.scoring.online_read import StoredReader
from serving.scoring.watermark import OnlineWatermark

__all__ = ["FeatureVectors", "ServingFeatures"]


@dataclass(frozen=True)
class FeatureVectors:
    """Feature matrix of a batch (rows in input order, columns ``names``), what the store
    did not know, and when each trade's later stages start."""

    names: list[str]
    matrix: np.ndarray
    unknown_counterparty: np.ndarray
    unknown_instrument: np.ndarray
    asset_class: np.ndarray
    stage_starts: dict[str, np.ndarray]

    def column(self, name: str) -> np.ndarray:
        return self.matrix[:, self.names.index(name)]


BookSource = Callable[[], BookState | None]
"""Our trades as the scorer's side knows them (the service: its exception store)."""


class ServingFeatures:
    """Resolves the feature service once, then builds feature vectors per request.
    ``book`` gives our other trades at each call; without it (or when it has none) the
    intraday and receipt features are missing, as for an entity with no trade today."""

    def __init__(
        self,
        store: FeatureStore,
        reference: Reference,
        service: str = FAIL_MODEL_V1,
        book: BookSource = lambda: None,
    ) -> None:
        self.store, self.reference, self.book = store, reference, book
        self.parts = ServiceParts(store, service)
        self.names = self.parts.names
        self._stored = StoredReader(store, self.parts.views)
        self.watermark = OnlineWatermark(store, [view for view, _ in self.parts.views])
        self.dates = DateFacts(reference.calendar)

    def __call__(
        self,
        trades: Mapping[str, np.ndarray],
        lifecycle: Mapping[str, np.ndarray],
        scoring_us: np.ndarray,
    ) -> FeatureVectors:
        """``trades``: contract columns as arrays (``execution_us`` for the execution time);
        ``lifecycle``: the ``req_*`` lifecycle fields; ``scoring_us``: one instant per trade."""
        self.watermark.check(scoring_us)  # an emptied or stale store refuses, naming itself
        counterparty = list(trades["counterparty_id"])
        instrument = list(trades["instrument_id"])
        market = list(trades["settlement_market"])
        asset_class = self.reference.asset_class(instrument)
        home = self.reference.counterparty_market(counterparty, market)
        entity_rows = {  # ENTITY_KEYS
            "counterparty_id": counterparty,
            "instrument_id": instrument,
            "desk_id": list(trades["desk_id"]),
            "settlement_market": market,
            "asset_class": asset_class.tolist(),
            "account_id": list(trades["account_id"]),
        }
        values: dict[str, np.ndarray] = self._stored(entity_rows, len(counterparty))
        values.update(request_fields(trades, self.dates, scoring_us, home))
        values.update(lifecycle)
        values.update(book_request_fields(self.book(), trades, scoring_us))
        matrix = self.parts.assemble(values)
        return FeatureVectors(
            self.names,
            matrix,
            unknown_counterparty=~self.reference.knows_counterparty(counterparty),
            unknown_instrument=asset_class == UNKNOWN_KEY,
            asset_class=asset_class,
            stage_starts={s: values[f"start_{s}"] for s in STAGES[1:]},
        )
