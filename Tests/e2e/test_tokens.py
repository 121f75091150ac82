"""Refresh tokens (RFC 6749 §6, Dex rotation rules), userinfo (OIDC Core §5.3), password grant."""

from __future__ import annotations

import secrets
import time

import pytest

from e2e_support.browser import Browser
from e2e_support.oidc import auth_url, exchange_code, new_session, token_request, verify_id_token
from e2e_support.server import (
    ADMIN_EMAIL,
    ADMIN_GROUPS,
    ADMIN_PASSWORD,
    ADMIN_SUB,
    ADMIN_USER_ID,
    ADMIN_USERNAME,
    CLIENT_ID,
    MOCK_EMAIL,
    MOCK_GROUPS,
    MOCK_SUB,
    MOCK_USERNAME,
    REDIRECT_URI,
    FedgateServer,
)


def login_tokens(server: FedgateServer, *, connector: str = "mock",
                 scope: str = "openid email groups profile offline_access") -> dict:
    """A fresh browser login (approval granted) and code exchange; returns the token response."""
    browser = Browser()
    creds = {"login": ADMIN_EMAIL, "password": ADMIN_PASSWORD} if connector == "local" else {}
    arrival = browser.authorize(
        auth_url(server, nonce=secrets.token_urlsafe(8), connector_id=connector, scope=scope), REDIRECT_URI, **creds
    )
    resp = exchange_code(server, arrival.params["code"])
    assert resp.status_code == 200, resp.text
    return resp.json()


def refresh(server: FedgateServer, token: str, **extra: str):
    return token_request(server, {"grant_type": "refresh_token", "refresh_token": token, **extra})


def test_refresh_rotates_the_refresh_token(server):
    first = login_tokens(server, connector="local")
    resp = refresh(server, first["refresh_token"])
    assert resp.status_code == 200, resp.text
    assert "no-store" in resp.headers.get("Cache-Control", "")
    second = resp.json()
    assert second["refresh_token"] and second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    claims = verify_id_token(server, second["id_token"], access_token=second["access_token"], subject=ADMIN_SUB)
    assert claims["email"] == ADMIN_EMAIL
    assert claims["groups"] == ADMIN_GROUPS
    # The new token keeps working.
    third = refresh(server, second["refresh_token"])
    assert third.status_code == 200, third.text


def test_refresh_with_client_secret_post(server):
    first = login_tokens(server)
    resp = token_request(server, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
                         basic=False)
    assert resp.status_code == 200, resp.text
    verify_id_token(server, resp.json()["id_token"], subject=MOCK_SUB)


def test_refresh_may_narrow_but_not_widen_scopes(server):
    first = login_tokens(server, scope="openid email offline_access")
    widened = refresh(server, first["refresh_token"], scope="openid email groups offline_access")
    assert widened.status_code == 400, widened.text
    # RFC 6749 §5.2 names invalid_scope ("exceeds the scope granted"); Dex says invalid_request.
    assert widened.json()["error"] in ("invalid_scope", "invalid_request")
    narrowed = refresh(server, first["refresh_token"], scope="openid offline_access")
    assert narrowed.status_code == 200, narrowed.text
    claims = verify_id_token(server, narrowed.json()["id_token"], subject=MOCK_SUB)
    assert "email" not in claims


def test_no_refresh_token_without_offline_access(server):
    body = login_tokens(server, scope="openid email")
    assert not body.get("refresh_token")


def test_refresh_token_of_another_client_is_rejected(server):
    first = login_tokens(server)
    resp = token_request(server, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
                         client_id="cli", client_secret=None, basic=False)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"] == "invalid_grant"


@pytest.fixture(scope="module")
def reuse_server(module_fedgate):
    return module_fedgate({"expiry": {"refreshTokens": {"reuseInterval": "1s"}}})


def test_rotated_out_refresh_token_is_rejected_after_reuse_interval(reuse_server):
    first = login_tokens(reuse_server)
    resp = refresh(reuse_server, first["refresh_token"])
    assert resp.status_code == 200, resp.text
    current = resp.json()["refresh_token"]

    # Within reuseInterval the old token is accepted and answers with the current token
    # (Dex's tolerance for a client that lost the response to its refresh).
    again = refresh(reuse_server, first["refresh_token"])
    assert again.status_code == 200, again.text
    assert again.json()["refresh_token"] == current

    time.sleep(1.5)
    late = refresh(reuse_server, first["refresh_token"])
    assert late.status_code == 400, late.text
    assert late.json()["error"] == "invalid_grant"
    # A replay past the interval means the token leaked: Fedgate revokes the whole family, so
    # the current token dies too (RFC 9700 §4.14.2 refresh token reuse detection; Dex keeps it).
    revoked = refresh(reuse_server, current)
    assert revoked.status_code == 400, revoked.text
    assert revoked.json()["error"] == "invalid_grant"


