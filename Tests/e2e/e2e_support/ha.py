"""Three `fedgate serve` replicas sharing one store (PostgreSQL or a 3-member etcd cluster).

The stores are real servers started by scripts/start-postgres.sh and scripts/start-etcd.sh on
loopback, in throwaway directories; `OWNER_PID` makes their watchdogs stop them if pytest dies.
A store that cannot start fails the test: nothing is skipped.

All replicas share one issuer (replica A's URL, as if A's address were the load balancer's), so
tokens from any replica are valid on every other. `ReplicaBrowser` sends each step of a browser
login to the replica the test chooses, whatever host the redirects name.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from .browser import Browser
from .server import REPO_ROOT, FedgateServer, base_config, deep_merge, free_port, write_config, _tail

SCRIPTS = REPO_ROOT / "scripts"
START_TIMEOUT = float(os.environ.get("FEDGATE_E2E_START_TIMEOUT", "60"))


def _run_script(name: str, *args: str, env: dict[str, str] | None = None) -> str:
    full_env = dict(os.environ, OWNER_PID=str(os.getpid()), **(env or {}))
    done = subprocess.run(["bash", str(SCRIPTS / name), *args], env=full_env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120, check=False)
    out = done.stdout.decode(errors="replace")
    if done.returncode != 0:
        raise RuntimeError(f"scripts/{name} {' '.join(args)} exited {done.returncode}:\n{out}")
    return out


def _read_env(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    return values


class PostgresStore:
    """A PostgreSQL 15 with scram-sha-256 password auth; each test gets its own database."""

    kind = "postgres"

    def __init__(self, state: Path) -> None:
        self.state = state
        self.password = "pw-" + uuid.uuid4().hex
        _run_script("start-postgres.sh", str(state), env={"PG_PASSWORD": self.password})
        env = _read_env(state / "connection.env")
        self.port = int(env["PGPORT"])
        self.socket_dir = env["PGSOCKETDIR"]

    def new_namespace(self) -> dict[str, Any]:
        """A fresh database, as the `storage` block of a config."""
        name = "ha_" + uuid.uuid4().hex[:12]
        subprocess.run(["/usr/lib/postgresql/15/bin/createdb", "-h", self.socket_dir, "-p", str(self.port),
                        "-U", "postgres", name], check=True, timeout=30)
        return {"type": "postgres", "config": {
            "host": "127.0.0.1", "port": self.port, "database": name, "user": "postgres", "password": self.password,
            "ssl": {"mode": "disable"}, "connectionTimeout": 2, "maxOpenConns": 5,
        }}

    def pause(self) -> None:
        _run_script("stop-postgres.sh", str(self.state), "--keep")

    def resume(self) -> None:
        _run_script("start-postgres.sh", str(self.state))

    def stop(self) -> None:
        _run_script("stop-postgres.sh", str(self.state))


class EtcdStore:
    """A three-member etcd cluster on loopback; each test gets its own key namespace."""

    kind = "etcd"

    def __init__(self, state: Path, nodes: int = 3) -> None:
        self.state = state
        _run_script("start-etcd.sh", str(state), env={"NODES": str(nodes)})
        self.endpoints = _read_env(state / "connection.env")["ENDPOINTS"].split(",")

    def new_namespace(self) -> dict[str, Any]:
        return {"type": "etcd", "config": {"endpoints": self.endpoints, "namespace": f"ha-{uuid.uuid4().hex[:12]}/"}}

    def pause(self) -> None:
        _run_script("stop-etcd.sh", str(self.state), "--keep")

    def resume(self) -> None:
        _run_script("start-etcd.sh", str(self.state))

    def stop(self) -> None:
        _run_script("stop-etcd.sh", str(self.state))


@dataclass
class Replicas:
    """Replicas A, B, C of one deployment. `servers[i].url()` is that replica's own address;
    `issuer_view` is a FedgateServer whose issuer is the shared one (for ID token checks)."""

    servers: list[FedgateServer]
    killed: set[int] = field(default_factory=set)

    @property
    def issuer_view(self) -> FedgateServer:
        return self.servers[0]

    def alive(self) -> list[FedgateServer]:
        return [s for i, s in enumerate(self.servers) if i not in self.killed]

    def kill(self, index: int) -> None:
        """SIGKILL: no graceful shutdown, requests in flight are cut."""
        self.servers[index].kill()
        self.killed.add(index)

    def stop_all(self) -> list[str]:
        """SIGTERM every live replica; returns problems (a replica must exit 0)."""
        problems = []
        for index, server in enumerate(self.servers):
            if index in self.killed:
                continue
            code, _ = server.terminate()
            if code is None:
                server.kill()
            if code != 0:
                problems.append(f"replica {'ABC'[index]} exited with {code}\n{_tail(server.log_path, 30)}")
        return problems

    def logs(self) -> str:
        return "\n".join(s.log() for s in self.servers)


def start_replicas(binary: Path, workdir: Path, storage: dict[str, Any], overrides: dict[str, Any] | None = None,
                   count: int = 3) -> Replicas:
    """Starts `count` replicas on their own ports with one shared issuer (replica A's URL) and
    waits until each answers /healthz/ready."""
    ports = [free_port() for _ in range(count)]
    issuer = f"http://127.0.0.1:{ports[0]}/dex"
    servers = []
    try:
        for index, port in enumerate(ports):
            directory = workdir / f"replica-{'ABC'[index]}"
            directory.mkdir(parents=True, exist_ok=True)
            config = deep_merge(base_config(port, directory), {"issuer": issuer, "storage": storage, **(overrides or {})})
            config_path = directory / "fedgate.yaml"
            log_path = directory / "fedgate.log"
            write_config(config_path, config)
            with open(log_path, "wb") as log:
                process = subprocess.Popen([str(binary), "serve", str(config_path)], cwd=directory,
                                           stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
            server = FedgateServer(port, f"http://127.0.0.1:{port}/dex", config, config_path, log_path, process)
            servers.append(server)
            wait_ready(server)
    except BaseException:
        for server in servers:
            server.kill()
        raise
    # Token checks compare `iss` with the shared issuer; A's own URL is that issuer.
    return Replicas(servers)


def wait_ready(server: FedgateServer, timeout: float = START_TIMEOUT) -> None:
    session = requests.Session()
    session.trust_env = False
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not server.alive():
            raise RuntimeError(f"replica exited with {server.process.returncode}\n{_tail(server.log_path)}")
        try:
            resp = session.get(server.url("/healthz/ready"), timeout=3)
            if resp.status_code == 200:
                return
            last = f"/healthz/ready answered {resp.status_code}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        time.sleep(0.1)
    raise RuntimeError(f"replica not ready after {timeout:.0f}s ({last})\n{_tail(server.log_path)}")


class ReplicaBrowser(Browser):
    """A browser whose every request goes to `target`, whichever replica a URL names."""

    def __init__(self, replicas: Replicas, target: FedgateServer) -> None:
        super().__init__()
        self.netlocs = {f"127.0.0.1:{s.port}" for s in replicas.servers}
        self.target = target

    def _route(self, url: str) -> str:
        parts = urlsplit(url)
        if parts.netloc in self.netlocs:
            parts = parts._replace(netloc=f"127.0.0.1:{self.target.port}")
        return urlunsplit(parts)

    def get(self, url: str, **kwargs) -> requests.Response:
        return super().get(self._route(url), **kwargs)

    def submit(self, page, form, values=None, button=None) -> requests.Response:
        routed = type(page)(self._route(page.url), page.status, page.text, page.forms, page.links)
        return super().submit(routed, form, values, button)


SIGNING_UPDATE = re.compile(r'msg="signing keys updated" action=(\S+)')


def signing_key_updates(log: str) -> list[str]:
    """The `action` of every key change this replica made (initialize, prePublish, rotate, …)."""
    return SIGNING_UPDATE.findall(log)
