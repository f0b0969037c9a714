"""Feast's DuckDB offline store with point-in-time joins as DuckDB ``ASOF`` joins.

Feast 0.67 joins each entity row to *every* feature row of its key stamped at or before it
and keeps the newest (an inequality join, then a window). A counterparty with 700 rows in
its history table turns 200,000 entity rows into 140 million pairs before the window throws
all but one of each away: most of training's retrieval time and much of its memory.

DuckDB's ``ASOF LEFT JOIN`` finds that newest row directly, from both sides sorted. The
answer is the same: the newest row at or before the entity's timestamp is the one Feast's
window keeps, and a view's TTL then keeps it only when it is recent enough (when the newest
row is too old, every older row is too). Ties on one key and timestamp have no order in
either engine; failcast's tables hold one row per key and timestamp.

Anything this join does not cover goes to Feast's own implementation unchanged: an entity
SQL query rather than a frame, a source other than a local Parquet ``FileSource``, a source
with a created-timestamp column (Feast breaks ties on it), or a join-key map. Feast loads the
class by its path (``offline_store.type`` in ``feature_store.yaml``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from feast import FeatureView, FileSource
from feast.data_format import ParquetFormat
from feast.infra.offline_stores import offline_utils
from feast.infra.offline_stores.duckdb import DuckDBOfflineStore, DuckDBOfflineStoreConfig
from feast.infra.offline_stores.offline_store import RetrievalJob
from feast.infra.registry.base_registry import BaseRegistry
from feast.on_demand_feature_view import OnDemandFeatureView
from feast.repo_config import RepoConfig
from pydantic import StrictStr

__all__ = [
    "ASOF_STORE_TYPE",
    "AsofDuckDBOfflineStore",
    "AsofDuckDBOfflineStoreConfig",
    "AsofRetrievalJob",
    "ViewRead",
]

ASOF_STORE_TYPE = f"{__name__}.AsofDuckDBOfflineStore"
_ROW = "__failcast_row"  # the entity row's position: the answer comes back in entity order
_TS = "__failcast_ts"  # a view's timestamp, renamed so that no two views' collide


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class ViewRead:
    """One view as the ASOF join reads it: its Parquet source and the features asked of it."""

    view: FeatureView
    source: FileSource
    path: str
    features: list[str]

    @classmethod
    def of(
        cls, view: FeatureView, feature_refs: list[str], repo_path: Path | None
    ) -> ViewRead | None:
        """None when the ASOF join does not cover the view's source."""
        source = view.batch_source
        if not isinstance(source, FileSource) or source.created_timestamp_column:
            return None
        if view.projection.join_key_map or "://" in source.path:
            return None
        if source.file_format is not None and not isinstance(source.file_format, ParquetFormat):
            return None
        path = Path(source.path)
        if not path.is_absolute() and repo_path is not None:
            path = repo_path / path
        prefix = f"{view.projection.name_to_use()}:"  # type: ignore[no-untyped-call]
        features = [ref.split(":", 1)[1] for ref in feature_refs if ref.startswith(prefix)]
        return cls(view, source, str(path) + ("/**/*.parquet" if path.is_dir() else ""), features)

    def query(self, timestamp: str, full_feature_names: bool) -> str:
        """The SQL of this view's features for the registered ``entity`` table's rows, as of
        each row's ``timestamp``, TTL applied, in entity order. Only the keys, the instant
        and the row's position go into the join: one narrow join per view, not a chain of
        joins each sorting every column gathered so far."""
        mapped = {new: old for old, new in self.source.field_mapping.items()}
        keys = [column.name for column in self.view.entity_columns]
        stamp = _quote(mapped.get(self.source.timestamp_field, self.source.timestamp_field))
        stamp = f"CAST({stamp} AS TIMESTAMPTZ)"
        at = f"entity.{_quote(timestamp)}"
        columns = [f"{_quote(mapped.get(n, n))} AS {_quote(n)}" for n in [*keys, *self.features]]
        where, fresh = "", ""
        if self.view.ttl:  # a TTL of zero never expires, as in Feast
            ttl = f"TO_MICROSECONDS({int(self.view.ttl.total_seconds() * 1_000_000)})"
            fresh = f"v.{_TS} >= {at} - {ttl}"
            # only rows from one TTL before the first entity row to the last can answer:
            # the rest are dropped as Parquet is read, before the join sorts anything
            where = (
                f" WHERE {stamp} >= (SELECT MIN({_quote(timestamp)}) FROM entity) - {ttl}"
                f" AND {stamp} <= (SELECT MAX({_quote(timestamp)}) FROM entity)"
            )
        table = (
            f"(SELECT {', '.join(columns)}, {stamp} AS {_TS} "
            f"FROM read_parquet({_literal(self.path)}){where})"
        )
        on = " AND ".join(
            [*(f"entity.{_quote(k)} = v.{_quote(k)}" for k in keys), f"{at} >= v.{_TS}"]
        )
        base = self.view.projection.name_alias or self.view.name
        selects = []
        for name in self.features:
            value = f"CASE WHEN {fresh} THEN v.{_quote(name)} END" if fresh else f"v.{_quote(name)}"
            label = f"{base}__{name}" if full_feature_names else name
            selects.append(f"{value} AS {_quote(label)}")
        narrow = ", ".join([_ROW, _quote(timestamp), *(_quote(k) for k in keys)])
        return (
            f"SELECT {', '.join(selects)} FROM (SELECT {narrow} FROM entity) AS entity "
            f"ASOF LEFT JOIN {table} AS v ON {on} ORDER BY entity.{_ROW}"
        )


