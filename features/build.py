"""`failcast features build`: raw dataset -> feature tables -> Feast registry -> online store."""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
from feast import FeatureStore

from core.catalogue import of_view
from core.errors import ContractError, Violation
from core.settings import Settings, get_settings
from features.compute import compute_feature_tables, dataset_facts
from features.data.atomic import write_parquet_files
from features.data.contract import TABLES, arrow_schema, dataset_digest, read_dataset
from features.data.sources.sec_ftd import SEC_FTD_TABLE, read_sec_ftd, sec_ftd_files
from features.reference import (
    FACTS_TABLE,
    HOLIDAYS_TABLE,
    MANIFEST,
    PUSHED_TABLES,
    SSI_CHANGES_TABLE,
    WARMUP_TABLE,
    WARMUP_TRADES,
    tables_dir,
)
from features.repo import VIEW_KEYS, VIEW_SCHEMAS, WATERMARK_VIEW, definitions
from features.repo.watermark import WATERMARK_KEY, WATERMARK_ROW
from features.store import check_stores, open_store, write_feature_store_yaml

__all__ = ["BuildReport", "build_features", "check_schemas", "materialize"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class BuildReport:
    data_dir: str
    tables_dir: str
    horizon: str
    horizon_us: int
    rows: dict[str, int]
    trades: int
    seconds: dict[str, float]
    sec_ftd: bool
    features: list[str]
    # the dataset_digest of the files read and validated: a later read of the same bytes
    # (training) need not check the contract's rules again
    validated_digest: str


def check_schemas(tables: dict[str, pd.DataFrame]) -> None:
    """Each computed table has exactly its view's features (plus keys and timestamp)."""
    problems = []
    for view, fields in VIEW_SCHEMAS.items():
        expected = {f.name for f in fields}
        found = set(tables[view].columns) - {"event_timestamp"}
        missing, extra = expected - found, found - expected
        if missing:
            problems.append(Violation(f"{view} table", f"missing features {sorted(missing)}"))
        keys = {c for c in extra if c.endswith("_id") or c in ("settlement_market", "asset_class")}
        if extra - keys:
            problems.append(
                Violation(f"{view} table", f"undeclared columns {sorted(extra - keys)}")
            )
    if problems:
        raise ContractError(problems)


def _sec_ftd(data_dir: Path, settings: Settings) -> pd.DataFrame | None:
    """The dataset's ingested SEC table, else the raw SEC files named by the settings."""
    ingested = data_dir / f"{SEC_FTD_TABLE}.parquet"
    if ingested.exists():
        return pd.read_parquet(ingested)
    if settings.sec_ftd_dir:
        return read_sec_ftd(sec_ftd_files(settings.sec_ftd_dir))
    return None


_ARROW_TYPES = {"float": pa.float64(), "int": pa.int64()}


def _arrow(view: str, frame: pd.DataFrame) -> pa.Table:
    """A feature table with explicit types, so that even an empty one joins on typed keys.
    Stamps are microsecond UTC: DuckDB 2 cannot cast nanosecond tz-aware ones in Feast's joins.
    """
    features = {f.name: _ARROW_TYPES[f.dtype] for f in of_view(view)}
    schema = pa.schema(
        [
            *[pa.field(k, pa.string()) for k in VIEW_KEYS[view]],
            pa.field("event_timestamp", pa.timestamp("us", tz="UTC")),
            *[pa.field(name, typ) for name, typ in features.items()],
        ]
    )
    frame = frame.assign(event_timestamp=frame["event_timestamp"].astype("datetime64[us, UTC]"))
    return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)


def _watermark(horizon: datetime) -> pa.Table:
    """The online store's watermark row: materialised up to ``horizon``, built now."""
    return pa.table(
        {
            WATERMARK_KEY: [WATERMARK_ROW],
            "event_timestamp": pa.array([horizon], pa.timestamp("us", tz="UTC")),
            "materialised_until_s": [horizon.timestamp()],
            "built_at_s": [datetime.now(UTC).timestamp()],
        }
    )


def materialize(store: FeatureStore, horizon: datetime) -> None:
    """Load the latest value of every view up to ``horizon`` into the online store."""
    with contextlib.redirect_stdout(io.StringIO()):  # Feast prints its own progress bars
        store.materialize(start_date=_EPOCH, end_date=horizon + timedelta(microseconds=1))


