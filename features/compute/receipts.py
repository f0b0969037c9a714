"""The receipt a delivery waits on: for a sell of ours, our latest buy of the same instrument
that settles by the sell's ISD and was executed before it, and how that buy stands at the
scoring instant. A sell short of securities is delivered out of what its incoming receipts
bring; when the buy bringing them fails, the sell fails behind it (a fail chain), and the
buy's state — matched or not, failed already — is known well before the sell's ISD.

The buy is found among those settling at most ``RECEIPT_WINDOW_DAYS`` before the sell's ISD:
a buy settled longer ago is in the position snapshots already, and the service holds the
trades of those days (``serving.workflow.intraday``), so both paths see the same buys. The
latest is the one with the latest (ISD, execution); one executed after the sell is passed
over, looking back at most ``_LOOK_BACK`` buys (each path the same).

Every value is as of the scoring instant: the buy's match and outcome count only once their
instants are past, so training over the dataset and the service over its exception store
compute the same thing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.catalogue import ReceiptStatus
from core.errors import ContractError, Violation
from core.instants import NEVER_US
from core.lifecycle import CANCELLED, STEP_OF
from features.compute.intraday import step_column
from features.compute.lookup import Lookup

__all__ = [
    "AFFIRMED",
    "AFFIRMED_US",
    "FAILED_OUTCOMES",
    "MATCHED",
    "MATCHED_US",
    "RECEIPT_COLUMNS",
    "RECEIPT_WINDOW_DAYS",
    "Receipts",
    "receipt_request_fields",
]

FAILED_OUTCOMES = ("FAILED", CANCELLED)
"""The outcomes after which a buy's securities will not come on its ISD."""
RECEIPT_WINDOW_DAYS = 4
"""A buy settling more than this many calendar days before the sell's ISD is not looked at."""
_LOOK_BACK = 8
_DAYS_SPAN = 1 << 15  # days since 1970 in a sort key after the instrument: to 2059


AFFIRMED, MATCHED = STEP_OF["AFFIRMED"], STEP_OF["MATCHED"]
AFFIRMED_US, MATCHED_US = step_column(AFFIRMED), step_column(MATCHED)
RECEIPT_COLUMNS = (
    "trade_id",
    "instrument_id",
    "side",
    "settlement_date",
    "execution_us",
    AFFIRMED_US,
    MATCHED_US,
    "outcome_us",
    "outcome_failed",
)
"""What the receipts are found from: one row per trade; instants int64 UTC µs (NEVER_US: not
yet); ``outcome_failed`` true for a FAILED or CANCELLED outcome (known at ``outcome_us``)."""


