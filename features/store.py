"""The Feast store, configured from settings: embedded files by default, Redis and a SQL
registry by configuration. Nothing else in the code knows which stores are in use."""

from __future__ import annotations

import warnings

from feast import FeatureStore, RepoConfig
from feast.repo_config import RegistryConfig

from features.settings import Settings, get_settings

__all__ = ["feature_store", "repo_config"]

# On-demand views are only "experimental" for large offline retrievals; we chunk those.
warnings.filterwarnings(
    "ignore", message="On demand feature view is an experimental feature", category=RuntimeWarning
)
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ibis\.")


def repo_config(settings: Settings) -> RepoConfig:
    home = settings.feature_dir
    if settings.registry_url:
        registry = RegistryConfig(
            registry_type="sql", path=settings.registry_url, cache_ttl_seconds=60
        )
    else:
        registry = RegistryConfig(path=str(home / "registry.db"), cache_ttl_seconds=60)
    if settings.online_store == "redis":
        online = {"type": "redis", "connection_string": settings.redis}
    else:
        online = {"type": "sqlite", "path": str(home / "online.db")}
    return RepoConfig(
        project=settings.feast_project,
        provider="local",
        registry=registry,
        online_store=online,
        offline_store={"type": "duckdb"},
        repo_path=home,
        entity_key_serialization_version=3,
    )


def feature_store(settings: Settings | None = None) -> FeatureStore:
    settings = settings or get_settings()
    settings.feature_dir.mkdir(parents=True, exist_ok=True)
    return FeatureStore(config=repo_config(settings))
