"""Process lifecycle and hygiene: graceful SIGTERM, and no secrets in the log."""

from __future__ import annotations

import base64
import http.client
import os
import json
import secrets
import signal
import time
from urllib.parse import urlencode

import pytest
import requests

from e2e_support.browser import Browser
from e2e_support.oidc import auth_url, exchange_code, new_session, token_request
from e2e_support.server import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    CLIENT_ID,
    CLIENT_SECRET,
    JANE_EMAIL,
    JANE_PASSWORD,
    REDIRECT_URI,
)


def test_sigterm_when_idle_exits_zero_quickly(fedgate):
    srv = fedgate()
    code, took = srv.terminate()
    assert code == 0, srv.log_tail()
    assert took < 5, f"took {took:.1f}s to stop"


def test_sigterm_during_inflight_request_still_answers_it(fedgate):
    """The request has started (headers in, body half sent) when SIGTERM arrives; the server
    must finish it, answer, and then exit 0 (graceful shutdown, like Dex's oklog/run)."""
    srv = fedgate()
    body = urlencode({
        "grant_type": "password", "username": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "scope": "openid email",
    }).encode()
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    conn.putrequest("POST", "/dex/token")
    conn.putheader("Authorization", f"Basic {basic}")
    conn.putheader("Content-Type", "application/x-www-form-urlencoded")
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(message_body=body[:12])
    time.sleep(0.5)

    srv.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert srv.alive(), "server exited with a request still in flight\n" + srv.log_tail()
    conn.send(body[12:])
    resp = conn.getresponse()
    payload = resp.read()
    conn.close()
    assert resp.status == 200, payload[:300]
    assert json.loads(payload)["access_token"]

    code = srv.process.wait(timeout=10)
    srv.stopped = True
    assert code == 0, srv.log_tail()


def test_new_connections_refused_after_shutdown(fedgate):
    srv = fedgate()
    code, _ = srv.terminate()
    assert code == 0
    with pytest.raises(requests.ConnectionError):
        new_session().get(srv.url("/healthz"), timeout=2)


def test_event_loops_run_swift_tasks(fedgate):
    """The executor hook is set (by symbol, at link time) and the start-up line says so;
    FEDGATE_EXECUTOR=dispatch leaves Swift's default pool in place."""
    srv = fedgate()
    assert "executor=event-loops" in srv.log(), srv.log_tail()
    assert requests.get(srv.url("/.well-known/openid-configuration"), timeout=5).status_code == 200
    srv.terminate()
    opted_out = fedgate(env={"FEDGATE_EXECUTOR": "dispatch"})
    assert "executor=dispatch" in opted_out.log(), opted_out.log_tail()
    assert requests.get(opted_out.url("/.well-known/openid-configuration"), timeout=5).status_code == 200


def test_a_server_pinned_to_one_cpu_serves_concurrent_grants(fedgate):
    """Restricted to one CPU, fedgate runs one event loop and one blocking-pool thread (SQLite);
    concurrent password and refresh grants all complete, none waits on another forever."""
    from concurrent.futures import ThreadPoolExecutor

    srv = fedgate(cpus={min(os.sched_getaffinity(0))})
    assert "blocking_threads=1" in srv.log() and "event_loops=1" in srv.log(), srv.log_tail()

    def login_and_refresh(_: int) -> tuple[int, int]:
        grant = token_request(srv, {"grant_type": "password", "username": JANE_EMAIL, "password": JANE_PASSWORD,
                                    "scope": "openid offline_access"})
        if grant.status_code != 200:
            return grant.status_code, 0
        refreshed = token_request(srv, {"grant_type": "refresh_token", "refresh_token": grant.json()["refresh_token"]})
        return grant.status_code, refreshed.status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(login_and_refresh, range(24)))
    assert results == [(200, 200)] * 24, (results, srv.log_tail())
    assert "error" not in srv.log().lower(), srv.log_tail()


def test_log_never_contains_secrets(fedgate):
    """Passwords, client secrets, codes and tokens must not reach the log, even at debug level."""
    srv = fedgate()
    secrets_seen: list[str] = [JANE_PASSWORD, CLIENT_SECRET]

    browser = Browser()
    arrival = browser.authorize(
        auth_url(srv, nonce=secrets.token_urlsafe(8), connector_id="local",
                 scope="openid email profile offline_access"),
        REDIRECT_URI, login=JANE_EMAIL, password=JANE_PASSWORD,
    )
    code = arrival.params["code"]
    secrets_seen.append(code)
    tokens = exchange_code(srv, code).json()
    secrets_seen += [tokens["access_token"], tokens["refresh_token"], tokens["id_token"]]

    # A failed login, a password grant, a refresh and a userinfo call.
    bad = browser.walk_to_form(auth_url(srv, nonce="n", connector_id="local"), "login-form")
    wrong = "Wr0ng-" + secrets.token_urlsafe(12)
    secrets_seen.append(wrong)
    browser.submit(bad, bad.form("login-form"), {"login": JANE_EMAIL, "password": wrong})
    grant = token_request(srv, {"grant_type": "password", "username": JANE_EMAIL, "password": JANE_PASSWORD,
                                "scope": "openid offline_access"}).json()
    secrets_seen += [grant["access_token"], grant["refresh_token"]]
    refreshed = token_request(srv, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}).json()
    secrets_seen += [refreshed["access_token"], refreshed["refresh_token"]]
    new_session().get(srv.url("/userinfo"), headers={"Authorization": f"Bearer {tokens['access_token']}"},
                      timeout=10)

    code_, _ = srv.terminate()
    assert code_ == 0
    log = srv.log()
    assert log.strip(), "the server logged nothing at debug level"
    leaked = [s[:12] + "…" for s in secrets_seen if s and s in log]
    assert not leaked, f"secrets found in the log: {leaked}"
    # JWT signatures are the unguessable part; look for them on their own too.
    for token in (tokens["access_token"], tokens["id_token"]):
        assert token.rsplit(".", 1)[-1] not in log


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_logger_exclude_fields_drops_personal_data(fedgate, log_format):
    """Dex's logger.excludeFields: the listed metadata keys never reach a log line."""
    srv = fedgate({"logger": {"level": "info", "format": log_format, "excludeFields": ["email", "groups"]}})
    Browser().authorize(
        auth_url(srv, nonce=secrets.token_urlsafe(8), connector_id="local", scope="openid email profile"),
        REDIRECT_URI, login=JANE_EMAIL, password=JANE_PASSWORD,
    )
    code_, _ = srv.terminate()
    assert code_ == 0
    lines = [line for line in srv.log().splitlines() if "login successful" in line]
    assert lines, srv.log()[-2000:]
    for line in lines:
        if log_format == "json":
            fields = json.loads(line)
            assert "username" in fields and "connector" in fields
            assert "email" not in fields and "groups" not in fields
        else:
            assert "username=" in line and "connector=" in line
            assert "email=" not in line and "groups=" not in line
        assert JANE_EMAIL not in line
