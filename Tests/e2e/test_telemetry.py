"""Dex's telemetry listener (`telemetry.http`): health probes and Prometheus metrics on their own
port, as the Dex Helm chart's probes and a ServiceMonitor expect."""

from __future__ import annotations

import re

from e2e_support.oidc import new_session, token_request
from e2e_support.server import ADMIN_EMAIL, ADMIN_PASSWORD, free_port


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample `name{labels}` (labels in any order), or None."""
    for line in text.splitlines():
        match = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(3) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(4))
    return None


def test_telemetry_port_serves_probes_and_counts_requests(fedgate):
    port = free_port()
    srv = fedgate({"telemetry": {"http": f"127.0.0.1:{port}"}})
    base = f"http://127.0.0.1:{port}"
    s = new_session()
    assert "scheme=telemetry" in srv.log_tail()

    live = s.get(base + "/healthz/live", timeout=10)
    assert live.status_code == 200 and live.text == "ok"
    ready = s.get(base + "/healthz/ready", timeout=10)
    assert ready.status_code == 200, ready.text
    health = s.get(base + "/healthz", timeout=10)
    assert health.status_code == 200
    assert health.json() == {"storage": {"status": "ok"}}
    # The telemetry routes are not on the main port, and the issuer's routes not on this one.
    assert s.get(srv.url("/metrics"), timeout=10).status_code == 404
    assert s.get(base + "/dex/keys", timeout=10).status_code == 404

    # Traffic on the main port: a password grant, a refused grant, discovery twice, an unknown path.
    ok = token_request(srv, {"grant_type": "password", "username": ADMIN_EMAIL, "password": ADMIN_PASSWORD,
                             "scope": "openid"})
    assert ok.status_code == 200, ok.text
    bad = token_request(srv, {"grant_type": "refresh_token", "refresh_token": "not-a-token"})
    assert bad.status_code == 400
    for _ in range(2):
        assert s.get(srv.url("/.well-known/openid-configuration"), timeout=10).status_code == 200

    resp = s.get(base + "/metrics", timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    text = resp.text
    # Dex's metric names and labels; handlers are paths below the issuer's path.
    assert metric(text, "http_requests_total", code="200", method="post", handler="/token") == 1
    assert metric(text, "http_requests_total", code="400", method="post", handler="/token") == 1
    assert metric(text, "http_requests_total", code="200", method="get",
                  handler="/.well-known/openid-configuration") == 2
    assert metric(text, "request_duration_seconds_count", code="200", method="post", handler="/token") == 1
    assert metric(text, "request_duration_seconds_bucket", code="200", method="post", handler="/token", le="10.0") == 1
    assert metric(text, "response_size_bytes_count", code="200", method="get",
                  handler="/.well-known/openid-configuration") == 2
    assert metric(text, "fedgate_build_info") == 1
    assert re.search(r'^fedgate_build_info\{version="[^"]+",platform="linux/\w+"\} 1', text, re.M), text
    # A path no route matches is counted under one catch-all label, not its own path (the main
    # port's /metrics above was the first).
    assert metric(text, "http_requests_total", code="404", method="get", handler="NotFound") == 1
    assert s.get(srv.url("/no-such-page"), timeout=10).status_code == 404
    text = s.get(base + "/metrics", timeout=10).text
    assert metric(text, "http_requests_total", code="404", method="get", handler="NotFound") == 2
    assert metric(text, "http_requests_total", method="get", handler="/no-such-page") is None
    # A method outside HTTP's standard ones (a WebDAV one the parser accepts) is labelled "other".
    assert s.request("PROPFIND", srv.url("/token"), timeout=10).status_code in (404, 405)
    text = s.get(base + "/metrics", timeout=10).text
    assert "propfind" not in text.lower()
    assert metric(text, "http_requests_total", method="other") is not None
    assert "# HELP http_requests_total" in text and "# TYPE http_requests_total counter" in text
    # Nothing secret is labelled: no token, code or password appears in the exposition.
    assert ok.json()["id_token"] not in text and ADMIN_PASSWORD not in text


def test_without_telemetry_no_extra_listener_and_config_still_validates(fedgate):
    srv = fedgate({"telemetry": None})
    assert "scheme=telemetry" not in srv.log_tail()
    assert new_session().get(srv.url("/healthz"), timeout=10).status_code == 200
