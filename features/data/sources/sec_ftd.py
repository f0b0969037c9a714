"""SEC CNS fails-to-deliver files: a real per-security daily scarcity signal for US equities.

Format (as the SEC publishes it, one file per half month): a header line
``SETTLEMENT DATE|CUSIP|SYMBOL|QUANTITY (FAILS)|DESCRIPTION|PRICE``, one row per security per
settlement date, then ``Trailer record count N`` and ``Trailer total quantity of shares Q``.
QUANTITY is the outstanding fails balance at NSCC; PRICE is the previous close.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from core.errors import SecFtdFormatError, Violation
from features.data.atomic import write_parquet_files

__all__ = [
    "HEADER",
    "SEC_FTD_COLUMNS",
    "SEC_FTD_SCHEMA",
    "SEC_FTD_TABLE",
    "SecFtdFormatError",
    "ftd_intensity",
    "read_sec_ftd",
    "read_sec_ftd_file",
    "sec_ftd_files",
    "write_sec_ftd",
]

HEADER = "SETTLEMENT DATE|CUSIP|SYMBOL|QUANTITY (FAILS)|DESCRIPTION|PRICE"
_SEC_FTD_FIELDS: list[pa.Field[Any]] = [
    pa.field("settlement_date", pa.date32(), nullable=False),
    pa.field("cusip", pa.string(), nullable=False),
    pa.field("symbol", pa.string()),
    pa.field("fails_quantity", pa.float64(), nullable=False),
    pa.field("price", pa.float64()),
    pa.field("fails_value", pa.float64()),
    pa.field("description", pa.string()),
]
SEC_FTD_SCHEMA = pa.schema(_SEC_FTD_FIELDS)
"""The per-security daily table the loader returns and `failcast ingest sec-ftd` stores."""
SEC_FTD_COLUMNS = tuple(SEC_FTD_SCHEMA.names)
SEC_FTD_TABLE = "sec_ftd"
"""The ingested table's name beside a dataset (``sec_ftd.parquet``)."""
_COUNT = re.compile(r"^Trailer record count (\d+)$")
_TOTAL = re.compile(r"^Trailer total quantity of shares (\d+)$")
_CUSIP = re.compile(r"^[0-9A-Z]{8}[0-9]$")
_MAX_EXAMPLES = 5


def _lines_where(mask: np.ndarray, lines: Sequence[str], first_line: int) -> list[str]:
    return [f"line {i + first_line}: {lines[i]!r}" for i in np.flatnonzero(mask)[:_MAX_EXAMPLES]]


