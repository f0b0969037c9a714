"""Identity and roles without a server: the role and team rules, API keys kept hashed in the
exception store (SQLite and the real PostgreSQL), the keyring and its snapshot, tokens
verified against a real JWKS endpoint (expiry, audience, issuer, algorithm, key rotation),
status changes made as the authenticated caller, and the append-only audit trail."""

from __future__ import annotations

import datetime as dt
import stat
import time
from pathlib import Path
from typing import Any, cast

import jwt
import pytest
import sqlalchemy as sa

from core.access import SYSTEM_ACTOR, Principal, Role, check_subject
from core.actions import Team
from core.errors import (
    Conflict,
    InvalidInput,
    NotAuthenticated,
    PermissionDenied,
    StoreUnavailable,
)
from core.settings import Settings
from serving.api.auth import Authenticator, bearer
from serving.api.policy import needed
from serving.api.tokens import TokenVerifier
from serving.workflow.keyring import Keyring
from serving.workflow.store import ExceptionStore, Status
from serving.workflow.store.users import AuditEntry
from tests.identity import AUDIENCE, IdentityProvider, identity_provider
from tests.records import score

SETTLEMENTS = Team.SETTLEMENTS.value
ANALYST = Principal("ana", frozenset({Role.ANALYST}), frozenset({SETTLEMENTS}))
LEAD = Principal("lee", frozenset({Role.LEAD}))


def test_roles_and_teams_refuse_naming_what_is_required() -> None:
    ANALYST.require({Role.ANALYST, Role.LEAD}, "GET /queue")
    with pytest.raises(PermissionDenied, match=r"POST /score needs the role feed; 'ana' has"):
        ANALYST.require({Role.FEED}, "POST /score")
    ANALYST.require_team(SETTLEMENTS, "changing T1")
    LEAD.require_team("Treasury & Cash Management", "changing T1")
    with pytest.raises(PermissionDenied, match=r"team 'Treasury'; 'ana' \(analyst\) may change"):
        ANALYST.require_team("Treasury", "changing T1")
    feed = Principal("gateway", frozenset({Role.FEED}))
    with pytest.raises(PermissionDenied, match="needs the role analyst or lead"):
        feed.require_team(SETTLEMENTS, "changing T1")


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        (SYSTEM_ACTOR, "reserved for the system"),
        ("FailCast", "reserved for the system"),
        ("x" * 65, "1 to 64 printable"),
        ("", "1 to 64 printable"),
        ("a\nb", "1 to 64 printable"),
        (" ana", "no spaces at either end"),
    ],
)
def test_a_subject_is_printable_bounded_and_never_the_system(name: str, rule: str) -> None:
    with pytest.raises(InvalidInput, match=rule):
        check_subject(name)


def test_every_route_but_the_public_ones_needs_a_role() -> None:
    assert needed("GET", "/readyz") is None and needed("GET", "/ui") is None
    assert needed("POST", "/score") == frozenset({Role.FEED})
    assert needed("POST", "/trades/T-1/status") == frozenset({Role.ANALYST, Role.LEAD})
    assert needed("GET", "/trades/T-1") == frozenset({Role.ANALYST, Role.LEAD})
    assert needed("GET", "/anything/else") == frozenset(Role)  # unknown paths: signed in first


def test_bearer_names_what_is_missing() -> None:
    with pytest.raises(NotAuthenticated, match="no credentials: send 'Authorization: Bearer"):
        bearer("")
    with pytest.raises(NotAuthenticated, match="the 'Basic' scheme is not accepted"):
        bearer("Basic YWxpY2U6cGFzcw==")
    assert bearer("Bearer  fck_x ") == "fck_x"


