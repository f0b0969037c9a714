"""Raw lifecycle tables -> one feature table per Feast view, each row stamped with the instant
its values became known."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from core.calendar import SettlementCalendar
from core.errors import ContractError, Violation
from features.compute.facts import TradeFacts, trade_facts
from features.compute.history import (
    account_history,
    counterparty_history,
    instrument_history,
)
from features.compute.reference import (
    counterparty_profile,
    instrument_ftd,
    instrument_profile,
    positions,
    ssi_state,
)
from features.data.contract import Dataset

__all__ = ["FEATURE_INPUTS", "TradeFacts", "compute_feature_tables", "dataset_facts"]


FEATURE_INPUTS = ("holidays", "outcomes", "events", "ssi", "inventory")
"""Tables a dataset needs, beside the required ones, to compute features."""


def dataset_facts(dataset: Dataset) -> TradeFacts:
    """Check the dataset has what features need, then derive its trade facts."""
    missing = [name for name in FEATURE_INPUTS if name not in dataset]
    if missing:
        raise ContractError(
            [
                Violation(f"{n}.parquet", "features need this table; the dataset lacks it")
                for n in missing
            ]
        )
    return trade_facts(dataset, SettlementCalendar(dataset["holidays"]))


def compute_feature_tables(
    dataset: Dataset,
    facts: TradeFacts,
    sec_ftd: pd.DataFrame | None = None,
    on_table: Callable[[str], None] = lambda name: None,
) -> dict[str, pd.DataFrame]:
    """Every feature table, keyed by view name. ``on_table`` is told as each one is done."""
    builders: dict[str, Callable[[], pd.DataFrame]] = {
        "counterparty_history": lambda: counterparty_history(facts, dataset["ssi"]),
        "counterparty_profile": lambda: counterparty_profile(dataset["counterparties"]),
        "instrument_profile": lambda: instrument_profile(dataset["instruments"]),
        "instrument_history": lambda: instrument_history(facts),
        "instrument_ftd": lambda: instrument_ftd(
            sec_ftd if sec_ftd is not None else pd.DataFrame({"cusip": []}), dataset["instruments"]
        ),
        "account_history": lambda: account_history(facts),
        "ssi_state": lambda: ssi_state(dataset["ssi"]),
        "position": lambda: positions(dataset["inventory"]),
    }
    tables = {}
    for name, build in builders.items():
        tables[name] = build()
        on_table(name)
    return tables
