"""Who is calling: an ``Authorization: Bearer`` credential turned into a ``Principal``.

An API key (``fck_...``) is checked against the keyring, the users table's hashes held in
memory (``serving.workflow.keyring``): a dictionary lookup and one SHA-256 on the hot path.
A JWT is verified against the identity provider (``serving.api.tokens``) when one is
configured, and remembered until it expires or for ``FAILCAST_AUTH_CACHE_SECONDS``, whichever
comes first.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import anyio

from core.access import Principal
from core.errors import NotAuthenticated, StoreUnavailable
from core.settings import Settings
from serving.api.tokens import TokenVerifier, looks_like_jwt
from serving.workflow.audit import AuditTrail
from serving.workflow.keyring import Keyring
from serving.workflow.store import ExceptionStore
from serving.workflow.store.users import split_key

__all__ = ["Access", "Authenticator", "bearer"]

log = logging.getLogger("failcast.auth")
_MAX_REMEMBERED = 10_000


def bearer(header: str) -> str:
    """The credential of an ``Authorization`` header; ``NotAuthenticated`` naming what is
    missing otherwise."""
    if not header:
        raise NotAuthenticated(
            "no credentials: send 'Authorization: Bearer <API key or token>' "
            "(`failcast users add` issues a key)"
        )
    scheme, _, credential = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise NotAuthenticated(
            f"Authorization: the {scheme!r} scheme is not accepted; send 'Bearer <credential>'"
        )
    return credential.strip()


class Authenticator:
    def __init__(self, settings: Settings, store: ExceptionStore) -> None:
        self.store, self.snapshot = store, settings.keyring_file
        self.ttl = settings.auth_cache_seconds
        self.tokens = TokenVerifier.from_settings(settings)
        self._ring: Keyring | None = None
        self._tokens_known: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()
        try:
            self.reload()
        except StoreUnavailable as exc:  # the service starts; callers get 503s until it answers
            log.warning("no API keys to check yet: %s", exc)

    def reload(self) -> None:
        """Read the users table again; while the store is down keep what is held (or, at
        start, the snapshot) and raise ``StoreUnavailable`` only when nothing is."""
        try:
            ring = Keyring.from_store(self.store)
        except StoreUnavailable:
            if self._ring is None:
                self._ring = Keyring.read(self.snapshot)
                if self._ring is not None:
                    log.warning(
                        "exception store down: %d API keys from the snapshot", len(self._ring)
                    )
            if self._ring is None:
                raise
            return
        self._ring = ring
        try:
            ring.save(self.snapshot)
        except OSError as exc:
            log.warning("the keyring snapshot %s was not written: %s", self.snapshot, exc)

    def run(self) -> None:
        """Read the users table every ``ttl`` seconds (a thread's loop)."""
        while True:
            time.sleep(self.ttl)
            try:
                self.reload()
            except StoreUnavailable:
                pass  # nothing held yet: requests answer 503 until the store answers
            except Exception:  # a bug: say so, keep the loop
                log.exception("reading the API keys failed")

    def remembered(self, credential: str) -> Principal | None:
        """The caller, when known without I/O (for the event loop); None: ask ``verify``."""
        if split_key(credential) is not None:
            return self._ring.holder(credential) if self._ring is not None else None
        known = self._tokens_known.get(credential)
        if known is None or known[0] < time.monotonic():
            return None
        return known[1]

    def verify(self, credential: str) -> Principal:
        """Who holds ``credential`` (may block on the store or the identity provider)."""
        if split_key(credential) is not None:
            return self._key_holder(credential)
        if looks_like_jwt(credential):
            if self.tokens is None:
                raise NotAuthenticated(
                    "a bearer token was sent, but no identity provider is configured "
                    "(FAILCAST_OIDC_ISSUER); use an API key"
                )
            principal, expires = self.tokens.verify(credential)
            self._remember(credential, principal, min(self.ttl, expires - time.time()))
            return principal
        raise NotAuthenticated(
            "the credential is neither a failcast API key (fck_...) nor a bearer token (JWT)"
        )

    def _key_holder(self, key: str) -> Principal:
        ring = self._ring
        if ring is not None and ring.knows(key):
            principal = ring.holder(key)
        else:  # a user added since the last read? Ask the store for this one key
            try:
                principal = self.store.key_holder(key)
            except StoreUnavailable as exc:
                raise StoreUnavailable(
                    f"the API key cannot be checked: {exc} (and the keys held do not know it)"
                ) from exc
            if principal is not None:
                with self._lock:
                    self.reload()
        if principal is None:
            raise NotAuthenticated(
                "the API key is not valid: unknown, revoked or mistyped "
                "(`failcast users list` shows who holds a key)"
            )
        return principal

    def _remember(self, credential: str, principal: Principal, seconds: float) -> None:
        with self._lock:
            if len(self._tokens_known) >= _MAX_REMEMBERED:
                self._tokens_known.clear()
            self._tokens_known[credential] = (time.monotonic() + seconds, principal)


@dataclass(frozen=True)
class Access:
    """What the request guard needs of a service: who is calling, and where to say so."""

    authenticator: Authenticator
    audit: AuditTrail

    @classmethod
    def start(cls, settings: Settings, store: ExceptionStore) -> Access:
        """Read the keys (the store, or its snapshot) and start the keyring's and the
        audit's threads. Raises ``StoreUnavailable`` when neither has keys to read."""
        authenticator = Authenticator(settings, store)
        threading.Thread(target=authenticator.run, daemon=True, name="keyring").start()
        audit = AuditTrail(store)
        audit.start()
        return cls(authenticator, audit)

    async def authenticate(self, header: str) -> Principal:
        credential = bearer(header)
        known = self.authenticator.remembered(credential)
        if known is not None:
            return known
        return await anyio.to_thread.run_sync(self.authenticator.verify, credential)
