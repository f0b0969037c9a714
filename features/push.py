"""Intraday pushes to the online store: settlement outcomes refresh counterparty features,
inventory moves refresh positions. Every row is checked before anything is written, so a bad
batch changes nothing."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
from feast import FeatureStore
from feast.data_source import PushMode

from features.atomic import write_parquet_files
from features.compute.history import counterparty_history
from features.contract import TABLES, ContractError, Violation, validate_frames
from features.reference import PUSHED_OUTCOMES_TABLE, Reference
from features.repo import PUSHED_VIEWS

__all__ = ["push_outcomes", "push_positions"]

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


def _unknown(values: pd.Series, known, what: str, table: str) -> list[Violation]:
    bad = sorted(set(values[~values.isin(known)]))
    if not bad:
        return []
    shown = ", ".join(map(str, bad[:_MAX_SHOWN])) + (" ..." if len(bad) > _MAX_SHOWN else "")
    return [Violation(f"pushed {table}", f"{len(bad)} unknown {what}: {shown}", what)]


def push_outcomes(
    store: FeatureStore, reference: Reference, outcomes: pd.DataFrame
) -> pd.DataFrame:
    """Recompute the counterparty features of every trade in ``outcomes`` as of the latest
    known_ts in the batch, push them online, and return the pushed rows.

    The counterparty rows are exactly what the next build will compute at that instant: the
    same function over the build's facts plus every outcome pushed since.
    """
    outcomes = _contract_frame(outcomes, "outcomes")
    facts = reference.trade_facts()
    problems = _unknown(outcomes["trade_id"], facts.trade_id, "trade_id", "outcomes")
    if problems:
        raise ContractError(problems)
    updated = facts.with_outcomes(outcomes)
    decided = outcomes.loc[outcomes["status"].isin(["SETTLED", "FAILED"]), "trade_id"]
    rows = pd.Index(facts.trade_id).get_indexer(decided)
    features = pd.DataFrame()
    if rows.size:  # a cancellation moves no rate: nothing to push
        counterparties = pd.unique(facts.counterparty_id[rows])
        instant = int(updated.outcome_us[rows].max())
        features = counterparty_history(
            updated, reference.ssi_changes(), at=(counterparties, instant)
        )
        store.push(PUSHED_VIEWS["counterparty_history"], features, to=PushMode.ONLINE)
    pushed = pd.concat([reference.pushed_outcomes(), outcomes], ignore_index=True)
    pushed = pushed.drop_duplicates("trade_id", keep="last")
    write_parquet_files(
        {PUSHED_OUTCOMES_TABLE: pa.Table.from_pandas(pushed, preserve_index=False)},
        reference.directory,
    )
    return features


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
