"""The authorization code flow through the real pages (RFC 6749 §4.1, OIDC Core §3.1, RFC 7636)."""

from __future__ import annotations

import re
import secrets
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest

from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, JsonWebToken
from authlib.oidc.core import CodeIDToken

from e2e_support.oidc import PKCE, auth_url, dex_subject, exchange_code, jwks, verify_id_token
from e2e_support.server import (
    ADMIN_EMAIL,
    ADMIN_GROUPS,
    ADMIN_PASSWORD,
    ADMIN_SUB,
    ADMIN_USERNAME,
    ADMIN_USER_ID,
    CLIENT_ID,
    CLIENT_NAME,
    CLIENT_SECRET,
    MOCK_EMAIL,
    MOCK_GROUPS,
    MOCK_SUB,
    MOCK_USERNAME,
    MOCK_USER_ID,
    PUBLIC_CLIENT_ID,
    REDIRECT_URI,
    free_port,
)


def test_dex_subject_encoding_matches_known_value():
    # The literals are Dex's subs; the helper recomputes them from the protobuf rule, so a
    # mistake in either shows up here rather than in the flow tests.
    assert dex_subject(ADMIN_USER_ID, "local") == ADMIN_SUB
    assert dex_subject(MOCK_USER_ID, "mock") == MOCK_SUB


def test_connector_chooser_lists_connectors_sorted(server, browser):
    resp = browser.get(auth_url(server, nonce="n"))
    assert resp.status_code == 200, resp.text[:300]
    page = browser.parse(resp)
    links = [link for link in page.links if "connector" in link.classes]
    hrefs = " ".join(link.href for link in links)
    assert "/auth/local" in hrefs and "/auth/mock" in hrefs
    names = [link.text for link in links]
    assert names == sorted(names, key=str.lower), names
    for link in links:
        path = urlsplit(link.href).path
        assert path.startswith("/dex/auth/"), link.href


def test_full_login_with_pkce_s256_and_basic_auth(server, browser):
    pkce = PKCE.s256()
    nonce = secrets.token_urlsafe(16)
    state = secrets.token_urlsafe(16)
    arrival = browser.authorize(
        auth_url(server, state=state, nonce=nonce, pkce=pkce),
        REDIRECT_URI,
        connector="local",
        login=ADMIN_EMAIL,
        password=ADMIN_PASSWORD,
    )
    assert arrival.params["state"] == state
    assert "error" not in arrival.params
    assert arrival.page_with_form("login-form") is not None, "the password form was never shown"

    resp = exchange_code(server, arrival.params["code"], pkce=pkce)
    assert resp.status_code == 200, resp.text
    assert "no-store" in resp.headers.get("Cache-Control", "")
    body = resp.json()
    assert body["token_type"].lower() == "bearer"
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
    assert body["access_token"] and body["refresh_token"]

    claims = verify_id_token(
        server, body["id_token"], nonce=nonce, access_token=body["access_token"], subject=ADMIN_SUB
    )
    assert claims["aud"] == CLIENT_ID  # a string, not a list, for a single audience
    assert claims["email"] == ADMIN_EMAIL
    assert claims["email_verified"] is True
    assert claims["groups"] == ADMIN_GROUPS
    assert claims["name"] == ADMIN_USERNAME


