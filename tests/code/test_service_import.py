"""`bentoml serve` imports the service module in its own process only to read the service's
definition (its routes, its configuration), then starts the workers that serve. The query
engine, the model's libraries and the registry's client are the workers' to import: paid in
the launcher too, they kept every start (a restart after a crash included) waiting on them."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.conftest import REPO

SERVING_STACK = ("feast", "lightgbm", "mlflow", "shap", "sklearn", "duckdb", "pyarrow.dataset")
"""What only a worker building the service needs: the online store's client and query engine,
the model, its explainer, the registry."""

_PROBE = """
import json, sys
from serving.api.service import Failcast
print(json.dumps({
    "routes": sorted(api.route for api in Failcast.apis.values()),
    "loaded": sorted(m for m in json.loads(sys.argv[1]) if m in sys.modules),
}))
"""


def probe(code: str) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter given ``SERVING_STACK`` as JSON in ``argv[1]``; its
    last line of output, read as JSON."""
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(SERVING_STACK)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_the_service_definition_is_read_without_the_serving_stack() -> None:
    found = probe(_PROBE)
    assert found["loaded"] == []
    # the definition is whole all the same: every route the workers will serve
    assert found["routes"] == ["/events", "/explain", "/model", "/model/refresh", "/score"]
