"""What retrieval needs besides the stores: the settlement calendar and the reference data
that turn a trade row into entity keys and request fields. Written by the build beside the
feature tables, so training and serving read the same copy."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.calendar import SettlementCalendar
from core.errors import ContractError, Violation
from core.markets import MARKETS
from core.settings import Settings
from core.vocabulary import ASSET_CLASSES
from features.compute.facts import TradeFacts
from features.data.atomic import locked

__all__ = [
    "FACTS_TABLE",
    "HOLIDAYS_TABLE",
    "LIVE_FACTS_TABLE",
    "MANIFEST",
    "PUSHED_OUTCOMES_TABLE",
    "PUSHED_SSI_TABLE",
    "PUSHED_TABLES",
    "SSI_CHANGES_TABLE",
    "WARMUP_TABLE",
    "WARMUP_TRADES",
    "Reference",
    "tables_dir",
]

# Internal tables the build writes beside the feature tables.
HOLIDAYS_TABLE = "holidays"
FACTS_TABLE = "trade_facts"  # per-trade facts, to recompute counterparty rows on a push
SSI_CHANGES_TABLE = "ssi_changes"
PUSHED_OUTCOMES_TABLE = "pushed_outcomes"  # outcomes pushed since the build, cumulative
LIVE_FACTS_TABLE = "live_facts"  # facts of trades scored live, added when their outcome arrives
PUSHED_SSI_TABLE = "pushed_ssi_changes"  # SSI versions pushed since the build
PUSHED_TABLES = (PUSHED_OUTCOMES_TABLE, LIVE_FACTS_TABLE, PUSHED_SSI_TABLE)
WARMUP_TABLE = "warmup_trades"  # the dataset's latest trades: what a service scores to warm up
WARMUP_TRADES = 1_000
"""What pushes add between builds; a new build supersedes them all."""
MANIFEST = "manifest.json"
UNKNOWN_KEY = ""
"""Stands for an unknown entity in a join key: matches no stored row."""
_MARKET_CODES = np.array(list(MARKETS), dtype=object)


def tables_dir(settings: Settings) -> Path:
    return settings.feature_dir / "tables"


@dataclass(frozen=True)
class Reference:
    """The build's calendar, counterparty home markets and instrument asset classes."""

    directory: Path

    @classmethod
    def load(cls, settings: Settings) -> Reference:
        directory = tables_dir(settings)
        if not (directory / MANIFEST).exists():
            raise ContractError(
                [
                    Violation(
                        str(directory / MANIFEST),
                        "no feature build found; run `failcast features build --data DIR` first",
                    )
                ]
            )
        return cls(directory)

    def _read(self, name: str, columns: list[str] | None) -> pd.DataFrame:
        path = self.directory / f"{name}.parquet"
        with locked(self.directory, shared=True):
            if not path.exists():
                raise ContractError(
                    [Violation(str(path), "feature table is missing; rebuild the features")]
                )
            return pd.read_parquet(path, columns=columns)

    @cached_property
    def manifest(self) -> dict[str, Any]:
        manifest: dict[str, Any] = json.loads((self.directory / MANIFEST).read_text())
        return manifest

    @cached_property
    def calendar(self) -> SettlementCalendar:
        return SettlementCalendar(self._read(HOLIDAYS_TABLE, ["market", "date"]))

    @cached_property
    def _domicile(self) -> dict[str, str]:
        frame = self._read("counterparty_profile", ["counterparty_id", "cpty_domicile_code"])
        codes = _MARKET_CODES[frame["cpty_domicile_code"].to_numpy()]
        return dict(zip(frame["counterparty_id"].tolist(), codes.tolist(), strict=True))

    @cached_property
    def _asset_class(self) -> dict[str, str]:
        frame = self._read("instrument_profile", ["instrument_id", "asset_class_code"])
        names = np.asarray(ASSET_CLASSES, dtype=object)[frame["asset_class_code"].to_numpy()]
        return dict(zip(frame["instrument_id"].tolist(), names.tolist(), strict=True))

    def trade_facts(self) -> TradeFacts:
        """The build's trade facts, and those of trades scored live since, with every
        outcome pushed since applied."""
        horizon = int(self.manifest["horizon_us"])
        facts = TradeFacts.from_frame(self._read(FACTS_TABLE, None), horizon)
        live = self.pushed(LIVE_FACTS_TABLE)
        if not live.empty:
            facts = facts.extended(TradeFacts.from_frame(live, horizon))
        pushed = self.pushed_outcomes()
        return facts if pushed.empty else facts.with_outcomes(pushed)

    def pushed(self, table: str) -> pd.DataFrame:
        """Rows a push added since the build (empty if none)."""
        path = self.directory / f"{table}.parquet"
        with locked(self.directory, shared=True):
            return pd.read_parquet(path) if path.exists() else pd.DataFrame()

    def warmup_trades(self) -> pd.DataFrame:
        """The build's sample of recent trades (contract rows; empty for an older build)."""
        path = self.directory / f"{WARMUP_TABLE}.parquet"
        with locked(self.directory, shared=True):
            return pd.read_parquet(path) if path.exists() else pd.DataFrame()

    def pushed_outcomes(self) -> pd.DataFrame:
        return self.pushed(PUSHED_OUTCOMES_TABLE)

    def ssi_changes(self) -> pd.DataFrame:
        """When each SSI version took effect, per counterparty: the build's and pushed ones."""
        changes = self._read(SSI_CHANGES_TABLE, None)
        pushed = self.pushed(PUSHED_SSI_TABLE)
        return changes if pushed.empty else pd.concat([changes, pushed], ignore_index=True)

    @cached_property
    def _accounts(self) -> frozenset[str]:
        return frozenset(self._read(FACTS_TABLE, ["account_id"])["account_id"].unique())

    def known_accounts(self) -> frozenset[str]:
        """Accounts the build saw (read once: the event checks and pushes ask per batch)."""
        return self._accounts

    def known_instruments(self) -> pd.Index:
        return pd.Index(list(self._asset_class))

    def knows_counterparty(self, counterparty_id: Iterable[str]) -> np.ndarray:
        """Whether the build saw each counterparty (a new one is scored cold)."""
        return np.array([c in self._domicile for c in counterparty_id], dtype=bool)

    def counterparty_market(
        self, counterparty_id: Iterable[str], fallback: Iterable[str]
    ) -> np.ndarray:
        """Each counterparty's home market; ``fallback`` (the settlement market) if unknown."""
        home = self._domicile
        return np.array(
            [home.get(c, f) for c, f in zip(counterparty_id, fallback, strict=True)], dtype=object
        )

    def asset_class(self, instrument_id: Iterable[str]) -> np.ndarray:
        """Each instrument's asset class; for an instrument the build never saw, an empty key
        that joins to nothing (Feast needs a value for every key)."""
        names = self._asset_class
        return np.array([names.get(i, UNKNOWN_KEY) for i in instrument_id], dtype=object)