def read_sec_ftd_file(path: Path | str) -> pd.DataFrame:
    """Parse one file; raises SecFtdFormatError naming the file, the rule and the lines."""
    path = Path(path)
    name = path.name
    try:
        text = path.read_text(encoding="latin-1")
    except OSError as exc:
        raise SecFtdFormatError([Violation(name, f"cannot be read ({exc.strerror})")]) from exc
    lines = text.splitlines()
    if not lines or lines[0].strip() != HEADER:
        got = lines[0] if lines else "an empty file"
        raise SecFtdFormatError(
            [Violation(name, f"line 1 must be the header {HEADER!r}; found {got!r}")]
        )
    while lines and not lines[-1].strip():
        lines.pop()
    count = _COUNT.match(lines[-2].strip()) if len(lines) >= 3 else None
    total = _TOTAL.match(lines[-1].strip()) if len(lines) >= 3 else None
    if count is None or total is None:
        raise SecFtdFormatError(
            [
                Violation(
                    name,
                    "must end with the trailer lines 'Trailer record count N' and "
                    f"'Trailer total quantity of shares Q'; found {lines[-1]!r} "
                    "(is the file truncated?)",
                )
            ]
        )
    body = lines[1:-2]
    problems: list[Violation] = []
    if int(count.group(1)) != len(body):
        problems.append(
            Violation(
                name,
                f"trailer record count is {int(count.group(1)):,} but the file holds {len(body):,} "
                "records (truncated or edited file?)",
            )
        )
    parts = [line.split("|") for line in body]
    wrong_width = np.array([len(p) != 6 for p in parts], dtype=bool)
    if wrong_width.any():
        problems.append(
            Violation(
                name,
                "every record must have 6 '|'-separated fields",
                None,
                int(wrong_width.sum()),
                len(body),
                _lines_where(wrong_width, body, 2),
            )
        )
        raise SecFtdFormatError(problems)
    raw = pd.DataFrame(parts, columns=["date", "cusip", "symbol", "qty", "description", "price"])
    raw = raw.apply(lambda s: s.str.strip())
    frame = pd.DataFrame(
        {
            "settlement_date": pd.to_datetime(raw["date"], format="%Y%m%d", errors="coerce"),
            "cusip": raw["cusip"],
            "symbol": raw["symbol"].replace("", None),
            "fails_quantity": pd.to_numeric(raw["qty"], errors="coerce"),
            "price": pd.to_numeric(raw["price"].replace({"": None, ".": None}), errors="coerce"),
            "description": raw["description"],
        }
    )
    checks = (
        (
            "SETTLEMENT DATE",
            frame["settlement_date"].isna() | ~raw["date"].str.fullmatch(r"\d{8}"),
            "must be a date YYYYMMDD",
        ),
        ("CUSIP", ~raw["cusip"].str.fullmatch(_CUSIP), "must be a 9-character CUSIP"),
        (
            "QUANTITY (FAILS)",
            frame["fails_quantity"].isna() | (frame["fails_quantity"] < 0),
            "must be a non-negative whole number",
        ),
        (
            "PRICE",
            raw["price"].isin(["", "."]).eq(False) & frame["price"].isna(),
            "must be a number (or empty)",
        ),
    )
    for column, bad, rule in checks:
        mask = bad.to_numpy(dtype=bool)
        if mask.any():
            problems.append(
                Violation(
                    name, rule, column, int(mask.sum()), len(body), _lines_where(mask, body, 2)
                )
            )
    if not problems and int(frame["fails_quantity"].sum()) != int(total.group(1)):
        problems.append(
            Violation(
                name,
                f"trailer total quantity is {int(total.group(1)):,} but the records add up to "
                f"{int(frame['fails_quantity'].sum()):,}",
            )
        )
    if problems:
        raise SecFtdFormatError(problems)
    frame["fails_quantity"] = frame["fails_quantity"].astype(np.float64)
    frame["fails_value"] = frame["fails_quantity"] * frame["price"]
    frame["settlement_date"] = frame["settlement_date"].astype("datetime64[ns]")
    return frame[list(SEC_FTD_COLUMNS)]


def sec_ftd_files(source: Path | str | Iterable[Path | str]) -> list[Path]:
    """The cnsfails*.txt files of a directory, or the given files, sorted."""
    if isinstance(source, str | Path):
        source = Path(source)
        if source.is_dir():
            files = sorted(source.glob("cnsfails*.txt"))
            if not files:
                raise SecFtdFormatError([Violation(str(source), "holds no cnsfails*.txt files")])
            return files
        return [source]
    return sorted(Path(p) for p in source)


def read_sec_ftd(source: Path | str | Iterable[Path | str]) -> pd.DataFrame:
    """All files as one per-security daily table, sorted by date and CUSIP."""
    frames = [read_sec_ftd_file(p) for p in sec_ftd_files(source)]
    table = pd.concat(frames, ignore_index=True)
    # Half-month files do not overlap; if the same file is given twice, keep one copy.
    table = table.drop_duplicates(["settlement_date", "cusip"], keep="last")
    return table.sort_values(["settlement_date", "cusip"], ignore_index=True)


def ftd_intensity(ftd: pd.DataFrame) -> pd.DataFrame:
    """Per security: share of settlement dates on the list, mean fails value, and their rank.

    ``rank`` in [0, 1] orders securities by how persistently and how heavily they fail; the
    simulator uses it as the security's shortfall propensity.
    """
    n_dates = ftd["settlement_date"].nunique()
    per = ftd.groupby("cusip").agg(
        symbol=("symbol", "last"),
        description=("description", "last"),
        price=("price", "last"),
        days_on_list=("settlement_date", "nunique"),
        mean_fails_value=("fails_value", "mean"),
    )
    per["share_of_days"] = per["days_on_list"] / max(n_dates, 1)
    score = per["share_of_days"].rank(pct=True) + per["mean_fails_value"].fillna(0).rank(pct=True)
    per["rank"] = score.rank(pct=True)
    return per.reset_index()


def write_sec_ftd(table: pd.DataFrame, out: Path) -> Path:
    """Write ``sec_ftd.parquet`` under ``out``; the old file stays until the new one is
    complete."""
    arrow = pa.Table.from_pandas(table, schema=SEC_FTD_SCHEMA, preserve_index=False)
    write_parquet_files({SEC_FTD_TABLE: arrow}, out)
    return out / f"{SEC_FTD_TABLE}.parquet"
