"""Feature retrieval for training and serving: one entity frame, one feature list.

``training_frame`` goes through ``get_historical_features`` (point in time, offline);
``online_features`` through ``get_online_features`` (latest, online). Both build their entity
rows with ``entity_frame`` and return the columns ``feature_names`` lists, in that order.

Offline, the stored features are retrieved point in time and the feature service's on-demand
transforms are then applied to whole columns (``ServiceParts``): Feast's python-mode path
turns the joined table into Python lists per view, far slower on millions of rows. The
serving path (``serving.scoring.vectors``) assembles its vectors from the same parts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from feast import FeatureService, FeatureStore
from feast.transformation.base import Transformation

from core.calendar import SettlementCalendar
from core.errors import ContractError, ModelMismatch, Violation
from core.instants import instants_us
from core.lifecycle import AMENDMENTS, STEPS
from core.stages import STAGES, stage_instants
from features.compute.book import BOOK_KEYS, BookState, book_request_fields, dataset_book
from features.data.contract import Dataset
from features.reference import Reference
from features.repo import FAIL_MODEL_V1
from features.request import Lifecycles, lifecycle_state, request_frame
from features.spark_job import ROW, on_spark, spark_point_in_time

__all__ = [
    "ENTITY_KEYS",
    "FeatureMatrix",
    "OnlineRetriever",
    "ServiceParts",
    "SnapshotState",
    "entity_frame",
    "feature_names",
    "historical_features",
    "online_features",
    "snapshot_columns",
    "snapshot_rows",
    "training_frame",
    "training_matrix",
]

ENTITY_KEYS = (
    "counterparty_id",
    "instrument_id",
    "desk_id",
    "settlement_market",
    "asset_class",
    "account_id",
)
TRAINING_CHUNK_ROWS = 100_000
"""Entity rows per point-in-time query: each chunk's entity frame, query answer and transform
inputs are what retrieval holds beside the matrix, so smaller chunks hold less and make more
queries (benchmarks/RESULTS.md measures the trade)."""


def _service(store: FeatureStore, name: str = FAIL_MODEL_V1) -> FeatureService:
    # From the registry cache: an uncached read reloads the registry and, with it, drops
    # Feast's per-service resolution cache (~100 ms per online call instead of ~1 ms).
    return store.get_feature_service(name, allow_cache=True)


class ServiceParts:
    """A feature service taken apart: the stored features it reads, view by view (those the
    on-demand views need included), and the on-demand transforms that compute the rest."""

    def __init__(self, store: FeatureStore, service: str = FAIL_MODEL_V1) -> None:
        self.names = feature_names(store, service)
        on_demand = {v.name: v for v in store.list_on_demand_feature_views(allow_cache=True)}
        wanted: dict[str, list[str]] = {}
        self.transforms: list[Transformation] = []
        for projection in _service(store, service).feature_view_projections:
            view = on_demand.get(projection.name)
            if view is None:
                sources = [projection]
            else:
                if view.feature_transformation is None:
                    raise ModelMismatch(f"on-demand view {view.name} has no transformation")
                self.transforms.append(view.feature_transformation)
                sources = list(view.source_feature_view_projections.values())
            for source in sources:
                names = wanted.setdefault(source.name, [])
                names += [f.name for f in source.features if f.name not in names]
        self.views = [
            (store.get_feature_view(name, allow_registry_cache=True), names)
            for name, names in wanted.items()
        ]

    @property
    def refs(self) -> list[str]:
        """The stored features as ``view:feature`` references."""
        return [f"{view.name}:{name}" for view, names in self.views for name in names]

    def assemble(self, values: dict[str, np.ndarray], out: np.ndarray | None = None) -> np.ndarray:
        """Apply the transforms to stored and request values (columns of equal length);
        the feature matrix, columns in ``names`` order — written into ``out`` (rows × names,
        any float dtype) when given, so a training chunk goes straight into its matrix."""
        values = dict(values)
        for transform in self.transforms:
            values.update(transform.transform(values))
        if out is not None:
            for j, name in enumerate(self.names):
                out[:, j] = values[name]
            return out
        # rows of features, transposed: half the cost of column_stack for one trade
        return np.array([np.asarray(values[n], dtype=np.float64) for n in self.names]).T


def feature_names(store: FeatureStore, service: str = FAIL_MODEL_V1) -> list[str]:
    """The model's features, in the feature service's order: the one list both paths use."""
    names: list[str] = []
    for projection in _service(store, service).feature_view_projections:
        names.extend(f.name for f in projection.features)
    return names


def entity_frame(
    trades: pd.DataFrame,
    reference: Reference,
    scoring_us: np.ndarray,
    lifecycle: pd.DataFrame | None = None,
    book: BookState | None = None,
) -> pd.DataFrame:
    """Join keys, ``event_timestamp`` (the scoring instant) and request fields per trade.

    ``lifecycle`` holds the lifecycle request fields as of scoring (``lifecycle_state``);
    without it the trade is taken as just executed. ``book``: our other trades
    (``features.compute.book``); without it the intraday and receipt fields are NaN.
    """
    frame = trades[[k for k in ENTITY_KEYS if k in trades.columns]].copy()
    frame["asset_class"] = reference.asset_class(trades["instrument_id"])
    frame["event_timestamp"] = pd.to_datetime(np.asarray(scoring_us), unit="us", utc=True)
    home = reference.counterparty_market(trades["counterparty_id"], trades["settlement_market"])
    context = request_frame(trades, reference.calendar, scoring_us, home)
    if lifecycle is None:
        lifecycle = lifecycle_state(trades["trade_id"], None, scoring_us)
    fields = [*(s.request for s in STEPS), AMENDMENTS.request]
    missing = [c for c in fields if c not in lifecycle.columns]
    if missing:
        raise ContractError([Violation("lifecycle state", f"missing fields {missing}")])
    today = book_request_fields(
        book,
        {key: trades[key].to_numpy() for key in BOOK_KEYS}
        | {"execution_us": instants_us(trades["execution_ts"])},
        np.asarray(scoring_us, dtype=np.int64),
    )
    return pd.concat(
        [frame, context, lifecycle.set_axis(trades.index), pd.DataFrame(today, index=trades.index)],
        axis=1,
    )


def _retrieve(
    store: FeatureStore, parts: ServiceParts, chunk: pd.DataFrame, out: np.ndarray
) -> None:
    """The features of ``entity_frame`` rows, point in time, in their order, into ``out``."""
    query = chunk[[*ENTITY_KEYS, "event_timestamp"]].assign(_row=np.arange(len(chunk)))
    got = store.get_historical_features(entity_df=query, features=parts.refs).to_arrow()
    order = got.column("_row").to_numpy()
    if (np.diff(order) < 0).any():  # Feast's own join does not keep the entity order
        got = got.take(np.argsort(order))
    stored = {
        name: got.column(name).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        for _, names in parts.views
        for name in names
    }
    parts.assemble({**stored, **_request_values(chunk)}, out)


def _values(parts: ServiceParts, stored: pd.DataFrame, request: pd.DataFrame) -> dict[str, Any]:
    """The stored features' columns of ``stored`` and the request fields of ``request``."""
    values = {
        name: stored[name].to_numpy(dtype=np.float64, na_value=np.nan)
        for _, names in parts.views
        for name in names
    }
    return values | _request_values(request)


