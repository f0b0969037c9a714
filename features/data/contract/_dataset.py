"""A dataset is a directory of contract tables; read it validated, write it atomically."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import pandas as pd
import pyarrow as pa

from core.errors import ContractError, Violation
from features.data.atomic import write_parquet_files
from features.data.contract._read import read_table
from features.data.contract._rules import check_dataset, check_table
from features.data.contract._schema import TABLES, Kind, Table

__all__ = [
    "REQUIRED_TABLES",
    "Dataset",
    "arrow_schema",
    "dataset_digest",
    "read_dataset",
    "validate_frames",
    "write_dataset",
]

REQUIRED_TABLES = ("instruments", "counterparties", "trades")
"""A dataset needs at least these; the other tables are validated when present."""

Dataset = dict[str, pd.DataFrame]


def _locate(directory: Path, names: Iterable[str]) -> tuple[dict[str, Path], list[Violation]]:
    found: dict[str, Path] = {}
    problems: list[Violation] = []
    if not directory.is_dir():
        raise ContractError([Violation(str(directory), "dataset directory does not exist")])
    for name in names:
        candidates = [
            p for p in (directory / f"{name}.parquet", directory / f"{name}.csv") if p.exists()
        ]
        if len(candidates) > 1:
            problems.append(
                Violation(
                    f"{name}.parquet", f"both {name}.parquet and {name}.csv exist; keep exactly one"
                )
            )
        elif candidates:
            found[name] = candidates[0]
        elif name in REQUIRED_TABLES:
            problems.append(
                Violation(
                    f"{name}.parquet",
                    f"required table is missing from {directory} (Parquet or CSV)",
                )
            )
    return found, problems


def dataset_digest(directory: Path | str) -> str:
    """SHA-256 (hex) over a dataset directory's table files, names and bytes: the same digest
    is the same data."""
    digest = hashlib.sha256()
    directory = Path(directory)
    for path in sorted(directory.glob("*.parquet")) + sorted(directory.glob("*.csv")):
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def read_dataset(
    directory: Path | str,
    tables: Iterable[str] | None = None,
    validated: str | None = None,
    digest: str | None = None,
) -> Dataset:
    """Read and validate a dataset directory; raises ContractError listing every violation.

    ``validated``: the ``dataset_digest`` of a dataset validated whole before (a feature
    build records the one it read). When the directory's files are still those bytes, the
    contract's rules are not checked again — at a million trades they are a quarter of the
    read — and the tables are read as they always are, each file still refused if it cannot be
    read as its table.

    ``digest``: the directory's ``dataset_digest`` when the caller has just taken it (one
    hash of the files then serves the caller and this check; by default it is taken here)."""
    directory = Path(directory)
    names = list(tables) if tables is not None else list(TABLES)
    paths, problems = _locate(directory, names)
    trusted = (
        validated is not None
        and not problems
        and (digest if digest is not None else dataset_digest(directory)) == validated
    )
    frames: Dataset = {}
    offsets: dict[str, int | None] = {}
    for name, path in paths.items():
        frame = read_table(path, TABLES[name], problems)
        if frame is not None:
            frames[name] = frame
            offsets[name] = 2 if path.suffix.lower() == ".csv" else None
            if not trusted:
                problems += check_table(frame, TABLES[name], path.name, offsets[name])
    if problems:
        raise ContractError(problems)
    if trusted:
        return frames
    problems += check_dataset(frames, {n: p.name for n, p in paths.items()}, offsets)
    if problems:
        raise ContractError(problems)
    return frames


def validate_frames(frames: Mapping[str, pd.DataFrame]) -> None:
    """Validate in-memory tables (already in canonical dtypes) against the contract."""
    files = {name: f"{name}.parquet" for name in frames}
    offsets: dict[str, int | None] = {name: None for name in frames}
    problems: list[Violation] = []
    for name, frame in frames.items():
        if name not in TABLES:
            problems.append(
                Violation(files[name], f"is not a contract table (tables: {', '.join(TABLES)})")
            )
            continue
        missing = [c for c in TABLES[name].column_names if c not in frame.columns]
        if missing:
            problems += [Violation(files[name], "required column is missing", c) for c in missing]
            continue
        problems += check_table(frame, TABLES[name], files[name], None)
    if not problems:
        problems += check_dataset(frames, files, offsets)
    if problems:
        raise ContractError(problems)


_ARROW = {
    Kind.STRING: pa.string(),
    Kind.FLOAT: pa.float64(),
    Kind.INT: pa.int64(),
    Kind.BOOL: pa.bool_(),
    Kind.DATE: pa.date32(),
    Kind.TIMESTAMP: pa.timestamp("us", tz="UTC"),
}


def arrow_schema(table: Table) -> pa.Schema:
    return pa.schema(
        [
            pa.field(
                c.name, _ARROW[c.kind], nullable=c.nullable, metadata={"description": c.description}
            )
            for c in table.columns
        ]
    )


def write_dataset(frames: Mapping[str, pd.DataFrame], directory: Path | str) -> Path:
    """Validate, then write one Parquet file per table; on any error ``directory`` is unchanged."""
    validate_frames(frames)
    remove = [f"{name}.csv" for name in frames]
    return write_parquet_files(_ArrowTables(frames), directory, remove=remove)


class _ArrowTables(Mapping[str, pa.Table]):
    """The frames as contract Arrow tables, each converted when it is read: the writer holds
    one table's Arrow copy at a time, not every table's beside the frames."""

    def __init__(self, frames: Mapping[str, pd.DataFrame]) -> None:
        self._frames = frames

    def __getitem__(self, name: str) -> pa.Table:
        return pa.Table.from_pandas(
            self._frames[name][TABLES[name].column_names],
            schema=arrow_schema(TABLES[name]),
            preserve_index=False,
        )

    def __iter__(self) -> Iterator[str]:
        return iter(self._frames)

    def __len__(self) -> int:
        return len(self._frames)
