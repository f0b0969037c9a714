"""The world zoo's cache of simulated worlds (benchmarks.generalisation): a world is taken from
the cache only once it was written whole."""

from __future__ import annotations

from pathlib import Path

import pytest

import benchmarks.generalisation as generalisation
from features.data.simulator import SimulationConfig
from features.data.simulator.zoo import ZooWorld

WORLD = ZooWorld("tiny", "a week of a few trades", SimulationConfig(days=5, trades_per_day=40))


def test_a_stopped_simulation_leaves_no_world_and_a_whole_one_is_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stopped(code: str, spec: Path, out: Path) -> dict:
        out.mkdir(parents=True)
        (out / "trades.parquet").write_bytes(b"")  # the first table, then the run stops
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(generalisation, "run_child", stopped)
        with pytest.raises(KeyboardInterrupt):
            generalisation._cached_world(WORLD, tmp_path)
    assert not any(p.name.startswith("tiny") for p in tmp_path.iterdir())

    world = generalisation._cached_world(WORLD, tmp_path)  # simulated again, whole
    tables = {p.name for p in world.iterdir()}
    assert {"trades.parquet", "events.parquet", "outcomes.parquet", "truth.parquet"} <= tables

    def never(*args: object) -> dict:
        raise AssertionError("a whole world is not simulated again")

    monkeypatch.setattr(generalisation, "run_child", never)
    assert generalisation._cached_world(WORLD, tmp_path) == world
