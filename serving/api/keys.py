"""The project's own API keys: one per role, for `failcast demo`, the benchmarks and the tests.

Made on first use as users ``local-<role>`` of the exception store, each key written once to
``<home>/keys/<role>.key`` (directory 0700, file 0600): nothing to set up, and nothing a
newcomer must copy around. A key file whose key no longer works (revoked, or a store emptied)
is replaced by a new user's key.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from core.access import Role
from core.actions import Team
from core.settings import Settings
from serving.workflow.keyring import Keyring
from serving.workflow.store import ExceptionStore

__all__ = ["LocalKeys", "local_keys"]

LOCAL_TEAMS: dict[Role, tuple[str, ...]] = {
    Role.ANALYST: (Team.SETTLEMENTS.value, Team.TRADE_SUPPORT.value),
}
"""The local analyst works two teams' exceptions; a lead works every team's."""


@dataclass(frozen=True)
class LocalKeys:
    keys: dict[Role, str]
    directory: Path

    def headers(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def client(self, url: str, role: Role, **options: Any) -> httpx.Client:
        """An HTTP client of the service signed in as the project's ``role``."""
        return httpx.Client(base_url=url, headers=self.headers(role), **options)

    def file(self, role: Role) -> Path:
        return self.directory / f"{role.value}.key"


def local_keys(settings: Settings, store: ExceptionStore | None = None) -> LocalKeys:
    """The project's key of every role, made where missing or no longer valid."""
    own = store is None
    store = store or ExceptionStore.from_settings(settings)
    directory = settings.keys_dir
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    keys: dict[Role, str] = {}
    try:
        for role in Role:
            path = directory / f"{role.value}.key"
            key = path.read_text().strip() if path.exists() else ""
            if not key or store.key_holder(key) is None:
                name = f"local-{role.value}"
                if any(u.name == name for u in store.users()):
                    name = f"{name}-{secrets.token_hex(3)}"
                key = store.add_user(name, role, LOCAL_TEAMS.get(role, ())).key
                _write_secret(path, key)
            keys[role] = key
        Keyring.from_store(store).save(settings.keyring_file)
    finally:
        if own:
            store.close()
    return LocalKeys(keys, directory)


def _write_secret(path: Path, text: str) -> None:
    """Write a file only its owner can read (mode 0600 from its creation, not after)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text + "\n")
