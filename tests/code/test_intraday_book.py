"""The service's intraday state, read from the exception store, gives the figures training
computes from the dataset for the same trades; it follows what changes, and outlives a store
that stops answering."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from core.catalogue import INTRADAY
from core.errors import StoreUnavailable
from features.compute.intraday import dataset_intraday
from features.data.contract import Dataset
from features.request import lifecycle_state
from serving.api.client import trade_records
from serving.scoring.schemas import Trade
from serving.workflow.intraday import IntradayBook
from serving.workflow.store import ExceptionStore, ScoreRecord, TradeUpdate

_MIN = 60_000_000


def _records(trades: pd.DataFrame, lifecycle: pd.DataFrame) -> list[ScoreRecord]:
    out = []
    for record in trade_records(trades, lifecycle):
        trade = Trade.model_validate(record)
        out.append(
            ScoreRecord(
                trade_id=trade.trade_id,
                scored_at=trade.execution_ts + dt.timedelta(minutes=1),
                model_version="1",
                stage="EXECUTION",
                fail_probability=0.01,
                risk_tier="LOW",
                predicted_cause="OTHER",
                expected_cost=0.0,
                currency=trade.currency,
                reasons=[],
                settlement_date=trade.settlement_date,
                counterparty_id=trade.counterparty_id,
                instrument_id=trade.instrument_id,
                desk_id=trade.desk_id,
                settlement_market=trade.settlement_market,
                notional=trade.notional,
                trade=trade,
            )
        )
    return out


@pytest.fixture()
def days(small_world: Dataset) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three trade dates of the small world, and every trade's whole lifecycle."""
    trades = small_world["trades"]
    dates = sorted(trades["trade_date"].unique())[10:13]
    chosen = trades.loc[trades["trade_date"].isin(dates)].reset_index(drop=True)
    end = np.full(len(chosen), np.iinfo(np.int64).max // 2)
    return chosen, lifecycle_state(chosen["trade_id"], small_world["events"], end)


def _features(state, queries: pd.DataFrame, at: np.ndarray) -> dict[str, np.ndarray]:
    return state.features(
        queries["trade_id"].to_numpy(),
        {b.key: queries[b.key].to_numpy() for b in INTRADAY},
        queries["settlement_market"].to_numpy(),
        at,
    )


def test_the_book_gives_what_training_computes_for_the_same_trades(
    store: ExceptionStore, small_world: Dataset, days: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    trades, lifecycle = days
    store.record(_records(trades, lifecycle))
    book = IntradayBook(store)
    book.refresh()
    assert book.status().trades == len(trades) and book.status().error is None
    middle = trades.loc[trades["trade_date"] == trades["trade_date"].unique()[1]]
    queries = middle.sample(60, random_state=0)
    at = instant_after(queries, 120)
    served = _features(book.state(), queries, at)
    trained = _features(dataset_intraday(small_world), queries, at)
    for name, values in trained.items():
        np.testing.assert_allclose(served[name], values, rtol=1e-9, equal_nan=True, err_msg=name)
    assert np.isfinite(served[INTRADAY[0].names[0]]).any()


def instant_after(trades: pd.DataFrame, minutes: int) -> np.ndarray:
    return (
        trades["execution_ts"].astype("datetime64[us, UTC]").astype(np.int64).to_numpy()
        + minutes * _MIN
    )


def test_the_book_follows_a_lifecycle_event(
    store: ExceptionStore, days: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    trades, _ = days
    nothing_yet = lifecycle_state(trades["trade_id"], None, np.zeros(len(trades), np.int64))
    store.record(_records(trades, nothing_yet))
    book = IntradayBook(store)
    book.refresh()
    # the last trade of a busy counterparty-day, scored a minute after it was executed
    day = trades.groupby(["counterparty_id", "trade_date"])["execution_ts"]
    busiest = day.size().idxmax()
    same = trades.set_index(["counterparty_id", "trade_date"]).index == busiest
    one = trades.loc[same].sort_values("execution_ts").iloc[[-1]]
    others = trades.loc[same & (trades["trade_id"] != one["trade_id"].iloc[0])]
    at = instant_after(one, 1)
    share = INTRADAY[0].names[0]  # the counterparty's trades of the day not yet affirmed
    assert _features(book.state(), one, at)[share][0] == 1.0
    affirmed = pd.Timestamp(instant_after(others.iloc[[0]], 5)[0], unit="us", tz="UTC")
    lifecycle = {"affirmed_ts": affirmed.isoformat()}
    store.record([], updates=[TradeUpdate(others["trade_id"].iloc[0], affirmed, lifecycle)])
    book.refresh()
    assert _features(book.state(), one, at)[share][0] == pytest.approx(1 - 1 / len(others))


def test_the_book_keeps_its_state_while_the_store_is_down(
    store: ExceptionStore, days: tuple[pd.DataFrame, pd.DataFrame], monkeypatch
) -> None:
    trades, lifecycle = days
    store.record(_records(trades, lifecycle))
    book = IntradayBook(store)
    book.refresh()
    kept = book.state()

    def down(*args, **kwargs):
        raise StoreUnavailable("the exception store at test does not answer")

    monkeypatch.setattr(store, "clock", down)
    with pytest.raises(StoreUnavailable):
        book.refresh()
    assert book.state() is kept
    assert "does not answer" in (book.status().error or "")


def test_a_refresh_reads_and_rebuilds_only_what_moved(
    store: ExceptionStore, days: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    trades, lifecycle = days
    records = _records(trades, lifecycle)
    store.record(records)
    book = IntradayBook(store)
    book.refresh()
    kept = book.state()
    stamps = {t: at for t, at, _, _ in store.changed_trades(trades["settlement_date"].min())}

    store.record(records)  # every trade scored again as it was: nothing changed
    since = min(stamps.values())
    assert store.changed_trades(trades["settlement_date"].min(), since, stamps) == []
    book.refresh()
    assert book.state() is kept  # not built again

    changed = records[0].trade_id
    unaffirmed = {"allocated_ts": None, "affirmed_ts": None, "matched_ts": None}
    store.record([], updates=[TradeUpdate(changed, records[0].scored_at, unaffirmed)])
    # a lifecycle step seen is never forgotten: the update merges into what is stored
    assert store.changed_trades(trades["settlement_date"].min(), since, stamps) == []
    at = records[0].scored_at + dt.timedelta(seconds=1)
    store.record([], updates=[TradeUpdate(changed, at, outcome="SETTLED")])
    moved = store.changed_trades(trades["settlement_date"].min(), since, stamps)
    assert [t for t, *_ in moved] == [changed] and moved[0][1] > stamps[changed]
    book.refresh()
    assert book.state() is kept  # an outcome moves no value the state is built from
    # matched at execution: before any match it had, so the first match moves
    matched = {"matched_ts": records[0].trade.execution_ts.isoformat()}
    store.record([], updates=[TradeUpdate(changed, at + dt.timedelta(seconds=1), matched)])
    book.refresh()
    assert book.state() is not kept
