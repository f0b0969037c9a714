"""What a simulated world looks like: size, seed, dates and the strengths of its mechanisms."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.data.simulator.params import Mechanisms

__all__ = ["SimulationConfig"]


class SimulationConfig(BaseModel):
    """Parameters of `failcast simulate`; the defaults are the project's default world."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    days: int = Field(250, ge=5, le=2_500, description="US business days of trading")
    trades_per_day: int = Field(4_000, ge=10, le=200_000, description="mean trades per day")
    seed: int = Field(7, ge=0, description="random seed; the same seed gives the same world")
    start: dt.date = Field(dt.date(2024, 1, 2), description="first trade date")
    t1_switch: dt.date | None = Field(
        dt.date(2024, 5, 28),
        description="date US and Canadian cash securities move from T+2 to T+1 (None: never)",
    )
    sec_ftd_dir: Path | None = Field(
        None, description="SEC fails-to-deliver files seeding the US equity universe"
    )
    n_counterparties: int = Field(400, ge=10, le=100_000)
    n_instruments: int = Field(3_000, ge=20, le=200_000)
    accounts_per_desk: int = Field(20, ge=1, le=1_000)
    mechanisms: Mechanisms = Field(
        default_factory=Mechanisms,
        description="the strengths of the planted mechanisms (default: the default world's)",
    )
    replicas: int = Field(
        32,
        ge=2,
        le=1_000,
        description="Monte Carlo replicas behind p_fail_at_execution and p_fail_at_isd_1",
    )

    @model_validator(mode="after")
    def _start_is_weekday(self) -> SimulationConfig:
        if self.start.weekday() >= 5:
            raise ValueError(f"start must be a weekday; got {self.start} ({self.start:%A})")
        return self
