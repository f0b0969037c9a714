"""Store ingested real-data tables beside a dataset, atomically."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from features.data.atomic import write_parquet_files
from features.data.sources.sec_ftd import SEC_FTD_SCHEMA

__all__ = ["SEC_FTD_FILE", "write_sec_ftd"]

SEC_FTD_FILE = "sec_ftd.parquet"


def write_sec_ftd(table: pd.DataFrame, out: Path) -> Path:
    """Write ``sec_ftd.parquet`` under ``out``; the old file stays until the new one is complete."""
    arrow = pa.Table.from_pandas(table, schema=SEC_FTD_SCHEMA, preserve_index=False)
    write_parquet_files({SEC_FTD_FILE.removesuffix(".parquet"): arrow}, out)
    return out / SEC_FTD_FILE
