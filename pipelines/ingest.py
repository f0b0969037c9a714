"""Store ingested real-data tables beside a dataset, atomically."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.sources.sec_ftd import SEC_FTD_SCHEMA

__all__ = ["SEC_FTD_FILE", "write_sec_ftd"]

SEC_FTD_FILE = "sec_ftd.parquet"


def write_sec_ftd(table: pd.DataFrame, out: Path) -> Path:
    """Write ``sec_ftd.parquet`` under ``out``; the old file stays until the new one is complete."""
    out.mkdir(parents=True, exist_ok=True)
    arrow = pa.Table.from_pandas(table, schema=SEC_FTD_SCHEMA, preserve_index=False)
    with tempfile.NamedTemporaryFile(dir=out, suffix=".parquet.tmp", delete=False) as tmp:
        pq.write_table(arrow, tmp.name)
    target = out / SEC_FTD_FILE
    Path(tmp.name).replace(target)
    return target
