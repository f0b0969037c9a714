"""Training rows: features from the store, labels from outcomes, split by time with purging.

A row is a (trade, scoring stage) snapshot. Its label (the trade failed on its ISD) becomes
known at outcomes.known_ts; a row may train a model only if its label was known before the
next slice starts, so nothing learnt from the future reaches validation, calibration or test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.costs import ILLIQUID_ADV, penalty_cost
from core.errors import InvalidInput
from core.memory import release_memory
from core.regimes import active_regimes, price_fails
from core.settings import Settings
from features.data.contract import Dataset
from features.reference import Reference
from features.retrieval import (
    FeatureMatrix,
    SnapshotState,
    snapshot_columns,
    snapshot_rows,
    training_matrix,
)
from features.store import open_store

__all__ = [
    "SLICES",
    "Split",
    "TradeLabels",
    "decided",
    "labelled",
    "labelled_matrix",
    "row_labels",
    "sample_settled",
    "split_starts",
    "time_split",
    "trade_labels",
    "with_features",
]

SLICES = ("train", "valid", "calib", "test")


def decided(dataset: Dataset) -> np.ndarray:
    """Which of the dataset's trades settled or failed (the ones a model learns from), as a
    mask over its trades table."""
    outcomes = dataset["outcomes"]
    done = outcomes.loc[outcomes["status"].isin(["SETTLED", "FAILED"]), "trade_id"]
    return dataset["trades"]["trade_id"].isin(done).to_numpy()


def labelled_matrix(
    dataset: Dataset,
    only: np.ndarray,
    settings: Settings,
    step: Callable[[str, float], None] = lambda name, fraction: None,
) -> tuple[TradeLabels, FeatureMatrix]:
    """Every (trade, stage) of the decided trades the mask ``only`` selects: their
    point-in-time features from the feature store of ``settings`` (the other trades count
    for the day's state all the same), and their trades' labels and costs, to be taken row
    for row with ``labels.rows(matrix.rows)`` (``row_labels``).

    What each row will be is known before its features, so the trades are labelled first and
    the dataset's two largest tables are let go before the matrix is filled: the events once
    each trade's lifecycle and intraday state are taken from them (``SnapshotState``), the
    outcomes once the trades are labelled. The labels stay per trade (a third of their rows'
    bytes): the caller takes them row for row once it has let go of what it no longer needs
    (training: the trades), so that the rows' labels never sit beside the state and the
    trades. ``dataset`` loses the events and the outcomes; its trades and reference tables
    stay."""
    state = SnapshotState.of(dataset)
    del dataset["events"]
    reference = Reference.load(settings)
    layout = snapshot_rows(dataset["trades"], reference.calendar, only=only)
    labels = trade_labels(layout, dataset)
    del dataset["outcomes"]
    release_memory()  # the events', the outcomes' and labelling's freed pages
    with open_store(settings) as store:
        matrix = training_matrix(store, reference, dataset, step=step, state=state, rows=layout)
    return labels, matrix


@dataclass(frozen=True)
class TradeLabels:
    """The labels and costs of the trades of a matrix's rows, one row per trade
    (``labelled``; instrument, cause and asset class as categories, days late as float32),
    and each matrix row's position among them."""

    per_trade: pd.DataFrame
    row_trade: np.ndarray

    def rows(self, layout: pd.DataFrame) -> pd.DataFrame:
        """The labels row for row with ``layout`` (the ``snapshot_rows`` they were made
        from), with its stage and scoring instant."""
        out = self.per_trade.take(self.row_trade)
        out.index = pd.RangeIndex(len(out))  # in place: reset_index would copy every column
        for at, (name, column) in enumerate(snapshot_columns(layout).items(), start=2):
            out.insert(at, name, column)
        return out


def trade_labels(rows: pd.DataFrame, dataset: Dataset) -> TradeLabels:
    """The labels of the trades of ``rows`` (``snapshot_rows``; no features), each worked out
    once per trade: every trade of the rows must be decided."""
    trades = dataset["trades"]
    chosen, row_trade = np.unique(rows["trade"].to_numpy(), return_inverse=True)
    per_trade = labelled(
        pd.DataFrame(
            {
                "trade_id": trades["trade_id"].to_numpy()[chosen],
                "instrument_id": trades["instrument_id"].to_numpy()[chosen],
            }
        ),
        dataset,
    )
    if len(per_trade) != len(chosen):
        raise InvalidInput(
            f"{len(chosen) - len(per_trade)} trades of the feature matrix have no outcome "
            "(neither settled nor failed): retrieve decided trades only"
        )
    # repeated strings as categories and whole days as float32, per trade before they are
    # taken per row: a quarter of the labels' bytes, held from retrieval to the baselines
    for name in _CATEGORY_LABELS:
        per_trade[name] = per_trade[name].astype("category")
    per_trade["days_late"] = per_trade["days_late"].astype(np.float32)
    return TradeLabels(per_trade, row_trade.astype(np.int32))


def row_labels(rows: pd.DataFrame, dataset: Dataset) -> pd.DataFrame:
    """``labelled`` for every row of a feature matrix (``snapshot_rows``; no features):
    trade, instrument, stage, scoring instant, label and costs, row for row. Labels belong
    to trades, so they are worked out once per trade and taken for each of its stages
    (``trade_labels``): a third of the work and memory of labelling millions of rows."""
    return trade_labels(rows, dataset).rows(rows)


def with_features(rows: pd.DataFrame, x: np.ndarray, names: list[str]) -> pd.DataFrame:
    """Labelled rows and, row for row, their features as columns ``names``: float32, as the
    model was trained on them (``x`` is not copied)."""
    features = pd.DataFrame(x, columns=names, index=rows.index, copy=False)
    return pd.concat([rows, features], axis=1, copy=False)


_CATEGORY_LABELS = ("instrument_id", "fail_reason", "asset_class")
_OUTCOME_COLUMNS = ("status", "fail_reason", "known_ts", "days_late")
_TRADE_COLUMNS = ("trade_date", "notional", "currency", "settlement_market", "side")


def labelled(frame: pd.DataFrame, dataset: Dataset) -> pd.DataFrame:
    """Training-frame rows of settled or failed trades with their label and what a fail cost.

    Adds ``failed``, ``fail_reason``, ``label_known_ts``, ``trade_date``, ``notional``,
    ``asset_class``, ``days_late``, ``penalty`` (the cash penalty the fail incurred under the
    one CSDR-style schedule; 0 when it settled) and ``cost_usd`` (what it cost by its
    market's regime, penalty, funding and buy-in, in the reporting currency; 0 when it
    settled).
    """
    # only the columns read below, indexed: not a copy of the whole trades table
    outcomes = dataset["outcomes"][[*_OUTCOME_COLUMNS, "trade_id"]].set_index("trade_id")
    trades = dataset["trades"][[*_TRADE_COLUMNS, "trade_id"]].set_index("trade_id")
    instruments = dataset["instruments"].set_index("instrument_id")
    status = frame["trade_id"].map(outcomes["status"])
    rows = frame.loc[status.isin(["SETTLED", "FAILED"])].reset_index(drop=True)
    ids = rows["trade_id"]
    out = rows.assign(
        failed=ids.map(outcomes["status"]).eq("FAILED").to_numpy(),
        fail_reason=ids.map(outcomes["fail_reason"]).to_numpy(),
        label_known_ts=ids.map(outcomes["known_ts"]).array,
        trade_date=ids.map(trades["trade_date"]).to_numpy(),
        notional=ids.map(trades["notional"]).to_numpy(),
        asset_class=rows["instrument_id"].map(instruments["asset_class"]).to_numpy(),
    )
    adv = rows["instrument_id"].map(instruments["avg_daily_volume"]).to_numpy()
    days_late = ids.map(outcomes["days_late"]).to_numpy(float)
    out["days_late"] = np.nan_to_num(days_late)
    out["penalty"] = penalty_cost(out["notional"], out["asset_class"], adv, days_late)
    out["cost_usd"] = _regime_cost_usd(out, trades, adv)
    return out


def _regime_cost_usd(rows: pd.DataFrame, trades: pd.DataFrame, adv: np.ndarray) -> np.ndarray:
    """What each fail cost by its market's regime, in the reporting currency."""
    cost = np.zeros(len(rows))
    failed = rows["failed"].to_numpy(bool)
    if not failed.any():
        return cost
    ids = rows.loc[failed, "trade_id"]
    currency = ids.map(trades["currency"]).to_numpy()
    regimes = active_regimes()
    parts = price_fails(
        regimes,
        market=ids.map(trades["settlement_market"]).to_numpy(),
        currency=currency,
        asset_class=rows.loc[failed, "asset_class"].to_numpy(),
        liquid=~(adv[failed] < ILLIQUID_ADV),
        side=ids.map(trades["side"]).to_numpy(),
        value=rows.loc[failed, "notional"].to_numpy(float),
        days_late=rows.loc[failed, "days_late"].to_numpy(float),
        lack_of_cash=rows.loc[failed, "fail_reason"].eq("LACK_OF_CASH").to_numpy(),
    )
    cost[failed] = regimes.in_reporting_currency(parts.total, currency)
    return cost


@dataclass(frozen=True)
class Split:
    """Boolean masks over labelled rows, and the first trade date of each later slice."""

    masks: dict[str, np.ndarray]
    starts: dict[str, pd.Timestamp]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.masks[name]

    def sizes(self) -> dict[str, int]:
        return {name: int(mask.sum()) for name, mask in self.masks.items()}


def split_starts(
    trade_dates: pd.Series | np.ndarray, test_days: int, calib_days: int, valid_days: int
) -> dict[str, pd.Timestamp]:
    """The first trade date of the valid, calib and test slices, the test window being the
    last ``test_days`` of the trade dates given."""
    dates = np.sort(np.asarray(pd.unique(np.asarray(trade_dates))))
    need = test_days + calib_days + valid_days
    if dates.size <= need:
        raise InvalidInput(
            f"the dataset spans {dates.size} trade dates; a split with test={test_days}, "
            f"calib={calib_days} and valid={valid_days} days needs more than {need}"
        )
    return {
        "valid": pd.Timestamp(dates[-need]),
        "calib": pd.Timestamp(dates[-(test_days + calib_days)]),
        "test": pd.Timestamp(dates[-test_days]),
    }


def sample_settled(
    dataset: Dataset, only: np.ndarray, before: pd.Timestamp, share: float, seed: int
) -> np.ndarray:
    """``only`` (a mask over the dataset's trades) keeping just ``share`` of the trades that
    settled and were traded before ``before`` (the validation slice's start), drawn at random;
    every fail, and every trade from ``before`` on, is kept. Training weights the kept
    settled rows by 1 / ``share``, so the booster sees the fail rate it would have."""
    if not 0 < share <= 1:
        raise InvalidInput(f"the share of settled trades kept must be in (0, 1]; got {share}")
    if share == 1:
        return only
    trades, outcomes = dataset["trades"], dataset["outcomes"]
    settled = (
        trades["trade_id"]
        .isin(outcomes.loc[outcomes["status"] == "SETTLED", "trade_id"])
        .to_numpy()
    )
    early = (pd.to_datetime(trades["trade_date"]) < before).to_numpy()
    dropped = settled & early & (np.random.default_rng(seed).random(len(trades)) >= share)
    return np.asarray(only & ~dropped)


def time_split(rows: pd.DataFrame, test_days: int, calib_days: int, valid_days: int) -> Split:
    """Train | valid | calib | test by trade date, the test window being the last
    ``test_days`` trade dates; each slice keeps only rows whose label was known before the
    next slice starts (a gap as long as labels take to arrive)."""
    starts = split_starts(rows["trade_date"], test_days, calib_days, valid_days)
    day = pd.to_datetime(rows["trade_date"])
    known = rows["label_known_ts"]

    def before(start: pd.Timestamp) -> pd.Series:
        return known < start.tz_localize("UTC")

    masks = {
        "train": ((day < starts["valid"]) & before(starts["valid"])).to_numpy(),
        "valid": (
            (day >= starts["valid"]) & (day < starts["calib"]) & before(starts["calib"])
        ).to_numpy(),
        "calib": (
            (day >= starts["calib"]) & (day < starts["test"]) & before(starts["test"])
        ).to_numpy(),
        "test": (day >= starts["test"]).to_numpy(),
    }
    return Split(masks, starts)
