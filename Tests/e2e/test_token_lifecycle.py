"""Beyond Dex, through the real binary: two devices, RFC 7009 revocation, RFC 7662 introspection
(client-authenticated), and code reuse revoking what the code issued."""

from __future__ import annotations

from e2e_support.browser import Browser
from e2e_support.oidc import auth_url, exchange_code, new_session, token_request, verify_id_token
from e2e_support.server import ADMIN_EMAIL, ADMIN_PASSWORD, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI

OTHER_ID, OTHER_SECRET = "other-app", "other-secret"
OVERRIDES = {
    "oauth2": {"skipApprovalScreen": True, "passwordConnector": "local"},
    "staticClients": [
        {"id": CLIENT_ID, "secret": CLIENT_SECRET, "name": "Example App", "redirectURIs": [REDIRECT_URI]},
        {"id": OTHER_ID, "secret": OTHER_SECRET, "name": "Other", "redirectURIs": ["http://127.0.0.1:5555/other"]},
    ],
}


def login(server) -> tuple[dict, str]:
    arrival = Browser().authorize(auth_url(server, connector_id="local"), REDIRECT_URI, login=ADMIN_EMAIL, password=ADMIN_PASSWORD)
    code = arrival.params["code"]
    resp = exchange_code(server, code)
    assert resp.status_code == 200, resp.text
    return resp.json(), code


def post(server, path: str, data: dict, client=(CLIENT_ID, CLIENT_SECRET)):
    return new_session().post(server.url(path), data=data, auth=client, timeout=10)


def test_two_logins_give_two_working_refresh_tokens(fedgate):
    server = fedgate(OVERRIDES)
    first, _ = login(server)
    second, _ = login(server)
    assert first["refresh_token"] != second["refresh_token"]
    for tokens in (first, second):
        resp = token_request(server, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
        assert resp.status_code == 200, resp.text
        verify_id_token(server, resp.json()["id_token"])


def test_introspection_authenticates_the_client_and_shows_only_its_tokens(fedgate):
    server = fedgate(OVERRIDES)
    disc = new_session().get(server.url("/.well-known/openid-configuration"), timeout=10).json()
    assert disc["introspection_endpoint"] == server.url("/token/introspect")
    assert disc["revocation_endpoint"] == server.url("/token/revoke")
    tokens, _ = login(server)
    info = post(server, "/token/introspect", {"token": tokens["access_token"]}).json()
    assert info["active"] is True
    assert info["client_id"] == CLIENT_ID
    assert "offline_access" in info["scope"].split()
    assert info["sub"] and info["exp"] > info["iat"]
    # Dex's shape, for resource servers written against it: Bearer, token_use, claims under ext.
    assert info["token_type"] == "Bearer" and info["token_use"] == "access_token"
    assert info["aud"] == CLIENT_ID and info["nbf"] == info["iat"]
    assert info["ext"]["email"]
    refreshed = post(server, "/token/introspect", {"token": tokens["refresh_token"]}).json()
    assert refreshed["active"] is True and refreshed["token_use"] == "refresh_token"
    assert refreshed["sub"] == info["sub"] and refreshed["ext"]["email"] == info["ext"]["email"]
    assert post(server, "/token/introspect", {"token": tokens["access_token"]}, (OTHER_ID, OTHER_SECRET)).json() == {"active": False}
    assert post(server, "/token/introspect", {"token": tokens["access_token"]}, (CLIENT_ID, "wrong")).status_code == 401
    assert new_session().post(server.url("/token/introspect"), data={"token": tokens["access_token"]}, timeout=10).status_code == 401


def test_revoking_a_refresh_token_ends_the_family_and_other_clients_cannot(fedgate):
    server = fedgate(OVERRIDES)
    tokens, _ = login(server)
    refresh = tokens["refresh_token"]
    refused = post(server, "/token/revoke", {"token": refresh}, (OTHER_ID, OTHER_SECRET))
    assert refused.status_code == 400 and refused.json()["error"] == "unauthorized_client"
    assert post(server, "/token/revoke", {"token": refresh}).status_code == 200
    after = token_request(server, {"grant_type": "refresh_token", "refresh_token": refresh})
    assert after.status_code == 400 and after.json()["error"] == "invalid_grant"
    assert post(server, "/token/introspect", {"token": refresh}).json() == {"active": False}
    # The family's access token ends with it (RFC 7009 §2.1) where the server is asked.
    assert post(server, "/token/introspect", {"token": tokens["access_token"]}).json() == {"active": False}
    userinfo = new_session().get(server.url("/userinfo"), headers={"Authorization": "Bearer " + tokens["access_token"]}, timeout=10)
    assert userinfo.status_code == 401, userinfo.text


def test_reused_code_is_refused_and_revokes_the_refresh_token_it_issued(fedgate):
    server = fedgate(OVERRIDES)
    tokens, code = login(server)
    again = exchange_code(server, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    after = token_request(server, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert after.status_code == 400 and after.json()["error"] == "invalid_grant"
    assert post(server, "/token/introspect", {"token": tokens["access_token"]}).json() == {"active": False}
