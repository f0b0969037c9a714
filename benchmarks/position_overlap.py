"""How often the position a sell is scored on at ISD-1 may be another sell's.

The contract's inventory table holds position snapshots keyed by (account, instrument); the
simulator writes two per sell (just before its execution and on the evening before its ISD),
drawn for that sell. The position feature reads the latest snapshot of the key, so once other
sells of the same account and instrument write theirs in between, a sell is scored on another
sell's position while the ISD-1 oracle knows its own. This prints, per world, the share of
sells with another snapshot of their key between their execution and their ISD-1 instant, and
with more than one snapshot in the five hours before it (their own eve snapshot is one).

    python -m benchmarks.position_overlap [--per-day 1000 4000 40000] [--days 20] [--data DIR ...]

``--per-day``: simulate a world of ``--days`` days at each density (in memory); ``--data``:
measure existing worlds as well.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from core.calendar import SettlementCalendar
from core.instants import instants_us
from core.runtime import quiet_libraries
from core.stages import stage_instants

_EVE_SECONDS = 5 * 3_600
_OWN_SNAPSHOTS = 2  # before execution, and on the eve of the ISD


def overlap(
    trades: pd.DataFrame, inventory: pd.DataFrame, calendar: SettlementCalendar
) -> dict[str, float]:
    """Sells, trades a day, and the two shares described above."""
    sell = trades["side"].eq("SELL").to_numpy()
    isd_1 = stage_instants(trades, calendar, "ISD_1")[sell] // 1_000_000
    executed = instants_us(trades["execution_ts"])[sell] // 1_000_000 - 60
    keys = pd.MultiIndex.from_arrays([inventory["account_id"], inventory["instrument_id"]])
    codes, known = keys.factorize()
    mine = known.get_indexer(
        pd.MultiIndex.from_arrays(
            [trades["account_id"].to_numpy()[sell], trades["instrument_id"].to_numpy()[sell]]
        )
    )
    seconds = instants_us(inventory["as_of_ts"]) // 1_000_000
    start = int(min(seconds.min(), executed.min()))
    span = np.int64(int(max(seconds.max(), isd_1.max())) - start + 1)
    # (key, instant) as one sortable integer: snapshots of a key in a window are a run
    stamped = np.sort(codes.astype(np.int64) * span + (seconds - start))
    upto = mine * span + (isd_1 - start)

    def count(since: np.ndarray) -> np.ndarray:
        return np.searchsorted(stamped, upto, "right") - np.searchsorted(stamped, since, "left")

    held = mine >= 0  # a sell without any snapshot of its key has none of another's either
    between = np.where(held, count(mine * span + (executed - start)), 0)
    eve = np.where(held, count(upto - _EVE_SECONDS), 0)
    return {
        "sells": float(sell.sum()),
        "per_day": len(trades) / trades["trade_date"].nunique(),
        "between": float((between > _OWN_SNAPSHOTS).mean()),
        "eve": float((eve > 1).mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-day", type=int, nargs="*", default=[1_000, 4_000, 40_000])
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--data", type=Path, nargs="*", default=[])
    args = parser.parse_args()
    quiet_libraries()
    from features.data.contract import read_dataset
    from features.data.simulator import SimulationConfig, simulate

    console = Console()
    table = Table(title="sells whose ISD-1 position may be another sell's")
    for column in ("world", "trades a day", "sells", "other snapshot since execution", "eve"):
        table.add_column(column, justify="right")
    worlds: list[tuple[str, dict[str, pd.DataFrame]]] = []
    for per_day in args.per_day:
        console.print(f"simulating {args.days} days × {per_day:,} trades")
        config = SimulationConfig(days=args.days, trades_per_day=per_day)
        worlds.append((f"simulated, {args.days} days", simulate(config)))
    for directory in args.data:
        tables = read_dataset(directory, ["trades", "holidays", "inventory"])
        worlds.append((str(directory), tables))
    for name, world in worlds:
        got = overlap(world["trades"], world["inventory"], SettlementCalendar(world["holidays"]))
        table.add_row(
            name,
            f"{got['per_day']:,.0f}",
            f"{got['sells']:,.0f}",
            f"{got['between']:.1%}",
            f"{got['eve']:.1%}",
        )
    console.print(table)


if __name__ == "__main__":
    main()
