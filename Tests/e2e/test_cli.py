"""The command line: `fedgate version`, `fedgate validate FILE`, `fedgate serve BAD`.

validate exits 0 on a good file and 2 on a bad one, printing one "FILE: path: message" line per
problem, so an editor or CI log points straight at the field.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import requests

from e2e_support.server import REPO_ROOT, base_config, deep_merge, free_port

EXAMPLES = sorted((REPO_ROOT / "connector-configs").glob("*.yaml"))
EXPECTED_EXAMPLES = ["quickstart.yaml", "mock-callback.yaml", "mock-password.yaml", "local.yaml", "dex-compat.yaml",
                     "ldap.yaml", "active-directory.yaml"]


def run(binary: Path, *args: str, cwd: Path = REPO_ROOT, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(binary), *args], cwd=cwd, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout)


def test_version_prints_a_version(fedgate_bin):
    result = run(fedgate_bin, "version")
    assert result.returncode == 0, result.stderr
    assert re.search(r"\d+\.\d+", result.stdout), result.stdout


def test_example_configs_are_all_present():
    names = {p.name for p in EXAMPLES}
    missing = [n for n in EXPECTED_EXAMPLES if n not in names]
    assert not missing, f"connector-configs/ lacks {missing}"


@pytest.mark.parametrize("path", EXAMPLES or [REPO_ROOT / "connector-configs" / "<none>.yaml"],
                         ids=lambda p: p.name)
def test_every_example_config_validates(fedgate_bin, path):
    result = run(fedgate_bin, "validate", str(path.relative_to(REPO_ROOT)))
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}{result.stderr}"


def good_config(tmp_path: Path) -> dict:
    return base_config(free_port(), tmp_path)


def problem_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line.strip() for line in (result.stdout + result.stderr).splitlines() if line.strip()]


def assert_reports(result, file: Path, field: str | re.Pattern[str], message: str | None = None) -> None:
    """Exit status 2 and a line "<file>: <field>: <message>" (file as given or its basename).
    field is an exact path, or a regular expression when several paths are fair."""
    assert result.returncode == 2, f"exit {result.returncode}\n{result.stdout}{result.stderr}"
    field_re = field.pattern if isinstance(field, re.Pattern) else re.escape(field)
    pattern = re.compile(
        rf"^(?:{re.escape(str(file))}|(?:.*/)?{re.escape(file.name)}): {field_re}: (.+)$"
    )
    matches = [m for m in map(pattern.match, problem_lines(result)) if m]
    assert matches, f"no line for {field!r} in:\n{result.stdout}{result.stderr}"
    if message is not None:
        assert any(message in m.group(1) for m in matches), f"{field}: wanted {message!r}, got {[m.group(1) for m in matches]}"


BROKEN = [
    pytest.param({"issuer": None}, "issuer", "required", id="missing-issuer"),
    pytest.param({"storage": None}, "storage", "required", id="missing-storage"),
    pytest.param({"storage": {"type": "cassandra"}}, "storage.type", 'unknown storage type "cassandra"',
                 id="unknown-storage-type"),
    pytest.param({"connectors": [{"type": "mockCallback", "id": "mock", "name": "Example"},
                                 {"type": "foo", "id": "foo", "name": "Foo"}]},
                 "connectors[1].type", 'unknown connector type "foo"', id="unknown-connector-type"),
    pytest.param({"connectors": [{"type": "mockPassword", "id": "pw", "name": "PW", "config": {"username": "u"}}]},
                 "connectors[0].config.password", None, id="connector-config-missing-field"),
    pytest.param({"enablePasswordDB": False, "oauth2": {"passwordConnector": None}},
                 "staticPasswords", "requires enablePasswordDB: true", id="passwords-without-passworddb"),
    pytest.param({"oauth2": {"passwordConnector": "nope"}}, "oauth2.passwordConnector", None,
                 id="password-connector-unknown"),
    pytest.param({"expiry": {"idTokens": "ten minutes"}}, "expiry.idTokens", None, id="bad-duration"),
    pytest.param({"web": None}, re.compile(r"web(?:\.https?)?"), None, id="no-listener"),
]


@pytest.mark.parametrize("overrides,field,message", BROKEN)
def test_validate_reports_broken_config(fedgate_bin, tmp_path, overrides, field, message):
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps(deep_merge(good_config(tmp_path), overrides), indent=2))
    assert_reports(run(fedgate_bin, "validate", str(path)), path, field, message)


def test_validate_reports_duplicate_client_id(fedgate_bin, tmp_path):
    config = good_config(tmp_path)
    config["staticClients"].append({"id": "example-app", "secret": "other", "name": "Again",
                                    "redirectURIs": ["http://127.0.0.1:1/cb"]})
    path = tmp_path / "dup.yaml"
    path.write_text(json.dumps(config, indent=2))
    index = len(config["staticClients"]) - 1
    assert_reports(run(fedgate_bin, "validate", str(path)), path, f"staticClients[{index}].id",
                   'duplicate client id "example-app"')


def test_validate_reports_several_problems_at_once(fedgate_bin, tmp_path):
    config = deep_merge(good_config(tmp_path), {"issuer": None})
    config["connectors"].append({"type": "foo", "id": "foo", "name": "Foo"})
    path = tmp_path / "two.yaml"
    path.write_text(json.dumps(config, indent=2))
    result = run(fedgate_bin, "validate", str(path))
    assert_reports(result, path, "issuer", "required")
    assert_reports(result, path, f"connectors[{len(config['connectors']) - 1}].type")


def test_validate_reports_yaml_syntax_error(fedgate_bin, tmp_path):
    path = tmp_path / "syntax.yaml"
    path.write_text("issuer: http://127.0.0.1:5556/dex\nstorage: [unclosed\nweb:\n  http: 127.0.0.1:5556\n")
    result = run(fedgate_bin, "validate", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert any(line.startswith(str(path)) or line.startswith(path.name) for line in problem_lines(result)), \
        result.stdout + result.stderr


def test_validate_missing_file_exits_2(fedgate_bin, tmp_path):
    path = tmp_path / "does-not-exist.yaml"
    result = run(fedgate_bin, "validate", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "does-not-exist.yaml" in result.stdout + result.stderr


def test_serve_with_bad_config_exits_2_without_serving(fedgate_bin, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps(deep_merge(good_config(tmp_path), {"issuer": None}), indent=2))
    result = run(fedgate_bin, "serve", str(path), cwd=tmp_path, timeout=30)
    assert result.returncode == 2, result.stdout + result.stderr
    assert_reports(result, path, "issuer", "required")


def test_serve_takes_the_dex_helm_charts_flags(fedgate):
    # The Dex Helm chart runs `serve --web-http-addr … --telemetry-addr … config.yaml`; --grpc-addr
    # is accepted too (no gRPC API is served).
    telemetry = free_port()
    server = fedgate(args=["--telemetry-addr", f"127.0.0.1:{telemetry}", "--grpc-addr", "127.0.0.1:5557"])
    session = requests.Session()
    session.trust_env = False
    assert session.get(f"http://127.0.0.1:{telemetry}/healthz/live", timeout=10).status_code == 200
    assert session.get(f"http://127.0.0.1:{telemetry}/metrics", timeout=10).status_code == 200
    assert session.get(server.url("/healthz"), timeout=10).status_code == 200
    assert "grpc" in server.log().lower()


def test_serve_checks_an_https_address_given_on_the_command_line(fedgate_bin, tmp_path):
    # Flags are applied, then checked: HTTPS from --web-https-addr still needs web.tlsCert/tlsKey.
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(good_config(tmp_path), indent=2))
    result = run(fedgate_bin, "serve", "--web-https-addr", f"127.0.0.1:{free_port()}", str(path), cwd=tmp_path)
    assert_reports(result, path, "web.tlsCert", "required when --web-https-addr is given")
    result = run(fedgate_bin, "serve", "--telemetry-addr", "nonsense", str(path), cwd=tmp_path)
    assert_reports(result, path, "--telemetry-addr", 'invalid address "nonsense" (expected host:port, e.g. 127.0.0.1:5556)')
