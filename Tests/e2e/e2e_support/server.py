"""Start and stop the real `fedgate serve` process for a test.

Each server gets its own port, its own SQLite file and its own log file under the test's
temporary directory, so tests never share state unless they share a server on purpose.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

REPO_ROOT = Path(__file__).resolve().parents[3]

# The example app of Dex's docs; the secret is the base64 of "example-app-secret", as in Dex.
CLIENT_ID = "example-app"
CLIENT_SECRET = "ZXhhbXBsZS1hcHAtc2VjcmV0"
CLIENT_NAME = "Example App"
REDIRECT_URI = "http://127.0.0.1:5555/callback"
PUBLIC_CLIENT_ID = "cli"

# Dex's documented static user: the hash is bcrypt("password", cost 10).
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "password"
ADMIN_HASH = "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"
ADMIN_USERNAME = "admin"
ADMIN_USER_ID = "08a8684b-db88-4b73-90a9-3cd1661f5466"
ADMIN_GROUPS = ["admins"]
# Dex's `sub` for this user on connector "local" (protobuf IDTokenSubject, base64url); the
# suite recomputes it from the rule in test_login_flow to catch a mistake in either.
ADMIN_SUB = "CiQwOGE4Njg0Yi1kYjg4LTRiNzMtOTBhOS0zY2QxNjYxZjU0NjYSBWxvY2Fs"

# A second user whose password is distinctive enough to search the server log for it.
# Hash made once with libxcrypt: crypt(password, mksalt(METHOD_BLOWFISH, rounds=1024)).
JANE_EMAIL = "jane@example.com"
JANE_PASSWORD = "Tr0ub4dor-e2e-9f3k"
JANE_HASH = "$2b$10$ZhdQK5u5JFqhdrPKUW269u8yXzLdOzXaYBq9eSd92bf3imWQFuwvi"
JANE_USER_ID = "41331323-6f44-45e6-b3b9-2c4b60c02be5"

# Dex's mock connector always returns this identity (connector/mock/connectortest.go).
MOCK_USER_ID = "0-385-28089-0"
MOCK_USERNAME = "Kilgore Trout"
MOCK_EMAIL = "kilgore@kilgore.trout"
MOCK_GROUPS = ["authors"]
MOCK_SUB = "Cg0wLTM4NS0yODA4OS0wEgRtb2Nr"  # user 0-385-28089-0 on connector "mock"

START_TIMEOUT = float(os.environ.get("FEDGATE_E2E_START_TIMEOUT", "60"))
STOP_TIMEOUT = 10.0


def free_port() -> int:
    """A loopback port the kernel just handed out; the server binds it a moment later."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Overrides win; nested dicts merge; lists and scalars replace. A value of None deletes."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def base_config(port: int, workdir: Path) -> dict[str, Any]:
    """The config every test server starts from (Dex's schema, Dex's defaults otherwise)."""
    return {
        "issuer": f"http://127.0.0.1:{port}/dex",
        "storage": {"type": "sqlite3", "config": {"file": str(workdir / "fedgate.db")}},
        "web": {"http": f"127.0.0.1:{port}"},
        # Debug level on purpose: the secret-leak test reads this log.
        "logger": {"level": "debug", "format": "text"},
        "oauth2": {"passwordConnector": "local"},
        "staticClients": [
            {
                "id": CLIENT_ID,
                "secret": CLIENT_SECRET,
                "name": CLIENT_NAME,
                "redirectURIs": [REDIRECT_URI],
            },
            {"id": PUBLIC_CLIENT_ID, "public": True, "name": "Command Line"},
        ],
        "enablePasswordDB": True,
        "staticPasswords": [
            {
                "email": ADMIN_EMAIL,
                "hash": ADMIN_HASH,
                "username": ADMIN_USERNAME,
                "userID": ADMIN_USER_ID,
                "groups": ADMIN_GROUPS,
            },
            {
                "email": JANE_EMAIL,
                "hash": JANE_HASH,
                "username": "jane",
                "userID": JANE_USER_ID,
            },
        ],
        "connectors": [{"type": "mockCallback", "id": "mock", "name": "Example"}],
    }


def write_config(path: Path, config: dict[str, Any]) -> None:
    # JSON is a subset of YAML 1.2, so any YAML loader reads it, and no quoting surprises
    # (a bcrypt hash starts with "$", a version string may look like a float).
    path.write_text(json.dumps(config, indent=2) + "\n")


@dataclass
class FedgateServer:
    """A running `fedgate serve`: its issuer URL, process and log."""

    port: int
    issuer: str
    config: dict[str, Any]
    config_path: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    stopped: bool = field(default=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """An endpoint under the issuer path, e.g. url("/token")."""
        return self.issuer + path

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        return _tail(self.log_path, lines)

    def alive(self) -> bool:
        return self.process.poll() is None

    def terminate(self, timeout: float = STOP_TIMEOUT) -> tuple[int | None, float]:
        """SIGTERM and wait; returns (exit code or None on timeout, seconds taken)."""
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        self.stopped = True
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)
        self.stopped = True


def start_server(
    binary: Path,
    workdir: Path,
    overrides: dict[str, Any] | None = None,
    *,
    name: str = "fedgate",
    env: dict[str, str] | None = None,
    cpus: set[int] | None = None,
    args: list[str] | None = None,
) -> FedgateServer:
    """Writes the config, starts `fedgate serve` (with `env` added to the environment, and
    restricted to the CPUs in `cpus` if given), waits for /healthz. Retries on a port race."""
    workdir.mkdir(parents=True, exist_ok=True)
    last_error = ""
    for attempt in range(3):
        port = free_port()
        config = deep_merge(base_config(port, workdir), overrides or {})
        config_path = workdir / f"{name}.yaml"
        log_path = workdir / f"{name}.{attempt}.log"
        write_config(config_path, config)
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [str(binary), "serve", *(args or []), str(config_path)],
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
            )
        server = FedgateServer(port, config["issuer"], config, config_path, log_path, process)
        ready, last_error = _wait_healthy(server)
        if ready:
            return server
        server.kill()
        if "address already in use" not in server.log().lower():
            break
    raise RuntimeError(f"fedgate did not become healthy: {last_error}\n--- server log ---\n{_tail(log_path)}")


def _wait_healthy(server: FedgateServer) -> tuple[bool, str]:
    deadline = time.monotonic() + START_TIMEOUT
    session = requests.Session()
    session.trust_env = False
    last = "no answer"
    while time.monotonic() < deadline:
        if not server.alive():
            return False, f"process exited with {server.process.returncode} while starting"
        try:
            resp = session.get(server.url("/healthz"), timeout=2)
            if resp.status_code == 200:
                return True, ""
            last = f"/healthz answered {resp.status_code}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        time.sleep(0.1)
    return False, f"not healthy after {START_TIMEOUT:.0f}s ({last})"


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def stop_and_check(server: FedgateServer) -> None:
    """Stops a server with SIGTERM and asserts it exited 0 (the contract for every server)."""
    if server.stopped:
        code = server.process.returncode
    else:
        code, _ = server.terminate()
        if code is None:
            server.kill()
    assert code == 0, f"fedgate exited with {code} after SIGTERM\n--- server log ---\n{_tail(server.log_path, 40)}"