class Receipts:
    """Our buys, sorted by (instrument, ISD, execution), to find each sell's receipt."""

    def __init__(self, trades: pd.DataFrame) -> None:
        missing = [c for c in RECEIPT_COLUMNS if c not in trades.columns]
        if missing:
            raise KeyError(f"receipts need columns {missing}")
        buys = trades[np.asarray(trades["side"]) == "BUY"]
        codes, instruments = pd.factorize(buys["instrument_id"].to_numpy(dtype=object))
        self._instruments = Lookup(np.asarray(instruments, dtype=object))
        day = np.asarray(buys["settlement_date"], dtype="datetime64[D]").astype(np.int64)
        execution = buys["execution_us"].to_numpy(np.int64)
        if len(buys) and (day.min() < 0 or day.max() >= _DAYS_SPAN):
            raise ContractError(
                [Violation("trades", "must fall in 1970-2059 for receipts", "settlement_date")]
            )
        self._by_execution = np.sort(execution)
        self._ranks = max(len(buys), 1)
        rank = np.searchsorted(self._by_execution, execution, side="left")
        group = codes.astype(np.int64) * _DAYS_SPAN + day
        order = np.lexsort((rank, group))
        self._group = group[order]
        self._key = self._group * self._ranks + rank[order]
        self._execution = execution[order]
        self._day = day[order]
        self._affirmed = buys[AFFIRMED_US].to_numpy(np.int64)[order]
        self._matched = buys[MATCHED_US].to_numpy(np.int64)[order]
        self._outcome = buys["outcome_us"].to_numpy(np.int64)[order]
        self._failed = buys["outcome_failed"].to_numpy(bool)[order]
        self.size = len(buys)

    def features(
        self,
        instrument: np.ndarray,
        side: np.ndarray,
        settlement_date: np.ndarray,
        execution_us: np.ndarray,
        scoring_us: np.ndarray,
    ) -> dict[str, np.ndarray]:
        """``receipt_status`` (a ``ReceiptStatus``) and ``receipt_days_before_isd`` of each
        trade; NaN for a buy, or a sell with no receipt of ours in the window."""
        n = len(scoring_us)
        status, gap = np.full(n, np.nan), np.full(n, np.nan)
        code = self._instruments(np.asarray(instrument, dtype=object))
        sell = np.flatnonzero((np.asarray(side) == "SELL") & (code >= 0))
        if sell.size == 0 or self.size == 0:
            return _named(status, gap)
        day = np.asarray(settlement_date, dtype="datetime64[D]").astype(np.int64)[sell]
        execution = np.asarray(execution_us, dtype=np.int64)[sell]
        group = code[sell].astype(np.int64) * _DAYS_SPAN + day
        # the last buy before (instrument, ISD, execution): an earlier ISD, or the same ISD
        # and executed earlier (ranks of the buys' executions order them within a group)
        rank = np.searchsorted(self._by_execution, execution, side="left")
        at = np.searchsorted(self._key, group * self._ranks + rank, side="left") - 1
        found = np.full(sell.size, -1, dtype=np.int64)
        pending = np.arange(sell.size)
        for _ in range(_LOOK_BACK):
            pos = at[pending]
            inside = (pos >= 0) & (
                self._group[np.maximum(pos, 0)] // _DAYS_SPAN == group[pending] // _DAYS_SPAN
            )
            inside &= self._day[np.maximum(pos, 0)] >= day[pending] - RECEIPT_WINDOW_DAYS
            done = inside & (self._execution[np.maximum(pos, 0)] < execution[pending])
            found[pending[done]] = pos[done]
            pending = pending[inside & ~done]  # executed after the sell: look further back
            at[pending] -= 1
            if pending.size == 0:
                break
        hit = found >= 0
        buy, rows = found[hit], sell[hit]
        t = np.asarray(scoring_us, dtype=np.int64)[rows]
        decided = (self._outcome[buy] != NEVER_US) & (self._outcome[buy] <= t)
        matched = (self._matched[buy] != NEVER_US) & (self._matched[buy] <= t)
        affirmed = (self._affirmed[buy] != NEVER_US) & (self._affirmed[buy] <= t)
        status[rows] = np.select(
            [decided & self._failed[buy], decided, matched, affirmed],
            [
                ReceiptStatus.FAILED,
                ReceiptStatus.SETTLED,
                ReceiptStatus.MATCHED,
                ReceiptStatus.AFFIRMED,
            ],
            ReceiptStatus.UNAFFIRMED,
        )
        gap[rows] = day[hit] - self._day[buy]
        return _named(status, gap)


def _named(status: np.ndarray, gap: np.ndarray) -> dict[str, np.ndarray]:
    return {"receipt_status": status, "receipt_days_before_isd": gap}


def receipt_request_fields(
    receipts: Receipts | None,
    instrument: np.ndarray,
    side: np.ndarray,
    settlement_date: np.ndarray,
    execution_us: np.ndarray,
    scoring_us: np.ndarray,
) -> dict[str, np.ndarray]:
    """The receipt request fields (``req_<feature>``); NaN for every trade without receipts."""
    if receipts is None:
        values = _named(np.full(len(scoring_us), np.nan), np.full(len(scoring_us), np.nan))
    else:
        values = receipts.features(instrument, side, settlement_date, execution_us, scoring_us)
    return {f"req_{k}": v for k, v in values.items()}
