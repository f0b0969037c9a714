"""Shared fixtures: isolated settings, simulated worlds, the real SEC files."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.contract import Dataset
from features.settings import get_settings
from features.simulator import SimulationConfig, simulate

REPO = Path(__file__).resolve().parents[1]
SEC_DIR = REPO.parent / "shared" / "data" / "sec-fails-to-deliver"

# The calibration sample: the default world's mechanisms over a full year (so it spans the
# T+1 switch) at a quarter of its volume, enough for every target to be measured tightly.
CALIBRATION_WORLD = SimulationConfig(days=250, trades_per_day=1_000)
SMALL_WORLD = SimulationConfig(
    days=25, trades_per_day=300, n_counterparties=60, n_instruments=200, replicas=8
)


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every test gets its own project home and no inherited FAILCAST_* variables."""
    import os

    for name in list(os.environ):
        if name.startswith("FAILCAST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("FAILCAST_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def sec_dir() -> Path:
    if not any(SEC_DIR.glob("cnsfails*.txt")):
        pytest.skip(f"the real SEC fails-to-deliver files are not beside the checkout ({SEC_DIR})")
    return SEC_DIR


@pytest.fixture(scope="session")
def small_world() -> Dataset:
    return simulate(SMALL_WORLD)


@pytest.fixture(scope="session")
def calibration_world() -> Dataset:
    return simulate(CALIBRATION_WORLD)


@pytest.fixture()
def small_dir(tmp_path: Path, small_world: Dataset) -> Path:
    from features.contract import write_dataset

    return write_dataset(small_world, tmp_path / "world")
