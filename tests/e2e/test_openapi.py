"""The service's OpenAPI document is valid for the version it declares and lists every
route; schemathesis, generating requests from it for every operation, gets no 5xx. A
bounded run: ``benchmarks/fuzz.py`` runs the same for longer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator

from benchmarks.fuzz import run_schemathesis
from core.access import Role
from core.settings import Settings
from serving.api.keys import LocalKeys, local_keys
from serving.api.openapi import OPENAPI_VERSION
from serving.api.policy import PUBLIC
from serving.api.server import running_server
from tests.conftest import trained_home

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ROUTES = {
    "/score": {"post"},
    "/explain": {"post"},
    "/events": {"post"},
    "/model": {"post"},
    "/model/refresh": {"post"},
    "/queue": {"get"},
    "/status": {"get"},
    "/trades/{trade_id}": {"get"},
    "/trades/{trade_id}/status": {"post"},
    "/readyz": {"get"},
    "/metrics": {"get"},
}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, training_dir: Path) -> Settings:
    return trained_home(tmp_path_factory, training_dir, "openapi")


@pytest.fixture(scope="module")
def keys(home: Settings) -> LocalKeys:
    return local_keys(home)


@pytest.fixture(scope="module")
def url(home: Settings, keys: LocalKeys) -> Iterator[str]:
    with running_server(home) as address:
        yield address


@pytest.fixture(scope="module")
def feed(url: str, keys: LocalKeys) -> Iterator[httpx.Client]:
    with keys.client(url, Role.FEED, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def lead(url: str, keys: LocalKeys) -> Iterator[httpx.Client]:
    with keys.client(url, Role.LEAD, timeout=30) as client:
        yield client


def test_the_document_is_valid_openapi_31_and_lists_every_route(url: str) -> None:
    doc = httpx.get(f"{url}/docs.json", timeout=30).raise_for_status().json()
    assert doc["openapi"] == OPENAPI_VERSION
    errors = [str(e).splitlines()[0] for e in OpenAPIV31SpecValidator(doc).iter_errors()]
    assert errors == []
    for path, methods in ROUTES.items():
        assert methods <= set(doc["paths"].get(path, {})), path
    busy = doc["paths"]["/score"]["post"]["responses"]["503"]
    assert "Retry-After" in busy["headers"]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, operations in doc["paths"].items():
        for operation in operations.values():
            public = path in PUBLIC
            assert ("security" in operation) != public, path
            assert public or {"401", "403"} <= set(operation["responses"]), path


@pytest.mark.parametrize(
    "content_type", ["multipart/form-data", "application/x-www-form-urlencoded", "text/plain", None]
)
@pytest.mark.parametrize("route", ["/score", "/events", "/explain", "/model"])
def test_a_body_of_another_type_is_a_415(url: str, route: str, content_type: str | None) -> None:
    """The bodies a browser sends cross-site without a preflight never reach a route."""
    headers = {"content-type": content_type} if content_type else {}
    answer = httpx.post(f"{url}{route}", content=b"trades=1", headers=headers, timeout=30)
    assert answer.status_code == 415, (answer.status_code, answer.text[:200])
    assert "a request body must be application/json" in answer.json()["error"]


def test_a_foreign_host_or_origin_is_a_403_and_the_probes_answer_any_host(
    url: str, feed: httpx.Client, lead: httpx.Client
) -> None:
    port = url.rsplit(":", 1)[1]
    body: dict[str, object] = {"trades": [], "as_of": None}
    rebound = lead.get("/queue", headers={"host": f"evil.example:{port}"}, timeout=30)
    assert rebound.status_code == 403
    assert "Host 'evil.example' is not an allowed host" in rebound.json()["error"]
    foreign = httpx.post(
        f"{url}/score", json=body, headers={"origin": "https://evil.example"}, timeout=30
    )
    assert foreign.status_code == 403 and "FAILCAST_ALLOWED_HOSTS" in foreign.json()["error"]
    ours = feed.post("/score", json=body, headers={"origin": url}, timeout=30)
    assert ours.status_code == 400  # past the guard: refused by the route (no trades)
    probe = httpx.get(f"{url}/livez", headers={"host": "10.1.2.3:3000"}, timeout=30)
    assert probe.status_code == 200


def test_schemathesis_finds_no_server_error_on_any_route(
    url: str, keys: LocalKeys, tmp_path: Path
) -> None:
    fuzz = run_schemathesis(
        url,
        max_examples=10,
        seconds=45,
        seed=20261201,
        phases="examples,coverage,fuzzing",
        credential=keys.keys[Role.FEED],  # past the key check, into the data routes
    )
    assert fuzz.returncode == 0, fuzz.stdout[-6000:]
