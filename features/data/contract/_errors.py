"""How a contract violation shows its offending rows."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

__all__ = ["MAX_EXAMPLES", "describe_rows"]

MAX_EXAMPLES = 5


def describe_rows(
    frame: pd.DataFrame, mask: pd.Series, columns: Sequence[str], line_offset: int | None
) -> list[str]:
    """'row 17 (trade_id='T17', quantity=-5.0)' for the first offending rows.

    ``line_offset`` turns a row position into a file line number (CSV: header is line 1).
    """
    positions = mask.to_numpy().nonzero()[0][:MAX_EXAMPLES]
    shown = [c for c in dict.fromkeys(columns) if c in frame.columns]
    out = []
    for pos in positions:
        values = ", ".join(f"{c}={frame[c].iloc[pos]!r}" for c in shown)
        where = f"line {pos + line_offset}" if line_offset is not None else f"row {pos}"
        out.append(f"{where} ({values})")
    return out
