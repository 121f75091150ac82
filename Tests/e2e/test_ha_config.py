"""`storage.type: postgres` and `etcd` with Dex's keys, checked by `fedgate validate`: Dex
configs are accepted as they are, and every mistake is reported with the field it is in."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

BASE = {"issuer": "http://127.0.0.1:5556/dex", "web": {"http": "127.0.0.1:5556"}}


def validate(fedgate_bin: Path, tmp_path: Path, storage: dict) -> tuple[int, list[str]]:
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps({**BASE, "storage": storage}))
    done = subprocess.run([str(fedgate_bin), "validate", str(path)], capture_output=True, text=True, timeout=60)
    prefix = f"{path}: "
    return done.returncode, [line.removeprefix(prefix) for line in done.stderr.splitlines()]


@pytest.mark.parametrize("storage", [
    # Dex's documented examples, including the legacy host:port form and Go's case-insensitive keys.
    {"type": "postgres", "config": {"host": "localhost", "port": 5432, "database": "dex", "user": "postgres",
                                    "password": "postgres", "ssl": {"mode": "disable"}}},
    {"type": "postgres", "config": {"host": "db.example.com:6432", "database": "dex", "user": "dex",
                                    "connectionTimeout": 5, "MaxOpenConns": 10, "maxidleconns": 2, "connMaxLifetime": 300}},
    {"type": "postgres", "config": {"host": "/var/run/postgresql", "database": "dex", "user": "dex"}},
    {"type": "etcd", "config": {"endpoints": ["http://localhost:2379"], "namespace": "dex/"}},
    {"type": "etcd", "config": {"endpoints": ["https://etcd-0:2379", "etcd-1:2379"], "username": "dex", "password": "pw",
                                "ssl": {"serverName": "etcd.internal"}}},
])
def test_dex_storage_configs_are_accepted(fedgate_bin, tmp_path, storage):
    code, lines = validate(fedgate_bin, tmp_path, storage)
    assert code == 0, lines


@pytest.mark.parametrize("storage, expected", [
    ({"type": "postgres", "config": {"host": "h", "port": 70000, "ssl": {"mode": "sometimes"}}},
     ["storage.config.port: must be between 1 and 65535",
      'storage.config.ssl.mode: unknown SSL mode "sometimes" (supported: disable, require, verify-ca, verify-full)']),
    ({"type": "postgres", "config": {"host": "h", "ssl": {"mode": "verify-full", "caFile": "/nonexistent/ca.pem",
                                                          "certFile": "/nonexistent/client.pem"}}},
     ['storage.config.ssl.caFile: file "/nonexistent/ca.pem" does not exist',
      'storage.config.ssl.certFile: file "/nonexistent/client.pem" does not exist',
      "storage.config.ssl.keyFile: required when certFile is set"]),
    ({"type": "postgres", "config": {"host": "h", "maxOpenConns": -1, "connectionTimeout": -5}},
     ["storage.config.connectionTimeout: must not be negative", "storage.config.maxOpenConns: must not be negative"]),
    ({"type": "etcd", "config": {"namespace": "dex/"}}, ["storage.config.endpoints: required"]),
    ({"type": "etcd", "config": {"endpoints": ["ftp://etcd:2379"], "password": "pw"}},
     ['storage.config.endpoints[0]: invalid endpoint "ftp://etcd:2379" (want http(s)://host:port)',
      "storage.config.username: required when password is set"]),
    ({"type": "mysql", "config": {"host": "h"}},
     ['storage.type: storage type "mysql" is not supported yet (supported: memory, sqlite3, postgres, etcd)']),
])
def test_storage_mistakes_name_their_field(fedgate_bin, tmp_path, storage, expected):
    code, lines = validate(fedgate_bin, tmp_path, storage)
    assert code == 2
    assert sorted(lines) == sorted(expected)
