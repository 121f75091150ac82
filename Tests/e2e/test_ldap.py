"""Issue 4 through the real binary: the `ldap` connector against a real slapd that this module
starts (scripts/start-slapd.sh, a CA made at start, ldaps on a free loopback port).

A browser login puts the directory groups, mapped for Kubernetes, in a verified ID token; a
refresh re-reads the directory (a removed group disappears, a deleted user is invalid_grant);
and a directory stopped mid-run gives a clear 503 page at once, then works again without
restarting fedgate.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Iterator
from urllib.parse import urljoin

import pytest

from e2e_support.browser import Browser
from e2e_support.oidc import PKCE, auth_url, dex_subject, exchange_code, token_request, verify_id_token
from e2e_support.server import REDIRECT_URI, REPO_ROOT

START = REPO_ROOT / "scripts" / "start-slapd.sh"
STOP = REPO_ROOT / "scripts" / "stop-slapd.sh"
ROOT_DN, ROOT_PW = "cn=admin,dc=example,dc=org", "adminpass"


class Directory:
    """A slapd of this test run's own; the script kills it if pytest dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        env = dict(os.environ, WATCH_PID=str(os.getpid()), BIG_GROUPS="0")
        out = subprocess.run([str(START), str(path)], env=env, capture_output=True, text=True, timeout=60,
                             stdin=subprocess.DEVNULL)
        assert out.returncode == 0, f"start-slapd.sh failed:\n{out.stdout}{out.stderr}"
        values = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
        self.ldaps_port = int(values["LDAPS_PORT"])
        self.ldap_port = int(values["LDAP_PORT"])

    def stop(self) -> None:
        subprocess.run([str(STOP), "--kill", str(self.path)], check=True, timeout=30, stdin=subprocess.DEVNULL)

    def restart(self) -> None:
        env = dict(os.environ, WATCH_PID=str(os.getpid()))
        subprocess.run([str(START), "--restart", str(self.path)], env=env, check=True, capture_output=True,
                       timeout=30, stdin=subprocess.DEVNULL)

    def modify(self, ldif: str) -> None:
        out = subprocess.run(["ldapmodify", "-x", "-a", "-H", f"ldap://127.0.0.1:{self.ldap_port}",
                              "-D", ROOT_DN, "-w", ROOT_PW], input=ldif, capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stdout + out.stderr

    def connector(self, **config_overrides) -> dict:
        """The connector entry, in Dex's schema, with Kubernetes claim mapping."""
        config = {
            "host": f"127.0.0.1:{self.ldaps_port}",
            "rootCA": str(self.path / "ca.pem"),
            "bindDN": "cn=fedgate,ou=Services,dc=example,dc=org",
            "bindPW": "fedgate-service",
            "requestTimeout": "3s",
            "userSearch": {"baseDN": "ou=People,dc=example,dc=org", "filter": "(objectClass=inetOrgPerson)",
                           "username": "uid", "idAttr": "uid", "emailAttr": "mail", "nameAttr": "displayName",
                           "preferredUsernameAttr": "uid"},
            "groupSearch": {"baseDN": "ou=Groups,dc=example,dc=org",
                            "filter": "(|(objectClass=groupOfNames)(objectClass=posixGroup))",
                            "userMatchers": [{"userAttr": "DN", "groupAttr": "member", "recursionGroupAttr": "DN"},
                                             {"userAttr": "uid", "groupAttr": "memberUid"}],
                            "nameAttr": "cn"},
        }
        config.update(config_overrides)
        return {"type": "ldap", "id": "ldap", "name": "Company directory", "config": config,
                "claimMapping": {"groupsPrefix": "ldap:", "groupsFilter": "(?!cycle-).*"}}


def start_directory(tmp: Path) -> Directory:
    return Directory(tmp / f"slapd-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def directory(tmp_path_factory) -> Iterator[Directory]:
    d = start_directory(tmp_path_factory.mktemp("ldap"))
    yield d
    d.stop()
    shutil.rmtree(d.path, ignore_errors=True)


def ldap_server(fedgate, directory: Directory, **config_overrides):
    return fedgate({"connectors": [directory.connector(**config_overrides)],
                    "oauth2": {"passwordConnector": "ldap", "skipApprovalScreen": True}})


def browser_login(server, username: str, password: str) -> dict:
    pkce = PKCE.s256()
    arrival = Browser().authorize(auth_url(server, pkce=pkce, nonce="n-ldap", connector_id="ldap"), REDIRECT_URI,
                                  login=username, password=password)
    resp = exchange_code(server, arrival.params["code"], pkce=pkce)
    assert resp.status_code == 200, resp.text
    return resp.json()


def password_grant(server, username: str, password: str):
    return token_request(server, {"grant_type": "password", "username": username, "password": password,
                                  "scope": "openid email profile groups offline_access"})


def refresh(server, refresh_token: str):
    return token_request(server, {"grant_type": "refresh_token", "refresh_token": refresh_token})


def test_browser_login_puts_directory_groups_in_a_verified_id_token(fedgate, directory):
    server = ldap_server(fedgate, directory)
    tokens = browser_login(server, "bob", "bobpass")
    claims = verify_id_token(server, tokens["id_token"], nonce="n-ldap", access_token=tokens["access_token"],
                             subject=dex_subject("bob", "ldap"))
    # groupOfNames (direct, then nested: developers -> platform -> engineering), then posixGroup;
    # the cycle-* groups are filtered out by claimMapping; every group carries the ldap: prefix.
    assert claims["groups"] == ["ldap:developers", "ldap:platform", "ldap:engineering", "ldap:ssh-users"]
    assert claims["email"] == "bob@example.org" and claims["email_verified"] is True
    assert claims["name"] == "bob.b"
    assert claims["preferred_username"] == "bob"
    assert "bobpass" not in server.log()


def test_wrong_password_and_hostile_usernames_fail_like_bad_credentials(fedgate, directory):
    server = ldap_server(fedgate, directory)
    for username, password in [("alice", "wrong"), ("*", "alicepass"), ("admin)(|(uid=*", "x"), ("nobody", "x")]:
        resp = password_grant(server, username, password)
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant", (username, resp.text)
    ok = password_grant(server, "alice", "alicepass")
    assert ok.status_code == 200, ok.text
    assert verify_id_token(server, ok.json()["id_token"])["groups"] == [
        "ldap:admins", "ldap:developers", "ldap:platform", "ldap:engineering", "ldap:ops", "ldap:ssh-users"]


def test_refresh_rereads_groups_and_a_deleted_user_is_invalid_grant(fedgate, directory):
    uid, group = f"e2e-{uuid.uuid4().hex[:6]}", f"team-{uuid.uuid4().hex[:6]}"
    directory.modify(f"""dn: uid={uid},ou=People,dc=example,dc=org
objectClass: inetOrgPerson
uid: {uid}
cn: {uid}
sn: Test
displayName: {uid}
mail: {uid}@example.org
userPassword: {uid}pass

dn: cn={group},ou=Groups,dc=example,dc=org
objectClass: groupOfNames
cn: {group}
member: uid={uid},ou=People,dc=example,dc=org
""")
    server = ldap_server(fedgate, directory)
    first = password_grant(server, uid, f"{uid}pass")
    assert first.status_code == 200, first.text
    assert verify_id_token(server, first.json()["id_token"])["groups"] == [f"ldap:{group}"]

    directory.modify(f"""dn: cn={group},ou=Groups,dc=example,dc=org
changetype: modify
replace: member
member: uid=alice,ou=People,dc=example,dc=org
""")
    second = refresh(server, first.json()["refresh_token"])
    assert second.status_code == 200, second.text
    assert verify_id_token(server, second.json()["id_token"]).get("groups", []) == []

    directory.modify(f"""dn: uid={uid},ou=People,dc=example,dc=org
changetype: delete
""")
    gone = refresh(server, second.json()["refresh_token"])
    assert gone.status_code == 400, gone.text
    assert gone.json()["error"] == "invalid_grant"


def test_directory_stopped_mid_run_gives_a_clear_503_then_recovers(fedgate, tmp_path):
    own = start_directory(tmp_path)
    try:
        server = ldap_server(fedgate, own)
        tokens = password_grant(server, "alice", "alicepass")
        assert tokens.status_code == 200, tokens.text

        own.stop()
        browser = Browser()
        page = browser.walk_to_form(auth_url(server, connector_id="ldap"), "login-form")
        form = page.form("login-form")
        started = time.monotonic()
        resp = browser.session.post(urljoin(page.url, form.action),
                                    data={**form.fields, "login": "alice", "password": "alicepass"},
                                    allow_redirects=False, timeout=15)
        elapsed = time.monotonic() - started
        assert resp.status_code == 503, resp.text[:500]
        assert "could not be reached" in resp.text
        assert elapsed < 3, f"the error page took {elapsed:.1f}s"
        unavailable = refresh(server, tokens.json()["refresh_token"])
        assert unavailable.status_code == 503, unavailable.text
        assert unavailable.json()["error"] == "temporarily_unavailable"
        # Other connectors and endpoints are unaffected.
        assert browser.session.get(server.url("/.well-known/openid-configuration"), timeout=5).status_code == 200

        own.restart()
        again = password_grant(server, "alice", "alicepass")
        assert again.status_code == 200, again.text
        assert refresh(server, tokens.json()["refresh_token"]).status_code == 200
    finally:
        own.stop()
        shutil.rmtree(own.path, ignore_errors=True)


def test_a_wrong_ca_fails_the_login_with_a_certificate_message(fedgate, directory):
    server = ldap_server(fedgate, directory, rootCA=str(directory.path / "other-ca.pem"))
    browser = Browser()
    page = browser.walk_to_form(auth_url(server, connector_id="ldap"), "login-form")
    form = page.form("login-form")
    resp = browser.session.post(urljoin(page.url, form.action),
                                data={**form.fields, "login": "alice", "password": "alicepass"},
                                allow_redirects=False, timeout=15)
    assert resp.status_code == 503, resp.text[:500]
    assert "certificate was not accepted" in resp.text
