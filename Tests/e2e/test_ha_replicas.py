"""Three replicas of the real binary on 127.0.0.1 sharing one store, for PostgreSQL and for a
three-member etcd cluster (issue 5): a login started on A completes on B and refreshes on C;
signing keys rotate exactly once and every replica serves the same /keys within a second;
killing a replica under refresh load loses no refresh token and no issued code; stopping the
store gives clean 503s (never invalid_grant) and the replicas recover without a restart; and
`fedgate storage copy` moves a single SQLite instance into the shared store."""

from __future__ import annotations

import itertools
import json
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from e2e_support.browser import Browser
from e2e_support.ha import EtcdStore, PostgresStore, ReplicaBrowser, Replicas, signing_key_updates, start_replicas
from e2e_support.oidc import auth_url, exchange_code, new_session, token_request, verify_id_token
from e2e_support.server import ADMIN_EMAIL, ADMIN_PASSWORD, ADMIN_SUB, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI

OVERRIDES = {"oauth2": {"skipApprovalScreen": True, "passwordConnector": "local"}}


@pytest.fixture(scope="module", params=["postgres", "etcd"])
def store(request, tmp_path_factory):
    state = tmp_path_factory.mktemp(f"{request.param}-store")
    service = PostgresStore(state) if request.param == "postgres" else EtcdStore(state)
    yield service
    service.stop()


def _replicas(store, fedgate_bin: Path, tmp_path: Path, overrides: dict):
    group = start_replicas(fedgate_bin, tmp_path, store.new_namespace(), {**OVERRIDES, **overrides})
    yield group
    problems = group.stop_all()
    assert not problems, "\n".join(problems)


@pytest.fixture
def replicas(store, fedgate_bin: Path, tmp_path: Path):
    """Three replicas on a fresh database / etcd namespace of the module's store."""
    yield from _replicas(store, fedgate_bin, tmp_path, {})


@pytest.fixture
def rotating_replicas(store, fedgate_bin: Path, tmp_path: Path):
    """Like `replicas`, with signing keys rotating every 4 s."""
    yield from _replicas(store, fedgate_bin, tmp_path, {"expiry": {"signingKeys": "4s"}})


def login(group: Replicas, start: int, finish: int):
    """Creates the auth request on replica `start`, logs in and gets the code from `finish`."""
    a, b = group.servers[start], group.servers[finish]
    browser = ReplicaBrowser(group, a)
    page = browser.walk_to_form(auth_url(a, connector_id="local", nonce="n-ha"), "login-form")
    browser.target = b
    arrival = browser.authorize(page.url, REDIRECT_URI, login=ADMIN_EMAIL, password=ADMIN_PASSWORD)
    return arrival.params["code"]


def refresh(server, token: str) -> requests.Response:
    return token_request(server, {"grant_type": "refresh_token", "refresh_token": token})


