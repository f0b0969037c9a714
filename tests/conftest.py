"""Shared fixtures: isolated settings, simulated worlds, the real SEC files."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from feast import FeatureStore

from core.settings import Settings, get_settings
from features.data.contract import Dataset
from features.data.simulator import SimulationConfig, simulate
from training.train import TrainConfig, TrainResult

REPO = Path(__file__).resolve().parents[1]
SEC_DIR = REPO.parent / "shared" / "data" / "sec-fails-to-deliver"

# The calibration sample: the default world's mechanisms over a full year (so it spans the
# T+1 switch) at a quarter of its volume, enough for every target to be measured tightly.
CALIBRATION_WORLD = SimulationConfig(days=250, trades_per_day=1_000)
# Long enough for a train | valid | calib | test split by trade date, small enough to train fast.
TRAINING_WORLD = SimulationConfig(
    days=70, trades_per_day=300, n_counterparties=80, n_instruments=300, replicas=8
)
SMALL_WORLD = SimulationConfig(
    days=25, trades_per_day=300, n_counterparties=60, n_instruments=200, replicas=8
)


HEAVY_FIRST = ("e2e", "model", "data", "code")
"""Test directories in the order their files are handed to the workers (``make test`` runs
``--dist loadfile --no-loadscope-reorder``): the few files that start services and train
models first, the many short ones last, where they even out the two workers' ends. xdist's
own order, by number of tests per file, left the one-test files that run the demo or drive the
queue page in a browser to the end, where one worker ran them while the other waited."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests = REPO / "tests"

    def rank(item: pytest.Item) -> int:
        inside = item.path.relative_to(tests).parts if item.path.is_relative_to(tests) else ()
        folder = inside[0] if inside else ""
        return HEAVY_FIRST.index(folder) if folder in HEAVY_FIRST else len(HEAVY_FIRST)

    items.sort(key=rank)  # stable: each directory's files and tests keep their order


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
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
    from features.data.contract import write_dataset

    return write_dataset(small_world, tmp_path / "world")


@dataclass(frozen=True)
class FeatureBuild:
    """A feature store built from a dataset directory, with its own home and Feast project."""

    settings: Settings
    data_dir: Path

    @property
    def store(self) -> FeatureStore:
        from features.store import feature_store

        return feature_store(self.settings)

    @property
    def reference(self):
        from features.reference import Reference

        return Reference.load(self.settings)


def build_store(data_dir: Path, home: Path, **settings: Any) -> FeatureBuild:
    """Build features from ``data_dir`` into ``home`` under a project name no other test uses."""
    from features.build import build_features

    config = Settings(home=home, feast_project=f"t{uuid.uuid4().hex[:12]}", **settings)
    build_features(data_dir, config)
    return FeatureBuild(config, data_dir)


@pytest.fixture(scope="session")
def small_build(tmp_path_factory: pytest.TempPathFactory, small_world: Dataset) -> FeatureBuild:
    """The small world's features in the embedded stores (file registry, SQLite online)."""
    from features.data.contract import write_dataset

    root = tmp_path_factory.mktemp("small_build")
    return build_store(write_dataset(small_world, root / "world"), root / "home")


@pytest.fixture(scope="session")
def training_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from features.data.contract import write_dataset

    return write_dataset(simulate(TRAINING_WORLD), tmp_path_factory.mktemp("training") / "world")


TRAINING_SPLIT = TrainConfig(test_days=14, calib_days=7, valid_days=7)
"""Trade dates per slice for the training world: two test weeks, one each to stop and to
calibrate."""


def trained_home(factory: pytest.TempPathFactory, training_dir: Path, name: str) -> Settings:
    """A project home of its own (and Feast project) with a champion trained on the training
    world: what a module testing the service needs."""
    from training.train import train

    root = factory.mktemp(name)
    settings = Settings(home=root, feast_project=f"{name}_" + root.name[-8:].replace("-", "_"))
    train(training_dir, settings, TRAINING_SPLIT)
    return settings


@pytest.fixture()
def postgres_url():
    """A database of this test's own on the real PostgreSQL server (SQLAlchemy URL), dropped
    afterwards; the test skips, saying why, when no server answers."""
    import uuid

    import psycopg  # installed with feast[postgres], a dependency: its absence is a failure

    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    name = f"failcast_test_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server at 127.0.0.1:5432 ({exc})")
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class Trained:
    """A project home with a champion trained on the training world, and how it went."""

    settings: Settings
    result: TrainResult


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, training_dir: Path) -> Trained:
    """The training world's champion, trained once per test process."""
    from training.train import train

    home = tmp_path_factory.mktemp("trained")
    settings = Settings(home=home, feast_project="t" + home.name.replace("-", "_")[-20:])
    return Trained(settings, train(training_dir, settings, TRAINING_SPLIT))


def use_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the environment (and so the CLI, or a notebook's kernel) at these settings."""
    monkeypatch.setenv("FAILCAST_HOME", str(settings.home))
    monkeypatch.setenv("FAILCAST_FEAST_PROJECT", settings.feast_project)
    get_settings.cache_clear()
