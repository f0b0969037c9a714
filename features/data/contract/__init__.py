"""The raw-data contract of DESIGN.md: tables as data, validated reads, atomic writes."""

from features.data.contract._dataset import (
    REQUIRED_TABLES,
    Dataset,
    arrow_schema,
    dataset_digest,
    read_dataset,
    validate_frames,
    write_dataset,
)
from features.data.contract._fields import (
    Identifier,
    Instant,
    NotLater,
    contract_field,
    model_drift,
)
from features.data.contract._read import table_frame
from features.data.contract._schema import (
    TABLES,
    Column,
    Kind,
    Table,
)

__all__ = [
    "REQUIRED_TABLES",
    "TABLES",
    "Column",
    "Dataset",
    "Identifier",
    "Instant",
    "Kind",
    "NotLater",
    "Table",
    "arrow_schema",
    "contract_field",
    "dataset_digest",
    "model_drift",
    "read_dataset",
    "table_frame",
    "validate_frames",
    "write_dataset",
]