def test_keys_are_kept_hashed_shown_once_and_revoked(store: ExceptionStore) -> None:
    issued = store.add_user("ana", Role.ANALYST, [SETTLEMENTS])
    assert issued.key.startswith("fck_") and len(issued.key) > 50
    assert store.key_holder(issued.key) == Principal(
        "ana", frozenset({Role.ANALYST}), frozenset({SETTLEMENTS})
    )
    assert store.key_holder(issued.key[:-1] + ("A" if issued.key[-1] != "A" else "B")) is None
    with store.engine.connect() as conn:  # nothing in the store lets anyone in
        stored = " ".join(map(str, conn.execute(sa.text("SELECT * FROM users")).one()))
    assert issued.key.split("_", 2)[2] not in stored  # fck_<id>_<secret>: the secret whole
    with pytest.raises(Conflict, match="user 'ana': exists already"):
        store.add_user("ana", Role.LEAD)
    with pytest.raises(InvalidInput, match="an analyst needs at least one --team"):
        store.add_user("bob", Role.ANALYST)
    with pytest.raises(InvalidInput, match="team 'Desk 9': not a team"):
        store.add_user("bob", Role.ANALYST, ["Desk 9"])
    with pytest.raises(InvalidInput, match="reserved for the system"):
        store.add_user(SYSTEM_ACTOR, Role.ADMIN)
    store.revoke_user("ana")
    assert store.key_holder(issued.key) is None
    assert [(u.name, u.revoked_at is not None) for u in store.users()] == [("ana", True)]
    assert [e.route for e in store.audit()] == ["users add", "users revoke"]


def test_the_audit_trail_is_append_only_and_filtered(store: ExceptionStore) -> None:
    at = dt.datetime(2026, 12, 2, 9, tzinfo=dt.UTC)
    store.append_audit(
        [
            AuditEntry(at, "ana", "analyst", "GET", "/queue", 200),
            AuditEntry(at + dt.timedelta(hours=1), "-", "none", "POST", "/score", 401, "no key"),
        ]
    )
    assert [e.subject for e in store.audit(since=at + dt.timedelta(minutes=1))] == ["-"]
    assert [e.outcome for e in store.audit(subject="ana")] == [200]
    if store.writer.dialect.name == "postgresql":  # refused whoever connects
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.writer.begin() as conn:
            conn.execute(sa.text("DELETE FROM audit"))
    assert len(store.audit()) == 2


def test_changes_are_made_as_the_caller_within_their_teams(store: ExceptionStore) -> None:
    store.record([score("T1", 0.30, 500.0), score("T2", 0.30, 400.0, team="Treasury")])
    store.transition("T1", Status.ACKNOWLEDGED, ANALYST, note="calling")
    assert store.history("T1")[-1].actor == "ana"
    with pytest.raises(PermissionDenied, match="the team 'Treasury'"):
        store.transition("T2", Status.ACKNOWLEDGED, ANALYST)
    with pytest.raises(PermissionDenied, match=r"recording an outcome \(SETTLED\) by hand"):
        store.transition("T1", Status.SETTLED, ANALYST)
    with pytest.raises(PermissionDenied, match="reassigning an exception"):
        store.transition("T1", Status.ACKNOWLEDGED, ANALYST, team="Treasury & Cash Management")
    store.transition("T2", Status.OPEN, LEAD, team=SETTLEMENTS)  # a reassignment alone
    assert store.get("T2").team == SETTLEMENTS
    assert "reassigned from Treasury to Settlements" in store.history("T2")[-1].note
    store.transition("T2", Status.RESOLVED, ANALYST)  # now the analyst's team
    assert store.get("T2").resolved_by == "ana"
    assert len(store.history("T1")) == 2  # refused changes wrote nothing


def test_the_keyring_checks_keys_in_memory_and_survives_a_store_down_start(
    tmp_path: Path,
) -> None:
    settings = Settings(home=tmp_path / "home")
    store = ExceptionStore(f"sqlite:///{tmp_path / 'ex.db'}")
    key = store.add_user("gateway", Role.FEED).key
    auth = Authenticator(settings, store)
    assert auth.remembered(key) == Principal("gateway", frozenset({Role.FEED}))
    snapshot = settings.keyring_file
    assert stat.S_IMODE(snapshot.stat().st_mode) == 0o600
    secret = key.split("_", 2)[2]  # fck_<id>_<secret>; the secret may hold "_" itself
    assert secret not in snapshot.read_text()

    added = store.add_user("late", Role.LEAD).key  # unknown to the ring: read again once
    assert auth.remembered(added) is None and auth.verify(added).subject == "late"
    store.revoke_user("gateway")
    auth.reload()
    assert auth.remembered(key) is None
    with pytest.raises(NotAuthenticated, match="the API key is not valid"):
        auth.verify(key)

    down = ExceptionStore("postgresql+psycopg://postgres@127.0.0.1:1/none", lazy=True)
    restarted = Authenticator(settings, down)  # the store is down: the snapshot lets in
    assert restarted.remembered(added) is not None and restarted.remembered(key) is None
    snapshot.unlink()
    cold = Authenticator(settings, down)
    with pytest.raises(StoreUnavailable, match="the API key cannot be checked"):
        cold.verify(added)
    assert Keyring.read(snapshot) is None
    snapshot.write_text('[{"key_id": ')  # torn: ignored, the service still starts
    assert Keyring.read(snapshot) is None
    with pytest.raises(StoreUnavailable):
        Authenticator(settings, down).verify(added)
    store.close()


