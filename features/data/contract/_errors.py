"""Contract violations and the error that carries them.

ValueError
 └── ContractError        a dataset breaks the raw-data contract (one or more Violations)
      └── SecFtdFormatError  (features.data.sources.sec_ftd) a SEC file is malformed
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

__all__ = ["ContractError", "Violation", "describe_rows"]

MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Violation:
    """One rule broken in one file: which column, which rule, and the first offending rows."""

    file: str
    rule: str
    column: str | None = None
    n_bad: int = 0
    n_rows: int = 0
    examples: Sequence[str] = field(default_factory=tuple)

    def __str__(self) -> str:
        where = f"{self.file}, column '{self.column}'" if self.column else self.file
        text = f"{where}: {self.rule}"
        if self.n_bad:
            text += f"; {self.n_bad:,} of {self.n_rows:,} rows break it"
        if self.examples:
            text += ". First offending rows:\n" + "\n".join(f"    {e}" for e in self.examples)
        return text


class ContractError(ValueError):
    """A dataset breaks the raw-data contract; nothing was written."""

    def __init__(self, violations: Sequence[Violation]) -> None:
        self.violations = tuple(violations)
        head = "the dataset breaks the raw-data contract" if len(self.violations) > 1 else ""
        body = "\n".join(f"- {v}" for v in self.violations)
        super().__init__(f"{head}:\n{body}" if head else str(self.violations[0]))


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
