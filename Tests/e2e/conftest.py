"""Fixtures for the end-to-end suite: the binary, servers started from a config dict, a browser.

FEDGATE_BIN names the binary (`make test` sets it to .build/debug/fedgate); nothing here builds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import pytest

from e2e_support.browser import Browser
from e2e_support.server import REPO_ROOT, FedgateServer, start_server, stop_and_check


@pytest.fixture(scope="session")
def fedgate_bin() -> Path:
    path = Path(os.environ.get("FEDGATE_BIN", REPO_ROOT / ".build" / "debug" / "fedgate")).resolve()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"fedgate binary not found at {path}: run `swift build` or set FEDGATE_BIN", pytrace=False)
    return path


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """On a failing test, attach the tail of every server log the test used to the report."""
    report = yield
    if report.when == "call" and report.failed:
        for server in _servers_of(item):
            report.sections.append((f"fedgate log {server.log_path.parent.name}/{server.log_path.name}",
                                    server.log_tail(60)))
    return report


def _servers_of(item) -> list[FedgateServer]:
    found: list[FedgateServer] = []
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, FedgateServer):
            found.append(value)
        found.extend(getattr(value, "servers", []))
    unique = {id(s): s for s in found}
    return list(unique.values())


@pytest.fixture
def fedgate(fedgate_bin: Path, tmp_path: Path) -> Callable[..., FedgateServer]:
    """Factory: fedgate(overrides) starts a server whose config is the base config deep-merged
    with overrides (dicts merge, lists replace, None deletes a key). Stopped with SIGTERM after
    the test, asserting exit status 0."""
    started: list[FedgateServer] = []

    def start(overrides: dict[str, Any] | None = None, env: dict[str, str] | None = None,
              cpus: set[int] | None = None, args: list[str] | None = None) -> FedgateServer:
        server = start_server(fedgate_bin, tmp_path / f"server{len(started)}", overrides, env=env, cpus=cpus, args=args)
        started.append(server)
        return server

    start.servers = started
    yield start
    errors = []
    for server in started:
        try:
            stop_and_check(server)
        except AssertionError as exc:
            errors.append(str(exc))
    assert not errors, "\n".join(errors)


@pytest.fixture(scope="module")
def module_fedgate(fedgate_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., FedgateServer]:
    """Like `fedgate`, but the servers live for the whole test module (for read-mostly tests)."""
    started: list[FedgateServer] = []

    def start(overrides: dict[str, Any] | None = None) -> FedgateServer:
        server = start_server(fedgate_bin, tmp_path_factory.mktemp("module"), overrides)
        started.append(server)
        return server

    start.servers = started
    yield start
    errors = []
    for server in started:
        try:
            stop_and_check(server)
        except AssertionError as exc:
            errors.append(str(exc))
    assert not errors, "\n".join(errors)


@pytest.fixture(scope="module")
def server(module_fedgate: Callable[..., FedgateServer]) -> FedgateServer:
    """One server with the base config, shared by the tests of a module that only read from it
    or create their own tokens (each login makes fresh codes and tokens)."""
    return module_fedgate()


@pytest.fixture
def browser() -> Browser:
    return Browser()