# tokens from an identity provider --------------------------------------------------------


@pytest.fixture(scope="module")
def provider():
    with identity_provider() as idp:
        yield idp


def _verifier(idp: IdentityProvider, **claims: str) -> TokenVerifier:
    return TokenVerifier(idp.issuer, AUDIENCE, idp.jwks_url, ["RS256"], **claims)


def test_a_token_names_its_caller_roles_and_teams(provider: IdentityProvider) -> None:
    verifier = _verifier(provider, roles_claim="realm_access.roles")
    token = provider.token(
        "maria", realm_access={"roles": ["lead", "offline_access"]}, teams=[SETTLEMENTS]
    )
    principal, expires = verifier.verify(token)
    assert principal == Principal(
        "maria", frozenset({Role.LEAD}), frozenset({SETTLEMENTS}), "token"
    )
    assert expires > dt.datetime.now(dt.UTC).timestamp()
    with pytest.raises(PermissionDenied, match="holds no failcast role"):
        verifier.verify(provider.token("maria", realm_access={"roles": ["offline_access"]}))
    with pytest.raises(NotAuthenticated, match="reserved for the system"):
        verifier.verify(provider.token(SYSTEM_ACTOR, realm_access={"roles": ["admin"]}))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lifetime": -120}, "Signature has expired"),
        ({"aud": "someone-else"}, "Audience doesn't match"),
        ({"iss": "http://evil.example/realm"}, "Invalid issuer"),
    ],
)
def test_an_expired_or_foreign_token_is_refused(
    provider: IdentityProvider, change: dict, message: str
) -> None:
    with pytest.raises(NotAuthenticated, match=message):
        _verifier(provider).verify(provider.token(roles=["lead"], **change))


def test_unsigned_hmac_and_foreign_key_tokens_are_refused(provider: IdentityProvider) -> None:
    expiry = int(dt.datetime.now(dt.UTC).timestamp()) + 60
    claims: dict[str, Any] = {"iss": provider.issuer, "aud": AUDIENCE, "sub": "x", "exp": expiry}
    claims["roles"] = ["admin"]
    header = {"kid": provider.kid}
    unsigned = jwt.encode(claims, key=cast(Any, None), algorithm="none", headers=header)
    with pytest.raises(NotAuthenticated, match="bearer token"):
        _verifier(provider).verify(unsigned)
    public = provider.jwks()["keys"][0]["n"]  # HS256 keyed with the public key: the old trick
    forged = jwt.encode(claims, public, algorithm="HS256", headers=header)
    with pytest.raises(NotAuthenticated, match="bearer token"):
        _verifier(provider).verify(forged)
    stranger = IdentityProvider(1)  # same kid, another key
    stranger.keys, stranger.kid = {provider.kid: stranger.keys[stranger.kid]}, provider.kid
    stranger.issuer = provider.issuer
    with pytest.raises(NotAuthenticated, match="Signature verification failed"):
        _verifier(provider).verify(stranger.token(roles=["admin"]))


def test_a_rotated_key_is_fetched_when_a_token_names_it(provider: IdentityProvider) -> None:
    verifier = _verifier(provider)
    assert verifier.verify(provider.token(roles=["feed"]))[0].roles == {Role.FEED}
    fetched = provider.fetches
    old = provider.token(roles=["feed"])
    provider.rotate()
    time.sleep(1.1)  # the verifier fetches again at most once a second
    principal, _ = verifier.verify(provider.token("svc", roles=["feed"]))
    assert principal.subject == "svc" and provider.fetches == fetched + 1
    with pytest.raises(NotAuthenticated, match="Unable to find a signing key"):
        verifier.verify(old)  # its key is no longer published
