"""Write several Parquet files so that readers see all of the new ones or none of them."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["write_parquet_files"]


def write_parquet_files(
    tables: Mapping[str, pa.Table], directory: Path | str, *, remove: Iterable[str] = ()
) -> Path:
    """Write ``{name}.parquet`` per table under ``directory`` and delete the files in ``remove``.

    Everything is written to a staging directory beside ``directory`` first; files are moved
    into place only once all are complete, so an error (or a crash) while writing leaves the
    directory exactly as it was.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    try:
        for name, table in tables.items():
            pq.write_table(table, staging / f"{name}.parquet")
        directory.mkdir(exist_ok=True)
        for name in remove:
            (directory / name).unlink(missing_ok=True)
        for name in tables:
            (staging / f"{name}.parquet").replace(directory / f"{name}.parquet")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory
