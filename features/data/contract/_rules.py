"""Contract rules on typed tables: per column, per table and across tables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.calendar import SettlementCalendar
from core.errors import Violation
from core.limits import MAX_SETTLEMENT_WINDOW_DAYS
from features.data.contract._errors import describe_rows
from features.data.contract._schema import TABLES, Table

__all__ = ["check_dataset", "check_table"]

Frames = Mapping[str, pd.DataFrame]


def _violation(
    file: str,
    frame: pd.DataFrame,
    mask: pd.Series,
    rule: str,
    column: str,
    show: list[str],
    line_offset: int | None,
) -> Violation:
    return Violation(
        file,
        rule,
        column,
        int(mask.sum()),
        len(frame),
        describe_rows(frame, mask, show, line_offset),
    )


def check_table(
    frame: pd.DataFrame, table: Table, file: str, line_offset: int | None
) -> list[Violation]:
    """Column rules (nulls, enumerations, bounds) and the table's unique key."""
    out: list[Violation] = []
    key = list(table.key)
    for col in table.columns:
        values = frame[col.name]
        show = [*key, col.name]
        nulls = values.isna()
        if not col.nullable and nulls.any():
            out.append(
                _violation(file, frame, nulls, "must not be empty", col.name, show, line_offset)
            )
            continue
        present = ~nulls  # once: on a text column each null test walks every value
        if col.allowed is not None:
            bad = present & ~values.isin(col.allowed)
            if bad.any():
                rule = f"must be one of {{{', '.join(col.allowed)}}}"
                out.append(_violation(file, frame, bad, rule, col.name, show, line_offset))
        if col.minimum is not None:
            low = values < col.minimum if not col.exclusive_minimum else values <= col.minimum
            if low.any():
                op = ">" if col.exclusive_minimum else ">="
                rule = f"must be {op} {col.minimum:g}"
                out.append(_violation(file, frame, low, rule, col.name, show, line_offset))
        if col.maximum is not None:
            high = values > col.maximum
            if high.any():
                rule = f"must be <= {col.maximum:g}"
                out.append(_violation(file, frame, high, rule, col.name, show, line_offset))
        if col.max_length is None and not col.printable:
            continue
        # the text rules read the column as Arrow strings, built once: pandas' ``str.len``
        # maps Python over every value, three seconds for five million event rows
        text = pa.array(values.astype(str).to_numpy(dtype=object), type=pa.string())
        if col.max_length is not None:
            length = np.asarray(pc.utf8_length(text))  # characters, as Python's len counts
            long = present & (length > col.max_length)
            if long.any():
                rule = f"must be at most {col.max_length} characters"
                out.append(_violation(file, frame, long, rule, col.name, show, line_offset))
        if col.printable:
            printable = np.asarray(pc.utf8_is_printable(text), dtype=bool)
            control = pd.Series(~printable, index=frame.index)
            if control.any():
                rule = "must be printable (no tab, line break or other control character)"
                out.append(_violation(file, frame, control, rule, col.name, show, line_offset))
    if key:
        dup = frame.duplicated(key, keep=False)
        if dup.any():
            rule = f"({', '.join(key)}) must be unique"
            out.append(_violation(file, frame, dup, rule, ", ".join(key), key, line_offset))
    return out


@dataclass(frozen=True)
class _ForeignKey:
    table: str
    column: str
    parent: str
    parent_column: str


_FOREIGN_KEYS = (
    _ForeignKey("trades", "counterparty_id", "counterparties", "counterparty_id"),
    _ForeignKey("trades", "instrument_id", "instruments", "instrument_id"),
    _ForeignKey("events", "trade_id", "trades", "trade_id"),
    _ForeignKey("outcomes", "trade_id", "trades", "trade_id"),
    _ForeignKey("truth", "trade_id", "trades", "trade_id"),
    _ForeignKey("ssi", "counterparty_id", "counterparties", "counterparty_id"),
    _ForeignKey("inventory", "instrument_id", "instruments", "instrument_id"),
)


class _Parents:
    """Each child row's position in its parent table (-1: no such parent), a parent key's
    hash built once and shared by the foreign keys and the row rules that read the parent:
    the trades' ids are looked up from the events, the outcomes and the truth."""

    def __init__(self, frames: Frames) -> None:
        self.frames = frames
        # per parent key: its values hashed, and the parent row of each (None: row for row)
        self._keys: dict[tuple[str, str], tuple[pd.Index, np.ndarray | None]] = {}

    def positions(self, table: str, column: str, parent: str, parent_column: str) -> np.ndarray:
        key = (parent, parent_column)
        if key not in self._keys:
            index, rows = pd.Index(self.frames[parent][parent_column]), None
            if not index.is_unique:  # a key's duplicates are refused first; the first counts
                first = ~index.duplicated()
                index, rows = index[first], np.flatnonzero(first)
            self._keys[key] = (index, rows)
        index, rows = self._keys[key]
        at = np.asarray(index.get_indexer(pd.Index(self.frames[table][column])))
        return at if rows is None else np.where(at >= 0, rows[np.maximum(at, 0)], -1)

    def trade_column(self, table: str, column: str) -> pd.Series:
        """The ``column`` of each ``table`` row's trade (missing where the trade is unknown)."""
        at = self.positions(table, "trade_id", "trades", "trade_id")
        values = self.frames["trades"][column]
        if values.empty:
            return pd.Series(pd.NA, index=self.frames[table].index, dtype=values.dtype)
        out = values.iloc[np.maximum(at, 0)].reset_index(drop=True)
        out.index = self.frames[table].index
        known: pd.Series = out.where(at >= 0)
        return known


