"""Who may do what: the four roles, the identity of a caller, and the team rule.

    feed     systems that send trades and events (POST /score, /events)
    analyst  reads the queue; acknowledges and resolves exceptions of their own teams
    lead     what an analyst does for every team, reassigns exceptions, reads reports
    admin    users and keys, the model served

An identity comes from an API key (kept hashed in the exception store) or an identity
provider's token; either way the subject is the actor of every change it makes. ``failcast``
is the system's own name (its automatic resolutions and reopenings): no person may carry it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from core.errors import InvalidInput, PermissionDenied
from core.limits import MAX_ID_LENGTH

__all__ = ["SYSTEM_ACTOR", "Principal", "Role", "check_subject", "parse_roles"]

SYSTEM_ACTOR = "failcast"
"""The actor of the system's own changes; reserved."""


class Role(StrEnum):
    FEED = "feed"
    ANALYST = "analyst"
    LEAD = "lead"
    ADMIN = "admin"


def parse_roles(values: Iterable[str]) -> frozenset[Role]:
    """The failcast roles among ``values`` (an identity provider may list others)."""
    known = {r.value for r in Role}
    return frozenset(Role(v) for v in values if v in known)


def check_subject(subject: str, what: str = "user name") -> str:
    """A subject is 1 to 64 printable characters without spaces at its ends, not ``failcast``."""
    if not subject or len(subject) > MAX_ID_LENGTH or not subject.isprintable():
        raise InvalidInput(
            f"{what} {subject[:80]!r}: 1 to {MAX_ID_LENGTH} printable characters are required"
        )
    if subject != subject.strip():
        raise InvalidInput(f"{what} {subject!r}: no spaces at either end")
    if subject.lower() == SYSTEM_ACTOR:
        raise InvalidInput(f"{what} {subject!r}: reserved for the system's own changes")
    return subject


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: who, with which roles, for which teams."""

    subject: str
    roles: frozenset[Role]
    teams: frozenset[str] = field(default_factory=frozenset)
    via: str = "key"  # "key" (API key) or "token" (identity provider)

    @property
    def role(self) -> str:
        """The roles as one word for logs and the audit trail ("analyst", "feed+lead")."""
        return "+".join(sorted(self.roles)) or "none"

    def require(self, allowed: Iterable[Role], what: str) -> None:
        """Raise ``PermissionDenied`` naming the roles ``what`` needs, unless one is held."""
        allowed = frozenset(allowed)
        if not self.roles & allowed:
            needed = " or ".join(sorted(allowed))
            raise PermissionDenied(
                f"{what} needs the role {needed}; {self.subject!r} has {self.role}"
            )

    def require_team(self, team: str, what: str) -> None:
        """A lead changes any team's exceptions; an analyst only those of their own teams."""
        if Role.LEAD in self.roles:
            return
        self.require({Role.ANALYST, Role.LEAD}, what)
        if team not in self.teams:
            own = ", ".join(sorted(self.teams)) or "no team"
            raise PermissionDenied(
                f"{what}: the exception belongs to the team {team!r}; {self.subject!r} "
                f"(analyst) may change those of {own} only, or a lead any team's"
            )