def test_id_token_verifies_with_authlib_client(server, browser):
    """authlib plays the relying party end to end: builds the request, redeems the code with
    client_secret_basic, and validates the ID token with its own OIDC claim rules."""
    nonce = secrets.token_urlsafe(16)
    verifier = secrets.token_urlsafe(48)
    client = OAuth2Session(
        CLIENT_ID,
        CLIENT_SECRET,
        scope="openid email groups profile",
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    client.trust_env = False
    url, state = client.create_authorization_url(server.url("/auth"), nonce=nonce, code_verifier=verifier)
    arrival = browser.authorize(url, REDIRECT_URI, connector="local", login=ADMIN_EMAIL, password=ADMIN_PASSWORD)
    assert arrival.params["state"] == state

    token = client.fetch_token(server.url("/token"), authorization_response=arrival.url, code_verifier=verifier)
    key_set = JsonWebKey.import_key_set(jwks(server))
    claims = JsonWebToken(["RS256"]).decode(
        token["id_token"],
        key_set,
        claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": server.issuer}},
        claims_params={"nonce": nonce, "client_id": CLIENT_ID, "access_token": token["access_token"]},
    )
    claims.validate(leeway=30)  # iss, aud, exp, iat, nonce, at_hash (OIDC Core §3.1.3.7)
    assert claims["sub"] == ADMIN_SUB
    assert claims["email"] == ADMIN_EMAIL


def test_approval_page_then_grant_access(server, browser):
    nonce = secrets.token_urlsafe(8)
    arrival = browser.authorize(
        auth_url(server, nonce=nonce, connector_id="local", scope="openid email groups"),
        REDIRECT_URI,
        login=ADMIN_EMAIL,
        password=ADMIN_PASSWORD,
    )
    approval = arrival.page_with_form("approve-form")
    assert approval is not None, "the approval page was not shown (skipApprovalScreen is off)"
    assert urlsplit(approval.url).path == "/dex/approval"
    form = approval.form("approve-form")
    assert form.method == "post"
    assert form.fields.get("req") and form.fields.get("hmac"), form.fields
    assert form.field_types["req"] == "hidden" and form.field_types["hmac"] == "hidden"
    assert ("approval", "approve") in [(n, v) for n, v, _ in form.buttons]
    assert CLIENT_NAME in approval.text
    assert "View your email address" in approval.text
    assert "View your groups" in approval.text
    assert arrival.params.get("code") and arrival.params.get("state") == "xyz"
    assert exchange_code(server, arrival.params["code"]).status_code == 200


def test_approval_with_tampered_hmac_is_refused(server, browser):
    page = browser.walk_to_form(
        auth_url(server, nonce="n", connector_id="local"), "approve-form", login=ADMIN_EMAIL, password=ADMIN_PASSWORD
    )
    form = page.form("approve-form")
    forged = ("B" if form.fields["hmac"][:1] == "A" else "A") * len(form.fields["hmac"])
    resp = browser.submit(page, form, {"hmac": forged}, button=("approval", "approve"))
    assert "code=" not in resp.headers.get("Location", ""), "a forged approval HMAC still produced a code"
    assert 400 <= resp.status_code < 500, resp.status_code


def test_skip_approval_screen_goes_straight_to_client(fedgate, browser):
    srv = fedgate({"oauth2": {"skipApprovalScreen": True}})
    arrival = browser.authorize(
        auth_url(srv, nonce="n", connector_id="local"),
        REDIRECT_URI,
        login=ADMIN_EMAIL,
        password=ADMIN_PASSWORD,
        approve=False,  # fails the walk if an approval page appears
    )
    assert arrival.params.get("code")
    assert arrival.page_with_form("approve-form") is None


def test_mock_callback_deep_link_needs_no_form(server, browser):
    nonce = secrets.token_urlsafe(8)
    arrival = browser.authorize(
        auth_url(server, nonce=nonce, connector_id="mock", scope="openid email groups profile"),
        REDIRECT_URI,
    )
    assert arrival.page_with_form("login-form") is None, "a callback connector must not show a login form"
    assert not [p for p in arrival.pages if any("connector" in l.classes for l in p.links)], "chooser shown"
    body = exchange_code(server, arrival.params["code"]).json()
    claims = verify_id_token(
        server, body["id_token"], nonce=nonce, access_token=body["access_token"],
        subject=dex_subject(MOCK_USER_ID, "mock"),
    )
    assert claims["email"] == MOCK_EMAIL
    assert claims["email_verified"] is True
    assert claims["groups"] == MOCK_GROUPS
    assert claims["name"] == MOCK_USERNAME


def test_single_connector_redirects_without_chooser(fedgate, browser):
    srv = fedgate({"enablePasswordDB": False, "staticPasswords": None, "oauth2": {"passwordConnector": None}})
    resp = browser.get(auth_url(srv, nonce="n"))
    assert resp.status_code in (302, 303), f"expected a redirect to the only connector, got {resp.status_code}"
    assert "/auth/mock" in resp.headers["Location"]


def test_public_client_loopback_redirect_any_port_with_pkce_plain(server, browser):
    redirect = f"http://127.0.0.1:{free_port()}/callback"
    pkce = PKCE.plain()
    nonce = secrets.token_urlsafe(8)
    arrival = browser.authorize(
        auth_url(server, client_id=PUBLIC_CLIENT_ID, redirect_uri=redirect, nonce=nonce, pkce=pkce,
                 connector_id="local", scope="openid email"),
        redirect,
        login=ADMIN_EMAIL,
        password=ADMIN_PASSWORD,
    )
    assert arrival.url.startswith(redirect + "?")
    # A public client authenticates with its client_id alone (RFC 6749 §2.1 / §3.2.1).
    resp = exchange_code(server, arrival.params["code"], pkce=pkce, redirect_uri=redirect,
                         client_id=PUBLIC_CLIENT_ID, client_secret=None, basic=False)
    assert resp.status_code == 200, resp.text
    claims = verify_id_token(server, resp.json()["id_token"], audience=PUBLIC_CLIENT_ID, nonce=nonce,
                             subject=ADMIN_SUB)
    assert claims["email"] == ADMIN_EMAIL


def test_code_redirect_carries_only_expected_parameters(server, browser):
    arrival = browser.authorize(auth_url(server, nonce="n", connector_id="mock"), REDIRECT_URI)
    query = parse_qs(urlsplit(arrival.url).query)
    assert set(query) <= {"code", "state", "iss"}, query


@pytest.mark.parametrize("redirect", [
    "http://localhost:8123/cb", "http://[::1]:8123/cb", "http://127.0.0.1/cb", "urn:ietf:wg:oauth:2.0:oob",
])
def test_public_client_accepts_loopback_and_oob_redirects(server, browser, redirect):
    resp = browser.get(auth_url(server, client_id=PUBLIC_CLIENT_ID, redirect_uri=redirect, nonce="n",
                                connector_id="mock"))
    assert resp.status_code in (302, 303), resp.status_code
    assert "/auth/mock" in resp.headers["Location"]


@pytest.mark.parametrize("redirect", [
    "https://127.0.0.1:8123/cb",          # Dex's loopback rule is for http only
    "http://example.com:8123/cb",
    "http://127.0.0.1.example.com/cb",
])
def test_public_client_rejects_non_loopback_redirects(server, browser, redirect):
    resp = browser.get(auth_url(server, client_id=PUBLIC_CLIENT_ID, redirect_uri=redirect, nonce="n"))
    assert resp.status_code == 400, resp.status_code
    assert "Location" not in resp.headers


def test_out_of_band_code_is_shown_and_redeemable(server, browser):
    """urn:ietf:wg:oauth:2.0:oob: the code is displayed for the user to paste (Dex's oob.html)."""
    oob = "urn:ietf:wg:oauth:2.0:oob"
    page = browser.walk_to_form(
        auth_url(server, client_id=PUBLIC_CLIENT_ID, redirect_uri=oob, nonce="n", connector_id="mock"), "approve-form"
    )
    resp = browser.submit(page, page.form("approve-form"), button=("approval", "approve"))
    while resp.status_code in (302, 303):
        resp = browser.get(urljoin(resp.url, resp.headers["Location"]))
    assert resp.status_code == 200, resp.status_code
    match = re.search(r'<input[^>]*id="code"[^>]*value="([^"]+)"', resp.text) or re.search(
        r'<input[^>]*value="([^"]+)"[^>]*id="code"', resp.text)
    assert match, "no <input id=\"code\"> on the out-of-band page"
    token = exchange_code(server, match.group(1), redirect_uri=oob, client_id=PUBLIC_CLIENT_ID,
                          client_secret=None, basic=False)
    assert token.status_code == 200, token.text
    verify_id_token(server, token.json()["id_token"], audience=PUBLIC_CLIENT_ID, nonce="n",
                    subject=dex_subject(MOCK_USER_ID, "mock"))