def _row_rules(
    frames: Frames, parents: _Parents
) -> list[tuple[str, str, str, pd.Series, list[str]]]:
    """(table, column, rule, offending mask, columns to show) of the row-level rules."""
    rules: list[tuple[str, str, str, pd.Series, list[str]]] = []
    trades = frames.get("trades")
    if trades is not None:
        early = trades["settlement_date"] < trades["trade_date"]
        window = trades["settlement_date"] - trades["trade_date"]
        far = window > pd.Timedelta(days=MAX_SETTLEMENT_WINDOW_DAYS)
        shown = ["trade_id", "trade_date", "settlement_date"]
        rules.append(("trades", "settlement_date", "must be on or after trade_date", early, shown))
        rules.append(
            (
                "trades",
                "settlement_date",
                f"must be at most {MAX_SETTLEMENT_WINDOW_DAYS} days after trade_date",
                far,
                shown,
            )
        )
    outcomes = frames.get("outcomes")
    if outcomes is not None:
        status = outcomes["status"]
        reason_mismatch = (status == "FAILED") != outcomes["fail_reason"].notna()
        rules.append(
            (
                "outcomes",
                "fail_reason",
                "must be given for FAILED outcomes and only for them",
                reason_mismatch,
                ["trade_id", "status", "fail_reason"],
            )
        )
        late_not_failed = (status != "FAILED") & (outcomes["days_late"] != 0)
        rules.append(
            (
                "outcomes",
                "days_late",
                "must be 0 unless the status is FAILED",
                late_not_failed,
                ["trade_id", "status", "days_late"],
            )
        )
        unsettled = (status == "SETTLED") & outcomes["settled_ts"].isna()
        rules.append(
            (
                "outcomes",
                "settled_ts",
                "must be given for SETTLED outcomes",
                unsettled,
                ["trade_id", "status", "settled_ts"],
            )
        )
        if trades is not None:
            rules.append(_known_after_isd(outcomes, parents))
    events = frames.get("events")
    if events is not None and trades is not None:
        exec_ts = parents.trade_column("events", "execution_ts")
        before = exec_ts.notna() & (events["event_ts"] < exec_ts)
        rules.append(
            (
                "events",
                "event_ts",
                "must not precede the trade's execution_ts",
                before,
                ["trade_id", "event_type", "event_ts"],
            )
        )
    return rules


def _known_after_isd(
    outcomes: pd.DataFrame, parents: _Parents
) -> tuple[str, str, str, pd.Series, list[str]]:
    isd = parents.trade_column("outcomes", "settlement_date")
    market = parents.trade_column("outcomes", "settlement_market")
    known = isd.notna()
    end = pd.Series(pd.NaT, index=outcomes.index, dtype="datetime64[us, UTC]")
    if known.any():
        calendar = SettlementCalendar(pd.DataFrame({"market": [], "date": []}))
        eod = calendar.end_of_day(isd[known].to_numpy("datetime64[D]"), market[known].to_numpy())
        end[known] = pd.DatetimeIndex(eod).tz_localize("UTC")
    early = known & (outcomes["known_ts"] < end)
    return (
        "outcomes",
        "known_ts",
        "must be at or after the end of the trade's settlement_date "
        "(local midnight of the settlement market)",
        early,
        ["trade_id", "known_ts"],
    )


def check_dataset(
    frames: Frames, files: Mapping[str, str], line_offsets: Mapping[str, int | None]
) -> list[Violation]:
    """Rules that look across tables: foreign keys and row rules that need another table."""
    out: list[Violation] = []
    parents = _Parents(frames)
    for fk in _FOREIGN_KEYS:
        child, parent = frames.get(fk.table), frames.get(fk.parent)
        if child is None or parent is None:
            continue
        at = parents.positions(fk.table, fk.column, fk.parent, fk.parent_column)
        unknown = pd.Series(at < 0, index=child.index)
        if unknown.any():
            rule = f"must refer to a known {fk.parent_column} in {files[fk.parent]}"
            show = [*TABLES[fk.table].key, fk.column]
            out.append(
                _violation(
                    files[fk.table], child, unknown, rule, fk.column, show, line_offsets[fk.table]
                )
            )
    for table, column, rule, mask, show in _row_rules(frames, parents):
        if mask.any():
            out.append(
                _violation(
                    files[table], frames[table], mask, rule, column, show, line_offsets[table]
                )
            )
    return out
