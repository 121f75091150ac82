"""Bad token requests: RFC 6749 §5.2 error JSON, client authentication (§2.3.1), code checks
(§4.1.3) and PKCE (RFC 7636 §4.6)."""

from __future__ import annotations

import base64
import secrets
import time

import pytest

from e2e_support.browser import Browser
from e2e_support.oidc import PKCE, auth_url, dex_subject, exchange_code, new_session, token_request
from e2e_support.server import CLIENT_ID, CLIENT_SECRET, PUBLIC_CLIENT_ID, REDIRECT_URI


def assert_oauth_error(resp, status: int, error: str) -> None:
    assert resp.status_code == status, f"expected {status} {error}, got {resp.status_code}: {resp.text[:300]}"
    assert resp.headers.get("Content-Type", "").startswith("application/json"), resp.headers.get("Content-Type")
    assert "no-store" in resp.headers.get("Cache-Control", "")
    body = resp.json()
    assert body.get("error") == error, body
    assert "access_token" not in body and "id_token" not in body
    if "error_description" in body:
        assert isinstance(body["error_description"], str)


def get_code(server, pkce: PKCE | None = None, *, client_id: str = CLIENT_ID, redirect_uri: str = REDIRECT_URI) -> str:
    arrival = Browser().authorize(
        auth_url(server, client_id=client_id, redirect_uri=redirect_uri, nonce=secrets.token_urlsafe(8),
                 pkce=pkce, connector_id="mock"),
        redirect_uri,
    )
    return arrival.params["code"]


STATIC_CASES = [
    pytest.param({"code": "x", "redirect_uri": REDIRECT_URI}, {}, 400, "invalid_request", id="missing-grant-type"),
    pytest.param({"grant_type": "bogus"}, {}, 400, "unsupported_grant_type", id="unknown-grant-type"),
    pytest.param({"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT_URI},
                 {"client_id": "no-such-client", "client_secret": "s"}, 401, "invalid_client", id="unknown-client"),
    pytest.param({"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT_URI},
                 {"client_secret": "wrong-secret"}, 401, "invalid_client", id="wrong-secret-basic"),
    pytest.param({"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT_URI},
                 {"client_secret": "wrong-secret", "basic": False}, 401, "invalid_client", id="wrong-secret-post"),
    pytest.param({"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT_URI},
                 {"client_id": CLIENT_ID, "client_secret": None, "basic": False}, 401, "invalid_client",
                 id="confidential-client-without-secret"),
    pytest.param({"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT_URI},
                 {"client_id": None}, 401, "invalid_client", id="no-client-authentication"),
    pytest.param({"grant_type": "authorization_code", "redirect_uri": REDIRECT_URI}, {}, 400, "invalid_request",
                 id="missing-code"),
    pytest.param({"grant_type": "authorization_code", "code": "not-a-real-code", "redirect_uri": REDIRECT_URI},
                 {}, 400, "invalid_grant", id="unknown-code"),
    pytest.param({"grant_type": "refresh_token"}, {}, 400, "invalid_request", id="missing-refresh-token"),
    # Well-formed (Dex's protobuf RefreshToken{refresh_id, token}) but never issued.
    pytest.param({"grant_type": "refresh_token", "refresh_token": dex_subject("not-a-real-id", "xyz")}, {}, 400,
                 "invalid_grant", id="unknown-refresh-token"),
    pytest.param({"grant_type": "refresh_token", "refresh_token": "%%%garbage%%%"}, {}, 400,
                 "invalid_grant", id="malformed-refresh-token"),
]


@pytest.mark.parametrize("data,auth,status,error", STATIC_CASES)
def test_bad_token_request(server, data, auth, status, error):
    assert_oauth_error(token_request(server, data, **auth), status, error)


def test_wrong_pkce_verifier_is_invalid_grant(server):
    pkce = PKCE.s256()
    code = get_code(server, pkce)
    wrong = PKCE(PKCE.s256().verifier, pkce.challenge, "S256")
    assert_oauth_error(exchange_code(server, code, pkce=wrong), 400, "invalid_grant")


def test_missing_pkce_verifier_is_invalid_grant(server):
    code = get_code(server, PKCE.s256())
    assert_oauth_error(exchange_code(server, code), 400, "invalid_grant")


def test_reused_code_is_invalid_grant(server):
    code = get_code(server)
    assert exchange_code(server, code).status_code == 200
    assert_oauth_error(exchange_code(server, code), 400, "invalid_grant")


def test_redirect_uri_mismatch_is_invalid_grant(server):
    code = get_code(server)
    assert_oauth_error(exchange_code(server, code, redirect_uri="http://127.0.0.1:5555/other"), 400, "invalid_grant")


def test_code_of_another_client_is_invalid_grant(server):
    redirect = "http://127.0.0.1:5555/callback"
    code = get_code(server, client_id=PUBLIC_CLIENT_ID, redirect_uri=redirect)
    # example-app (authenticated correctly) redeems cli's code.
    assert_oauth_error(exchange_code(server, code, redirect_uri=redirect), 400, "invalid_grant")


def test_expired_code_is_invalid_grant(fedgate):
    srv = fedgate({"expiry": {"authCodes": "2s"}, "oauth2": {"skipApprovalScreen": True}})
    code = get_code(srv)
    time.sleep(2.5)
    assert_oauth_error(exchange_code(srv, code), 400, "invalid_grant")


def test_oversized_body_is_refused_not_500(server):
    body = "grant_type=authorization_code&code=" + "a" * (70 * 1024)
    resp = new_session().post(
        server.url("/token"), data=body, auth=(CLIENT_ID, CLIENT_SECRET),
        headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=15,
    )
    assert resp.status_code in (400, 413), resp.status_code
    assert server.alive()
    assert new_session().get(server.url("/healthz"), timeout=10).status_code == 200


def test_token_endpoint_rejects_get(server):
    resp = new_session().get(server.url("/token"), params={"grant_type": "password"}, timeout=10)
    assert resp.status_code in (400, 404, 405), resp.status_code


@pytest.mark.parametrize("authorization", [
    pytest.param("Basic !!!", id="not-base64"),
    pytest.param("Basic " + base64.b64encode(b"no-colon-here").decode(), id="no-colon"),
    pytest.param("Basic " + base64.b64encode(f"{CLIENT_ID}:wrong-secret".encode()).decode(), id="wrong-secret"),
])
def test_failed_basic_authentication_carries_a_challenge(server, authorization):
    # RFC 6749 §5.2: a client that tried the Authorization header gets 401 with WWW-Authenticate.
    resp = new_session().post(
        server.url("/token"), data={"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT_URI},
        headers={"Authorization": authorization}, timeout=10,
    )
    assert_oauth_error(resp, 401, "invalid_client")
    assert resp.headers.get("WWW-Authenticate", "").startswith("Basic"), resp.headers
