"""What a registered model version must show before it is served: the SHA-256 of each of
its files, recorded on the version at registration, and the promotion gate's decision.

The registry (MLflow's database) holds the digests and the decision; the artefact store
holds the files. A file changed in the artefact store, or in BentoML's local copy, no longer
matches its digest; an alias moved by hand onto a version the gate held back does not carry
the gate's pass. Either is a ``ModelRefused`` naming the version and what failed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from core.errors import ModelRefused
from training.model import FailModel

__all__ = [
    "DIGESTS_TAG",
    "GATE_PASSED",
    "GATE_TAG",
    "digests",
    "parse_digests",
    "verify",
]

DIGESTS_TAG = "failcast.sha256"
"""Model-version tag: JSON {file name: SHA-256} of the model's directory."""
GATE_TAG = "failcast.gate"
"""Model-version tag: the promotion gate's decision on the version."""
GATE_PASSED = "passed"
_CHUNK = 1 << 20


def digests(directory: Path) -> dict[str, str]:
    """SHA-256 of each file a model is loaded from (``FailModel.FILES``), by file name;
    other files in the directory (MLflow's, BentoML's) are never read as the model."""
    out = {}
    for path in (directory / name for name in FailModel.FILES):
        if not path.is_file():
            continue
        digest = hashlib.sha256()
        with path.open("rb") as file:
            while chunk := file.read(_CHUNK):
                digest.update(chunk)
        out[path.name] = digest.hexdigest()
    return out


def parse_digests(text: str | None, what: str) -> dict[str, str]:
    """The digests recorded as ``text`` (a tag's value); refused when there are none."""
    if not text:
        raise ModelRefused(
            f"{what}: no artefact digests recorded ({DIGESTS_TAG}); register it again"
        )
    data = json.loads(text)
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ModelRefused(f"{what}: {DIGESTS_TAG} is not a map of file names to SHA-256")
    return {str(k): v for k, v in data.items()}


def verify(directory: Path, expected: Mapping[str, str], what: str) -> None:
    """Raise ``ModelRefused`` unless ``directory`` holds exactly the files recorded, each
    with its recorded SHA-256."""
    actual = digests(directory)
    problems = [
        f"{name}: SHA-256 {actual[name][:12]}… where {want[:12]}… was recorded"
        for name, want in expected.items()
        if name in actual and actual[name] != want
    ]
    problems += [f"{name}: missing" for name in expected if name not in actual]
    problems += [f"{name}: not recorded" for name in actual if name not in expected]
    if problems:
        raise ModelRefused(f"{what} does not match its registration: " + "; ".join(problems))
