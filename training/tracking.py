"""MLflow: the experiment, the logged model (a pyfunc around the native boosters), the
`settlement-fail` registry entry and its champion/challenger aliases."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.models import infer_signature
from mlflow.pyfunc.model import PythonModel, PythonModelContext

from core.errors import NotFound, RegistryUnavailable
from core.redact import redacted
from core.settings import Settings
from training.artefacts import DIGESTS_TAG, digests, parse_digests, verify
from training.model import FailModel

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "EXPERIMENT",
    "MODEL_NAME",
    "FailModelPyfunc",
    "check_registry",
    "dataset_fingerprint",
    "load_fail_model",
    "log_fail_model",
    "registered_version",
    "tracking_client",
]

MODEL_NAME = "settlement-fail"
EXPERIMENT = "settlement-fail"
CHAMPION, CHALLENGER = "champion", "challenger"
_ARTIFACT = "fail_model"


def tracking_client(settings: Settings) -> MlflowClient:
    """Point MLflow at the configured backend; create the experiment with its artifacts under
    the project home (not the working directory)."""
    mlflow.set_tracking_uri(settings.tracking_uri)
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        settings.artifact_dir.mkdir(parents=True, exist_ok=True)
        mlflow.create_experiment(EXPERIMENT, artifact_location=settings.artifact_dir.as_uri())
    mlflow.set_experiment(EXPERIMENT)
    return MlflowClient(settings.tracking_uri)


def check_registry(settings: Settings, timeout: float = 3.0) -> None:
    """Fail within seconds when the tracking backend does not answer (MLflow itself retries
    a database connection for about 100 s before giving up)."""
    uri = settings.tracking_uri
    try:
        if uri.startswith(("http://", "https://")):
            httpx.get(f"{uri.rstrip('/')}/health", timeout=timeout).raise_for_status()
        elif "://" in uri and not uri.startswith(("sqlite:", "file:")):
            import sqlalchemy

            engine = sqlalchemy.create_engine(uri, connect_args={"connect_timeout": int(timeout)})
            try:
                engine.connect().close()
            finally:
                engine.dispose()
    except Exception as exc:
        raise RegistryUnavailable(
            redacted(
                f"MLflow registry at {uri} (FAILCAST_MLFLOW_TRACKING_URI) does not answer: {exc}"
            )
        ) from exc


def dataset_fingerprint(digest: str) -> str:
    """A dataset's ``dataset_digest``, short form: what a run logs and names it by."""
    return digest[:16]


class FailModelPyfunc(PythonModel):
    """Calibrated fail probability and predicted cause for a frame of model features."""

    def load_context(self, context: PythonModelContext) -> None:
        self.model = FailModel.load(Path(context.artifacts[_ARTIFACT]))

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "fail_probability": self.model.predict(model_input),
                "predicted_cause": self.model.predict_cause(model_input),
            }
        )


_PYFUNC_CODE = Path(__file__).with_name("pyfunc_code.py")


def log_fail_model(model: FailModel, example: pd.DataFrame) -> str:
    """Log the model in the active run, register it with the SHA-256 of each of its files
    (a model-version tag), and return the new version."""
    example = example[model.features].astype(float).head(5)
    output = pd.DataFrame(
        {
            "fail_probability": model.predict(example),
            "predicted_cause": model.predict_cause(example),
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        saved = model.save(Path(tmp) / _ARTIFACT)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(_PYFUNC_CODE),  # code, not a pickle of an instance
            artifacts={_ARTIFACT: str(saved)},
            signature=infer_signature(example, output),
            input_example=example,
            registered_model_name=MODEL_NAME,
            pip_requirements=["lightgbm", "scikit-learn", "pandas"],
        )
        version = str(info.registered_model_version)
        MlflowClient().set_model_version_tag(
            MODEL_NAME, version, DIGESTS_TAG, json.dumps(digests(saved))
        )
    return version


def load_fail_model(uri: str) -> FailModel:
    """The native model behind a model URI (``models:/settlement-fail@champion``,
    ``models:/settlement-fail/3``, a run's ``runs:/...`` URI, or a local directory). A
    registered version's files are checked against the SHA-256 recorded at registration."""
    local = Path(uri) if Path(uri).exists() else Path(mlflow.artifacts.download_artifacts(uri))
    found = next(local.rglob("model.json"), None)
    if found is None:
        raise NotFound(f"{uri} holds no failcast model (no model.json)")
    if uri.startswith("models:/"):
        version = registered_version(uri)
        what = f"{MODEL_NAME} version {version.version}"
        verify(found.parent, parse_digests(version.tags.get(DIGESTS_TAG), what), what)
    return FailModel.load(found.parent)


def registered_version(uri: str) -> ModelVersion:
    """The registry's version behind ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS``."""
    client = MlflowClient()
    name_and = uri.removeprefix("models:/")
    if "@" in name_and:
        name, alias = name_and.split("@", 1)
        return client.get_model_version_by_alias(name, alias)
    name, _, number = name_and.partition("/")
    return client.get_model_version(name, number)