def _request_values(request: pd.DataFrame) -> dict[str, np.ndarray]:
    return {c: request[c].to_numpy(dtype=np.float64) for c in _request_fields(request)}


def _on_spark(
    store: FeatureStore,
    parts: ServiceParts,
    chunks: Iterator[tuple[slice, pd.DataFrame]],
    x: np.ndarray,
    batch_rows: int,
) -> None:
    """Fill ``x`` from one Spark job over every chunk's entity rows (``features.spark_job``):
    request fields travel with the rows, and the on-demand transforms run here, per batch."""
    entities = (
        pd.concat(
            [
                pd.DataFrame({ROW: np.arange(rows.start, rows.start + len(frame))}),
                frame[[*ENTITY_KEYS, "event_timestamp", *_request_fields(frame)]],
            ],
            axis=1,
        )
        for rows, frame in chunks
    )
    staging = Path(store.repo_path) / "staging"
    for batch in spark_point_in_time(store, parts.refs, entities, staging, batch_rows):
        got = batch.to_pandas()
        x[got[ROW].to_numpy()] = parts.assemble(_values(parts, got, got))


def _request_fields(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.startswith("req_")]


def historical_features(
    store: FeatureStore,
    entities: pd.DataFrame,
    chunk_rows: int = TRAINING_CHUNK_ROWS,
    step: Callable[[str, float], None] = lambda name, fraction: None,
) -> pd.DataFrame:
    """Point-in-time features for ``entity_frame`` rows, in their order, in chunks; the
    result holds the entity frame's non-request columns and ``feature_names``."""
    _check_sources(store)
    parts = ServiceParts(store)
    keep = [c for c in entities.columns if not c.startswith("req_")]
    x = np.empty((len(entities), len(parts.names)), dtype=np.float64)
    for start in range(0, len(entities), chunk_rows):
        step(f"rows {start:,}", start / max(len(entities), 1))
        chunk = entities.iloc[start : start + chunk_rows]
        _retrieve(store, parts, chunk, x[start : start + len(chunk)])
    step("done", 1.0)
    features = pd.DataFrame(x, columns=parts.names)
    return pd.concat([entities[keep].reset_index(drop=True), features], axis=1)


