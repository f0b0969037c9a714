"""Read a contract table from Parquet or CSV into canonical pandas dtypes.

Canonical dtypes: strings as ``object``, floats ``float64``, ints ``int64``, bools ``bool``,
dates ``datetime64[ns]`` (midnight, naive) and timestamps ``datetime64[us, UTC]``.
Type problems are collected as Violations so the caller can report every one of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from core.errors import Violation
from features.data.contract._errors import describe_rows
from features.data.contract._schema import Column, Kind, Table

__all__ = ["canonical_dtype", "read_table", "table_frame"]

_TZ_SUFFIX = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
_TRUE = {"true", "1", "t", "yes"}
_FALSE = {"false", "0", "f", "no"}


def canonical_dtype(kind: Kind) -> str:
    return {
        Kind.STRING: "object",
        Kind.FLOAT: "float64",
        Kind.INT: "int64",
        Kind.BOOL: "bool",
        Kind.DATE: "datetime64[ns]",
        Kind.TIMESTAMP: "datetime64[us, UTC]",
    }[kind]


def _arrow_type_ok(kind: Kind, typ: pa.DataType) -> tuple[bool, str]:
    """(accepted, rule) for a Parquet column's Arrow type."""
    if pa.types.is_dictionary(typ):
        typ = typ.value_type
    if pa.types.is_null(typ):
        return True, ""
    checks = {
        Kind.STRING: (pa.types.is_string(typ) or pa.types.is_large_string(typ), "must be a string"),
        Kind.FLOAT: (pa.types.is_floating(typ) or pa.types.is_integer(typ), "must be a float"),
        Kind.INT: (pa.types.is_integer(typ), "must be an integer"),
        Kind.BOOL: (pa.types.is_boolean(typ), "must be a boolean"),
        Kind.DATE: (pa.types.is_date(typ), "must be a calendar date (Parquet date32)"),
        Kind.TIMESTAMP: (pa.types.is_timestamp(typ), "must be a timezone-aware UTC timestamp"),
    }
    ok, rule = checks[kind]
    if ok and kind is Kind.TIMESTAMP and getattr(typ, "tz", None) is None:
        return (
            False,
            "must be a timezone-aware UTC timestamp; found a naive timestamp (no time zone)",
        )
    return ok, f"{rule}; found Parquet type {typ}" if not ok else ""


def _read_parquet(path: Path, table: Table, problems: list[Violation]) -> pd.DataFrame | None:
    try:
        arrow = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        problems.append(Violation(path.name, f"cannot be read as Parquet ({exc})"))
        return None
    for col in table.columns:
        if col.name in arrow.column_names:
            ok, rule = _arrow_type_ok(col.kind, arrow.schema.field(col.name).type)
            if not ok:
                problems.append(Violation(path.name, rule, col.name, n_rows=arrow.num_rows))
    frame = arrow.to_pandas(date_as_object=False)
    return frame


def _read_csv(path: Path, problems: list[Violation]) -> pd.DataFrame | None:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        problems.append(Violation(path.name, f"cannot be read as CSV ({exc})"))
        return None


def _parse_text(series: pd.Series, col: Column) -> tuple[pd.Series, pd.Series, str]:
    """Parse a CSV text column: (values, mask of unparseable rows, rule)."""
    present = series.notna()
    if col.kind is Kind.STRING:
        return series, pd.Series(False, index=series.index), ""
    if col.kind in (Kind.FLOAT, Kind.INT):
        values = pd.to_numeric(series, errors="coerce")
        bad = present & values.isna()
        if col.kind is Kind.INT:
            bad |= present & values.notna() & (values != np.round(values))
            return values, bad, "must be an integer"
        return values, bad, "must be a number"
    if col.kind is Kind.BOOL:
        lower = series.str.strip().str.lower()
        values = lower.map(lambda s: True if s in _TRUE else False if s in _FALSE else None)
        return values, present & values.isna(), "must be a boolean (true/false)"
    if col.kind is Kind.DATE:
        values = pd.to_datetime(series, format="%Y-%m-%d", errors="coerce")
        return values, present & values.isna(), "must be an ISO 8601 date (YYYY-MM-DD)"
    naive = present & ~series.str.strip().str.contains(_TZ_SUFFIX, na=False)
    values = pd.to_datetime(series.where(~naive), utc=True, format="ISO8601", errors="coerce")
    bad = present & values.isna()
    if naive.any():
        return (
            values,
            bad,
            (
                "must be a timezone-aware UTC timestamp (ISO 8601 with 'Z' or an offset); "
                "found naive timestamps"
            ),
        )
    return values, bad, "must be an ISO 8601 timestamp with a time zone"


def _canonicalise(series: pd.Series, col: Column) -> pd.Series:
    if col.kind is Kind.TIMESTAMP:
        stamps = pd.to_datetime(series, utc=True)
        return stamps.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    if col.kind is Kind.DATE:
        return pd.to_datetime(series).astype("datetime64[ns]")
    if col.kind is Kind.STRING:
        strings: pd.Series = series.astype(object)
        strings[series.isna()] = None
        return strings
    if series.isna().any():  # nullable ints/bools are refused later by the null rule
        return series
    typed: pd.Series = series.astype(np.dtype(canonical_dtype(col.kind)))
    return typed


def table_frame(rows: Iterable[Mapping[str, Any]], table: Table) -> pd.DataFrame:
    """Rows (JSON values or Python ones) as a frame of ``table``: its columns, in its order,
    each in its canonical dtype, ready for ``validate_frames`` and the pushes."""
    frame = pd.DataFrame(list(rows), columns=table.column_names)
    for col in table.columns:
        frame[col.name] = _canonicalise(frame[col.name], col)
    return frame


def read_table(path: Path, table: Table, problems: list[Violation]) -> pd.DataFrame | None:
    """Read and type one table; appends a Violation for every type problem found."""
    is_csv = path.suffix.lower() == ".csv"
    frame = _read_csv(path, problems) if is_csv else _read_parquet(path, table, problems)
    if frame is None:
        return None
    missing = [c for c in table.column_names if c not in frame.columns]
    for name in missing:
        problems.append(
            Violation(
                path.name,
                f"required column is missing (expected columns: {', '.join(table.column_names)})",
                name,
            )
        )
    if missing:
        return None
    frame = frame[table.column_names].reset_index(drop=True)
    type_errors = False
    for col in table.columns:
        if is_csv:
            values, bad, rule = _parse_text(frame[col.name], col)
            if bad.any():
                type_errors = True
                problems.append(
                    Violation(
                        path.name,
                        rule,
                        col.name,
                        int(bad.sum()),
                        len(frame),
                        describe_rows(frame, bad, [*table.key, col.name], line_offset=2),
                    )
                )
                continue
            frame[col.name] = values
        if any(p.file == path.name and p.column == col.name for p in problems):
            type_errors = True
            continue
        frame[col.name] = _canonicalise(frame[col.name], col)
    return None if type_errors else frame
