"""Point-in-time retrieval as one Spark job: entity rows staged as Parquet, joined by Feast's
Spark offline store on the cluster, the result written as Parquet by Spark and read back in
batches — nothing of the size of the training set is collected to the driver.

The staging directory must be one the cluster's executors and this process both see (the
feature home on a shared file system, as the feature tables are).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
from feast import FeatureStore

__all__ = ["ROW", "on_spark", "spark_point_in_time"]

ROW = "_row"
"""The entity row's position, carried through the join to put each result back in place."""


def on_spark(store: FeatureStore) -> bool:
    """Whether ``store`` retrieves through Spark."""
    from features.repo.spark import SPARK_STORE_TYPE

    return str(store.config.offline_store.type) == SPARK_STORE_TYPE


def spark_point_in_time(
    store: FeatureStore,
    refs: list[str],
    entities: Iterable[pd.DataFrame],
    staging: Path,
    batch_rows: int,
) -> Iterator[pa.RecordBatch]:
    """The stored features ``refs`` for every entity row of ``entities`` (frames holding
    ``ROW``, the join keys, ``event_timestamp`` and any request columns), in batches of at
    most ``batch_rows`` rows in no particular order; the staged files are removed after."""
    from features.repo.spark import utc_session

    job_dir = staging / f"pit-{uuid.uuid4().hex[:12]}"
    entity_dir, result_dir = job_dir / "entities", job_dir / "features"
    entity_dir.mkdir(parents=True)
    try:
        written = 0
        for part, frame in enumerate(entities):
            table = pa.Table.from_pandas(frame, preserve_index=False)
            # Spark reads microsecond stamps only; scoring instants are whole microseconds
            pq.write_table(table, entity_dir / f"part-{part:05d}.parquet", coerce_timestamps="us")
            written += len(frame)
        if not written:
            return
        session = utc_session(store.config.offline_store.spark_conf)
        entity_df = session.read.parquet(str(entity_dir))
        # feast types entity_df as pandas or SQL; its Spark store takes a Spark DataFrame
        job = store.get_historical_features(entity_df=entity_df, features=refs)  # type: ignore[arg-type]
        job.to_spark_df().write.parquet(str(result_dir))  # type: ignore[attr-defined]
        yield from pads.dataset(result_dir, format="parquet").to_batches(batch_size=batch_rows)
    finally:
        shutil.rmtree(job_dir, ignore_errors=True)
