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

from serving.workflow.store import ExceptionStore
from tests.records import traded

ISD_MORNING_MINUTES = 20 * 60  # minutes after T0 (14:00 UTC on the trade date): 10:00 on the ISD
WRITES = 40
LOAD_BATCH = 1_000


def median_write_ms(url: str, book: int) -> float:
    """The median of ``WRITES`` single-score writes once ``book`` trades settle today."""
    store = ExceptionStore(url, clock="events", grace=dt.timedelta(hours=2))
    try:
        for start in track(range(0, book, LOAD_BATCH), description=f"book of {book:,}"):
            ids = range(start, min(book, start + LOAD_BATCH))
            store.record([traded(f"T{i}", 0.01, minutes=1) for i in ids])
        seconds = []
        for k in range(WRITES):
            record = traded(f"T{k}", 0.30, minutes=ISD_MORNING_MINUTES + k)
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