@dataclass(frozen=True)
class FeatureMatrix:
    """Snapshots and their features, the features in one float32 matrix (a training set of
    millions of rows holds them once, and its slices are views).

    ``rows`` says what each row is: ``trade`` (its position in the trades retrieved),
    ``stage`` and ``event_timestamp`` (the scoring instant); ``x`` its features, columns
    ``names``. Rows are in trade-date order, so a period of trade dates is a run of rows.
    """

    rows: pd.DataFrame
    x: np.ndarray
    names: list[str]

    def frame(self, trades: pd.DataFrame, at: slice | np.ndarray = slice(None)) -> pd.DataFrame:
        """Rows ``at`` as a frame: ``trade_id``, ``stage``, ``event_timestamp``, the entity
        keys (from ``trades``, the dataset's trades) and every feature as float64 — for a part
        small enough to copy."""
        picked = trades.iloc[self.rows["trade"].to_numpy()[at]].reset_index(drop=True)
        keys = [k for k in ENTITY_KEYS if k in picked.columns]
        meta = pd.DataFrame(
            {"trade_id": picked["trade_id"].to_numpy(), **snapshot_columns(self.rows, at)}
        )
        features = pd.DataFrame(self.x[at].astype(np.float64), columns=self.names)
        return pd.concat([meta, picked[keys], features], axis=1)


def snapshot_columns(rows: pd.DataFrame, at: slice | np.ndarray = slice(None)) -> dict[str, Any]:
    """The ``stage`` and ``event_timestamp`` columns of ``snapshot_rows`` rows ``at``: the
    stage's names shared, not a string per row, and the instants kept datetime64
    (``to_numpy`` on a zoned column would make a Timestamp object per row)."""
    picked = rows.iloc[at]
    return {
        "stage": np.asarray(picked["stage"].to_numpy(), dtype=object),
        "event_timestamp": picked["event_timestamp"].array,
    }


def snapshot_rows(
    trades: pd.DataFrame,
    calendar: SettlementCalendar,
    stages: Sequence[str] = STAGES,
    only: np.ndarray | None = None,
) -> pd.DataFrame:
    """What each row of a training matrix is, before any feature is read: ``trade`` (its
    position in ``trades``), ``stage`` and ``event_timestamp`` (the stage's instant), for
    every stage of each trade the boolean mask ``only`` selects (by default all), in trade-date
    order (then stage, then trade), so a period of trade dates is a run of rows. Labels can
    be taken from these rows before the matrix is filled."""
    chosen = np.arange(len(trades)) if only is None else np.flatnonzero(only)
    instants = np.stack([stage_instants(trades, calendar, s) for s in stages])
    trade = np.repeat(chosen, len(stages))
    stage = np.tile(np.arange(len(stages)), len(chosen))
    day = trades["trade_date"].to_numpy("datetime64[D]")
    order = np.lexsort((trade, stage, day[trade]))  # by trade date, then stage, then trade
    trade, stage = trade[order], stage[order]
    return pd.DataFrame(
        {
            "trade": trade.astype(np.int32),
            "stage": pd.Categorical(
                np.asarray(stages, dtype=object)[stage], categories=list(stages)
            ),
            "event_timestamp": pd.to_datetime(instants[stage, trade], unit="us", utc=True),
        }
    )


@dataclass(frozen=True)
class SnapshotState:
    """What a dataset's events tell retrieval, in compact arrays: each trade's lifecycle and
    the book of every trade (intraday and receipt features). Once it is built, the events
    table (the dataset's largest) can be let go before the matrix is filled."""

    lifecycles: Lifecycles
    book: BookState

    @classmethod
    def of(cls, dataset: Dataset) -> SnapshotState:
        trade_ids = dataset["trades"]["trade_id"].to_numpy()
        lifecycles = Lifecycles.of(trade_ids, dataset.get("events"))
        return cls(lifecycles, dataset_book(dataset, lifecycles))


