"""A day of operations, replayed through the running service: what the demo shows.

``split_at`` cuts a dataset at an instant into what was known before it (the history the
features and the model are built from) and what happens after it (new trades, lifecycle
events, SSI versions, positions, outcomes). ``replay`` then drives the service as the ops
systems would: the morning queue of every undecided trade, then hour by hour the new trades
(POST /score, each scored at its execution) and the hour's events (POST /events).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import httpx
import numpy as np
import pandas as pd

from features.data.contract import Dataset
from features.request import lifecycle_state
from serving.api.client import trade_records
from serving.workflow.event_models import KIND_OF_TABLE

__all__ = ["Day", "Replayed", "replay", "split_at"]

_EVENT_TABLES = {"events": "event_ts", "inventory": "as_of_ts", "outcomes": "known_ts"}
_BATCH = 2_000  # records per request, within the service's batch limit


@dataclass(frozen=True)
class Day:
    """What happens from ``start`` to ``end``."""

    start: pd.Timestamp
    end: pd.Timestamp
    trades: pd.DataFrame  # executed in the window
    events: list[tuple[pd.Timestamp, dict[str, Any]]]  # every other event, in time order


def split_at(dataset: Dataset, start: pd.Timestamp, end: pd.Timestamp) -> tuple[Dataset, Day]:
    """The dataset as known at ``start``, and the events from ``start`` to ``end``."""
    trades = dataset["trades"]
    known = trades["execution_ts"] < start
    history: Dataset = dict(dataset)
    history["trades"] = trades.loc[known].reset_index(drop=True)
    ids = set(history["trades"]["trade_id"])
    for table, stamp in _EVENT_TABLES.items():
        frame = dataset[table]
        keep = frame[stamp] < start
        if "trade_id" in frame:
            keep &= frame["trade_id"].isin(ids)
        history[table] = frame.loc[keep].reset_index(drop=True)
    ssi = dataset["ssi"]
    history["ssi"] = ssi.loc[ssi["valid_from_ts"] < start].reset_index(drop=True)
    history["ssi"].loc[history["ssi"]["verified_ts"] >= start, "verified_ts"] = pd.NaT
    for name, frame in dataset.items():  # any other per-trade table follows its trades
        if name not in (*_EVENT_TABLES, "trades") and "trade_id" in frame:
            history[name] = frame.loc[frame["trade_id"].isin(ids)].reset_index(drop=True)

    def within(frame: pd.DataFrame, stamp: str) -> pd.DataFrame:
        return frame.loc[(frame[stamp] >= start) & (frame[stamp] < end)]

    events: list[tuple[pd.Timestamp, dict[str, Any]]] = []
    for table, stamp in _EVENT_TABLES.items():
        kind = KIND_OF_TABLE[table]
        events += [(r[stamp], {"kind": kind, **r}) for r in _records(within(dataset[table], stamp))]
    changed = (ssi["valid_from_ts"] >= start) & (ssi["valid_from_ts"] < end)
    verified = (ssi["valid_from_ts"] < start) & ssi["verified_ts"].between(start, end, "left")
    for r in _records(ssi.loc[changed | verified]):
        late = r["verified_ts"] is not None and r["verified_ts"] >= end
        row = {**r, "verified_ts": None if late else r["verified_ts"]}
        events.append(
            (max(r["valid_from_ts"], row["verified_ts"] or start), {"kind": "ssi", **row})
        )
    events.sort(key=lambda e: e[0])
    day = Day(
        start,
        end,
        within(trades, "execution_ts").reset_index(drop=True),
        [(at, _jsonable(e)) for at, e in events],
    )
    return history, day


@dataclass
class Replayed:
    morning: int = 0  # undecided trades scored at the start
    trades: int = 0  # trades executed during the day, scored at execution
    events: dict[str, int] = field(default_factory=dict)
    rescored: int = 0
    opened: int = 0
    closed: int = 0
    seconds: float = 0.0


def replay(
    url: str,
    history: Dataset,
    day: Day,
    on_hour: Callable[[int, int], None] = lambda done, total: None,
    headers: dict[str, str] | None = None,
) -> Replayed:
    """Drive the service through the day (``headers``: a feed's credentials); returns what
    it did."""
    import time

    started = time.perf_counter()
    out = Replayed()
    with httpx.Client(base_url=url, timeout=300, headers=headers) as client:
        morning = _undecided(history, day.start)
        lifecycle = lifecycle_state(
            morning["trade_id"], history["events"], np.full(len(morning), day.start.value // 1000)
        )
        records = trade_records(morning, lifecycle)
        for chunk in _chunks(records):
            _post(client, "/score", {"trades": chunk, "as_of": day.start.isoformat()})
        out.morning = len(records)

        scored = set(morning["trade_id"]) | set(day.trades["trade_id"])
        hours = pd.date_range(day.start, day.end, freq="h")
        for i, (begin, stop) in enumerate(pairwise(hours)):
            new = day.trades.loc[
                (day.trades["execution_ts"] >= begin) & (day.trades["execution_ts"] < stop)
            ]
            for chunk in _chunks(trade_records(new)):
                _post(client, "/score", {"trades": chunk, "as_of": begin.isoformat()})
            out.trades += len(new)
            due = [
                e
                for at, e in day.events
                # events of trades the service never saw (decided before the day) are left out
                if begin <= at < stop and ("trade_id" not in e or e["trade_id"] in scored)
            ]
            for chunk in _chunks(due):
                applied = _post(client, "/events", {"events": chunk})
                for kind, n in applied["events"].items():
                    out.events[kind] = out.events.get(kind, 0) + n
                out.rescored += len(applied["rescored"])
                out.opened += applied["opened"]
                out.closed += applied["closed"]
            on_hour(i + 1, len(hours) - 1)
    out.seconds = time.perf_counter() - started
    return out


def _undecided(history: Dataset, at: pd.Timestamp) -> pd.DataFrame:
    """Trades executed before ``at`` whose outcome was not known by then and that were not
    cancelled: the morning's book."""
    trades = history["trades"]
    decided = set(history["outcomes"]["trade_id"])
    events = history["events"]
    cancelled = set(events.loc[events["event_type"] == "CANCELLED", "trade_id"])
    return trades.loc[~trades["trade_id"].isin(decided | cancelled)].reset_index(drop=True)


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    if response.status_code >= 400:
        raise RuntimeError(f"POST {path} answered {response.status_code}: {response.text[:500]}")
    answer: dict[str, Any] = response.json()
    return answer


def _chunks(items: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(items), _BATCH):
        yield items[i : i + _BATCH]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    values = frame.astype(object)
    values[values.isna()] = None
    return [{str(k): v for k, v in row.items()} for row in values.to_dict("records")]


def _jsonable(event: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v.isoformat() if isinstance(v, pd.Timestamp | dt.date) else v for k, v in event.items()
    }
