"""Fixtures of the code tests: an exception store on SQLite and on the real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from serving.workflow.store import ExceptionStore


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ExceptionStore]:
    """A new store of the test's own, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'exceptions.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    opened = ExceptionStore(url)
    yield opened
    opened.close()