def training_matrix(
    store: FeatureStore,
    reference: Reference,
    dataset: Dataset,
    stages: Sequence[str] = STAGES,
    step: Callable[[str, float], None] = lambda name, fraction: None,
    chunk_rows: int = TRAINING_CHUNK_ROWS,
    only: np.ndarray | None = None,
    state: SnapshotState | None = None,
    rows: pd.DataFrame | None = None,
) -> FeatureMatrix:
    """Every (trade, stage) of ``dataset``'s trades (those the boolean mask ``only`` selects,
    by default all) with its features as known at the stage's instant; the day's state of
    the other trades counts all the same (intraday features). Entity rows are built a chunk
    at a time and the trades are never copied whole, so only the matrix is ever whole in
    memory. ``rows["trade"]`` is each row's position in ``dataset["trades"]``. ``state``:
    the dataset's ``SnapshotState``, when the caller built it to drop the events first;
    ``rows``: the matrix's ``snapshot_rows`` (then ``stages`` and ``only`` are theirs), when
    the caller took labels from them first."""
    _check_sources(store)
    parts = ServiceParts(store)
    state = state or SnapshotState.of(dataset)
    lifecycles, book = state.lifecycles, state.book
    trades = dataset["trades"]
    if rows is None:
        rows = snapshot_rows(trades, reference.calendar, stages, only)
    trade = rows["trade"].to_numpy()
    at = instants_us(rows["event_timestamp"])
    x = np.empty((len(trade), len(parts.names)), dtype=np.float32)

    def chunks() -> Iterator[tuple[slice, pd.DataFrame]]:
        for start in range(0, len(trade), chunk_rows):
            step(f"rows {start:,} of {len(trade):,}", start / max(len(trade), 1))
            part = slice(start, min(start + chunk_rows, len(trade)))
            chunk = trades.iloc[trade[part]].reset_index(drop=True)
            lifecycle = lifecycles.at(trade[part], at[part])
            yield part, entity_frame(chunk, reference, at[part], lifecycle, book)

    if on_spark(store):
        _on_spark(store, parts, chunks(), x, chunk_rows)
    else:
        for part, entities in chunks():
            _retrieve(store, parts, entities, x[part])
    step("done", 1.0)
    return FeatureMatrix(rows, x, list(parts.names))


def _check_sources(store: FeatureStore) -> None:
    """Every view's table exists: a clear error instead of a query engine's."""
    paths = [
        path
        for view in store.list_feature_views()
        if (path := getattr(view.batch_source, "path", None))
    ]
    missing = [
        Violation(path, "feature table is missing; rebuild the features")
        for path in paths
        if not Path(path).exists()
    ]
    if missing:
        raise ContractError(missing)


def training_frame(
    store: FeatureStore,
    reference: Reference,
    dataset: Dataset,
    stages: Sequence[str] = STAGES,
    step: Callable[[str, float], None] = lambda name, fraction: None,
) -> pd.DataFrame:
    """One row per (trade, stage) in trade-date order: ``trade_id``, ``stage``,
    ``event_timestamp``, the entity keys and every feature as it was known at that stage's
    instant (``training_matrix`` as one frame)."""
    matrix = training_matrix(store, reference, dataset, stages, step)
    return matrix.frame(dataset["trades"])


class OnlineRetriever:
    """Online features for batches of trades. Resolves the feature service once: registry
    reads deserialise protos and cost tens of milliseconds, far more than the lookup."""

    def __init__(self, store: FeatureStore, reference: Reference) -> None:
        self.store, self.reference = store, reference
        self.service = _service(store)
        self.names = feature_names(store)

    def __call__(
        self,
        trades: pd.DataFrame,
        scoring_us: np.ndarray | None = None,
        lifecycle: pd.DataFrame | None = None,
        book: BookState | None = None,
    ) -> pd.DataFrame:
        """Latest stored features plus request-time features, one row per trade in input
        order, columns ``feature_names``. ``scoring_us`` defaults to now."""
        if scoring_us is None:
            now = pd.Timestamp.now(tz="UTC")
            scoring_us = np.full(len(trades), instants_us(pd.DatetimeIndex([now]))[0])
        rows = entity_frame(
            trades.reset_index(drop=True), self.reference, scoring_us, lifecycle, book
        )
        response = self.store.get_online_features(
            features=self.service,
            entity_rows=[
                {str(k): v for k, v in row.items()}
                for row in rows.drop(columns="event_timestamp").to_dict("records")
            ],
        ).to_dict()
        return pd.DataFrame(response)[self.names]


def online_features(
    store: FeatureStore,
    reference: Reference,
    trades: pd.DataFrame,
    scoring_us: np.ndarray | None = None,
    lifecycle: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One-off ``OnlineRetriever`` call; hold a retriever to serve many requests."""
    return OnlineRetriever(store, reference)(trades, scoring_us, lifecycle)
