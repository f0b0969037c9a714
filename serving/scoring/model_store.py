"""The served model: the registry's champion, copied into the BentoML model store.

The copy keeps the native boosters (exact SHAP needs them) and lets the service start, and
keep serving, when the registry cannot be reached: it then serves the newest model already
in the store, and says so. Only a version the promotion gate passed is copied, its files
checked against the SHA-256 recorded at registration; the copy carries the digests, and is
checked against them each time it is loaded.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import bentoml
from bentoml._internal.models import ModelStore
from bentoml.exceptions import NotFound

from core.errors import ModelRefused, ModelUnavailable
from core.redact import redacted
from core.settings import Settings
from training.artefacts import GATE_PASSED, GATE_TAG, digests, verify
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
    "load_copy",
    "load_served",
    "model_store",
]

BENTO_MODEL = "settlement-fail"
_DIGESTS = "failcast-sha256.json"
"""In a stored copy: the SHA-256 of each of the model's files, written when it was copied."""
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedModel:
    model: FailModel
    tag: str  # BentoML tag
    version: str  # registry version
    source: str  # "registry" or "local store"
    fallback: str | None = None  # why not the registry's champion (None: it is)


def champion_tag(settings: Settings) -> tuple[str, str, str]:
    """(registry version, run id, BentoML tag) of the champion; raises when the registry
    does not answer or has no champion, and ``ModelRefused`` when the promotion gate did not
    pass the version the alias points at (an alias moved by hand)."""
    check_registry(settings)
    client = tracking_client(settings)
    version = client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    gate = version.tags.get(GATE_TAG)
    if gate != GATE_PASSED:
        raise ModelRefused(
            f"{MODEL_NAME} version {version.version} holds the {CHAMPION} alias but the "
            f"promotion gate did not pass it ({GATE_TAG}: {gate or 'none'}); not served"
        )
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
        model = load_fail_model(f"models:/{MODEL_NAME}/{version}")  # digests checked
        with bentoml.models.create(
            tag,
            labels={"registry_version": str(version), "alias": CHAMPION},
            metadata={"mlflow_run_id": run_id, "registry_model": MODEL_NAME, **model.meta},
            _model_store=store,
        ) as stored:
            model.save(Path(stored.path))
            (Path(stored.path) / _DIGESTS).write_text(json.dumps(digests(Path(stored.path))))
    return tag


def load_served(settings: Settings) -> ServedModel:
    """The champion from the registry if it answers, else the newest model in the store."""
    fallback = None
    try:
        tag = import_champion(settings)
        source = "registry"
    except Exception as exc:  # any registry failure or refusal: fall back, never stop serving
        stored = sorted(
            bentoml.models.list(BENTO_MODEL, _model_store=model_store(settings)),
            key=lambda m: m.creation_time,
        )
        if not stored:
            raise ModelUnavailable(
                redacted(
                    f"no model to serve: the registry at {settings.tracking_uri} failed "
                    f"({exc}) and the BentoML store has no {BENTO_MODEL!r} model"
                )
            ) from exc
        tag, source = str(stored[-1].tag), "local store"
        fallback = redacted(f"{type(exc).__name__}: {exc}")[:500]
        log.warning(
            "registry unavailable or refused (%s); serving %s from the local store",
            redacted(str(exc)),
            tag,
        )
    stored_model = bentoml.models.get(tag, _model_store=model_store(settings))
    return ServedModel(
        model=load_copy(Path(stored_model.path), tag),
        tag=tag,
        version=str(stored_model.info.labels.get("registry_version", "")),
        source=source,
        fallback=fallback,
    )


def load_copy(path: Path, tag: str) -> FailModel:
    """The model of a BentoML store copy, its files checked against the digests written
    when it was copied (``ModelRefused`` when one changed)."""
    written = path / _DIGESTS
    if not written.exists():
        raise ModelRefused(f"{tag}: the copy carries no digests ({_DIGESTS}); not loaded")
    verify(path, json.loads(written.read_text()), tag)
    return FailModel.load(path)
