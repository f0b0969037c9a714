"""Event files for ``failcast events ingest``: JSON lines with a ``kind`` per event, or a CSV
or Parquet file of one contract table named after it (events, ssi, inventory, outcomes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from core.errors import ContractError, Violation
from features.data.contract import TABLES
from features.data.contract._read import read_table
from features.data.contract._rules import check_table
from serving.workflow.event_models import KIND_OF_TABLE, events_adapter

__all__ = ["read_events"]

_JSON = (".jsonl", ".json")


def read_events(path: Path | str) -> list[Any]:
    """The file's events, validated; a bad file raises ``ContractError`` naming the line or
    row, the field and the rule."""
    path = Path(path)
    if not path.is_file():
        raise ContractError([Violation(str(path), "no such file")])
    if path.suffix.lower() in _JSON:
        records, first_line = _json_records(path), 1
    else:
        records, first_line = _table_records(path), 2 if path.suffix.lower() == ".csv" else 0
    try:
        return events_adapter.validate_python(records)
    except ValidationError as exc:
        raise ContractError(
            [
                Violation(
                    f"{path.name} {'line' if first_line else 'row'} "
                    f"{int(e['loc'][0]) + first_line}",
                    e["msg"],
                    str(e["loc"][-1]) if len(e["loc"]) > 1 else None,
                )
                for e in exc.errors()[:20]
            ]
        ) from None


def _json_records(path: Path) -> list[Any]:
    text = path.read_text()
    if path.suffix.lower() == ".json":
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ContractError([Violation(path.name, f"not JSON: {exc}")]) from None
        if not isinstance(records, list):
            raise ContractError([Violation(path.name, "must hold a JSON list of events")])
        return records
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ContractError(
                    [Violation(f"{path.name} line {number}", f"not JSON: {exc}")]
                ) from None
    return records


def _table_records(path: Path) -> list[dict[str, Any]]:
    kind = KIND_OF_TABLE.get(path.stem)
    if kind is None or path.suffix.lower() not in (".csv", ".parquet"):
        raise ContractError(
            [
                Violation(
                    path.name,
                    "an event file is JSON lines with a 'kind' per event, or a .csv/.parquet "
                    f"file named after its table ({', '.join(KIND_OF_TABLE)})",
                )
            ]
        )
    table = TABLES[path.stem]
    problems: list[Violation] = []
    frame = read_table(path, table, problems)
    if frame is not None:
        problems += check_table(
            frame, table, path.name, 2 if path.suffix.lower() == ".csv" else None
        )
    if problems or frame is None:
        raise ContractError(problems)
    frame = frame.astype(object)
    frame[frame.isna()] = None
    records: list[dict[str, Any]] = [
        {str(k): v for k, v in record.items()} for record in frame.to_dict("records")
    ]
    for record in records:
        record["kind"] = kind
        for name, value in record.items():
            if isinstance(value, pd.Timestamp):
                record[name] = value.to_pydatetime()
    return records