class AsofRetrievalJob(RetrievalJob):
    """The answer to one ``get_historical_features`` call, computed when asked for: the
    entity rows as given, then each view's features (one query per view)."""

    def __init__(
        self,
        entity: pa.Table,
        queries: list[str],
        on_demand: list[OnDemandFeatureView],
        full_feature_names: bool,
    ) -> None:
        super().__init__()
        self._entity, self._queries = entity, queries
        self._on_demand, self._full = on_demand, full_feature_names

    def _to_arrow_internal(self, timeout: int | None = None) -> pa.Table:
        answer = self._entity.drop_columns([_ROW])
        with duckdb.connect() as con:
            con.execute("SET TimeZone = 'UTC'")  # naive entity timestamps are UTC, as in Feast
            con.register("entity", self._entity)
            for sql in self._queries:
                features: pa.Table = con.sql(sql).to_arrow_table()
                for name, column in zip(features.column_names, features.columns, strict=True):
                    answer = answer.append_column(name, column)
        return answer

    def _to_df_internal(self, timeout: int | None = None) -> pd.DataFrame:
        return self._to_arrow_internal(timeout).to_pandas()

    def to_sql(self) -> str:
        return ";\n".join(self._queries)

    @property
    def full_feature_names(self) -> bool:
        return self._full

    @property
    def on_demand_feature_views(self) -> list[OnDemandFeatureView]:
        return self._on_demand


class AsofDuckDBOfflineStoreConfig(DuckDBOfflineStoreConfig):
    type: StrictStr = ASOF_STORE_TYPE


class AsofDuckDBOfflineStore(DuckDBOfflineStore):
    @staticmethod
    def get_historical_features(
        config: RepoConfig,
        feature_views: list[FeatureView],
        feature_refs: list[str],
        entity_df: pd.DataFrame | str | None,
        registry: BaseRegistry,
        project: str,
        full_feature_names: bool = False,
        filter_by_created_timestamp: bool = False,
    ) -> RetrievalJob:
        repo_path = Path(config.repo_path) if config.repo_path else None
        reads = [ViewRead.of(view, feature_refs, repo_path) for view in feature_views]
        covered = [read for read in reads if read is not None]
        if not isinstance(entity_df, pd.DataFrame) or len(covered) < len(reads):
            return DuckDBOfflineStore.get_historical_features(
                config,
                feature_views,
                feature_refs,
                entity_df,  # type: ignore[arg-type]  # Feast's own store answers what it can
                registry,
                project,
                full_feature_names,
                filter_by_created_timestamp,
            )
        timestamp = offline_utils.infer_event_timestamp_from_entity_df(
            dict(zip(entity_df.columns, entity_df.dtypes, strict=True))
        )
        queries = [read.query(timestamp, full_feature_names) for read in covered]
        on_demand = OnDemandFeatureView.get_requested_odfvs(feature_refs, project, registry)
        return AsofRetrievalJob(
            _entity_table(entity_df, timestamp), queries, on_demand, full_feature_names
        )


def _entity_table(entity_df: pd.DataFrame, timestamp: str) -> pa.Table:
    """The entity rows as Arrow, timestamps parsed as Feast parses them, positions added."""
    frame = entity_df
    column: Any = frame[timestamp]
    if pd.api.types.is_string_dtype(column) or pd.api.types.is_object_dtype(column):
        frame = frame.assign(**{timestamp: pd.to_datetime(column, utc=True)})
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return table.append_column(_ROW, pa.array(np.arange(len(frame), dtype=np.int64)))
