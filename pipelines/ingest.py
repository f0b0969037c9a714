"""Store ingested real-data tables beside a dataset, atomically."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["SEC_FTD_FILE", "write_sec_ftd"]

SEC_FTD_FILE = "sec_ftd.parquet"

_SCHEMA = pa.schema(
    [
        pa.field("settlement_date", pa.date32(), nullable=False),
        pa.field("cusip", pa.string(), nullable=False),
        pa.field("symbol", pa.string()),
        pa.field("fails_quantity", pa.float64(), nullable=False),
        pa.field("price", pa.float64()),
        pa.field("fails_value", pa.float64()),
        pa.field("description", pa.string()),
    ]
)


def write_sec_ftd(table: pd.DataFrame, out: Path) -> Path:
    """Write ``sec_ftd.parquet`` under ``out``; the old file stays until the new one is complete."""
    out.mkdir(parents=True, exist_ok=True)
    arrow = pa.Table.from_pandas(table, schema=_SCHEMA, preserve_index=False)
    with tempfile.NamedTemporaryFile(dir=out, suffix=".parquet.tmp", delete=False) as tmp:
        pq.write_table(arrow, tmp.name)
    target = out / SEC_FTD_FILE
    Path(tmp.name).replace(target)
    return target
