"""The real ``onestack`` command: a configuration or usage error is one clear line naming the
setting or file and the fix, exit status 2, no traceback, nothing bootstrapped; help shows
defaults and valid values."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from onestack.common.agents import AGENTS
from onestack.common.service import SERVICES
from tests.conftest import free_port

pytestmark = pytest.mark.e2e
ONESTACK = str(Path(sys.executable).parent / "onestack")


def onestack(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ONESTACK_")}
    return subprocess.run([ONESTACK, *args], capture_output=True, text=True, timeout=60,
                          env={**clean, "COLUMNS": "200", **(env or {})}, stdin=subprocess.DEVNULL)


def one_line_error(proc: subprocess.CompletedProcess[str], *expected: str) -> str:
    """The single stderr line of a failed command, holding every ``expected`` fragment."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert line.startswith("onestack: ")
    for fragment in expected:
        assert fragment in line, (fragment, line)
    return line


def test_a_malformed_toml_file(tmp_path: Path) -> None:
    bad = tmp_path / "onestack.toml"
    bad.write_text("port = [\n")
    one_line_error(onestack("up", "--config", str(bad), "--data-dir", str(tmp_path / "d")),
                   str(bad), "not valid TOML", "fix the file")
    # found in the data dir, without --config, the same
    one_line_error(onestack("up", "--data-dir", str(tmp_path)), str(bad), "not valid TOML")
    assert not (tmp_path / "clouds.yaml").exists()


def test_a_value_of_the_wrong_type_names_the_setting(tmp_path: Path) -> None:
    conf = tmp_path / "onestack.toml"
    conf.write_text('port = "eighty"\n[identity]\ntoken_expiration = 5\n')
    line = one_line_error(onestack("up", "--config", str(conf)), str(conf), "port = 'eighty'",
                          "$ONESTACK_PORT", "identity.token_expiration = 5",
                          "$ONESTACK_IDENTITY__TOKEN_EXPIRATION", "greater than or equal to 60")
    assert "pydantic" not in line
    one_line_error(onestack("db", "upgrade", env={"ONESTACK_WORK_LEASE": "soon",
                                                 "ONESTACK_DATA_DIR": str(tmp_path / "d")}),
                   "work_lease = 'soon'", "$ONESTACK_WORK_LEASE")


def test_a_missing_config_file(tmp_path: Path) -> None:
    one_line_error(onestack("up", "--config", str(tmp_path / "nowhere.toml")),
                   "nowhere.toml", "does not exist")
    one_line_error(onestack("status", env={"ONESTACK_CONFIG": str(tmp_path / "gone.toml")}),
                   "gone.toml", "$ONESTACK_CONFIG")


def test_an_unsupported_database_url_keeps_its_password(tmp_path: Path) -> None:
    line = one_line_error(
        onestack("db", "upgrade", "--data-dir", str(tmp_path),
                 "--database-url", "oracle://scott:tiger@db/orcl"),
        "database_url", "postgresql://", "mysql://",
    )
    assert "tiger" not in line


def test_unknown_services_and_workers_list_the_valid_ones(tmp_path: Path) -> None:
    valid = ", ".join(SERVICES)
    one_line_error(onestack("up", "--services", "identity,nosuch", "--data-dir", str(tmp_path)),
                   "--services", "'nosuch'", valid)
    one_line_error(onestack("serve", "nosuch", "--data-dir", str(tmp_path)), "'nosuch'", valid)
    one_line_error(onestack("up", "--data-dir", str(tmp_path),
                            env={"ONESTACK_SERVICES": '["identity", "nova"]'}),
                   "services", "'nova'", valid, "$ONESTACK_SERVICES")
    one_line_error(onestack("agent", "nosuch", "--data-dir", str(tmp_path)), "'nosuch'",
                   ", ".join(AGENTS))
    assert list(tmp_path.iterdir()) == []


def test_a_service_without_one_it_needs(tmp_path: Path) -> None:
    """Compute calls Placement from its first start: without it (here or remote) the command
    says so in one line before anything is written."""
    one_line_error(onestack("up", "--services", "identity,compute", "--data-dir", str(tmp_path)),
                   "compute needs placement", "--services", "remote_services")
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_data_dir(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    data_dir = tmp_path / "a-file" / "data"  # a directory can't be made under a file, even by root
    one_line_error(onestack("up", "--data-dir", str(data_dir), "--port", str(free_port())),
                   str(data_dir), "not writable", "--data-dir")


def test_a_port_in_use_is_found_before_anything_is_written(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        data_dir = tmp_path / "data"
        one_line_error(onestack("up", "--data-dir", str(data_dir), "--port", str(port)),
                       f"port {port}", "in use", "--port")
        one_line_error(onestack("serve", "image", "--data-dir", str(data_dir), "--port",
                                str(port)), f"port {port}", "in use")
    assert not data_dir.exists() or list(data_dir.iterdir()) == []  # no bootstrap, no clouds.yaml


def test_usage_errors_are_one_line(tmp_path: Path) -> None:
    one_line_error(onestack("up", "--port", "abc"), "'--port'", "onestack up --help")
    one_line_error(onestack("up", "--no-such-option"), "--no-such-option")
    one_line_error(onestack("serve"), "Missing argument", "onestack serve --help")
    one_line_error(onestack("frobnicate"), "frobnicate")


def test_help_shows_defaults_and_valid_values() -> None:
    top = onestack("--help")
    assert top.returncode == 0
    for name in SERVICES:
        assert name in top.stdout
    up = onestack("up", "--help").stdout
    assert "(default: 8000)" in up and "(default: 127.0.0.1)" in up
    assert "(default: memory://)" in up
    # the lists come from the SERVICES and AGENTS tables (services added later appear too)
    assert "services to run, of: identity" in up
    serve = onestack("serve", "--help").stdout
    agent = onestack("agent", "--help").stdout
    for name in SERVICES:
        assert name in up and name in serve, name
    for kind in AGENTS:
        assert kind in agent, kind
    assert "one of identity" in serve and "one of image" in agent
    for sub in (("status",), ("keys", "rotate"), ("db", "upgrade")):
        text = onestack(*sub, "--help").stdout
        assert "(default: " in text, sub
