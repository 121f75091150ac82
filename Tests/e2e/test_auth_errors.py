"""Bad authorization requests (RFC 6749 §4.1.2.1, §3.1.2.4; OIDC Core §3.1.2.6; RFC 7636 §4.4.1).

Until the client and its redirect_uri are known to be good, errors are shown to the user and
never redirected (an open redirector otherwise). After that, errors go back to the client.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from e2e_support.oidc import new_session
from e2e_support.server import CLIENT_ID, REDIRECT_URI

GOOD = {
    "client_id": CLIENT_ID,
    "redirect_uri": REDIRECT_URI,
    "response_type": "code",
    "scope": "openid email",
    "state": "xyz",
    "nonce": "n-0S6_WzA2Mj",
}


def request_auth(server, overrides: dict[str, str | None]):
    params = {**GOOD, **overrides}
    params = {k: v for k, v in params.items() if v is not None}
    return new_session().get(server.url("/auth") + "?" + urlencode(params), allow_redirects=False, timeout=15)


PAGE_ERRORS = [
    pytest.param({"client_id": "no-such-client"}, id="unknown-client"),
    pytest.param({"client_id": None}, id="missing-client"),
    pytest.param({"redirect_uri": "http://127.0.0.1:5555/elsewhere"}, id="unregistered-redirect-path"),
    pytest.param({"redirect_uri": "https://evil.example.net/callback"}, id="unregistered-redirect-host"),
    pytest.param({"redirect_uri": None}, id="missing-redirect"),
    # A confidential client may not use the loopback/any-port rule meant for public clients.
    pytest.param({"redirect_uri": "http://127.0.0.1:5556/callback"}, id="confidential-loopback-other-port"),
]


@pytest.mark.parametrize("overrides", PAGE_ERRORS)
def test_bad_client_or_redirect_shows_error_page(server, overrides):
    resp = request_auth(server, overrides)
    assert resp.status_code == 400, f"{resp.status_code} {resp.headers.get('Location')}"
    assert "Location" not in resp.headers, "must never redirect to an unverified redirect_uri"
    assert resp.headers.get("Content-Type", "").startswith("text/html")
    assert "<html" in resp.text.lower()


REDIRECT_ERRORS = [
    pytest.param({"response_type": None}, "unsupported_response_type", id="missing-response-type"),
    pytest.param({"response_type": "bogus"}, "unsupported_response_type", id="unknown-response-type"),
    pytest.param({"scope": "email groups"}, "invalid_scope", id="scope-without-openid"),
    pytest.param({"scope": "openid bogus"}, "invalid_scope", id="unknown-scope"),
    pytest.param({"code_challenge": "x" * 43, "code_challenge_method": "S512"}, "invalid_request",
                 id="bad-code-challenge-method"),
    pytest.param({"prompt": "none"}, "login_required", id="prompt-none-without-session"),
]


@pytest.mark.parametrize("overrides,error", REDIRECT_ERRORS)
def test_bad_request_redirects_error_to_client(server, overrides, error):
    resp = request_auth(server, overrides)
    assert resp.status_code in (302, 303), f"{resp.status_code}: {resp.text[:300]}"
    location = resp.headers["Location"]
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == REDIRECT_URI
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query.get("error") == error, location
    assert query.get("state") == "xyz", "the error redirect must carry state back (RFC 6749 §4.1.2.1)"
    assert "code" not in query


def test_oversized_state_is_refused_without_crashing(server):
    resp = request_auth(server, {"state": "s" * 10_240})
    if resp.status_code in (302, 303):
        query = parse_qs(urlsplit(resp.headers["Location"]).query)
        assert query.get("error") == ["invalid_request"], resp.headers["Location"]
    else:
        assert 400 <= resp.status_code < 500, resp.status_code
    # Still serving.
    assert new_session().get(server.url("/healthz"), timeout=10).status_code == 200


def test_oversized_query_string_does_not_crash(server):
    try:
        resp = request_auth(server, {"nonce": "n" * 60_000})
    except requests.ConnectionError:
        resp = None  # refusing to read an oversized request line is acceptable
    if resp is not None:
        assert resp.status_code < 500, resp.status_code
        assert "code=" not in resp.headers.get("Location", "")
    assert server.alive()
    assert new_session().get(server.url("/healthz"), timeout=10).status_code == 200


def test_unknown_connector_id_is_not_a_server_error(server):
    resp = request_auth(server, {"connector_id": "no-such-connector"})
    assert 300 <= resp.status_code < 500, resp.status_code
    if resp.status_code in (302, 303):
        location = resp.headers["Location"]
        assert not location.startswith(REDIRECT_URI) or "error=" in location
