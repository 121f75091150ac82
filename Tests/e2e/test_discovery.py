"""Discovery (OIDC Discovery 1.0 §3/§4), the JWKS (RFC 7517), CORS and /healthz."""

from __future__ import annotations

import re

import pytest

from e2e_support.oidc import new_session, wait_for_next_key
from e2e_support.server import CLIENT_ID, CLIENT_SECRET

ALLOWED_ORIGIN = "https://app.example.com"


def test_healthz_answers_ok(server):
    resp = new_session().get(server.url("/healthz"), timeout=10)
    assert resp.status_code == 200


def test_discovery_document_has_dex_fields(server):
    resp = new_session().get(server.url("/.well-known/openid-configuration"), timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    doc = resp.json()
    issuer = server.issuer
    # §4.3: the issuer in the document must be exactly the configured one.
    assert doc["issuer"] == issuer
    assert doc["authorization_endpoint"] == issuer + "/auth"
    assert doc["token_endpoint"] == issuer + "/token"
    assert doc["jwks_uri"] == issuer + "/keys"
    assert doc["userinfo_endpoint"] == issuer + "/userinfo"
    assert "code" in doc["response_types_supported"]
    assert doc["subject_types_supported"] == ["public"]
    assert "RS256" in doc["id_token_signing_alg_values_supported"]
    assert {"S256", "plain"} <= set(doc["code_challenge_methods_supported"])
    assert {"openid", "email", "groups", "profile", "offline_access"} <= set(doc["scopes_supported"])
    assert {"client_secret_basic", "client_secret_post"} <= set(doc["token_endpoint_auth_methods_supported"])
    assert {"iss", "sub", "aud", "iat", "exp", "email", "email_verified", "name", "groups", "at_hash"} <= set(
        doc["claims_supported"]
    )
    # oauth2.passwordConnector is set in the base config, so the password grant is advertised.
    assert {"authorization_code", "refresh_token", "password"} <= set(doc["grant_types_supported"])
    # Only what the token endpoint implements is advertised (RFC 8414 §2), not every grant Dex has.
    assert set(doc["grant_types_supported"]) <= {"authorization_code", "refresh_token", "password", "implicit"}


def test_discovery_omits_password_grant_without_password_connector(fedgate):
    srv = fedgate({"oauth2": {"passwordConnector": None}})
    doc = new_session().get(srv.url("/.well-known/openid-configuration"), timeout=10).json()
    assert "password" not in doc["grant_types_supported"]
    assert {"authorization_code", "refresh_token"} <= set(doc["grant_types_supported"])


def test_keys_publish_rsa_public_keys_with_cache_headers(server):
    resp = new_session().get(server.url("/keys"), timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    keys = resp.json()["keys"]
    assert keys, "JWKS is empty"
    for key in keys:
        assert key["kty"] == "RSA"
        assert key["use"] == "sig"
        assert key["alg"] == "RS256"
        assert key["kid"]
        assert key["n"] and key["e"]
        # Never the private half (RFC 7518 §6.3.2 members).
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key), f"private key material in {key['kid']}"
    assert len({k["kid"] for k in keys}) == len(keys), "duplicate kids"
    cache = resp.headers.get("Cache-Control", "")
    match = re.search(r"max-age=(\d+)", cache)
    assert match and int(match.group(1)) > 0, f"Cache-Control {cache!r} lacks max-age"
    assert "must-revalidate" in cache


@pytest.fixture(scope="module")
def cors_server(module_fedgate):
    return module_fedgate({"web": {"allowedOrigins": [ALLOWED_ORIGIN]}})


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/keys"])
def test_cors_allows_configured_origin(cors_server, path):
    resp = new_session().get(cors_server.url(path), headers={"Origin": ALLOWED_ORIGIN}, timeout=10)
    assert resp.status_code == 200
    assert resp.headers.get("Access-Control-Allow-Origin") == ALLOWED_ORIGIN


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/keys"])
def test_cors_ignores_other_origins(cors_server, path):
    resp = new_session().get(cors_server.url(path), headers={"Origin": "https://evil.example.net"}, timeout=10)
    assert resp.status_code == 200
    assert "Access-Control-Allow-Origin" not in resp.headers


def test_cors_preflight_on_token_endpoint(cors_server):
    resp = new_session().options(
        cors_server.url("/token"),
        headers={
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization",
        },
        timeout=10,
    )
    assert resp.status_code in (200, 204)
    assert resp.headers.get("Access-Control-Allow-Origin") == ALLOWED_ORIGIN


@pytest.mark.parametrize("path,data,status,error", [
    pytest.param("/token", {"grant_type": "refresh_token", "refresh_token": "expired-or-unknown"}, 400, "invalid_grant",
                 id="token-invalid-grant"),
    pytest.param("/token", {"grant_type": "bogus"}, 400, "unsupported_grant_type", id="token-unsupported-grant"),
    pytest.param("/token/introspect", {}, 400, "invalid_request", id="introspect-missing-token"),
    pytest.param("/token/revoke", {}, 400, "invalid_request", id="revoke-missing-token"),
])
def test_cors_headers_on_error_answers(cors_server, path, data, status, error):
    # A browser app must be able to read an OAuth error (e.g. invalid_grant: log in again);
    # without the header the browser hides it behind a network error.
    resp = new_session().post(cors_server.url(path), data=data, auth=(CLIENT_ID, CLIENT_SECRET),
                              headers={"Origin": ALLOWED_ORIGIN}, timeout=10)
    assert resp.status_code == status, resp.text
    assert resp.json()["error"] == error
    assert resp.headers.get("Access-Control-Allow-Origin") == ALLOWED_ORIGIN
    assert resp.headers.get("Vary") == "Origin"


def test_cors_headers_on_unauthorized_userinfo(cors_server):
    resp = new_session().get(cors_server.url("/userinfo"), headers={"Origin": ALLOWED_ORIGIN,
                                                                    "Authorization": "Bearer not-a-token"}, timeout=10)
    assert resp.status_code == 401
    assert resp.headers.get("Access-Control-Allow-Origin") == ALLOWED_ORIGIN


def test_no_cors_headers_without_allowed_origins(server):
    resp = new_session().get(
        server.url("/.well-known/openid-configuration"), headers={"Origin": ALLOWED_ORIGIN}, timeout=10
    )
    assert resp.status_code == 200
    assert "Access-Control-Allow-Origin" not in resp.headers


def test_a_first_start_pre_publishes_the_next_key_right_after_becoming_ready(fedgate):
    """A fresh store is ready with its signing key; the next key (Dex #2759: published before it
    ever signs) follows within moments, from the key-rotation service, and the signing key stays."""
    import time

    srv = fedgate({})
    session = new_session()
    first = [k["kid"] for k in session.get(srv.url("/keys"), timeout=10).json()["keys"]]
    assert first, "no key published at start"
    deadline = time.monotonic() + 5
    kids = first
    while len(kids) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
        kids = [k["kid"] for k in session.get(srv.url("/keys"), timeout=10).json()["keys"]]
    assert len(kids) == 2, f"next key not pre-published within 5 s: {kids}"
    assert first[0] in kids
    # Tokens are signed by the first key, not the pre-published one.
    assert kids[0] == first[0]


def _read_responses(sock, count: int) -> list[tuple[int, dict[str, str], bytes]]:
    """Reads `count` HTTP/1.1 responses (each with Content-Length) from a socket."""
    data = b""
    responses = []
    while len(responses) < count:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {len(responses)} responses"
            data += chunk
        head, data = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            assert name.lower() not in headers, f"{name} twice"
            headers[name.lower()] = value.strip()
        length = int(headers["content-length"])
        while len(data) < length:
            chunk = sock.recv(65536)
            assert chunk, "connection closed inside a body"
            data += chunk
        responses.append((status, headers, data[:length]))
        data = data[length:]
    return responses


@pytest.mark.parametrize("level", ["debug", "info"])
def test_pipelined_requests_are_answered_in_order(fedgate, level):
    """HTTP/1.1 pipelining over one connection: answers from the prepared path (discovery,
    /keys; at info level) and from the router (a query string, a token request, userinfo
    without a token) leave in request order, each whole, and the connection stays usable."""
    import socket

    server = fedgate({"logger": {"level": level}})
    wait_for_next_key(server)  # every answer below is compared with the same key set
    keys = new_session().get(server.url("/keys"), timeout=10).content
    discovery = new_session().get(server.url("/.well-known/openid-configuration"), timeout=10).content
    path = server.url("/keys").split(str(server.port), 1)[1].rsplit("/keys", 1)[0]
    body = "grant_type=refresh_token&refresh_token=nope"
    requests = [
        f"GET {path}/keys HTTP/1.1\r\nHost: x\r\nX-Request-ID: r1\r\n\r\n",
        f"POST {path}/token HTTP/1.1\r\nHost: x\r\nX-Request-ID: r2\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}",
        f"GET {path}/.well-known/openid-configuration HTTP/1.1\r\nHost: x\r\nX-Request-ID: r3\r\n\r\n",
        f"GET {path}/keys?x=1 HTTP/1.1\r\nHost: x\r\nX-Request-ID: r4\r\n\r\n",
        f"GET {path}/keys HTTP/1.1\r\nHost: x\r\nX-Request-ID: r5\r\n\r\n",
        f"GET {path}/userinfo HTTP/1.1\r\nHost: x\r\nX-Request-ID: r6\r\n\r\n",
        f"GET {path}/.well-known/openid-configuration HTTP/1.1\r\nHost: x\r\nX-Request-ID: r7\r\n\r\n",
    ]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for _ in range(2):  # twice on the same connection
            sock.sendall("".join(requests).encode())
            answers = _read_responses(sock, len(requests))
            assert [h.get("x-request-id") for _, h, _ in answers] == [f"r{i}" for i in range(1, 8)]
            statuses = [s for s, _, _ in answers]
            assert statuses[0] == statuses[2] == statuses[3] == statuses[4] == statuses[6] == 200
            assert statuses[1] == 401  # the token request: no client credentials
            assert statuses[5] == 401  # userinfo without a bearer token
            assert answers[0][2] == answers[3][2] == answers[4][2] == keys
            assert answers[2][2] == answers[6][2] == discovery
            assert b"invalid_client" in answers[1][2]


def test_a_slow_reader_that_half_closes_gets_every_pipelined_answer(fedgate):
    """A client pipelines many requests for the prepared path (info level), half-closes its side
    and only then reads: every answer arrives. Prepared answers queued behind a full socket are
    not dropped when the end of input ends the connection, and a client that does not read
    pushes back (later requests wait in the router instead of queueing answers without limit)."""
    import json
    import socket
    import time

    server = fedgate({"logger": {"level": "info"}})
    path = server.url("/keys").split(str(server.port), 1)[1]
    count = 12000  # about 15 MB of answers: more than the kernel's socket buffers hold
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall((f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n" * count).encode())
        sock.shutdown(socket.SHUT_WR)
        time.sleep(1.0)  # the server reads everything meanwhile and fills the socket
        answers = _read_responses(sock, count)
        assert [status for status, _, _ in answers] == [200] * count
        assert all(json.loads(body)["keys"] for _, _, body in answers)
        assert sock.recv(1) == b""  # then the server closes
