"""The feature store as configured: Redis and a PostgreSQL registry by settings, pushes,
and bad input that is refused without changing any store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import ContractError
from core.settings import Settings
from features.data.contract import dataset_digest, read_dataset, write_dataset
from features.push import push_outcomes, push_positions
from features.reference import MANIFEST, tables_dir
from features.retrieval import online_features, training_frame
from features.store import open_store
from tests.conftest import FeatureBuild, build_store

REDIS = "127.0.0.1:6379"


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_timeout=1).ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"no Redis server at {REDIS} ({exc})")


def _last_trades(build: FeatureBuild, n: int = 40) -> pd.DataFrame:
    return read_dataset(build.data_dir, ["trades", "instruments", "counterparties"])["trades"].tail(
        n
    )


def _online(build: FeatureBuild, trades: pd.DataFrame) -> pd.DataFrame:
    horizon = int(build.reference.manifest["horizon_us"])
    return online_features(build.store, build.reference, trades, np.full(len(trades), horizon))


def _served(build: FeatureBuild, trades: pd.DataFrame) -> pd.DataFrame:
    """The serving path's vectors (``serving.scoring.online_read`` under them) for ``trades``."""
    from serving.api.client import trade_records
    from serving.scoring.schemas import Trade, columns_of
    from serving.scoring.vectors import ServingFeatures

    horizon = int(build.reference.manifest["horizon_us"])
    columns, lifecycle = columns_of([Trade(**r) for r in trade_records(trades)])
    vectors = ServingFeatures(build.store, build.reference)(
        columns, lifecycle, np.full(len(trades), horizon)
    )
    return pd.DataFrame(vectors.matrix, columns=vectors.names, index=trades.index)


def _assert_serving_reads_what_feast_serves(build: FeatureBuild) -> None:
    trades = _last_trades(build)
    trades = pd.concat([trades, trades.head(3)])  # keys repeated within a batch
    trades.iloc[-1, trades.columns.get_loc("counterparty_id")] = "CP-NEVER-SEEN"
    served, online = _served(build, trades), _online(build, trades)
    assert served.notna().sum().sum() > 0.8 * served.size  # the stores were read
    assert served.iloc[-1].isna().any() and not served.iloc[-2].isna().all()
    np.testing.assert_allclose(served, online[served.columns].astype(float), rtol=0, atol=0)


def test_serving_reads_what_feast_serves_from_sqlite(
    small_build: FeatureBuild, monkeypatch: pytest.MonkeyPatch
) -> None:
    _assert_serving_reads_what_feast_serves(small_build)
    # a batch whose keys need several statements (SQLite bounds the parameters of one)
    monkeypatch.setattr("serving.scoring.online_read._KEYS_PER_STATEMENT", 7)
    _assert_serving_reads_what_feast_serves(small_build)


def test_redis_online_store_serves_what_sqlite_serves(
    tmp_path: Path, small_build: FeatureBuild
) -> None:
    _redis_or_skip()
    redis_build = build_store(
        small_build.data_dir, tmp_path / "home", online_store="redis", redis=REDIS
    )
    assert redis_build.store.config.online_store.type == "redis"
    trades = _last_trades(small_build)
    pd.testing.assert_frame_equal(_online(redis_build, trades), _online(small_build, trades))
    _assert_serving_reads_what_feast_serves(redis_build)
    redis_build.store.teardown()  # remove this test's keys from the shared server


def test_sql_registry_holds_the_repo(
    tmp_path: Path, small_build: FeatureBuild, postgres_url: str
) -> None:
    sql_build = build_store(small_build.data_dir, tmp_path / "home", registry_url=postgres_url)
    with open_store(sql_build.settings) as store:
        assert not (sql_build.settings.feature_dir / "registry.db").exists()
        assert {s.name for s in store.list_feature_services()} == {"fail_model_v1"}
        trades = _last_trades(small_build)
        horizon = np.full(len(trades), int(sql_build.reference.manifest["horizon_us"]))
        got = online_features(store, sql_build.reference, trades, horizon)
        pd.testing.assert_frame_equal(got, _online(small_build, trades))
        store.registry.delete_project(sql_build.settings.feast_project, commit=True)


