"""Bearer JWTs from an OAuth2/OIDC identity provider, verified with PyJWT against its JWKS.

A token passes when its signature verifies with a key the provider publishes (the set is
fetched again when a token names a key it does not hold: the provider rotated its keys), its
algorithm is one configured (asymmetric only: ``none`` and HMAC are refused), its issuer and
audience are ours, and it has not expired (30 s of leeway for clocks). A key the provider
stops publishing stops verifying once the set is fetched again (at most 5 minutes). The
subject, roles and teams come from configurable claims.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jwt

from core.access import Principal, check_subject, parse_roles
from core.errors import InvalidInput, NotAuthenticated, PermissionDenied, Unavailable
from core.redact import redacted
from core.settings import Settings

__all__ = ["TokenVerifier", "looks_like_jwt"]

_LEEWAY_SECONDS = 30
_FETCH_TIMEOUT_SECONDS = 5
_JWKS_SECONDS = 300
"""How long the provider's key set is kept before it is fetched again."""
_REFETCH_SECONDS = 1.0
"""At most one fetch of the JWKS a second for tokens naming a key not held (rotation), so
that a stream of made-up key ids is not a stream of fetches."""


def looks_like_jwt(credential: str) -> bool:
    """Three base64url parts separated by dots: a JWS compact serialisation."""
    return credential.count(".") == 2


class TokenVerifier:
    """Verifies one provider's tokens; ``verify`` gives the caller and the token's expiry."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        jwks_url: str,
        algorithms: Sequence[str],
        subject_claim: str = "sub",
        roles_claim: str = "roles",
        teams_claim: str = "teams",
    ) -> None:
        self.issuer, self.audience, self.jwks_url = issuer, audience, jwks_url
        self.algorithms = list(algorithms)
        self.claims = subject_claim, roles_claim, teams_claim
        self.jwks = jwt.PyJWKClient(
            jwks_url,
            cache_keys=False,  # keys come from the cached set: one dropped by the provider is gone
            lifespan=_JWKS_SECONDS,
            timeout=_FETCH_TIMEOUT_SECONDS,
            cooldown_duration=_REFETCH_SECONDS,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenVerifier | None:
        if not settings.oidc_issuer:
            return None
        assert settings.oidc_audience and settings.oidc_jwks_url  # the settings' own rule
        return cls(
            settings.oidc_issuer,
            settings.oidc_audience,
            settings.oidc_jwks_url,
            settings.oidc_algorithms,
            settings.oidc_subject_claim,
            settings.oidc_roles_claim,
            settings.oidc_teams_claim,
        )

    def verify(self, token: str) -> tuple[Principal, float]:
        """The caller a token names and when it expires (epoch seconds)."""
        try:
            key = self.jwks.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=_LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWKClientConnectionError as exc:
            raise Unavailable(
                f"the identity provider's keys at {redacted(self.jwks_url)} could not be "
                f"fetched: {redacted(str(exc))}"
            ) from exc
        except jwt.PyJWKClientError as exc:
            raise NotAuthenticated(f"bearer token: {exc} (published at {self.jwks_url})") from exc
        except jwt.InvalidTokenError as exc:
            raise NotAuthenticated(f"bearer token: {exc}") from exc
        subject_claim, roles_claim, teams_claim = self.claims
        subject = _claim(claims, subject_claim)
        if not isinstance(subject, str):
            raise NotAuthenticated(f"bearer token: no {subject_claim!r} claim naming the caller")
        try:
            check_subject(subject, f"the token's {subject_claim!r}")
        except InvalidInput as exc:
            raise NotAuthenticated(f"bearer token: {exc}") from exc
        roles = parse_roles(_strings(_claim(claims, roles_claim)))
        if not roles:
            raise PermissionDenied(
                f"{subject!r}: the token's {roles_claim!r} claim holds no failcast role "
                "(feed, analyst, lead or admin)"
            )
        teams = frozenset(_strings(_claim(claims, teams_claim)))
        return Principal(subject, roles, teams, via="token"), float(claims["exp"])


def _claim(claims: dict[str, Any], path: str) -> Any:
    """A claim by dotted path (``realm_access.roles``), None when absent."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _strings(value: Any) -> list[str]:
    """A claim holding one string, a space-separated string (OAuth2 scopes) or a list."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []
