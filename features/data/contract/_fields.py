"""Request models that follow the contract: a pydantic field per column, carrying its
description and rules, and the check that a model's fields still match its table."""

from __future__ import annotations

import datetime as dt
import types
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import AwareDatetime, BaseModel, Field

from features.data.contract._schema import TABLES, Column, Kind

__all__ = ["contract_field", "model_drift"]

_TYPES: dict[Kind, object] = {
    Kind.STRING: str,
    Kind.FLOAT: float,
    Kind.INT: int,
    Kind.BOOL: bool,
    Kind.DATE: dt.date,
    Kind.TIMESTAMP: AwareDatetime,
}


def contract_field(table: str, column: str) -> Any:
    """``Field(...)`` for a model attribute mirroring ``table.column``: its description, its
    bounds, non-empty strings, finite floats; optional (default None) when nullable."""
    col = TABLES[table].column(column)
    rules: dict[str, Any] = {"description": col.description}
    if col.kind is Kind.STRING and not col.allowed:
        rules["min_length"] = 1
    if col.kind is Kind.FLOAT:
        rules["allow_inf_nan"] = False
    if col.minimum is not None:
        rules["gt" if col.exclusive_minimum else "ge"] = col.minimum
    if col.maximum is not None:
        rules["le"] = col.maximum
    return Field(None, **rules) if col.nullable else Field(..., **rules)


def _expected(column: Column) -> tuple[object, bool]:
    """(the Python type or the allowed values, nullable) a column's field must have."""
    return (column.allowed or _TYPES[column.kind]), column.nullable


def _declared(annotation: object) -> tuple[object, bool]:
    nullable = False
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        nullable = len(args) < len(get_args(annotation))
        annotation = args[0] if len(args) == 1 else annotation
    if get_origin(annotation) is Literal:
        return get_args(annotation), nullable
    return annotation, nullable


def model_drift(model: type[BaseModel], table: str, extra: tuple[str, ...] = ()) -> list[str]:
    """Every way ``model``'s fields differ from ``table``'s columns (besides ``extra``
    fields of its own): missing or unknown names, other types, values or nullability."""
    columns = {c.name: c for c in TABLES[table].columns}
    fields = {n: f for n, f in model.model_fields.items() if n not in extra}
    problems = [f"{model.__name__} lacks column {n}" for n in columns.keys() - fields.keys()]
    problems += [f"{model.__name__}.{n} is no column of {table}" for n in fields - columns.keys()]
    for name in columns.keys() & fields.keys():
        want, got = _expected(columns[name]), _declared(fields[name].annotation)
        if want != got:
            problems.append(f"{model.__name__}.{name}: declared {got}, the contract says {want}")
    return sorted(problems)
