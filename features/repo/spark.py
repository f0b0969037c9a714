"""Feast's Spark offline store, made safe for failcast's point-in-time joins.

Two faults of the contrib store (feast 0.67) are closed here rather than worked around by
callers:

- **Time zone.** Spark reads and casts timestamps in its session time zone; with a JVM in any
  zone but UTC, rows on the edge of a feature's timestamp join wrongly. Every call here runs
  in a session forced to UTC, whatever session was active before.
- **Key collisions.** Feast identifies an entity row by concatenating its join keys and its
  timestamp with nothing in between, so keys ("D1", "2x") and ("D12", "x") of a two-key view
  read as one row and come back crossed and duplicated. The join template here puts a unit
  separator (``CHR(31)``) after every key; the data contract refuses control characters in
  identifiers, so no two key tuples concatenate alike.

Feast loads the class by its path (``offline_store.type`` in ``feature_store.yaml``), so the
template is swapped when the store is first used, never at import.
"""

from __future__ import annotations

from typing import Any

from feast.infra.offline_stores.contrib.spark_offline_store import spark as feast_spark
from feast.infra.offline_stores.offline_store import RetrievalJob
from feast.repo_config import RepoConfig
from pydantic import StrictStr
from pyspark.sql import SparkSession

from core.errors import ConfigError

__all__ = [
    "SESSION_CONF",
    "SPARK_STORE_TYPE",
    "SeparatedKeysSparkOfflineStore",
    "SeparatedKeysSparkOfflineStoreConfig",
    "separated_keys_template",
    "utc_session",
]

SPARK_STORE_TYPE = f"{__name__}.SeparatedKeysSparkOfflineStore"
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.ui.showConsoleProgress": "false",  # failcast shows its own progress
}
"""What every failcast Spark session is given whatever else is configured."""

_JOINED = "CAST({{entity}} AS STRING),"
_SEPARATED = "CAST({{entity}} AS STRING), CHR(31),"


def separated_keys_template(template: str) -> str:
    """Feast's point-in-time join template with a separator after every join key."""
    if _SEPARATED in template:
        return template
    if template.count(_JOINED) != 1:
        raise ConfigError(
            "feast's Spark point-in-time template no longer concatenates join keys as "
            f"{_JOINED!r}; check the key-collision guard in features/repo/spark.py against "
            "this feast version"
        )
    return template.replace(_JOINED, _SEPARATED)


def utc_session(conf: dict[str, str] | None) -> SparkSession:
    """The active Spark session (one started with ``conf`` when none is), in UTC."""
    session = SparkSession.getActiveSession()
    if session is None:
        builder = SparkSession.builder
        for key, value in {**(conf or {}), **SESSION_CONF}.items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
    session.conf.set("spark.sql.session.timeZone", "UTC")
    return session


class SeparatedKeysSparkOfflineStoreConfig(feast_spark.SparkOfflineStoreConfig):
    type: StrictStr = SPARK_STORE_TYPE


def _prepared(config: RepoConfig) -> None:
    utc_session(config.offline_store.spark_conf)
    feast_spark.MULTIPLE_FEATURE_VIEW_POINT_IN_TIME_JOIN = separated_keys_template(
        feast_spark.MULTIPLE_FEATURE_VIEW_POINT_IN_TIME_JOIN
    )


class SeparatedKeysSparkOfflineStore(feast_spark.SparkOfflineStore):
    """The contrib Spark store, in UTC and with join keys kept apart."""

    @staticmethod
    def get_historical_features(config: RepoConfig, *args: Any, **kwargs: Any) -> RetrievalJob:
        _prepared(config)
        return feast_spark.SparkOfflineStore.get_historical_features(config, *args, **kwargs)

    @staticmethod
    def pull_latest_from_table_or_query(
        config: RepoConfig, *args: Any, **kwargs: Any
    ) -> RetrievalJob:
        _prepared(config)
        return feast_spark.SparkOfflineStore.pull_latest_from_table_or_query(
            config, *args, **kwargs
        )

    @staticmethod
    def pull_all_from_table_or_query(config: RepoConfig, *args: Any, **kwargs: Any) -> RetrievalJob:
        _prepared(config)
        return feast_spark.SparkOfflineStore.pull_all_from_table_or_query(config, *args, **kwargs)
