"""Data sources: one Parquet feature table per view, and push sources for intraday updates.

The tables are the same files whatever the offline store; a source says how the store reads
them: a ``FileSource`` for DuckDB, a ``SparkSource`` for Spark (which refuses file sources).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from feast import FileSource, PushSource
from feast.data_source import DataSource

from core.settings import OfflineStore

__all__ = ["PUSHED_VIEWS", "Sources", "batch_source", "feature_sources", "table_path"]

PUSHED_VIEWS = {
    "counterparty_history": "counterparty_outcomes_push",
    "account_history": "account_outcomes_push",
    "position": "position_push",
    "ssi_state": "ssi_push",
}
"""Views refreshed online during the day: counterparty and account features as settlement
outcomes arrive, positions as inventory moves, SSIs as counterparties change them."""


def table_path(tables_dir: Path, view: str) -> Path:
    return tables_dir / f"{view}.parquet"


def batch_source(name: str, path: Path, store: OfflineStore) -> DataSource:
    """The Parquet table at ``path`` as the offline store reads it."""
    if store == "spark":
        from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import (
            SparkSource,
        )

        return SparkSource(
            name=name,
            path=str(path.resolve()),
            file_format="parquet",
            timestamp_field="event_timestamp",
        )
    return FileSource(name=name, path=str(path.resolve()), timestamp_field="event_timestamp")


@dataclass(frozen=True)
class Sources:
    files: dict[str, DataSource]
    pushes: dict[str, PushSource]

    def for_view(self, view: str) -> DataSource:
        return self.pushes.get(view) or self.files[view]

    def all(self) -> list[DataSource]:
        return [*self.files.values(), *self.pushes.values()]


def feature_sources(tables_dir: Path, views: list[str], store: OfflineStore = "duckdb") -> Sources:
    files = {
        view: batch_source(f"{view}_table", table_path(tables_dir, view), store) for view in views
    }
    pushes = {
        view: PushSource(name=push, batch_source=files[view]) for view, push in PUSHED_VIEWS.items()
    }
    return Sources(files, pushes)
