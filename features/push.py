"""Intraday pushes to the online store: settlement outcomes refresh counterparty and account
features, inventory moves refresh positions, new SSI versions refresh the SSI in force. Every
row is checked before anything is written, so a bad batch changes nothing.

A push is safe to run again (a batch retried after a crash): the side tables it keeps next
to the build (outcomes, live trades' facts and SSI changes pushed since) are written first,
keyed so that a row written twice is kept once, and under the tables' lock for the whole
read-change-write-push, so two processes pushing at once take turns. History rows are
stamped after the one in the online store for the same key: Redis keeps a row only if it is
newer, and every outcome of a day is known at the same instant.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from itertools import pairwise

import numpy as np
import pandas as pd
import pyarrow as pa
from feast import FeatureStore
from feast.data_source import PushMode
from feast.infra.online_stores.helpers import get_online_store_from_config
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto

from core.errors import ContractError, Violation
from core.instants import NEVER_US, epoch_us, instants_us
from features.compute.facts import TradeFacts, trade_facts
from features.compute.history import account_history, counterparty_history
from features.data.atomic import locked, write_parquet_files
from features.data.contract import TABLES, validate_frames
from features.reference import (
    LIVE_FACTS_TABLE,
    PUSHED_OUTCOMES_TABLE,
    PUSHED_SSI_TABLE,
    Reference,
)
from features.repo import PUSHED_VIEWS
from features.store import answering

__all__ = ["OUTCOME_KEYS", "push_outcomes", "push_positions", "push_ssi"]

_MAX_SHOWN = 5

_HistoryOf = Callable[[TradeFacts, Reference, tuple[np.ndarray, int]], pd.DataFrame]
_HISTORIES: dict[str, tuple[str, _HistoryOf]] = {
    "counterparty_history": (
        "counterparty_id",
        lambda facts, reference, at: counterparty_history(facts, reference.ssi_changes(), at=at),
    ),
    "account_history": ("account_id", lambda facts, reference, at: account_history(facts, at=at)),
}
"""The history views outcomes move: each view's key column and its rows at an instant."""
OUTCOME_KEYS = {view: key for view, (key, _) in _HISTORIES.items()}
"""Each history view outcomes move, and the trade column naming its key."""