def test_pushed_outcomes_refresh_counterparty_and_account_features_as_a_build_would(
    tmp_path: Path, small_build: FeatureBuild
) -> None:
    dataset = read_dataset(small_build.data_dir)
    outcomes = dataset["outcomes"]
    last = outcomes["known_ts"].max()
    arriving = outcomes.loc[outcomes["known_ts"] == last]
    earlier = write_dataset(
        dict(dataset, outcomes=outcomes.loc[outcomes["known_ts"] < last]), tmp_path / "w"
    )
    build = build_store(earlier, tmp_path / "home")

    pushed = push_outcomes(build.store, build.reference, arriving)
    assert set(pushed) == {"counterparty_history", "account_history"}
    arrived = dataset["trades"].set_index("trade_id").loc[arriving["trade_id"]]
    for view, key in (
        ("counterparty_history", "counterparty_id"),
        ("account_history", "account_id"),
    ):
        assert set(pushed[view][key]) == set(arrived[key]), view

        # The full build's row for each key at that instant is what the push produced.
        full = pd.read_parquet(tables_dir(small_build.settings) / f"{view}.parquet")
        full = full.loc[full["event_timestamp"] == last].set_index(key)
        refs = [f"{view}:{c}" for c in full.columns if c != "event_timestamp"]
        rows = [{key: k} for k in pushed[view][key]]
        online = pd.DataFrame(
            build.store.get_online_features(features=refs, entity_rows=rows).to_dict()
        )
        online = online.set_index(key)[full.columns.drop("event_timestamp")]
        expected = full.loc[online.index, online.columns]
        pd.testing.assert_frame_equal(online, expected, check_dtype=False, obj=view)


def _cpty_online(build: FeatureBuild, counterparty: str) -> dict:
    return build.store.get_online_features(
        features=["counterparty_history:cpty_fail_rate_7d", "position:available_qty"],
        entity_rows=[{"counterparty_id": counterparty, "account_id": "x", "instrument_id": "y"}],
    ).to_dict()


def test_a_push_for_an_unknown_trade_is_refused_and_changes_nothing(
    tmp_path: Path, small_world
) -> None:
    build = build_store(write_dataset(small_world, tmp_path / "w"), tmp_path / "home")
    outcomes = small_world["outcomes"].tail(3).copy()
    outcomes.loc[outcomes.index[0], "trade_id"] = "T-NOT-BOOKED"
    counterparty = small_world["trades"]["counterparty_id"].iloc[-1]
    before = _cpty_online(build, counterparty)
    with pytest.raises(ContractError, match="1 unknown trade_id: T-NOT-BOOKED"):
        push_outcomes(build.store, build.reference, outcomes)
    bad = small_world["outcomes"].tail(2).assign(status="LOST")
    with pytest.raises(ContractError, match="status"):
        push_outcomes(build.store, build.reference, bad)
    assert _cpty_online(build, counterparty) == before
    assert build.reference.pushed_outcomes().empty


def test_a_position_push_for_an_unknown_account_is_refused(
    small_build: FeatureBuild, small_world
) -> None:
    snapshot = small_world["inventory"].tail(1).assign(account_id="ACC-NOBODY")
    with pytest.raises(ContractError, match="unknown account_id: ACC-NOBODY"):
        push_positions(small_build.store, small_build.reference, snapshot)


