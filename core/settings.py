"""One typed settings object: environment variables over a project home directory."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError

__all__ = ["OfflineStore", "Settings", "get_settings", "require_extra"]

OfflineStore = Literal["duckdb", "spark"]
"""Feast offline stores failcast runs on: DuckDB in process, or Spark."""


class Settings(BaseSettings):
    """failcast configuration; every field can be set as ``FAILCAST_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="FAILCAST_", extra="forbid")

    home: Path = Field(
        default=Path("~/.failcast"),
        description="Project home: datasets, stores, registries and reports live below it.",
    )
    sec_ftd_dir: Path | None = Field(
        default=None,
        description="Directory of SEC fails-to-deliver files used to seed the US equity universe.",
    )
    feast_project: str = Field(
        default="failcast",
        pattern=r"^[A-Za-z][A-Za-z0-9_]*$",
        description="Feast project name; it namespaces keys in a shared online store.",
    )
    online_store: Literal["sqlite", "redis"] = Field(
        default="sqlite",
        description="Feast online store: an embedded SQLite file, or Redis at `redis`.",
    )
    redis: str = Field(
        default="127.0.0.1:6379",
        description="Redis connection string in Feast's form (host:port[,db=N][,password=...]).",
    )
    redis_timeout_seconds: float = Field(
        default=0.25,
        gt=0,
        le=30,
        description="How long a Redis call may take before the online store counts as down "
        "(connect and each reply; no retries): scoring then answers 503 at once.",
    )
    offline_store: OfflineStore = Field(
        default="duckdb",
        description="Feast offline store for point-in-time retrieval and materialisation: "
        "DuckDB in process, or Spark at `spark_master` (the feature tables read as Spark "
        "sources, the session in UTC).",
    )
    spark_master: str = Field(
        default="local[2]",
        description="Spark master URL when offline_store is spark (local[N], spark://host:port, "
        "yarn, k8s://...).",
    )
    spark_conf: dict[str, str] = Field(
        default_factory=dict,
        description="More Spark configuration as JSON (executor memory, a warehouse, ...); "
        "the session time zone is UTC whatever it says.",
    )
    train_engine: Literal["local", "dask"] = Field(
        default="local",
        description="Where `failcast train` boosts the fail model: in this process, or on a "
        "Dask cluster (lightgbm.dask; rounds picked by an early-stopped run on a sample).",
    )
    dask_scheduler: str | None = Field(
        default=None,
        description="Address of the Dask scheduler (tcp://host:8786) when train_engine is "
        "dask; unset: a local cluster of `dask_workers` processes started for the fit.",
    )
    dask_workers: int = Field(default=2, ge=1, description="Processes of the local Dask cluster.")
    dask_sample_rows: int = Field(
        default=1_000_000,
        ge=1_000,
        description="Training rows of the one-machine early-stopped run that picks the Dask "
        "fit's rounds.",
    )
    registry_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of a SQL Feast registry (e.g. postgresql+psycopg://...); "
        "a file registry under the home directory when unset.",
    )

    mlflow_tracking_uri: str | None = Field(
        default=None,
        description="MLflow tracking and registry URI (e.g. postgresql+psycopg://...); "
        "a SQLite file under the home directory when unset.",
    )

    exception_store_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the exception store (e.g. postgresql+psycopg://...); "
        "a SQLite file under the home directory when unset.",
    )
    cost_regimes: Path | None = Field(
        default=None,
        description="A file of cost regimes by market (penalties, funding, buy-ins, FX) in "
        "place of the one failcast ships (core/cost_regimes.yaml).",
    )
    allowed_hosts: list[str] = Field(
        default=["127.0.0.1", "localhost", "::1"],
        min_length=1,
        description="Host names the service answers for (the Host header), and the only "
        "origins a browser page may call it from (JSON list).",
    )
    auth_cache_seconds: float = Field(
        default=10.0,
        ge=1,
        le=300,
        description="How often a worker reads the API keys again, and how long it trusts a "
        "token it verified: a revoked key stops working within this time.",
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="The identity provider's issuer (the `iss` of its tokens): bearer JWTs "
        "are accepted beside API keys when set.",
    )
    oidc_audience: str | None = Field(
        default=None, description="The `aud` every token must carry (required with an issuer)."
    )
    oidc_jwks_url: str | None = Field(
        default=None,
        description="The provider's JWKS document (required with an issuer); fetched again "
        "when a token names a key it does not hold (key rotation).",
    )
    oidc_subject_claim: str = Field(default="sub", description="The claim naming the caller.")
    oidc_roles_claim: str = Field(
        default="roles",
        description="The claim listing failcast roles (a dotted path reaches a nested one, "
        "e.g. realm_access.roles).",
    )
    oidc_teams_claim: str = Field(
        default="teams", description="The claim listing the caller's teams (dotted path)."
    )
    oidc_algorithms: list[str] = Field(
        default=["RS256", "ES256"],
        min_length=1,
        description="Signature algorithms accepted (asymmetric only).",
    )
    serve_port: int = Field(default=3000, ge=1, le=65535, description="`failcast serve` port.")
    serve_workers: int = Field(default=1, ge=1, description="Scoring service worker processes.")
    max_batch: int = Field(default=5000, ge=1, description="Most trades one /score call takes.")
    reasons_per_trade: int = Field(default=3, ge=0, description="Reasons returned per trade.")
    risk_high: float = Field(
        default=0.25, gt=0, le=1, description="Fail probability from which a trade is HIGH risk."
    )
    risk_medium: float = Field(
        default=0.10, gt=0, le=1, description="Fail probability from which a trade is MEDIUM risk."
    )
    queue_capacity: int = Field(
        default=50, ge=1, description="Trades an ops team can work per settlement date."
    )
    max_future_days: int = Field(
        default=31,
        ge=0,
        le=3_650,
        description="How far after now a timestamp sent to the service may be (an SSI "
        "taking effect next week, say).",
    )
    clock_tolerance_seconds: float = Field(
        default=300.0,
        ge=0,
        le=86_400,
        description="How far after now a scoring instant (as_of) may be: clocks differ.",
    )
    clock: Literal["events", "wall"] = Field(
        default="events",
        description="What 'now' is for settlement deadlines: the latest instant among the "
        "scores and events stored (bounded by the wall clock, and the same in a replay of the "
        "past), or the wall clock itself.",
    )
    outcome_grace_minutes: int = Field(
        default=120,
        ge=0,
        le=7 * 24 * 60,
        description="How long after the end of its ISD a trade may go without an outcome "
        "before its exception is OVERDUE.",
    )
    journal_max_pending: int = Field(
        default=200_000,
        ge=1,
        description="Scores the service keeps in its journal while the exception store "
        "does not answer; past this, /score answers 503 with Retry-After.",
    )
    tune_trials: int = Field(
        default=30,
        ge=1,
        le=10_000,
        description="Trials of the hyperparameter search `failcast train --tune` runs.",
    )
    tune_timeout_seconds: float = Field(
        default=3_600.0,
        gt=0,
        description="Longest the hyperparameter search may take; it stops after the trial "
        "under way.",
    )
    model_refresh_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How often the service checks the registry for a new champion (0: never).",
    )

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, home: Path) -> Path:
        # stores resolve relative paths against their own directories, not ours
        return home.expanduser().absolute()

    @model_validator(mode="after")
    def _tiers_in_order(self) -> Settings:
        if self.risk_medium >= self.risk_high:
            raise ValueError(
                f"risk_medium ({self.risk_medium}) must be below risk_high ({self.risk_high})"
            )
        return self

    @model_validator(mode="after")
    def _oidc_complete(self) -> Settings:
        if self.oidc_issuer and not (self.oidc_audience and self.oidc_jwks_url):
            raise ValueError("oidc_issuer needs oidc_audience and oidc_jwks_url as well")
        weak = [a for a in self.oidc_algorithms if not a.startswith(("RS", "PS", "ES", "Ed"))]
        if weak:
            raise ValueError(
                f"oidc_algorithms: {weak[0]!r} is not an asymmetric signature algorithm "
                "(RS*, PS*, ES*, EdDSA)"
            )
        return self

    @property
    def keys_dir(self) -> Path:
        """The project's own API keys (`failcast demo` creates one per role; mode 0600)."""
        return self.home.expanduser() / "keys"

    @property
    def keyring_file(self) -> Path:
        """The service's snapshot of the users table (key hashes only), for starts while the
        exception store is down."""
        return self.home.expanduser() / "keyring.json"

    @property
    def default_exception_db(self) -> Path:
        """The exception store's SQLite file when no URL is configured."""
        return self.home / "exceptions.db"

    @property
    def exception_store(self) -> str:
        return self.exception_store_url or f"sqlite:///{self.default_exception_db}"

    @property
    def journal_dir(self) -> Path:
        """The service's score journal: scores acknowledged and not yet stored."""
        return self.home.expanduser() / "journal"

    @property
    def bentoml_home(self) -> Path:
        """BentoML's model store and built Bentos."""
        return self.home.expanduser() / "bentoml"

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.home.expanduser() / 'mlflow.db'}"

    @property
    def artifact_dir(self) -> Path:
        """Where MLflow stores run artifacts and registered models."""
        return self.home.expanduser() / "mlartifacts"

    @property
    def data_dir(self) -> Path:
        """Where `failcast demo` and friends keep datasets by default."""
        return self.home.expanduser() / "data"

    @property
    def feature_dir(self) -> Path:
        """The feature store's home: feature tables, file registry, SQLite online store."""
        return self.home.expanduser() / "features"


def require_extra(module: str, setting: str) -> None:
    """Refuse a setting whose engine is not installed, naming the extra that brings it."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ConfigError(
            f"{setting} needs {module}, which is not installed: install failcast with its "
            "'scale' extra (pip install -e '.[scale]'; make does)"
        )


@cache
def get_settings() -> Settings:
    """Settings are read on first use, never at import time; a bad variable is a
    ``ConfigError`` naming it and its rule."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"FAILCAST_{'_'.join(map(str, e['loc'])).upper() or '*'}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"bad setting: {problems}") from None
