"""The API keys a service lets in, held in memory: the users table's hashes, read from the
exception store and kept as a snapshot file under the project home (mode 0600, hashes only).

A request's key is checked against memory (no I/O on the hot path). The service reads the
table again every ``FAILCAST_AUTH_CACHE_SECONDS`` (so a revoked key stops working within
that time) and whenever it meets a key it does not know (a user added since). While the store
is down the last table read stays in force: no key can be revoked meanwhile, since revoking
writes to that store. A service that starts while the store is down reads the snapshot that
this home's last service or `failcast users` command wrote.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from core.access import Principal, Role
from serving.workflow.store import ExceptionStore
from serving.workflow.store.users import split_key

__all__ = ["Keyring"]

log = logging.getLogger("failcast.auth")


@dataclass(frozen=True)
class _Entry:
    sha256: str
    principal: Principal


class Keyring:
    def __init__(self, entries: dict[str, _Entry]) -> None:
        self._entries = entries

    def __len__(self) -> int:
        return len(self._entries)

    @classmethod
    def from_store(cls, store: ExceptionStore) -> Keyring:
        return cls(
            {
                u.key_id: _Entry(u.key_sha256, _principal(u.name, [u.role], u.teams))
                for u in store.users()
                if u.revoked_at is None
            }
        )

    @classmethod
    def read(cls, path: Path) -> Keyring | None:
        """The snapshot at ``path``; None when there is none, or it cannot be read."""
        try:
            rows = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.error("the keyring snapshot %s cannot be read (%s): ignored", path, exc)
            return None
        return cls(
            {
                r["key_id"]: _Entry(
                    r["sha256"],
                    Principal(
                        r["name"], frozenset(Role(x) for x in r["roles"]), frozenset(r["teams"])
                    ),
                )
                for r in rows
            }
        )

    def save(self, path: Path) -> None:
        """Write the snapshot whole (a temporary file of this process renamed over it: two
        workers may write at once), readable by its owner only; unchanged, nothing is
        written."""
        rows = [
            {
                "key_id": key_id,
                "sha256": e.sha256,
                "name": e.principal.subject,
                "roles": sorted(e.principal.roles),
                "teams": sorted(e.principal.teams),
            }
            for key_id, e in sorted(self._entries.items())
        ]
        text = json.dumps(rows)
        try:
            if path.read_text() == text:
                return
        except OSError:
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)

    def knows(self, key: str) -> bool:
        parts = split_key(key)
        return parts is not None and parts[0] in self._entries

    def holder(self, key: str) -> Principal | None:
        """Who holds ``key`` (None: not a key this ring lets in)."""
        parts = split_key(key)
        if parts is None:
            return None
        entry = self._entries.get(parts[0])
        if entry is None:
            return None
        digest = hashlib.sha256(parts[1].encode()).hexdigest()
        return entry.principal if hmac.compare_digest(entry.sha256, digest) else None


def _principal(name: str, roles: list[str], teams: list[str]) -> Principal:
    return Principal(name, frozenset(Role(r) for r in roles), frozenset(teams))
