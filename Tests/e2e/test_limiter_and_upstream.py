"""Issue 3 through the real binary: brute-force protection on the password form and grant
(429 + Retry-After, no user enumeration, recovery after the backoff), and a refresh whose upstream
user has disappeared answered invalid_grant, never a 500."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin

from e2e_support.browser import Browser
from e2e_support.oidc import auth_url, new_session, token_request, verify_id_token
from e2e_support.server import (ADMIN_EMAIL, ADMIN_PASSWORD, CLIENT_ID, CLIENT_SECRET, JANE_EMAIL, JANE_HASH,
                                JANE_PASSWORD, JANE_USER_ID, REDIRECT_URI)

POLICY = {"oauth2": {"passwordConnector": "local",
                     "passwordPolicy": {"maxFailures": 3, "maxFailuresPerIP": 100, "lockout": "3s", "window": "1m"}}}


def grant(server, username: str, password: str):
    return token_request(server, {"grant_type": "password", "username": username, "password": password, "scope": "openid"})


def test_password_grant_is_throttled_after_max_failures_and_recovers(fedgate):
    server = fedgate(POLICY)
    for _ in range(3):
        resp = grant(server, ADMIN_EMAIL, "wrong")
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"
    limited = grant(server, ADMIN_EMAIL, "wrong")
    assert limited.status_code == 429, limited.text
    assert 1 <= int(limited.headers["Retry-After"]) <= 3
    # The right password is not even checked while locked out.
    assert grant(server, ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 429
    # An unknown user is treated exactly the same, so the limiter reveals no account.
    for _ in range(3):
        assert grant(server, "nobody@example.com", "wrong").status_code == 400
    assert grant(server, "nobody@example.com", "wrong").status_code == 429
    time.sleep(3.2)
    ok = grant(server, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert ok.status_code == 200, ok.text
    verify_id_token(server, ok.json()["id_token"])


def test_concurrent_guesses_cannot_outrun_the_limit(fedgate):
    """20 wrong passwords for one user sent at once: exactly maxFailures are checked (each a
    bcrypt comparison); the rest are refused with 429 before the password is looked at. Then 12
    concurrent logins of another user with the right password all succeed."""
    server = fedgate(POLICY)
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = sorted(pool.map(lambda _: grant(server, ADMIN_EMAIL, "wrong").status_code, range(20)))
    assert statuses == [400] * 3 + [429] * 17, statuses
    with ThreadPoolExecutor(max_workers=12) as pool:
        oks = list(pool.map(lambda _: grant(server, JANE_EMAIL, JANE_PASSWORD).status_code, range(12)))
    assert oks == [200] * 12, oks


def test_behind_a_trusted_proxy_the_per_address_budget_is_the_clients(fedgate):
    """web.clientRemoteIP: with the server behind a proxy (here every test request comes from
    127.0.0.1, the trusted proxy), each client's address from X-Forwarded-For gets its own
    per-address budget; what a client writes into the header itself is not believed."""
    server = fedgate({
        "web": {"clientRemoteIP": {"header": "X-Forwarded-For", "trustedProxies": ["127.0.0.1/32"]}},
        "oauth2": {"passwordConnector": "local",
                   "passwordPolicy": {"maxFailures": 100, "maxFailuresPerIP": 3, "lockout": "30s", "window": "1m"}},
    })
    s = new_session()

    def grant_from(address: str, password: str):
        return s.post(server.url("/token"), auth=(CLIENT_ID, CLIENT_SECRET), timeout=15,
                      headers={"X-Forwarded-For": address},
                      data={"grant_type": "password", "username": ADMIN_EMAIL, "password": password, "scope": "openid"})

    for _ in range(3):
        assert grant_from("203.0.113.7", "wrong").status_code == 400
    assert grant_from("203.0.113.7", "wrong").status_code == 429
    # Another client behind the same proxy is not locked out by the first one's failures.
    assert grant_from("198.51.100.9", ADMIN_PASSWORD).status_code == 200
    # The attacker cannot step around the lock by prepending an address of its own: the proxy
    # appended the real one, and that is the one read (rightmost untrusted).
    assert grant_from("198.51.100.9, 203.0.113.7", ADMIN_PASSWORD).status_code == 429


def test_without_client_remote_ip_every_client_behind_the_proxy_shares_one_budget(fedgate):
    server = fedgate({"oauth2": {"passwordConnector": "local",
                                 "passwordPolicy": {"maxFailures": 100, "maxFailuresPerIP": 3, "lockout": "30s",
                                                    "window": "1m"}}})
    s = new_session()
    for _ in range(3):
        s.post(server.url("/token"), auth=(CLIENT_ID, CLIENT_SECRET), timeout=15, headers={"X-Forwarded-For": "203.0.113.7"},
               data={"grant_type": "password", "username": ADMIN_EMAIL, "password": "wrong", "scope": "openid"})
    # The header is not believed by default: the peer (127.0.0.1) is the locked-out address.
    other = s.post(server.url("/token"), auth=(CLIENT_ID, CLIENT_SECRET), timeout=15,
                   headers={"X-Forwarded-For": "198.51.100.9"},
                   data={"grant_type": "password", "username": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "scope": "openid"})
    assert other.status_code == 429


def test_password_form_shows_a_plain_message_with_429(fedgate):
    server = fedgate(POLICY)
    browser = Browser()
    page = browser.walk_to_form(auth_url(server, connector_id="local"), "login-form")
    form = page.form("login-form")
    target = urljoin(page.url, form.action)
    session = browser.session
    statuses = []
    for _ in range(4):
        resp = session.post(target, data={"login": ADMIN_EMAIL, "password": "wrong"}, allow_redirects=False, timeout=10)
        statuses.append(resp.status_code)
    assert statuses[:3] == [401, 401, 401], statuses
    assert statuses[3] == 429, statuses
    assert "Too many failed attempts" in resp.text
    assert resp.headers.get("Retry-After")
    assert f'value="{ADMIN_EMAIL}"' in resp.text  # the username is kept, the password is not echoed


def test_refresh_after_the_upstream_user_disappears_is_invalid_grant(fedgate, tmp_path):
    shared = {"storage": {"type": "sqlite3", "config": {"file": str(tmp_path / "shared.db")}},
              "oauth2": {"skipApprovalScreen": True}}
    first = fedgate(shared)
    arrival = Browser().authorize(auth_url(first, connector_id="local"), REDIRECT_URI, login=JANE_EMAIL,
                                  password="Tr0ub4dor-e2e-9f3k")
    tokens = token_request(first, {"grant_type": "authorization_code", "code": arrival.params["code"],
                                   "redirect_uri": REDIRECT_URI}).json()
    assert "refresh_token" in tokens
    code, _ = first.terminate()
    assert code == 0

    # The operator removes jane from the config; the same store, a new process.
    without_jane = dict(shared)
    without_jane["staticPasswords"] = [p for p in first.config["staticPasswords"] if p["email"] != JANE_EMAIL]
    second = fedgate(without_jane)
    resp = new_session().post(second.url("/token"), auth=(CLIENT_ID, CLIENT_SECRET), timeout=10,
                              data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"] == "invalid_grant"