def test_login_started_on_a_completes_on_b_and_refreshes_on_c(replicas):
    a, b, c = replicas.servers
    code = login(replicas, 0, 1)
    resp = exchange_code(b, code)
    assert resp.status_code == 200, resp.text
    tokens = resp.json()
    verify_id_token(replicas.issuer_view, tokens["id_token"], nonce="n-ha", subject=ADMIN_SUB)

    refreshed = refresh(c, tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    claims = verify_id_token(replicas.issuer_view, refreshed.json()["id_token"], subject=ADMIN_SUB)
    assert claims["email"] == ADMIN_EMAIL
    # The token C handed out works on A.
    latest = refresh(a, refreshed.json()["refresh_token"])
    assert latest.status_code == 200, latest.text
    # The code was redeemed on B: A sees that too, and the replay revokes the family everywhere.
    again = exchange_code(a, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    revoked = refresh(b, latest.json()["refresh_token"])
    assert revoked.status_code == 400 and revoked.json()["error"] == "invalid_grant"
    # Its access tokens end on every replica too, for introspection and userinfo.
    for server in (a, c):
        info = new_session().post(server.url("/token/introspect"), data={"token": latest.json()["access_token"]},
                                  auth=(CLIENT_ID, CLIENT_SECRET), timeout=10)
        assert info.status_code == 200 and info.json() == {"active": False}, info.text
    userinfo = new_session().get(b.url("/userinfo"), headers={"Authorization": "Bearer " + tokens["access_token"]}, timeout=10)
    assert userinfo.status_code == 401, userinfo.text


def test_signing_keys_rotate_once_and_every_replica_serves_the_same_keys_within_a_second(rotating_replicas):
    replicas = rotating_replicas
    sessions = [new_session() for _ in replicas.servers]
    # A first start is ready with the signing key alone; the next key is pre-published by the
    # key-rotation service right after. Sampling starts once every replica serves both.
    settle = time.monotonic() + 5
    while time.monotonic() < settle:
        counts = [len(sessions[i].get(s.url("/keys"), timeout=5).json()["keys"]) for i, s in enumerate(replicas.servers)]
        if min(counts) >= 2:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"the next key was not pre-published on every replica within 5 s: {counts}")
    seen: list[dict[frozenset, float]] = [{} for _ in replicas.servers]  # key set -> first time seen
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for index, server in enumerate(replicas.servers):
            kids = frozenset(k["kid"] for k in sessions[index].get(server.url("/keys"), timeout=5).json()["keys"])
            seen[index].setdefault(kids, time.monotonic())
        time.sleep(0.05)

    all_sets = set().union(*(s.keys() for s in seen))
    rotations_seen = len(all_sets) - 1
    assert rotations_seen >= 1, "no rotation happened within 10 s of a 4 s period"
    spreads = []
    for kids in all_sets:
        times = [s.get(kids) for s in seen]
        # A set that was current at the start may be seen before the first poll of a replica
        # that started later; every later set must reach every replica.
        assert all(t is not None for t in times), f"a replica never served {sorted(kids)}"
        spreads.append(max(times) - min(times))
    # KeyManager polls storage every second; the sampling here adds up to one polling round.
    assert max(spreads) <= 1.0 + 0.25, f"replicas disagreed for {max(spreads):.2f} s"

    # Exactly one replica made each change: every rotation appears once across the three logs.
    actions = [a for server in replicas.servers for a in signing_key_updates(server.log())]
    rotations = [a for a in actions if a.startswith('"rotate') or a.startswith("rotate")]
    assert actions.count("initialize") == 1, actions
    assert actions.count("prePublish") == 1, actions
    assert len(rotations) == rotations_seen, f"{rotations} for {rotations_seen} key set changes"
    # One new key per rotation (the pre-published next key), never one per replica.
    all_kids = set().union(*all_sets)
    assert len(all_kids) == 2 + rotations_seen


def test_killing_a_replica_under_refresh_load_loses_no_refresh_token_and_no_code(replicas):
    families = []
    for index in range(9):
        code = login(replicas, index % 3, (index + 1) % 3)
        resp = exchange_code(replicas.servers[index % 3], code)
        assert resp.status_code == 200, resp.text
        families.append(resp.json()["refresh_token"])
    codes = [login(replicas, i % 3, i % 3) for i in range(6)]  # issued, redeemed after the kill

    failures: list[str] = []
    completed = [0]
    lock = threading.Lock()
    stop = threading.Event()
    rotor = itertools.count()

    def worker(slot: int) -> None:
        session = new_session()
        while not stop.is_set():
            for family in range(slot, len(families), 3):
                token = families[family]
                for _attempt in range(6):
                    alive = replicas.alive()
                    server = alive[next(rotor) % len(alive)]
                    try:
                        resp = token_request(server, {"grant_type": "refresh_token", "refresh_token": token}, session=session)
                    except requests.RequestException:
                        continue  # that replica died mid-request: the same token goes to another
                    if resp.status_code == 200:
                        with lock:
                            families[family] = resp.json()["refresh_token"]
                            completed[0] += 1
                        break
                    if resp.status_code == 503:
                        continue
                    with lock:
                        failures.append(f"family {family} on {server.port}: {resp.status_code} {resp.text}")
                    break

    threads = [threading.Thread(target=worker, args=(slot,), daemon=True) for slot in range(3)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    before_kill = completed[0]
    replicas.kill(1)
    time.sleep(3.0)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert not failures, "\n".join(failures)
    assert before_kill > 0 and completed[0] > before_kill, f"load did not run ({before_kill}, {completed[0]})"

    survivors = replicas.alive()
    for index, code in enumerate(codes):
        resp = exchange_code(survivors[index % len(survivors)], code)
        assert resp.status_code == 200, f"code {index}: {resp.text}"
    for family, token in enumerate(families):
        resp = refresh(survivors[family % len(survivors)], token)
        assert resp.status_code == 200, f"family {family}: {resp.text}"


def test_stopping_the_store_gives_503s_and_replicas_recover_without_restart(replicas, store):
    a, b, c = replicas.servers
    code = login(replicas, 0, 0)
    tokens = exchange_code(a, code).json()
    pending_code = login(replicas, 1, 1)

    store.pause()
    try:
        for server in (a, b, c):
            resp = refresh(server, tokens["refresh_token"])
            assert resp.status_code == 503, resp.text
            assert resp.json()["error"] == "temporarily_unavailable"
            assert resp.headers.get("Retry-After")
            assert new_session().get(server.url("/healthz/ready"), timeout=10).status_code == 503
            assert new_session().get(server.url("/healthz"), timeout=10).status_code == 503
        grant = exchange_code(b, pending_code)
        assert grant.status_code == 503 and grant.json()["error"] == "temporarily_unavailable", grant.text
        page = Browser().get(auth_url(c, connector_id="local"))
        assert page.status_code == 503
        # Keys already loaded are still served, so tokens keep verifying during the outage.
        assert new_session().get(a.url("/keys"), timeout=10).status_code == 200
    finally:
        store.resume()

    for server in (a, b, c):
        deadline = time.monotonic() + 30
        while new_session().get(server.url("/healthz/ready"), timeout=10).status_code != 200:
            assert time.monotonic() < deadline, f"replica on {server.port} did not recover"
            time.sleep(0.2)
    assert all(s.alive() for s in (a, b, c)), "a replica exited during the outage"
    resp = refresh(c, tokens["refresh_token"])
    assert resp.status_code == 200, resp.text
    verify_id_token(replicas.issuer_view, resp.json()["id_token"], subject=ADMIN_SUB)
    grant = exchange_code(b, pending_code)
    assert grant.status_code == 200, grant.text


def test_storage_copy_moves_a_single_instance_into_the_shared_store(store, fedgate, fedgate_bin: Path, tmp_path: Path):
    """`fedgate storage copy` from a SQLite deployment into the shared store: the keys and the
    refresh tokens come along, so users stay logged in across the move."""
    single = fedgate(OVERRIDES)
    code = Browser().authorize(auth_url(single, connector_id="local"), REDIRECT_URI,
                               login=ADMIN_EMAIL, password=ADMIN_PASSWORD).params["code"]
    tokens = exchange_code(single, code).json()
    old_kids = {k["kid"] for k in new_session().get(single.url("/keys"), timeout=10).json()["keys"]}
    code_, _ = single.terminate()
    assert code_ == 0

    target = tmp_path / "target.yaml"
    target.write_text(json.dumps({"storage": store.new_namespace()}))
    copy = [str(fedgate_bin), "storage", "copy", "--from", str(single.config_path), "--to", str(target)]
    done = subprocess.run(copy, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "refresh tokens: 1" in done.stdout and "signing key sets: 1" in done.stdout, done.stdout
    assert "offline sessions: 1" in done.stdout, done.stdout
    assert "copying refresh tokens: 1/1" in done.stderr

    again = subprocess.run(copy, capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "not empty" in again.stderr, again.stderr
    forced = subprocess.run(copy + ["--force"], capture_output=True, text=True, timeout=120)
    assert forced.returncode == 0, forced.stderr

    group = start_replicas(fedgate_bin, tmp_path / "after", json.loads(target.read_text())["storage"], OVERRIDES, count=2)
    try:
        served = {k["kid"] for k in new_session().get(group.servers[1].url("/keys"), timeout=10).json()["keys"]}
        assert old_kids <= served, "the copied keys are published, so tokens issued before the move verify"
        resp = refresh(group.servers[1], tokens["refresh_token"])
        assert resp.status_code == 200, resp.text
    finally:
        problems = group.stop_all()
    assert not problems, "\n".join(problems)
