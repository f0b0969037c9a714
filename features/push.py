"""Intraday pushes to the online store: settlement outcomes refresh counterparty features,
inventory moves refresh positions, new SSI versions refresh the SSI in force. Every row is
checked before anything is written, so a bad batch changes nothing."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd
import pyarrow as pa
from feast import FeatureStore
from feast.data_source import PushMode

from core.errors import ContractError, Violation
from core.instants import instants_us
from features.compute.facts import TradeFacts, trade_facts
from features.compute.history import counterparty_history
from features.data.atomic import write_parquet_files
from features.data.contract import TABLES, validate_frames
from features.reference import (
    LIVE_FACTS_TABLE,
    PUSHED_OUTCOMES_TABLE,
    PUSHED_SSI_TABLE,
    Reference,
)
from features.repo import PUSHED_VIEWS

__all__ = ["push_outcomes", "push_positions", "push_ssi"]

_MAX_SHOWN = 5


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
) -> pd.DataFrame:
    """Recompute the counterparty features of every trade in ``outcomes`` as of the latest
    known_ts in the batch, push them online, and return the pushed rows.

    The counterparty rows are exactly what the next build will compute at that instant: the
    same function over the build's facts plus every trade and outcome pushed since. A trade
    the build never saw (one scored live) needs its ``trades`` row in ``live_trades`` and its
    lifecycle ``events`` in ``live_events``; its facts are kept for later pushes.
    """
    outcomes = _contract_frame(outcomes, "outcomes")
    facts = reference.trade_facts()
    live = _live_facts(reference, facts, live_trades, live_events)
    if live is not None:
        facts = facts.extended(live)
    problems = _unknown(outcomes["trade_id"], facts.trade_id, "trade_id", "outcomes")
    if problems:
        raise ContractError(problems)
    updated = facts.with_outcomes(outcomes)
    decided = outcomes.loc[outcomes["status"].isin(["SETTLED", "FAILED"]), "trade_id"]
    rows = pd.Index(facts.trade_id).get_indexer(pd.Index(decided))
    features = pd.DataFrame()
    if rows.size:  # a cancellation moves no rate: nothing to push
        counterparties = pd.unique(facts.counterparty_id[rows])
        instant = int(updated.outcome_us[rows].max())
        features = counterparty_history(
            updated, reference.ssi_changes(), at=(counterparties, instant)
        )
        store.push(PUSHED_VIEWS["counterparty_history"], features, to=PushMode.ONLINE)
    tables = {PUSHED_OUTCOMES_TABLE: _appended(reference, PUSHED_OUTCOMES_TABLE, outcomes)}
    if live is not None:
        tables[LIVE_FACTS_TABLE] = _appended(reference, LIVE_FACTS_TABLE, live.to_frame())
    write_parquet_files(tables, reference.directory)
    return features


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


def _appended(reference: Reference, table: str, rows: pd.DataFrame) -> pa.Table:
    """A pushed table with ``rows`` added (a later row for the same trade replaces one)."""
    frame = pd.concat([reference.pushed(table), rows], ignore_index=True)
    if "trade_id" in frame.columns:
        frame = frame.drop_duplicates("trade_id", keep="last")
    return pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)


def push_ssi(store: FeatureStore, reference: Reference, ssi: pd.DataFrame) -> pd.DataFrame:
    """Push new or newly verified SSI versions (rows of the ``ssi`` table) online; the
    counterparties' SSI-change counts move with them. Returns the pushed ``ssi_state`` rows
    (a version older than the one in force is left out)."""
    ssi = _contract_frame(ssi, "ssi").sort_values("valid_from_ts", kind="stable")
    ssi = ssi.reset_index(drop=True)
    keys = {
        "counterparty_id": ssi["counterparty_id"].tolist(),
        "settlement_market": ssi["market"].tolist(),
        "asset_class": ssi["asset_class"].tolist(),
    }
    current = store.get_online_features(
        features=["ssi_state:ssi_valid_from_s", "ssi_state:ssi_prev_valid_from_s"],
        entity_rows=[dict(zip(keys, row, strict=True)) for row in zip(*keys.values(), strict=True)],
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
    store.push(PUSHED_VIEWS["ssi_state"], rows, to=PushMode.ONLINE)

    changes = ssi.loc[new_version, ["counterparty_id", "valid_from_ts"]]
    if not changes.empty:
        write_parquet_files(
            {PUSHED_SSI_TABLE: _appended(reference, PUSHED_SSI_TABLE, changes)},
            reference.directory,
        )
        facts = reference.trade_facts()
        changed = changes["counterparty_id"]
        known = np.asarray(pd.unique(changed[changed.isin(facts.counterparty_id)]))
        if known.size:  # a counterparty with no trades yet has no history row
            instant = int(instants_us(changes["valid_from_ts"]).max())
            features = counterparty_history(facts, reference.ssi_changes(), at=(known, instant))
            store.push(PUSHED_VIEWS["counterparty_history"], features, to=PushMode.ONLINE)
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
    store.push(PUSHED_VIEWS["position"], rows, to=PushMode.ONLINE)
    return rows
