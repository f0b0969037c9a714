"""Request models that follow the contract: a pydantic field per column, carrying its
description and rules; the bounded types live requests use for instants and identifiers;
and the check that a model's fields still match its table."""

from __future__ import annotations

import datetime as dt
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field
from pydantic.fields import FieldInfo

from core.limits import EARLIEST_INSTANT, MAX_ID_LENGTH
from core.settings import get_settings
from features.data.contract._schema import TABLES, Column, Kind

__all__ = ["Identifier", "Instant", "NotLater", "contract_field", "model_drift"]


def _bounded_instant(value: dt.datetime) -> dt.datetime:
    days = get_settings().max_future_days
    latest = dt.datetime.now(dt.UTC) + dt.timedelta(days=days)
    return _from_earliest(value, latest, f"{days} days from now (FAILCAST_MAX_FUTURE_DAYS)")


def _not_later_than_now(value: dt.datetime) -> dt.datetime:
    tolerance = get_settings().clock_tolerance_seconds
    latest = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=tolerance)
    bound = f"now (plus {tolerance:g} s, FAILCAST_CLOCK_TOLERANCE_SECONDS)"
    return _from_earliest(value, latest, bound)


def _from_earliest(value: dt.datetime, latest: dt.datetime, bound: str) -> dt.datetime:
    """``value`` if from EARLIEST_INSTANT to ``latest`` (said as ``bound``), else an error."""
    if not EARLIEST_INSTANT <= value <= latest:
        raise ValueError(
            f"must be between {EARLIEST_INSTANT:%Y-%m-%d} and {bound}; got {value.isoformat()}"
        )
    return value


def _identifier(value: str) -> str:
    if not value or len(value) > MAX_ID_LENGTH or not value.isprintable():
        raise ValueError(
            f"must be 1 to {MAX_ID_LENGTH} printable characters; got {len(value)} "
            f"characters{'' if value.isprintable() else ' with a control character'}"
        )
    return value


Instant = Annotated[AwareDatetime, AfterValidator(_bounded_instant)]
"""An aware timestamp from 2000-01-01 to the configured horizon after now."""
NotLater = Annotated[AwareDatetime, AfterValidator(_not_later_than_now)]
"""An aware instant no later than now (within the clock tolerance): when a score is for."""
Identifier = Annotated[str, AfterValidator(_identifier)]
"""An identifier: 1 to ``MAX_ID_LENGTH`` printable characters."""

_TYPES: dict[Kind, object] = {
    Kind.STRING: str,
    Kind.FLOAT: float,
    Kind.INT: int,
    Kind.BOOL: bool,
    Kind.DATE: dt.date,
    Kind.TIMESTAMP: AwareDatetime,
}
_CHECKS: dict[Kind, tuple[object, ...]] = {Kind.TIMESTAMP: (_bounded_instant,)}
"""The validators a column's field must run beyond its type (``Instant``'s bounds)."""


def contract_field(table: str, column: str) -> Any:
    """``Field(...)`` for a model attribute mirroring ``table.column``: its description, its
    bounds, finite floats; optional (default None) when nullable. Identifiers and instants
    take their bounds from their types (``Identifier``, ``Instant``)."""
    col = TABLES[table].column(column)
    rules: dict[str, Any] = {"description": col.description}
    if col.kind is Kind.STRING and not col.allowed and col.max_length is None:
        rules["min_length"] = 1
    if col.kind is Kind.FLOAT:
        rules["allow_inf_nan"] = False
    if col.minimum is not None:
        rules["gt" if col.exclusive_minimum else "ge"] = col.minimum
    if col.maximum is not None:
        rules["le"] = col.maximum
    return Field(None, **rules) if col.nullable else Field(..., **rules)


Shape = tuple[object, tuple[object, ...], bool]
"""(the Python type or the allowed values, the validators it runs, nullable)."""


def _expected(column: Column) -> Shape:
    if column.max_length is not None:
        return str, (_identifier,), column.nullable
    kind = column.allowed or _TYPES[column.kind]
    return kind, _CHECKS.get(column.kind, ()), column.nullable


def _declared(field: FieldInfo) -> Shape:
    annotation, metadata = field.annotation, list(field.metadata)
    nullable = False
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        nullable = len(args) < len(get_args(annotation))
        annotation = args[0] if len(args) == 1 else annotation
    if get_origin(annotation) is Annotated:
        annotation, *extra = get_args(annotation)
        metadata += extra
    checks = tuple(m.func for m in metadata if isinstance(m, AfterValidator))
    if get_origin(annotation) is Literal:
        return get_args(annotation), checks, nullable
    return annotation, checks, nullable


def model_drift(model: type[BaseModel], table: str, extra: tuple[str, ...] = ()) -> list[str]:
    """Every way ``model``'s fields differ from ``table``'s columns (besides ``extra``
    fields of its own): missing or unknown names, other types, values or nullability."""
    columns = {c.name: c for c in TABLES[table].columns}
    fields = {n: f for n, f in model.model_fields.items() if n not in extra}
    problems = [f"{model.__name__} lacks column {n}" for n in columns.keys() - fields.keys()]
    problems += [f"{model.__name__}.{n} is no column of {table}" for n in fields - columns.keys()]
    for name in columns.keys() & fields.keys():
        want, got = _expected(columns[name]), _declared(fields[name])
        if want != got:
            problems.append(f"{model.__name__}.{name}: declared {got}, the contract says {want}")
    return sorted(problems)
