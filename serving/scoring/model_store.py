"""The served model: the registry's champion, copied into the BentoML model store.

The copy keeps the native boosters (exact SHAP needs them) and lets the service start, and
keep serving, when the registry cannot be reached: it then serves the newest model already
in the store, and says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import bentoml
from bentoml._internal.models import ModelStore
from bentoml.exceptions import NotFound

from core.errors import ModelUnavailable
from core.settings import Settings
from training.model import FailModel
from training.tracking import (
    CHAMPION,
    MODEL_NAME,
    check_registry,
    load_fail_model,
    tracking_client,
)

__all__ = [
    "BENTO_MODEL",
    "ServedModel",
    "champion_tag",
    "import_champion",
    "load_served",
    "model_store",
]

BENTO_MODEL = "settlement-fail"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedModel:
    model: FailModel
    tag: str  # BentoML tag
    version: str  # registry version
    source: str  # "registry" or "local store"


def champion_tag(settings: Settings) -> tuple[str, str, str]:
    """(registry version, run id, BentoML tag) of the champion; raises when the registry
    does not answer or has no champion."""
    check_registry(settings)
    client = tracking_client(settings)
    version = client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    run_id = version.run_id or ""
    return str(version.version), run_id, f"{BENTO_MODEL}:v{version.version}-{run_id[:8]}"


def model_store(settings: Settings) -> ModelStore:
    """BentoML's model store under the project home, whatever ``BENTOML_HOME`` says: the
    service, the CLI and the tests agree on where the served model lives."""
    path = settings.bentoml_home / "models"
    path.mkdir(parents=True, exist_ok=True)
    return ModelStore(str(path))


def import_champion(settings: Settings) -> str:
    """Copy the champion into the BentoML store (once per version); its tag."""
    version, run_id, tag = champion_tag(settings)
    store = model_store(settings)
    try:
        bentoml.models.get(tag, _model_store=store)
    except NotFound:
        model = load_fail_model(f"models:/{MODEL_NAME}/{version}")
        with bentoml.models.create(
            tag,
            labels={"registry_version": str(version), "alias": CHAMPION},
            metadata={"mlflow_run_id": run_id, "registry_model": MODEL_NAME, **model.meta},
            _model_store=store,
        ) as stored:
            model.save(Path(stored.path))
    return tag


def load_served(settings: Settings) -> ServedModel:
    """The champion from the registry if it answers, else the newest model in the store."""
    try:
        tag = import_champion(settings)
        source = "registry"
    except Exception as exc:  # any registry failure: fall back, never stop serving
        stored = sorted(
            bentoml.models.list(BENTO_MODEL, _model_store=model_store(settings)),
            key=lambda m: m.creation_time,
        )
        if not stored:
            raise ModelUnavailable(
                f"no model to serve: the registry at {settings.tracking_uri} failed ({exc}) "
                f"and the BentoML store has no {BENTO_MODEL!r} model"
            ) from exc
        tag, source = str(stored[-1].tag), "local store"
        log.warning("registry unavailable (%s); serving %s from the local store", exc, tag)
    stored_model = bentoml.models.get(tag, _model_store=model_store(settings))
    return ServedModel(
        model=FailModel.load(Path(stored_model.path)),
        tag=tag,
        version=str(stored_model.info.labels.get("registry_version", "")),
        source=source,
    )
