"""One write to the exception store beside a growing book of trades settling today.

    python -m benchmarks.store_writes [--books 100 5000 50000]

Every write (a drained batch of scores, an events call) also looks for the open trades past
their settlement deadline. A book of N trades settling today, scored at execution, is stored
first; the store's clock is then moved to the morning of their ISD (every trade settles by
today, none is past its deadline yet), and single scores of those trades are stored one by
one: the median write, per book size, and the ratio to the smallest book's (flat: a write's
cost does not grow with the book). The embedded store: SQLite, in a scratch directory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

from serving.scoring.schemas import Trade
from serving.workflow.store import ExceptionStore, ScoreRecord

EXECUTED = dt.datetime(2024, 6, 3, 14, 0, tzinfo=dt.UTC)
ISD = dt.date(2024, 6, 4)
ISD_MORNING = dt.datetime(2024, 6, 4, 10, 0, tzinfo=dt.UTC)  # New York: before its 04:00 end
WRITES = 40
LOAD_BATCH = 1_000


def _score(trade_id: str, at: dt.datetime, probability: float) -> ScoreRecord:
    trade = Trade(
        trade_id=trade_id,
        execution_ts=EXECUTED,
        trade_date=EXECUTED.date(),
        settlement_date=ISD,
        settlement_cycle_days=1,
        desk_id="D1",
        account_id="A1",
        counterparty_id="C1",
        instrument_id="I1",
        side="SELL",
        quantity=1_000.0,
        price=10.0,
        notional=1e4,
        currency="USD",
        settlement_market="US",
        is_block=False,
    )
    return ScoreRecord(
        trade_id=trade_id,
        scored_at=at,
        model_version="1",
        stage="EXECUTION",
        fail_probability=probability,
        risk_tier="HIGH" if probability >= 0.25 else "LOW",
        predicted_cause="LATE_MATCHING",
        expected_cost=100.0,
        currency="USD",
        reasons=[{"code": "MATCHING_PENDING", "action": "Get it matched", "team": "Settlements"}],
        settlement_date=ISD,
        counterparty_id="C1",
        instrument_id="I1",
        desk_id="D1",
        settlement_market="US",
        notional=1e4,
        trade=trade,
    )


def median_write_ms(url: str, book: int) -> float:
    """The median of ``WRITES`` single-score writes once ``book`` trades settle today."""
    store = ExceptionStore(url, clock="events", grace=dt.timedelta(hours=2))
    try:
        at = EXECUTED + dt.timedelta(minutes=1)
        for start in track(range(0, book, LOAD_BATCH), description=f"book of {book:,}"):
            ids = range(start, min(book, start + LOAD_BATCH))
            store.record([_score(f"T{i}", at, 0.01) for i in ids])
        seconds = []
        for k in range(WRITES):
            record = _score(f"T{k}", ISD_MORNING + dt.timedelta(seconds=k), 0.30)
            begin = time.perf_counter()
            store.record([record])
            seconds.append(time.perf_counter() - begin)
        return statistics.median(seconds) * 1e3
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--books", type=int, nargs="+", default=[100, 5_000, 50_000])
    args = parser.parse_args()
    console = Console()
    results: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for book in args.books:
            results[book] = median_write_ms(f"sqlite:///{Path(tmp) / f'{book}.db'}", book)
    table = Table(title=f"One score stored, median of {WRITES} writes, trades settling today")
    for column in ("trades settling today", "write (ms)", "vs the smallest book"):
        table.add_column(column, justify="right")
    smallest = results[min(results)]
    for book, ms in results.items():
        table.add_row(f"{book:,}", f"{ms:.2f}", f"{ms / smallest:.2f}×")
    console.print(table)


if __name__ == "__main__":
    main()
