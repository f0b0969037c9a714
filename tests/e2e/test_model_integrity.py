"""The model path trusts nothing it has not checked: a saved model is text and JSON only; a
registered version's files must match the SHA-256 recorded at registration, and BentoML's
copy the digests written with it; only a version the promotion gate passed is served. A
refused version leaves the running service serving what it had, saying why in /model."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import pytest

from core.access import Role
from core.errors import ModelRefused
from core.redact import redacted
from core.settings import Settings
from features.data.contract import read_dataset
from serving.api.client import trade_records
from serving.api.keys import local_keys
from serving.api.server import running_server
from serving.scoring.model_store import BENTO_MODEL, load_copy, load_served, model_store
from tests.conftest import trained_home
from training.artefacts import DIGESTS_TAG, GATE_PASSED, GATE_TAG
from training.model import FailModel
from training.tracking import CHAMPION, MODEL_NAME, load_fail_model, log_fail_model, tracking_client

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, training_dir: Path) -> Settings:
    return trained_home(tmp_path_factory, training_dir, "integrity")


def _artefact_file(settings: Settings, version: str, name: str) -> Path:
    """Where the artefact store keeps a file of a registered version."""
    source = tracking_client(settings).get_model_version(MODEL_NAME, version).source
    model_id = source.rsplit("/", 1)[-1]  # models:/m-...
    found = [p for p in settings.artifact_dir.rglob(name) if model_id in str(p)]
    assert len(found) == 1, found
    return found[0]


def test_a_saved_model_is_text_and_json_only(home: Settings, tmp_path: Path) -> None:
    client = tracking_client(home)
    version = client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    model = load_fail_model(f"models:/{MODEL_NAME}/{version.version}")
    saved = model.save(tmp_path / "m")
    assert sorted(p.name for p in saved.iterdir()) == sorted(FailModel.FILES)
    for path in saved.iterdir():
        assert not path.read_bytes().startswith(b"\x80"), f"{path.name} is a pickle"
        path.read_text()  # text, all of it
    frame = pd.DataFrame([[0.0] * len(model.features)] * 3, columns=model.features)
    assert (FailModel.load(saved).predict(frame) == model.predict(frame)).all()
    assert set(version.tags) >= {DIGESTS_TAG, GATE_TAG} and version.tags[GATE_TAG] == GATE_PASSED


def test_the_registered_pyfunc_is_code_and_loads_without_a_pickle(home: Settings) -> None:
    """MLflow's own flavour is logged as code (models-from-code): not one file of the
    registered model is a pickle, and ``mlflow.pyfunc`` still loads and predicts with it."""
    client = tracking_client(home)
    version = client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version
    uri = f"models:/{MODEL_NAME}/{version}"
    local = Path(mlflow.artifacts.download_artifacts(uri))
    files = [p for p in local.rglob("*") if p.is_file()]
    assert files and not any(p.suffix in {".pkl", ".pickle", ".joblib"} for p in files), files
    assert not [p.name for p in files if p.read_bytes()[:1] == b"\x80"], "a pickle is there"
    model = load_fail_model(uri)
    frame = pd.DataFrame([[0.0] * len(model.features)] * 3, columns=model.features)
    predicted = mlflow.pyfunc.load_model(uri).predict(frame)
    assert list(predicted["fail_probability"]) == list(model.predict(frame))


def test_a_tampered_artefact_in_the_registry_or_the_local_copy_is_refused(
    home: Settings,
) -> None:
    served = load_served(home)  # copies the champion into BentoML's store
    copy = Path(model_store(home).get(served.tag).path)
    booster = copy / "booster.txt"
    original = booster.read_bytes()
    booster.write_bytes(original.replace(b"Tree=0", b"Tree=0 ", 1))
    with pytest.raises(ModelRefused, match=r"booster.txt: SHA-256 .* was recorded"):
        load_copy(copy, served.tag)
    booster.write_bytes(original)
    assert load_copy(copy, served.tag).booster.num_trees() == served.model.booster.num_trees()

    in_registry = _artefact_file(home, served.version, "calibration.json")
    kept = in_registry.read_text()
    in_registry.write_text(kept.replace("[", "[0.5, ", 1))
    try:
        with pytest.raises(ModelRefused, match=r"version \d+ does not match.*calibration.json"):
            load_fail_model(f"models:/{MODEL_NAME}/{served.version}")
    finally:
        in_registry.write_text(kept)


def test_a_refused_champion_leaves_the_running_service_serving_what_it_had(
    home: Settings, training_dir: Path
) -> None:
    settings = home.model_copy(update={"model_refresh_seconds": 0.5})
    client = tracking_client(settings)
    first = client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version
    rows = read_dataset(training_dir)["trades"].tail(5)
    body = {
        "trades": trade_records(rows),
        "as_of": (rows["execution_ts"].max() + pd.Timedelta(minutes=5)).isoformat(),
    }
    feed = local_keys(settings).headers(Role.FEED)
    with running_server(settings) as url:
        # a version registered but never through the gate, the alias moved onto it by hand
        model = load_fail_model(f"models:/{MODEL_NAME}/{first}")
        example = pd.DataFrame([[0.0] * len(model.features)] * 5, columns=model.features)
        with mlflow.start_run():
            ungated = log_fail_model(model, example)
        client.set_registered_model_alias(MODEL_NAME, CHAMPION, ungated)
        info = _model_after_refresh(url, feed)
        assert info["model_version"] == str(first)
        assert (
            f"version {ungated} holds the champion alias but the promotion gate" in info["registry"]
        )
        scores = (
            httpx.post(f"{url}/score", json=body, headers=feed, timeout=30)
            .raise_for_status()
            .json()
        )
        assert {s["model_version"] for s in scores["scores"]} == {str(first)}

        # passed by the gate, but a file changed in the artefact store since registration
        client.set_model_version_tag(MODEL_NAME, ungated, GATE_TAG, GATE_PASSED)
        booster = _artefact_file(settings, ungated, "booster.txt")
        booster.write_bytes(booster.read_bytes() + b"\n")
        info = _model_after_refresh(url, feed, "booster.txt")
        assert info["model_version"] == str(first)
        assert "does not match its registration: booster.txt" in info["registry"]
    stored = [m.tag.version for m in model_store(settings).list(BENTO_MODEL)]
    assert not any(v.startswith(f"v{ungated}-") for v in stored), "no refused copy kept"


def _model_after_refresh(url: str, auth: dict[str, str], wanted: str = "refused") -> dict:
    deadline = time.monotonic() + 30
    while True:
        info = (
            httpx.post(f"{url}/model", json={}, headers=auth, timeout=30).raise_for_status().json()
        )
        if info["registry"].startswith("refused") and wanted in info["registry"]:
            return info
        assert time.monotonic() < deadline, f"no refusal after 30 s: {info['registry']}"
        time.sleep(0.5)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "MLflow registry at postgresql+psycopg://ops:s3cr3t@db:5432/mlflow does not answer",
            "MLflow registry at postgresql+psycopg://ops:***@db:5432/mlflow does not answer",
        ),
        ("redis://:hunter2@cache:6379/0", "redis://:***@cache:6379/0"),
        (
            "127.0.0.1:6379,db=0,password=hunter2,ssl=true",
            "127.0.0.1:6379,db=0,password=***,ssl=true",
        ),
        ("sqlite:////tmp/x.db and http://host/path", "sqlite:////tmp/x.db and http://host/path"),
    ],
)
def test_passwords_are_masked_in_any_message(text: str, shown: str) -> None:
    assert redacted(text) == shown