def _contract_frame(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """The batch in the contract's column order, validated as that table."""
    columns = TABLES[table].column_names
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ContractError(
            [Violation(f"pushed {table}", "required column is missing", c) for c in missing]
        )
    frame = frame[list(columns)].reset_index(drop=True)
    validate_frames({table: frame})
    return frame


def _unknown(
    values: pd.Series, known: np.ndarray | pd.Index | frozenset[str], what: str, table: str
) -> list[Violation]:
    bad = sorted(set(values[~values.isin(known)]))
    if not bad:
        return []
    shown = ", ".join(map(str, bad[:_MAX_SHOWN])) + (" ..." if len(bad) > _MAX_SHOWN else "")
    return [Violation(f"pushed {table}", f"{len(bad)} unknown {what}: {shown}", what)]


def push_outcomes(
    store: FeatureStore,
    reference: Reference,
    outcomes: pd.DataFrame,
    live_trades: pd.DataFrame | None = None,
    live_events: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """Recompute the counterparty and account features of every trade in ``outcomes`` as of
    the latest known_ts in the batch, push them online, and return the pushed rows by view
    (none when no outcome in the batch is settled or failed).

    The history rows are exactly what the next build will compute at that instant: the
    same function over the build's facts plus every trade and outcome pushed since. A trade
    the build never saw (one scored live) needs its ``trades`` row in ``live_trades`` and its
    lifecycle ``events`` in ``live_events``; its facts are kept for later pushes.
    """
    outcomes = _contract_frame(outcomes, "outcomes")
    with locked(reference.directory):
        facts = reference.trade_facts()
        live = _live_facts(reference, facts, live_trades, live_events)
        if live is not None:
            facts = facts.extended(live)
        problems = _unknown(outcomes["trade_id"], facts.trade_id, "trade_id", "outcomes")
        if problems:
            raise ContractError(problems)
        tables = {PUSHED_OUTCOMES_TABLE: _appended(reference, PUSHED_OUTCOMES_TABLE, outcomes)}
        if live is not None:
            tables[LIVE_FACTS_TABLE] = _appended(reference, LIVE_FACTS_TABLE, live.to_frame())
        write_parquet_files(tables, reference.directory)
        updated = facts.with_outcomes(outcomes)
        decided = outcomes.loc[outcomes["status"].isin(["SETTLED", "FAILED"]), "trade_id"]
        rows = pd.Index(facts.trade_id).get_indexer(pd.Index(decided))
        if not rows.size:  # a cancellation moves no rate: nothing to push
            return {}
        instant = int(updated.outcome_us[rows].max())
        return {
            view: _push_history(
                store, reference, updated, view, pd.unique(getattr(updated, key)[rows]), instant
            )
            for view, (key, _) in _HISTORIES.items()
        }


def _push_history(
    store: FeatureStore,
    reference: Reference,
    facts: TradeFacts,
    view: str,
    keys: np.ndarray,
    instant: int,
) -> pd.DataFrame:
    """Push the history rows of ``view`` (one of ``_HISTORIES``) for ``keys`` as of
    ``instant`` (or as of the latest row the online store holds for any of them, if later),
    each stamped after the stored one."""
    key, history = _HISTORIES[view]
    stored = _stored_stamps_us(store, view, key, keys)
    instant = max(instant, int(stored.max(initial=NEVER_US)))
    features = history(facts, reference, (keys, instant))
    ids = features[key].to_numpy()
    before = pd.Series(stored, index=keys).reindex(ids).to_numpy()
    stamps = np.maximum(instant, before + 1)  # Redis keeps only a newer row
    features["event_timestamp"] = pd.to_datetime(stamps, unit="us", utc=True).as_unit("us")
    _push(store, PUSHED_VIEWS[view], features)
    return features


def _push(store: FeatureStore, push_source: str, rows: pd.DataFrame) -> None:
    with answering(store):
        store.push(push_source, rows, to=PushMode.ONLINE)


def _stored_stamps_us(
    store: FeatureStore, view_name: str, join_key: str, keys: np.ndarray
) -> np.ndarray:
    """The event time (µs) of each key's row in the online store; NEVER_US where none."""
    view = store.get_feature_view(view_name)
    online = get_online_store_from_config(store.config.online_store)
    protos = [
        EntityKeyProto(join_keys=[join_key], entity_values=[ValueProto(string_val=str(k))])
        for k in keys
    ]
    feature = view.features[0].name
    with answering(store):
        read = online.online_read(store.config, view, protos, [feature])
    # the SQLite store answers naive UTC datetimes, Redis aware ones
    stamps = [NEVER_US if at is None else epoch_us(_aware(at)) for at, _ in read]
    return np.array(stamps, dtype=np.int64)


def _aware(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def _live_facts(
    reference: Reference,
    facts: TradeFacts,
    trades: pd.DataFrame | None,
    events: pd.DataFrame | None,
) -> TradeFacts | None:
    """Facts of the given trades that ``facts`` does not hold yet, or None."""
    if trades is None or trades.empty:
        return None
    trades = _contract_frame(trades, "trades")
    trades = trades.loc[~trades["trade_id"].isin(facts.trade_id)].reset_index(drop=True)
    if trades.empty:
        return None
    dataset = {"trades": trades}
    if events is not None and not events.empty:
        dataset["events"] = _contract_frame(events, "events")
    return trade_facts(dataset, reference.calendar)


def _chain_versions(rows: pd.DataFrame, new_version: np.ndarray) -> None:
    """Several versions of one SSI in a batch (sorted by valid_from): each one's predecessor
    is the version before it, not the one in force before the batch."""
    keys = ["counterparty_id", "settlement_market", "asset_class"]
    for index in rows.groupby(keys, sort=False).indices.values():
        for before, after in pairwise(index):
            if rows.at[after, "ssi_valid_from_s"] != rows.at[before, "ssi_valid_from_s"]:
                new_version[after] = True
                rows.at[after, "ssi_prev_valid_from_s"] = rows.at[before, "ssi_valid_from_s"]
            else:
                new_version[after] = False
                rows.at[after, "ssi_prev_valid_from_s"] = rows.at[before, "ssi_prev_valid_from_s"]


_SIDE_KEYS = {
    PUSHED_OUTCOMES_TABLE: ["trade_id"],
    LIVE_FACTS_TABLE: ["trade_id"],
    PUSHED_SSI_TABLE: ["counterparty_id", "valid_from_ts"],
}
"""What identifies a row of each side table: a later row with the same key replaces one."""


def _appended(reference: Reference, table: str, rows: pd.DataFrame) -> pa.Table:
    """A side table with ``rows`` added (a later row with the same key replaces one)."""
    pushed = reference.pushed(table)
    frame = rows if pushed.empty else pd.concat([pushed, rows], ignore_index=True)
    frame = frame.drop_duplicates(_SIDE_KEYS[table], keep="last")
    return pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)


def push_ssi(store: FeatureStore, reference: Reference, ssi: pd.DataFrame) -> pd.DataFrame:
    """Push new or newly verified SSI versions (rows of the ``ssi`` table) online; the
    counterparties' SSI-change counts move with them. Returns the pushed ``ssi_state`` rows
    (a version older than the one in force is left out)."""
    ssi = _contract_frame(ssi, "ssi").sort_values("valid_from_ts", kind="stable")
    with locked(reference.directory):
        return _push_ssi(store, reference, ssi.reset_index(drop=True))


def _push_ssi(store: FeatureStore, reference: Reference, ssi: pd.DataFrame) -> pd.DataFrame:
    keys = {
        "counterparty_id": ssi["counterparty_id"].tolist(),
        "settlement_market": ssi["market"].tolist(),
        "asset_class": ssi["asset_class"].tolist(),
    }
    with answering(store):
        current = store.get_online_features(
            features=["ssi_state:ssi_valid_from_s", "ssi_state:ssi_prev_valid_from_s"],
            entity_rows=[
                dict(zip(keys, row, strict=True)) for row in zip(*keys.values(), strict=True)
            ],
        ).to_dict()
    in_force = np.array(current["ssi_valid_from_s"], dtype=float)
    in_force_prev = np.array(current["ssi_prev_valid_from_s"], dtype=float)
    valid_from = instants_us(ssi["valid_from_ts"]) / 1e6
    verified = np.where(ssi["verified_ts"].isna(), np.nan, instants_us(ssi["verified_ts"]) / 1e6)
    # a version older than the one in force (a late verification of a superseded SSI, say)
    # changes nothing: it is not pushed, so the SSI never rolls back
    live = ~(np.nan_to_num(in_force, nan=-np.inf) > valid_from)
    ssi, valid_from, verified = (
        ssi.loc[live].reset_index(drop=True),
        valid_from[live],
        verified[live],
    )
    in_force, in_force_prev = in_force[live], in_force_prev[live]
    keys = {
        name: [v for v, keep in zip(values, live, strict=True) if keep]
        for name, values in keys.items()
    }
    if ssi.empty:
        return pd.DataFrame()
    new_version = ~(in_force == valid_from)  # NaN (none in force) is new too
    rows = pd.DataFrame(
        {
            **keys,
            # known once in force and (if at all) verified; whole µs, as the table holds them
            "event_timestamp": pd.to_datetime(
                # a missing verification is NEVER_US, before any instant
                np.maximum(instants_us(ssi["valid_from_ts"]), instants_us(ssi["verified_ts"])),
                unit="us",
                utc=True,
            ),
            "ssi_valid_from_s": valid_from,
            "ssi_verified_s": verified,
            "ssi_prev_valid_from_s": np.where(new_version, in_force, in_force_prev),
        }
    )
    _chain_versions(rows, new_version)
    changes = ssi.loc[new_version, ["counterparty_id", "valid_from_ts"]]
    if not changes.empty:  # first: a push run again after a crash finds them
        write_parquet_files(
            {PUSHED_SSI_TABLE: _appended(reference, PUSHED_SSI_TABLE, changes)},
            reference.directory,
        )
    _push(store, PUSHED_VIEWS["ssi_state"], rows)

    # the SSI-change counts of every counterparty whose version here is a change pushed
    # (now, or by a run of this batch that stopped before its counts were pushed)
    pushed = reference.pushed(PUSHED_SSI_TABLE)
    key = ["counterparty_id", "valid_from_ts"]
    changed = ssi[key].merge(pushed[key].drop_duplicates(), on=key) if not pushed.empty else changes
    facts = reference.trade_facts()
    ids = changed["counterparty_id"]
    known = np.asarray(pd.unique(ids[ids.isin(facts.counterparty_id)]))
    if known.size:  # a counterparty with no trades yet has no history row
        instant = int(instants_us(changed["valid_from_ts"]).max())
        _push_history(store, reference, facts, "counterparty_history", known, instant)
    return rows


def push_positions(
    store: FeatureStore, reference: Reference, inventory: pd.DataFrame
) -> pd.DataFrame:
    """Push position snapshots (rows of the ``inventory`` table) online; returns the rows."""
    inventory = _contract_frame(inventory, "inventory")
    problems = _unknown(
        inventory["account_id"], reference.known_accounts(), "account_id", "inventory"
    )
    problems += _unknown(
        inventory["instrument_id"], reference.known_instruments(), "instrument_id", "inventory"
    )
    if problems:
        raise ContractError(problems)
    rows = inventory.rename(columns={"as_of_ts": "event_timestamp"})
    _push(store, PUSHED_VIEWS["position"], rows)
    return rows
