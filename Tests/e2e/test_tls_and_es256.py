"""web.https with tlsCert/tlsKey, and ES256 signing (signer.config.algorithm), verified independently."""

from __future__ import annotations

import socket
import ssl
import subprocess
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from e2e_support.oidc import dex_subject, jwks, new_session, token_request, wait_for_next_key
from e2e_support.server import ADMIN_EMAIL, ADMIN_USER_ID, free_port


def make_cert(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "tls.crt", directory / "tls.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    key.chmod(0o600)
    return cert, key


@pytest.mark.parametrize("level", ["debug", "info"])
def test_https_listener_serves_discovery_with_the_configured_certificate(fedgate, tmp_path, level):
    """At debug level every request takes the router; at info level discovery and /keys take the
    prepared path, whose answers are written under the HTTP/1 encoder and above TLS."""
    cert, key = make_cert(tmp_path)
    https_port = free_port()
    server = fedgate({"web": {"https": f"127.0.0.1:{https_port}", "tlsCert": str(cert), "tlsKey": str(key)},
                      "logger": {"level": level}})
    s = new_session()
    s.verify = str(cert)
    wait_for_next_key(server)  # both listeners are compared on the same key set
    for _ in range(3):  # one kept-alive TLS connection, several answers
        resp = s.get(f"https://127.0.0.1:{https_port}/dex/.well-known/openid-configuration", timeout=10)
        assert resp.status_code == 200
        assert resp.json()["issuer"] == server.issuer
        keys = s.get(f"https://127.0.0.1:{https_port}/dex/keys", timeout=10)
        assert keys.status_code == 200 and keys.json()["keys"]
        assert keys.content == new_session().get(server.url("/keys"), timeout=10).content


def test_es256_signer_issues_tokens_that_verify_against_the_published_ec_key(fedgate):
    server = fedgate({"signer": {"type": "local", "config": {"algorithm": "ES256"}}})
    disc = new_session().get(server.url("/.well-known/openid-configuration"), timeout=10).json()
    assert disc["id_token_signing_alg_values_supported"] == ["ES256"]
    published = jwks(server)
    assert published["keys"] and all(k["kty"] == "EC" and k["crv"] == "P-256" for k in published["keys"])
    assert all("d" not in k for k in published["keys"])

    resp = token_request(server, {"grant_type": "password", "username": ADMIN_EMAIL, "password": "password",
                                  "scope": "openid email"})
    assert resp.status_code == 200, resp.text
    token = jwt.decode(resp.json()["id_token"], KeySet.import_key_set(published), algorithms=["ES256"])
    assert token.header["alg"] == "ES256"
    assert token.claims["sub"] == dex_subject(ADMIN_USER_ID, "local")
    assert token.claims["email"] == ADMIN_EMAIL


def _handshake(port: int, cert: Path, *, minimum: ssl.TLSVersion | None = None,
               maximum: ssl.TLSVersion | None = None) -> str | None:
    """The TLS version negotiated with 127.0.0.1:port, or None when the handshake is refused."""
    context = ssl.create_default_context(cafile=str(cert))
    if minimum:
        context.minimum_version = minimum
    if maximum:
        context.maximum_version = maximum
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                return tls.version()
    except ssl.SSLError:
        return None


def test_tls_min_and_max_versions_are_enforced(fedgate, tmp_path):
    cert, key = make_cert(tmp_path)
    only13, only12 = free_port(), free_port()
    fedgate({"web": {"https": f"127.0.0.1:{only13}", "tlsCert": str(cert), "tlsKey": str(key), "tlsMinVersion": "1.3"}})
    assert _handshake(only13, cert) == "TLSv1.3"
    assert _handshake(only13, cert, maximum=ssl.TLSVersion.TLSv1_2) is None
    fedgate({"web": {"https": f"127.0.0.1:{only12}", "tlsCert": str(cert), "tlsKey": str(key), "tlsMaxVersion": "1.2"}})
    assert _handshake(only12, cert) == "TLSv1.2"
    assert _handshake(only12, cert, minimum=ssl.TLSVersion.TLSv1_3) is None