def test_token_older_than_the_previous_one_revokes_the_family(reuse_server):
    # A leaked token may be replayed after the client has rotated twice: neither the current
    # nor the previous secret, yet the family's id says whose it is.
    t1 = login_tokens(reuse_server)["refresh_token"]
    t2 = refresh(reuse_server, t1).json()["refresh_token"]
    t3 = refresh(reuse_server, t2).json()["refresh_token"]
    time.sleep(1.5)
    replayed = refresh(reuse_server, t1)
    assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_grant", replayed.text
    revoked = refresh(reuse_server, t3)
    assert revoked.status_code == 400 and revoked.json()["error"] == "invalid_grant", revoked.text


def test_userinfo_returns_claims_for_access_token(server):
    body = login_tokens(server, connector="local")
    id_claims = verify_id_token(server, body["id_token"], access_token=body["access_token"], subject=ADMIN_SUB)
    session = new_session()
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    for resp in (
        session.get(server.url("/userinfo"), headers=auth, timeout=10),
        session.post(server.url("/userinfo"), headers=auth, timeout=10),
    ):
        assert resp.status_code == 200, resp.text
        info = resp.json()
        assert info["sub"] == id_claims["sub"] == ADMIN_SUB
        assert info["email"] == ADMIN_EMAIL
        assert info["email_verified"] is True
        assert info["groups"] == ADMIN_GROUPS
        assert info["name"] == ADMIN_USERNAME
        # Dex echoes every claim of the verified token.
        assert info["iss"] == server.issuer
        assert info["exp"] > time.time()
        assert CLIENT_ID in ([info["aud"]] if isinstance(info["aud"], str) else info["aud"])
        assert resp.headers.get("Cache-Control") == "no-store"


def test_userinfo_echoes_federated_claims(server):
    body = token_request(server, {"grant_type": "password", "username": ADMIN_EMAIL, "password": ADMIN_PASSWORD,
                                  "scope": "openid email federated:id"}).json()
    info = new_session().get(server.url("/userinfo"), headers={"Authorization": f"Bearer {body['access_token']}"},
                             timeout=10).json()
    assert info["federated_claims"] == {"connector_id": "local", "user_id": ADMIN_USER_ID}


@pytest.mark.parametrize(
    "header",
    [None, "Bearer not-a-token", "Basic ZXhhbXBsZS1hcHA6c2VjcmV0"],
    ids=["missing", "garbage-bearer", "basic-scheme"],
)
def test_userinfo_rejects_bad_credentials(server, header):
    headers = {"Authorization": header} if header else {}
    resp = new_session().get(server.url("/userinfo"), headers=headers, timeout=10)
    assert resp.status_code == 401, resp.text


def test_userinfo_rejects_token_from_another_issuer(server, module_fedgate):
    other = module_fedgate()
    foreign = login_tokens(other)["access_token"]
    resp = new_session().get(server.url("/userinfo"), headers={"Authorization": f"Bearer {foreign}"}, timeout=10)
    assert resp.status_code == 401, resp.text


def test_password_grant_issues_tokens(server):
    resp = token_request(server, {
        "grant_type": "password", "username": ADMIN_EMAIL, "password": ADMIN_PASSWORD,
        "scope": "openid email groups profile offline_access",
    })
    assert resp.status_code == 200, resp.text
    assert "no-store" in resp.headers.get("Cache-Control", "")
    body = resp.json()
    claims = verify_id_token(server, body["id_token"], access_token=body["access_token"], subject=ADMIN_SUB)
    assert claims["aud"] == CLIENT_ID
    assert claims["email"] == ADMIN_EMAIL
    assert claims["groups"] == ADMIN_GROUPS
    assert body.get("refresh_token")
    assert refresh(server, body["refresh_token"]).status_code == 200


def test_password_grant_rejects_wrong_password(server):
    resp = token_request(server, {
        "grant_type": "password", "username": ADMIN_EMAIL, "password": "wrong", "scope": "openid",
    })
    # RFC 6749 §5.2 says invalid_grant; Dex answers 401 access_denied. Either way: no token.
    assert resp.status_code in (400, 401), resp.text
    assert resp.json()["error"] in ("invalid_grant", "access_denied")
    assert "access_token" not in resp.json()


def test_password_grant_refused_without_password_connector(fedgate):
    srv = fedgate({"oauth2": {"passwordConnector": None}})
    resp = token_request(srv, {
        "grant_type": "password", "username": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "scope": "openid",
    })
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"] == "unsupported_grant_type"


def test_mock_identity_survives_refresh(server):
    first = login_tokens(server)
    resp = refresh(server, first["refresh_token"])
    assert resp.status_code == 200, resp.text
    claims = verify_id_token(server, resp.json()["id_token"], subject=MOCK_SUB)
    assert (claims["email"], claims["groups"], claims["name"]) == (MOCK_EMAIL, MOCK_GROUPS, MOCK_USERNAME)
