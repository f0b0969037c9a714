"""The embedded offline store's ASOF point-in-time join (features/repo/asof.py) gives Feast's
own DuckDB store's answers, and both give an independent brute-force reference's: rows on the
entity's exact timestamp, on the exact edge of a TTL, stale, missing keys, two-key views,
renamed source columns, microsecond timestamps. What the ASOF join does not cover is handed to
Feast's implementation, not answered differently."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, RepoConfig, ValueType
from feast.types import Float64

from core.settings import Settings
from features.repo.asof import ASOF_STORE_TYPE, AsofRetrievalJob
from features.store import repo_settings

TTL = timedelta(days=1)  # whole days: feast 0.67's own join refuses a TTL of mixed units
START = pd.Timestamp("2026-01-05", tz="UTC")
DESKS, CPTYS = ["D1", "D12", "D2"], ["x", "2x", "C3", "C4"]
FEATURES = ["pair:value", "pair:count", "cpty:score"]


def _stamps(rng: np.random.Generator, n: int) -> pd.Series:
    micros = rng.integers(0, 10 * 86_400_000_000, n)
    return pd.Series(START + pd.to_timedelta(micros, unit="us"))


def _tables(root: Path, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = 400
    pair = pd.DataFrame(
        {
            "desk_id": rng.choice(DESKS, n),
            "counterparty_id": rng.choice(CPTYS[:3], n),  # C4 has no pair rows
            "event_timestamp": _stamps(rng, n),
            "value": rng.normal(size=n),
            "count": rng.integers(0, 100, n).astype(float),
        }
    ).drop_duplicates(["desk_id", "counterparty_id", "event_timestamp"])
    pair["created"] = pair["event_timestamp"]
    cpty = pd.DataFrame(
        {
            "cp": rng.choice(CPTYS, 60),  # renamed to counterparty_id by the source
            "ts": _stamps(rng, 60),
            "raw_score": rng.normal(size=60),
        }
    ).drop_duplicates(["cp", "ts"])
    root.mkdir(parents=True, exist_ok=True)
    pair.to_parquet(root / "pair.parquet")
    cpty.to_parquet(root / "cpty.parquet")
    return pair, cpty


def _store(root: Path, offline_store: dict[str, Any], created: bool = False) -> FeatureStore:
    desk = Entity(name="desk", join_keys=["desk_id"], value_type=ValueType.STRING)
    cp = Entity(name="cp", join_keys=["counterparty_id"], value_type=ValueType.STRING)
    pair = FeatureView(
        name="pair",
        entities=[desk, cp],
        ttl=TTL,
        schema=[Field(name="value", dtype=Float64), Field(name="count", dtype=Float64)],
        source=FileSource(
            name="pairs",
            path=str(root / "pair.parquet"),
            timestamp_field="event_timestamp",
            created_timestamp_column="created" if created else "",
        ),
    )
    cpty = FeatureView(
        name="cpty",
        entities=[cp],
        ttl=timedelta(0),  # never expires
        schema=[Field(name="score", dtype=Float64)],
        source=FileSource(
            name="cptys",
            path=str(root / "cpty.parquet"),
            timestamp_field="ts",
            field_mapping={"cp": "counterparty_id", "raw_score": "score"},
        ),
    )
    store = FeatureStore(
        config=RepoConfig(
            project=f"a{uuid.uuid4().hex[:8]}",
            provider="local",
            registry=str(root / f"registry-{uuid.uuid4().hex[:6]}.db"),
            online_store={"type": "sqlite", "path": str(root / "online.db")},
            offline_store=offline_store,
            entity_key_serialization_version=3,
            repo_path=root,
        )
    )
    store.apply([desk, cp, pair, cpty])
    return store


def _entities(rng: np.random.Generator, pair: pd.DataFrame, n: int = 1_500) -> pd.DataFrame:
    entities = pd.DataFrame(
        {
            "desk_id": rng.choice([*DESKS, "D9"], n),  # D9 has no rows at all
            "counterparty_id": rng.choice(CPTYS, n),
            "event_timestamp": _stamps(rng, n),
        }
    )
    # rows on a feature row's own instant, and on the exact edge of its TTL
    on = pair.sample(100, random_state=1)
    exact = on[["desk_id", "counterparty_id", "event_timestamp"]]
    edge = exact.assign(event_timestamp=exact["event_timestamp"] + TTL)
    past = exact.assign(event_timestamp=exact["event_timestamp"] + TTL + pd.Timedelta(1, "us"))
    return pd.concat([entities, exact, edge, past], ignore_index=True)


def _brute_force(entities: pd.DataFrame, pair: pd.DataFrame, cpty: pd.DataFrame) -> pd.DataFrame:
    """The definition, row by row: the newest row of the key at or before the entity's
    instant, kept only within the TTL."""
    out = []
    for row in entities.itertuples(index=False):
        ts = row.event_timestamp
        p = pair[
            (pair["desk_id"] == row.desk_id)
            & (pair["counterparty_id"] == row.counterparty_id)
            & (pair["event_timestamp"] <= ts)
            & (pair["event_timestamp"] >= ts - TTL)
        ]
        c = cpty[(cpty["cp"] == row.counterparty_id) & (cpty["ts"] <= ts)]
        newest = p.loc[p["event_timestamp"].idxmax()] if len(p) else None
        out.append(
            {
                "value": np.nan if newest is None else newest["value"],
                "count": np.nan if newest is None else newest["count"],
                "score": c.loc[c["ts"].idxmax(), "raw_score"] if len(c) else np.nan,
            }
        )
    return pd.DataFrame(out)


def _answer(store: FeatureStore, entities: pd.DataFrame) -> pd.DataFrame:
    got = store.get_historical_features(
        entity_df=entities.assign(_row=np.arange(len(entities))), features=FEATURES
    ).to_df()
    got = got.sort_values("_row").reset_index(drop=True)
    return got[["value", "count", "score"]].astype(float)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("asof")
    rng = np.random.default_rng(7)
    pair, cpty = _tables(root, rng)
    entities = _entities(rng, pair)
    return {"root": root, "pair": pair, "cpty": cpty, "entities": entities}


def test_the_embedded_configuration_names_the_asof_store(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    assert repo_settings(settings)["offline_store"] == {"type": ASOF_STORE_TYPE}


def test_asof_answers_what_feast_and_the_definition_answer(world: dict[str, Any]) -> None:
    root, entities = world["root"], world["entities"]
    asof = _store(root, {"type": ASOF_STORE_TYPE})
    job = asof.get_historical_features(entity_df=entities, features=FEATURES)
    assert isinstance(job, AsofRetrievalJob)  # the ASOF join answered, not the fallback
    got = _answer(asof, entities)
    feast = _answer(_store(root, {"type": "duckdb"}), entities)
    truth = _brute_force(entities, world["pair"], world["cpty"])
    pd.testing.assert_frame_equal(got, truth, check_dtype=False)
    pd.testing.assert_frame_equal(got, feast, check_dtype=False)
    # the cases the test is for all occur: found, expired at the edge, never there
    assert got["value"].notna().sum() > 100 and got["value"].isna().sum() > 100
    assert got["score"].notna().any() and got["score"].isna().any()
    n = len(entities)
    assert got["value"].iloc[n - 300 : n - 100].notna().all()  # on the instant and the edge
    assert got["value"].iloc[n - 100 :].isna().any()  # a microsecond past the edge


def test_rows_come_back_in_entity_order_with_the_entity_columns(world: dict[str, Any]) -> None:
    entities = world["entities"].iloc[::-1].reset_index(drop=True)
    got = (
        _store(world["root"], {"type": ASOF_STORE_TYPE})
        .get_historical_features(entity_df=entities, features=FEATURES)
        .to_df()
    )
    pd.testing.assert_frame_equal(got[list(entities.columns)], entities)


def test_naive_and_string_timestamps_are_read_as_utc(world: dict[str, Any]) -> None:
    store = _store(world["root"], {"type": ASOF_STORE_TYPE})
    entities = world["entities"]
    zoned = _answer(store, entities)
    naive = entities.assign(event_timestamp=entities["event_timestamp"].dt.tz_localize(None))
    text = entities.assign(event_timestamp=entities["event_timestamp"].astype(str))
    pd.testing.assert_frame_equal(_answer(store, naive), zoned)
    pd.testing.assert_frame_equal(_answer(store, text), zoned)


def test_full_feature_names_prefix_the_view(world: dict[str, Any]) -> None:
    store = _store(world["root"], {"type": ASOF_STORE_TYPE})
    got = store.get_historical_features(
        entity_df=world["entities"], features=FEATURES, full_feature_names=True
    ).to_df()
    assert {"pair__value", "pair__count", "cpty__score"} <= set(got.columns)


def test_a_source_it_does_not_cover_is_answered_by_feast(world: dict[str, Any]) -> None:
    """A created-timestamp column breaks ties in Feast's join; the ASOF join hands the call
    to Feast's implementation rather than answer without it."""
    store = _store(world["root"], {"type": ASOF_STORE_TYPE}, created=True)
    entities = world["entities"]
    job = store.get_historical_features(entity_df=entities, features=FEATURES)
    assert not isinstance(job, AsofRetrievalJob)
    pd.testing.assert_frame_equal(
        _answer(store, entities), _brute_force(entities, world["pair"], world["cpty"])
    )