MATERIALIZE_REDIS_TIMEOUT_SECONDS = 30.0
"""How long a bulk write to Redis waits for each reply. Scoring's short timeout
(FAILCAST_REDIS_TIMEOUT_SECONDS) says within a request that Redis is down; a build writing a
whole feature table in pipelines on a busy machine must not fail for a reply that is slow."""


def _materializing(settings: Settings) -> Settings:
    """The settings a build writes to the online store with."""
    timeout = max(settings.redis_timeout_seconds, MATERIALIZE_REDIS_TIMEOUT_SECONDS)
    return settings.model_copy(update={"redis_timeout_seconds": timeout})


def build_features(
    data_dir: Path,
    settings: Settings | None = None,
    step: Callable[[str, float], None] = lambda name, fraction: None,
) -> BuildReport:
    """Compute every feature table from ``data_dir``, register the repo and materialise.

    Nothing is written until every table is computed and checked and the configured stores
    answer, so a bad dataset or an unreachable store leaves the feature tables, the registry
    and the online store as they were.
    """
    settings = settings or get_settings()
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    step("read dataset", 0.0)
    digest = dataset_digest(data_dir)  # before the read: bytes changed after it differ from it
    dataset = read_dataset(data_dir)
    sec_ftd = _sec_ftd(data_dir, settings)
    seconds["read"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    n_views = len(VIEW_SCHEMAS)
    done: list[str] = []

    def on_table(name: str) -> None:
        done.append(name)
        step(f"computed {name}", 0.1 + 0.6 * len(done) / n_views)

    facts = dataset_facts(dataset)
    tables = compute_feature_tables(dataset, facts, sec_ftd, on_table)
    check_schemas(tables)
    check_stores(settings)
    seconds["compute"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    step("write tables", 0.75)
    out = tables_dir(settings)
    files = {view: _arrow(view, frame) for view, frame in tables.items()}
    files[HOLIDAYS_TABLE] = pa.Table.from_pandas(
        dataset["holidays"], schema=arrow_schema(TABLES["holidays"]), preserve_index=False
    )
    files[FACTS_TABLE] = pa.Table.from_pandas(facts.to_frame(), preserve_index=False)
    files[SSI_CHANGES_TABLE] = pa.Table.from_pandas(
        dataset["ssi"][["counterparty_id", "valid_from_ts"]], preserve_index=False
    )
    horizon = pd.Timestamp(facts.horizon_us, unit="us", tz="UTC").to_pydatetime()
    files[WATERMARK_VIEW] = _watermark(horizon)
    warmup = dataset["trades"].sort_values("execution_ts", kind="stable").tail(WARMUP_TRADES)
    files[WARMUP_TABLE] = pa.Table.from_pandas(
        warmup, schema=arrow_schema(TABLES["trades"]), preserve_index=False
    )
    # A new build supersedes every push since the last one.
    write_parquet_files(files, out, remove=[f"{table}.parquet" for table in PUSHED_TABLES])
    seconds["write"] = time.perf_counter() - t2

    t3 = time.perf_counter()
    step("apply feature repo", 0.8)
    write_feature_store_yaml(settings)
    with open_store(_materializing(settings)) as store:
        store.apply([*definitions(out, settings.offline_store).objects()])
        step("materialize online", 0.85)
        materialize(store, horizon)
    seconds["apply_materialize"] = time.perf_counter() - t3
    seconds["total"] = time.perf_counter() - t0

    report = BuildReport(
        data_dir=str(data_dir.resolve()),
        tables_dir=str(out),
        horizon=horizon.isoformat(),
        horizon_us=facts.horizon_us,
        rows={view: len(frame) for view, frame in tables.items()},
        trades=len(dataset["trades"]),
        seconds={k: round(v, 2) for k, v in seconds.items()},
        sec_ftd=sec_ftd is not None,
        features=definitions(out).feature_names(),
        validated_digest=digest,
    )
    tmp = out / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(asdict(report), indent=2))
    tmp.replace(out / MANIFEST)
    step("done", 1.0)
    return report
