"""The Feast store, configured from settings: embedded files by default, Redis and a SQL
registry by configuration. Nothing else in the code knows which stores are in use."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from feast import FeatureStore, RepoConfig

from core.errors import StoreUnavailable
from core.settings import Settings, get_settings, require_extra

__all__ = [
    "answering",
    "check_stores",
    "close_store",
    "feature_store",
    "online_store_name",
    "open_store",
    "repo_config",
    "repo_settings",
    "write_feature_store_yaml",
]


def check_stores(settings: Settings) -> None:
    """Fail early, before anything is written, when Redis or a SQL registry does not answer."""
    if settings.online_store == "redis":
        import redis

        host, _, rest = settings.redis.partition(":")
        port = int(rest.split(",")[0] or 6379)
        try:
            redis.Redis(host=host, port=port, socket_timeout=3).ping()
        except redis.exceptions.RedisError as exc:
            raise StoreUnavailable(
                f"Redis online store at {settings.redis} (FAILCAST_REDIS) does not answer: {exc}"
            ) from exc
    if settings.registry_url:
        import sqlalchemy

        engine = sqlalchemy.create_engine(settings.registry_url)
        try:
            engine.connect().close()
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise StoreUnavailable(
                f"SQL registry at {engine.url.render_as_string(hide_password=True)} "
                f"(FAILCAST_REGISTRY_URL) does not answer: {getattr(exc, 'orig', None) or exc}"
            ) from exc
        finally:
            engine.dispose()


def _redis_connection(settings: Settings) -> str:
    """``FAILCAST_REDIS`` with timeouts and no retries unless it sets its own: a Redis that
    does not answer is a 503 within a second, not a request hanging on redis-py's retries
    (three, backing off up to 10 s, by default)."""
    given = {part.split("=", 1)[0] for part in settings.redis.split(",") if "=" in part}
    timeout = settings.redis_timeout_seconds
    extra = {"socket_timeout": timeout, "socket_connect_timeout": timeout, "retry": "null"}
    return ",".join([settings.redis, *(f"{k}={v}" for k, v in extra.items() if k not in given)])


def online_store_name(store: FeatureStore) -> str:
    """The online store as a person on call needs it named (no password)."""
    config = store.config.online_store
    if config.type == "redis" or "redis" in str(config.type):
        nodes = [part for part in config.connection_string.split(",") if "=" not in part]
        return f"the Redis online store at {','.join(nodes)} (FAILCAST_REDIS)"
    return f"the SQLite online store at {config.path}"


def _unanswered(exc: BaseException) -> bool:
    """Whether the error says the online store did not answer (rather than a bug)."""
    if isinstance(exc, sqlite3.OperationalError):
        return True
    try:
        import redis
    except ImportError:  # pragma: no cover - redis comes with feast[redis]
        return False
    return isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError))


@contextmanager
def answering(store: FeatureStore) -> Iterator[None]:
    """Turn an online store that does not answer into ``StoreUnavailable`` naming it."""
    try:
        yield
    except Exception as exc:
        if _unanswered(exc):
            raise StoreUnavailable(f"{online_store_name(store)} does not answer: {exc}") from exc
        raise


def _offline_store(settings: Settings) -> dict[str, Any]:
    if settings.offline_store == "duckdb":
        from features.repo.asof import ASOF_STORE_TYPE

        return {"type": ASOF_STORE_TYPE}
    require_extra("pyspark", "FAILCAST_OFFLINE_STORE=spark")
    from features.repo.spark import SESSION_CONF, SPARK_STORE_TYPE

    conf = {**settings.spark_conf, "spark.master": settings.spark_master, **SESSION_CONF}
    return {"type": SPARK_STORE_TYPE, "spark_conf": conf}


def repo_settings(settings: Settings) -> dict[str, Any]:
    """The Feast repo configuration as ``feature_store.yaml`` would hold it."""
    home = settings.feature_dir
    registry: dict[str, Any]
    if settings.registry_url:
        registry = {"registry_type": "sql", "path": settings.registry_url, "cache_ttl_seconds": 60}
    else:
        registry = {
            "registry_type": "file",
            "path": str(home / "registry.db"),
            "cache_ttl_seconds": 60,
        }
    if settings.online_store == "redis":
        online = {"type": "redis", "connection_string": _redis_connection(settings)}
    else:
        online = {"type": "sqlite", "path": str(home / "online.db")}
    return {
        "project": settings.feast_project,
        "provider": "local",
        "registry": registry,
        "online_store": online,
        "offline_store": _offline_store(settings),
        "entity_key_serialization_version": 3,
    }


def repo_config(settings: Settings) -> RepoConfig:
    return RepoConfig(**repo_settings(settings), repo_path=settings.feature_dir)


def write_feature_store_yaml(settings: Settings) -> Path:
    """``feature_store.yaml`` in the feature home, so Feast's own tools (``feast -c DIR
    feature-views list``, ``feast -c DIR ui``) see the same stores."""
    path = settings.feature_dir / "feature_store.yaml"
    path.write_text(yaml.safe_dump(repo_settings(settings), sort_keys=False))
    return path


def feature_store(settings: Settings | None = None) -> FeatureStore:
    settings = settings or get_settings()
    settings.feature_dir.mkdir(parents=True, exist_ok=True)
    return FeatureStore(config=repo_config(settings))


def close_store(store: FeatureStore) -> None:
    """Release the SQL registry's connection pools (a file registry holds none)."""
    registry = store._registry  # only set once the registry was used
    for name in ("write_engine", "read_engine"):
        engine = getattr(registry, name, None)
        if engine is not None:
            engine.dispose()


@contextmanager
def open_store(settings: Settings | None = None) -> Iterator[FeatureStore]:
    """A feature store whose connections are released when the block ends."""
    store = feature_store(settings)
    try:
        yield store
    finally:
        close_store(store)
