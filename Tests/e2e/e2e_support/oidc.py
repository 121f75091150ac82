"""OIDC client-side helpers: PKCE, authorization URLs, token calls, ID token checks.

Token verification uses joserfc (the maintained JOSE library); test_login_flow also verifies
with authlib, so two independent implementations agree on what the server signs.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from .server import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, FedgateServer


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def dex_subject(user_id: str, connector_id: str) -> str:
    """Dex's `sub`: base64url(protobuf IDTokenSubject{user_id = 1; conn_id = 2}), no padding.

    Each field is key byte (field << 3 | wire type 2), a varint length, then the UTF-8 bytes;
    proto3 omits empty fields.
    """
    out = bytearray()
    for number, value in ((1, user_id), (2, connector_id)):
        raw = value.encode("utf-8")
        if not raw:
            continue
        out.append(number << 3 | 2)
        n = len(raw)
        while n >= 0x80:
            out.append(n & 0x7F | 0x80)
            n >>= 7
        out.append(n)
        out += raw
    return b64url(bytes(out))


def half_hash(value: str) -> str:
    """at_hash / c_hash for RS256 (OIDC Core §3.1.3.6): left half of SHA-256, base64url."""
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return b64url(digest[: len(digest) // 2])


@dataclass
class PKCE:
    verifier: str
    challenge: str
    method: str

    @classmethod
    def s256(cls) -> "PKCE":
        verifier = b64url(secrets.token_bytes(48))  # 64 chars, within RFC 7636's 43..128
        return cls(verifier, b64url(hashlib.sha256(verifier.encode("ascii")).digest()), "S256")

    @classmethod
    def plain(cls) -> "PKCE":
        verifier = b64url(secrets.token_bytes(40))
        return cls(verifier, verifier, "plain")


def new_session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    return s


def auth_url(
    server: FedgateServer,
    *,
    client_id: str = CLIENT_ID,
    redirect_uri: str = REDIRECT_URI,
    scope: str = "openid email groups profile offline_access",
    state: str | None = "xyz",
    nonce: str | None = None,
    pkce: PKCE | None = None,
    response_type: str | None = "code",
    **extra: str,
) -> str:
    params: dict[str, str] = {"client_id": client_id, "redirect_uri": redirect_uri}
    if response_type is not None:
        params["response_type"] = response_type
    if scope is not None:
        params["scope"] = scope
    if state is not None:
        params["state"] = state
    if nonce is not None:
        params["nonce"] = nonce
    if pkce is not None:
        params["code_challenge"] = pkce.challenge
        params["code_challenge_method"] = pkce.method
    params.update(extra)
    return server.url("/auth") + "?" + urlencode(params)


def token_request(
    server: FedgateServer,
    data: dict[str, str],
    *,
    client_id: str | None = CLIENT_ID,
    client_secret: str | None = CLIENT_SECRET,
    basic: bool = True,
    session: requests.Session | None = None,
) -> requests.Response:
    """POST /token with client_secret_basic (basic=True) or client_secret_post credentials."""
    s = session or new_session()
    body = dict(data)
    auth = None
    if client_id is not None:
        if basic and client_secret is not None:
            auth = (client_id, client_secret)
        else:
            body["client_id"] = client_id
            if client_secret is not None:
                body["client_secret"] = client_secret
    return s.post(server.url("/token"), data=body, auth=auth, timeout=15)


def exchange_code(server: FedgateServer, code: str, *, pkce: PKCE | None = None,
                  redirect_uri: str = REDIRECT_URI, **kwargs: Any) -> requests.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if pkce is not None:
        data["code_verifier"] = pkce.verifier
    return token_request(server, data, **kwargs)


def jwks(server: FedgateServer) -> dict[str, Any]:
    resp = new_session().get(server.url("/keys"), timeout=10)
    resp.raise_for_status()
    return resp.json()


def verify_id_token(
    server: FedgateServer,
    id_token: str,
    *,
    audience: str = CLIENT_ID,
    nonce: str | None = None,
    access_token: str | None = None,
    subject: str | None = None,
) -> dict[str, Any]:
    """Verifies signature (RS256, key from /keys by kid) and the OIDC Core §3.1.3.7 claims."""
    keys = KeySet.import_key_set(jwks(server))
    token = jwt.decode(id_token, keys, algorithms=["RS256"])
    assert token.header["alg"] == "RS256"
    assert token.header.get("kid"), "ID token header has no kid"
    claims = token.claims
    options: dict[str, Any] = {
        "iss": {"essential": True, "value": server.issuer},
        "aud": {"essential": True, "value": audience},
        "exp": {"essential": True},
        "iat": {"essential": True},
        "sub": {"essential": True, **({"value": subject} if subject else {})},
    }
    if nonce is not None:
        options["nonce"] = {"essential": True, "value": nonce}
    jwt.JWTClaimsRegistry(leeway=30, **options).validate(claims)
    # Dex emits a plain string when there is exactly one audience.
    if audience and isinstance(claims["aud"], str):
        assert claims["aud"] == audience
    assert claims["exp"] > time.time(), "ID token already expired"
    assert claims["iat"] <= time.time() + 30, "ID token issued in the future"
    if access_token is not None:
        assert claims.get("at_hash") == half_hash(access_token), "at_hash does not match the access token"
    return claims


def wait_for_next_key(server: FedgateServer, timeout: float = 20) -> None:
    """A first start publishes the next signing key just after becoming ready: waits until
    /keys lists both, so tests comparing /keys bytes across fetches see one key set."""
    deadline = time.monotonic() + timeout
    while len(jwks(server)["keys"]) < 2:
        assert time.monotonic() < deadline, "the next signing key was never pre-published"
        time.sleep(0.05)
