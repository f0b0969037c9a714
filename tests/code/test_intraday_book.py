"""The service's book, read from the exception store, gives the intraday and receipt figures
training computes from the dataset for the same trades; it follows what changes, and outlives
a store that stops answering."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from core.catalogue import INTRADAY, ReceiptStatus
from core.errors import StoreUnavailable
from core.instants import instants_us
from features.compute.book import BOOK_KEYS, BookState, book_request_fields, dataset_book
from features.data.contract import Dataset
from features.request import lifecycle_state
from serving.api.client import trade_records
from serving.scoring.schemas import Trade
from serving.workflow.intraday import DAYS, IntradayBook
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


def _dates(world: Dataset, first: int, last: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The trades of some trade dates of a world, and every one's whole lifecycle."""
    trades = world["trades"]
    dates = sorted(trades["trade_date"].unique())[first:last]
    chosen = trades.loc[trades["trade_date"].isin(dates)].reset_index(drop=True)
    end = np.full(len(chosen), np.iinfo(np.int64).max // 2)
    return chosen, lifecycle_state(chosen["trade_id"], world["events"], end)


@pytest.fixture()
def days(small_world: Dataset) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three trade dates of the small world: all held by the book."""
    return _dates(small_world, 10, 13)


@pytest.fixture()
def week(small_world: Dataset) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Eight trade dates: the last one's sells have every buy they can wait on among them."""
    return _dates(small_world, 5, 13)


def _features(
    state: BookState | None, queries: pd.DataFrame, at: np.ndarray
) -> dict[str, np.ndarray]:
    trades = {key: queries[key].to_numpy() for key in BOOK_KEYS}
    trades["execution_us"] = instants_us(queries["execution_ts"])
    return {k.removeprefix("req_"): v for k, v in book_request_fields(state, trades, at).items()}


def _outcomes(
    store: ExceptionStore, small_world: Dataset, trades: pd.DataFrame, until: pd.Timestamp
) -> None:
    """The outcomes of ``trades`` known by ``until``, recorded as the feed gives them."""
    outcomes = small_world["outcomes"]
    outcomes = outcomes.loc[
        outcomes["trade_id"].isin(trades["trade_id"]) & (outcomes["known_ts"] <= until)
    ]
    store.record(
        [],
        updates=[
            TradeUpdate(str(trade_id), known.to_pydatetime(), outcome=str(status))
            for trade_id, known, status in zip(
                outcomes["trade_id"], outcomes["known_ts"], outcomes["status"], strict=True
            )
        ],
    )


def test_the_book_gives_what_training_computes_for_the_same_trades(
    store: ExceptionStore, small_world: Dataset, week: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    trades, lifecycle = week
    store.record(_records(trades, lifecycle))
    now = trades["execution_ts"].max()  # the last trade's execution: the store's "now"
    _outcomes(store, small_world, trades, now)
    book = IntradayBook(store)
    book.refresh()
    clock = store.clock()
    assert clock is not None and clock.date() == now.date()
    settling = pd.to_datetime(trades["settlement_date"]).dt.date
    held = (settling >= clock.date() - dt.timedelta(days=DAYS)).sum()
    assert book.status().trades == held and book.status().error is None
    last = trades.loc[trades["trade_date"] == trades["trade_date"].max()]
    # at execution and two hours later (by "now" at the latest)
    for minutes in (0, 120):
        at = np.minimum(instant_after(last, minutes), instants_us(pd.Series([now]))[0])
        served = _features(book.state(), last, at)
        trained = _features(dataset_book(small_world), last, at)
        for name, values in trained.items():
            # the minutes are differences of running sums over different sets of trades
            np.testing.assert_allclose(
                served[name],
                values,
                rtol=1e-6,
                atol=1e-6,
                equal_nan=True,
                err_msg=f"{name} at {minutes}",
            )
    assert np.isfinite(served[INTRADAY[0].names[0]]).any()
    # not vacuous: receipts are found, some decided by then
    status = served["receipt_status"]
    assert np.isfinite(status).sum() >= 20
    assert {ReceiptStatus.SETTLED, ReceiptStatus.MATCHED} <= set(status[np.isfinite(status)])


def test_the_book_follows_a_receipt_that_fails(
    store: ExceptionStore, week: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    trades, lifecycle = week
    store.record(_records(trades, lifecycle))
    book = IntradayBook(store)
    book.refresh()
    last = trades.loc[trades["trade_date"] == trades["trade_date"].max()]
    at = instant_after(last, 1)
    status = _features(book.state(), last, at)["receipt_status"]
    sell = last.iloc[int(np.flatnonzero(np.isfinite(status))[0])]
    buys = trades.loc[
        (trades["side"] == "BUY")
        & (trades["instrument_id"] == sell["instrument_id"])
        & (trades["execution_ts"] < sell["execution_ts"])
        & (trades["settlement_date"] <= sell["settlement_date"])
    ]
    buy = buys.sort_values(["settlement_date", "execution_ts"]).iloc[-1]
    known = sell["execution_ts"].to_pydatetime()  # the buy's fail known as the sell executes
    store.record([], updates=[TradeUpdate(buy["trade_id"], known, outcome="FAILED")])
    book.refresh()
    one = last.loc[[sell.name]]
    assert _features(book.state(), one, instant_after(one, 1))["receipt_status"][0] == (
        ReceiptStatus.FAILED
    )
    # scored before the fail was known, the sell still sees the buy pending
    before = instant_after(one, -1)
    assert _features(book.state(), one, before)["receipt_status"][0] < ReceiptStatus.FAILED


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
    stamps = {t: at for t, at, *_ in store.changed_trades(trades["settlement_date"].min())}

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
    assert book.state() is not kept  # an outcome moves the receipts
    kept = book.state()
    # matched at execution: before any match it had, so the first match moves
    matched = {"matched_ts": records[0].trade.execution_ts.isoformat()}
    store.record([], updates=[TradeUpdate(changed, at + dt.timedelta(seconds=1), matched)])
    book.refresh()
    assert book.state() is not kept