def test_a_position_push_is_served_online(tmp_path: Path, small_world) -> None:
    """Through Feast, and through the serving reader that remembered the old value."""
    from features.retrieval import ServiceParts
    from serving.scoring.online_read import StoredReader

    build = build_store(write_dataset(small_world, tmp_path / "w"), tmp_path / "home")
    snapshot = small_world["inventory"].tail(1).copy()
    snapshot["as_of_ts"] = snapshot["as_of_ts"] + pd.Timedelta(hours=1)
    snapshot["available_qty"] = 12_345.0
    row = snapshot.iloc[0]
    keys = {k: [row[k]] for k in ("account_id", "instrument_id")}
    entity_rows = {k: ["?"] for k in ("counterparty_id", "desk_id", "settlement_market")}
    entity_rows |= {"asset_class": ["?"], **keys}
    reader = StoredReader(build.store, ServiceParts(build.store).views)
    before = reader(entity_rows, 1)["available_qty"][0]
    assert reader(entity_rows, 1)["available_qty"][0] == before  # now from memory

    push_positions(build.store, build.reference, snapshot)
    got = build.store.get_online_features(
        features=["position:available_qty"],
        entity_rows=[{"account_id": row["account_id"], "instrument_id": row["instrument_id"]}],
    ).to_dict()
    assert got["available_qty"] == [12_345.0] != [before]
    assert reader(entity_rows, 1)["available_qty"][0] == 12_345.0


def test_a_dataset_missing_a_table_leaves_the_stores_as_they_were(
    tmp_path: Path, small_world
) -> None:
    data = write_dataset(small_world, tmp_path / "w")
    build = build_store(data, tmp_path / "home")
    manifest = (tables_dir(build.settings) / MANIFEST).read_text()
    counterparty = small_world["trades"]["counterparty_id"].iloc[-1]
    before = _cpty_online(build, counterparty)

    broken = tmp_path / "broken"
    shutil.copytree(data, broken)
    (broken / "outcomes.parquet").unlink()
    from features.build import build_features

    with pytest.raises(ContractError, match=r"outcomes\.parquet: features need this table"):
        build_features(broken, build.settings)
    assert (tables_dir(build.settings) / MANIFEST).read_text() == manifest
    assert _cpty_online(build, counterparty) == before


def test_a_missing_feature_table_is_named(tmp_path: Path, small_world) -> None:
    build = build_store(write_dataset(small_world, tmp_path / "w"), tmp_path / "home")
    (tables_dir(build.settings) / "instrument_history.parquet").unlink()
    with pytest.raises(
        ContractError, match=r"instrument_history\.parquet: feature table is missing"
    ):
        training_frame(build.store, build.reference, read_dataset(build.data_dir))


def test_retrieval_before_any_build_says_what_to_do(tmp_path: Path) -> None:
    from features.reference import Reference

    with pytest.raises(ContractError, match="run `failcast features build"):
        Reference.load(Settings(home=tmp_path))


def test_manifest_records_the_build(small_build: FeatureBuild) -> None:
    manifest = json.loads((tables_dir(small_build.settings) / MANIFEST).read_text())
    assert manifest["rows"]["counterparty_history"] > 0
    assert manifest["trades"] > 0
    # the digest of the bytes the build validated, for training to read them unchecked
    assert manifest["validated_digest"] == dataset_digest(small_build.data_dir)
    assert pd.Timestamp(manifest["horizon"]) == pd.Timestamp(
        manifest["horizon_us"], unit="us", tz="UTC"
    )


