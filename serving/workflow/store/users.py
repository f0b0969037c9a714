"""API keys and the audit trail, as rows of the exception store.

A key reads ``fck_<key id>_<secret>``: the id (8 random bytes, hex) finds the user, the secret
(32 random bytes) proves it. Only the secret's SHA-256 is stored: a 256-bit random secret
needs no slow hash, as a password would, and a copy of the store holds no usable key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.access import Principal, Role, check_subject
from core.actions import Team
from core.errors import Conflict, InvalidInput, NotFound
from serving.workflow.store.tables import AuditRow, UserRow, aware

__all__ = [
    "KEY_PREFIX",
    "AuditEntry",
    "IssuedKey",
    "add_user",
    "append_audit",
    "audit_rows",
    "holder",
    "listed",
    "revoke_user",
    "split_key",
]

KEY_PREFIX = "fck_"
_ID_BYTES, _SECRET_BYTES = 8, 32


@dataclass(frozen=True)
class IssuedKey:
    """A new user's key: shown once, never stored."""

    name: str
    role: Role
    teams: tuple[str, ...]
    key: str


@dataclass(frozen=True)
class AuditEntry:
    at: dt.datetime
    subject: str
    role: str
    action: str
    route: str
    outcome: int
    detail: str = ""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(key: str) -> tuple[str, str] | None:
    """(key id, secret) of a key in failcast's format, None for anything else."""
    if not key.startswith(KEY_PREFIX):
        return None
    key_id, _, secret = key[len(KEY_PREFIX) :].partition("_")
    if len(key_id) != 2 * _ID_BYTES or not secret:
        return None
    return key_id, secret


def check_teams(role: Role, teams: Sequence[str]) -> tuple[str, ...]:
    known = {t.value for t in Team}
    unknown = [t for t in teams if t not in known]
    if unknown:
        raise InvalidInput(f"team {unknown[0]!r}: not a team; one of {', '.join(sorted(known))}")
    if role is Role.ANALYST and not teams:
        raise InvalidInput("an analyst needs at least one --team (the exceptions they work)")
    return tuple(dict.fromkeys(teams))


def add_user(session: Session, name: str, role: Role, teams: Sequence[str]) -> IssuedKey:
    check_subject(name)
    teams = check_teams(role, teams)
    if session.get(UserRow, name) is not None:
        raise Conflict(f"user {name!r}: exists already (revoke it, or choose another name)")
    key_id, secret = secrets.token_hex(_ID_BYTES), secrets.token_urlsafe(_SECRET_BYTES)
    session.add(
        UserRow(
            name=name,
            role=role.value,
            teams=list(teams),
            key_id=key_id,
            key_sha256=_digest(secret),
            created_at=dt.datetime.now(dt.UTC),
            revoked_at=None,
        )
    )
    return IssuedKey(name, role, teams, f"{KEY_PREFIX}{key_id}_{secret}")


def revoke_user(session: Session, name: str) -> None:
    row = session.get(UserRow, name, with_for_update=True)
    if row is None:
        raise NotFound(f"user {name!r}: no such user")
    if row.revoked_at is None:
        row.revoked_at = dt.datetime.now(dt.UTC)


def holder(session: Session, key: str) -> Principal | None:
    """Who holds ``key``, or None when it is no key of a user still allowed in."""
    parts = split_key(key)
    if parts is None:
        return None
    key_id, secret = parts
    row = session.scalar(sa.select(UserRow).where(UserRow.key_id == key_id))
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_sha256, _digest(secret)):
        return None
    return Principal(row.name, frozenset({Role(row.role)}), frozenset(row.teams), via="key")


def listed(session: Session) -> list[UserRow]:
    return list(session.scalars(sa.select(UserRow).order_by(UserRow.name)))


def append_audit(session: Session, entries: Iterable[AuditEntry]) -> None:
    rows = [
        {
            "at": e.at,
            "subject": e.subject[:64],
            "role": e.role[:64],
            "action": e.action[:16],
            "route": e.route[:255],
            "outcome": e.outcome,
            "detail": e.detail,
        }
        for e in entries
    ]
    if rows:
        session.execute(sa.insert(AuditRow), rows)


def audit_rows(
    session: Session, since: dt.datetime | None, subject: str | None, limit: int
) -> list[AuditEntry]:
    """The latest ``limit`` entries (oldest first), from ``since``, of ``subject``."""
    query = sa.select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
    if since is not None:
        query = query.where(AuditRow.at >= since)
    if subject is not None:
        query = query.where(AuditRow.subject == subject)
    return [
        AuditEntry(aware(r.at), r.subject, r.role, r.action, r.route, r.outcome, r.detail)
        for r in reversed(list(session.scalars(query)))
    ]
