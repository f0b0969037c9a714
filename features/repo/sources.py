"""Data sources: one Parquet feature table per view, and push sources for intraday updates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from feast import FileSource, PushSource

__all__ = ["PUSHED_VIEWS", "Sources", "feature_sources", "table_path"]

PUSHED_VIEWS = {
    "counterparty_history": "counterparty_outcomes_push",
    "position": "position_push",
    "ssi_state": "ssi_push",
}
"""Views refreshed online during the day: counterparty features as settlement outcomes arrive,
positions as inventory moves, SSIs as counterparties change them."""


def table_path(tables_dir: Path, view: str) -> Path:
    return tables_dir / f"{view}.parquet"


@dataclass(frozen=True)
class Sources:
    files: dict[str, FileSource]
    pushes: dict[str, PushSource]

    def for_view(self, view: str) -> FileSource | PushSource:
        return self.pushes.get(view) or self.files[view]

    def all(self) -> list[FileSource | PushSource]:
        return [*self.files.values(), *self.pushes.values()]


def feature_sources(tables_dir: Path, views: list[str]) -> Sources:
    files = {
        view: FileSource(
            name=f"{view}_table",
            path=str(table_path(tables_dir.resolve(), view)),
            timestamp_field="event_timestamp",
        )
        for view in views
    }
    pushes = {
        view: PushSource(name=push, batch_source=files[view]) for view, push in PUSHED_VIEWS.items()
    }
    return Sources(files, pushes)
