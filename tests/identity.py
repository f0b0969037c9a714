"""A stand-in identity provider for the tests: RSA keys of its own, a JWKS document served
over real HTTP on a spare port (keys can be rotated mid-test), and tokens signed with them."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

__all__ = ["AUDIENCE", "IdentityProvider", "identity_provider"]

AUDIENCE = "failcast-api"


class IdentityProvider:
    def __init__(self, port: int) -> None:
        self.issuer = f"http://127.0.0.1:{port}/realm"
        self.jwks_url = f"http://127.0.0.1:{port}/realm/jwks.json"
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.fetches = 0
        self.rotate()

    def rotate(self) -> str:
        """A new signing key replaces the published ones; returns its key id."""
        kid = uuid.uuid4().hex[:8]
        self.keys = {kid: rsa.generate_private_key(public_exponent=65537, key_size=2048)}
        self.kid = kid
        return kid

    def jwks(self) -> dict[str, Any]:
        published = []
        for kid, key in self.keys.items():
            jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
            published.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})
        return {"keys": published}

    def token(self, subject: str = "maria", lifetime: float = 300, **claims: Any) -> str:
        now = int(time.time())
        body = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": subject,
            "iat": now,
            "exp": now + int(lifetime),
            **claims,
        }
        return jwt.encode(body, self.keys[self.kid], algorithm="RS256", headers={"kid": self.kid})


@contextmanager
def identity_provider() -> Iterator[IdentityProvider]:
    holder: dict[str, IdentityProvider] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            provider = holder["provider"]
            provider.fetches += 1
            body = json.dumps(provider.jwks()).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["provider"] = IdentityProvider(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder["provider"]
    finally:
        server.shutdown()
        server.server_close()