def test_sec_fails_to_deliver_become_instrument_features_when_published(
    tmp_path: Path, sec_dir: Path
) -> None:
    from features.compute.reference import SEC_FTD_PUBLICATION_LAG_DAYS
    from features.data.simulator import simulate
    from features.data.sources.sec_ftd import read_sec_ftd
    from tests.conftest import SMALL_WORLD

    world = simulate(SMALL_WORLD.model_copy(update={"sec_ftd_dir": sec_dir}))
    build = build_store(
        write_dataset(world, tmp_path / "w"), tmp_path / "home", sec_ftd_dir=sec_dir
    )
    ftd = pd.read_parquet(tables_dir(build.settings) / "instrument_ftd.parquet")
    assert ftd["instrument_id"].str.startswith("US").all() and len(ftd) > 0

    # One security, brute force: its balance value at the end of each half month, published
    # SEC_FTD_PUBLICATION_LAG_DAYS later (never before the data could have been known).
    raw = read_sec_ftd(sec_dir)
    instrument = ftd.loc[ftd["ftd_fails_value"] > 0, "instrument_id"].iloc[0]
    mine = raw.loc[raw["cusip"] == instrument[2:11]].sort_values("settlement_date")
    rows = ftd.loc[ftd["instrument_id"] == instrument].sort_values("event_timestamp")
    for _, row in rows.iterrows():
        period_end = (
            row["event_timestamp"] - pd.Timedelta(days=SEC_FTD_PUBLICATION_LAG_DAYS + 1)
        ).date()
        start = period_end.replace(day=1) if period_end.day <= 15 else period_end.replace(day=16)
        in_period = mine.loc[
            (mine["settlement_date"] >= pd.Timestamp(start))
            & (mine["settlement_date"] <= pd.Timestamp(period_end))
        ]
        want = in_period["fails_value"].iloc[-1] if len(in_period) else 0.0
        assert row["ftd_fails_value"] == pytest.approx(want)
        recent = mine["settlement_date"].between(
            pd.Timestamp(period_end) - pd.Timedelta(days=89), pd.Timestamp(period_end)
        )
        assert row["ftd_days_on_list_90d"] == recent.sum()

    # The simulated trades come after every publication, so the features are present online.
    trades = world["trades"].loc[world["trades"]["instrument_id"] == instrument].tail(1)
    assert _online(build, trades)["ftd_days_on_list_90d"].iloc[0] > 0


def test_an_unreachable_redis_is_named_before_anything_is_written(
    tmp_path: Path, small_build: FeatureBuild
) -> None:
    from core.errors import StoreUnavailable
    from features.build import build_features

    settings = Settings(home=tmp_path / "home", online_store="redis", redis="127.0.0.1:1")
    with pytest.raises(
        StoreUnavailable, match=r"Redis online store at 127\.0\.0\.1:1 \(FAILCAST_REDIS\)"
    ):
        build_features(small_build.data_dir, settings)
    assert not tables_dir(settings).exists()


def test_a_cancellation_is_recorded_but_moves_no_rate(tmp_path: Path, small_world) -> None:
    build = build_store(write_dataset(small_world, tmp_path / "w"), tmp_path / "home")
    cancelled = (
        small_world["outcomes"]
        .tail(1)
        .assign(status="CANCELLED", settled_ts=pd.NaT, fail_reason=None, days_late=0)
    )
    counterparty = small_world["trades"]["counterparty_id"].iloc[-1]
    before = _cpty_online(build, counterparty)
    assert push_outcomes(build.store, build.reference, cancelled) == {}
    assert _cpty_online(build, counterparty) == before
    assert list(build.reference.pushed_outcomes()["trade_id"]) == list(cancelled["trade_id"])


def test_the_watermark_read_follows_a_change_of_the_sqlite_store(
    tmp_path: Path, small_dir: Path
) -> None:
    """The watermark is remembered until the database changes: a watermark deleted by
    another connection (an emptied store) is seen on the next read."""
    import sqlite3

    from features.repo import WATERMARK_VIEW
    from serving.scoring.watermark import OnlineWatermark

    build = build_store(small_dir, tmp_path / "home")
    store = build.store
    watermark = OnlineWatermark(store, [store.get_feature_view(WATERMARK_VIEW)])
    first = watermark.read()
    assert first is not None and watermark.read() == first  # the second from memory
    with sqlite3.connect(build.settings.feature_dir / "online.db") as other:
        other.execute(f'DELETE FROM "{build.settings.feast_project}_{WATERMARK_VIEW}"')
    assert watermark.read() is None
