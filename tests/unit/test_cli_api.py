"""``pystator api``, ``diagram``, ``hash-password`` and ``process --guard`` through
subprocesses: output, exit codes, and one readable error line (never a traceback)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pystator.api.passwords import verify_password
from tests.conftest import EXAMPLES, ROOT
from tests.integration.api_app import clean_env, free_port


def cli(
    *args: str | Path, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pystator", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        input=stdin,
        env=clean_env(**(env or {})),
        timeout=120,
    )


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


ORDER = EXAMPLES / "order_workflow_fsm.yaml"
NESTED = EXAMPLES / "portfolio_optimization_fsm.yaml"


@pytest.mark.parametrize(
    "command", [[], ["api"], ["diagram"], ["hash-password"], ["process"], ["validate"]]
)
def test_every_command_has_help(command: list[str]) -> None:
    proc = cli(*command, "--help")
    assert proc.returncode == 0
    assert proc.stdout.startswith("usage: pystator")


def test_the_version() -> None:
    proc = cli("--version")
    assert proc.returncode == 0
    assert proc.stdout.startswith("pystator ")


def test_help_lists_the_new_commands() -> None:
    out = cli("--help").stdout
    for name in ("api", "diagram", "hash-password", "process", "validate", "schema"):
        assert name in out


class TestDiagram:
    def test_mermaid_is_the_default(self) -> None:
        proc = cli("diagram", NESTED)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("stateDiagram-v2\n")
        assert "state OPTIMIZING {" in proc.stdout

    def test_dot(self) -> None:
        proc = cli("diagram", NESTED, "--format", "dot")
        assert proc.returncode == 0
        assert proc.stdout.startswith('digraph "portfolio_optimization" {')
        assert 'subgraph "cluster_OPTIMIZING"' in proc.stdout

    def test_to_a_file(self, tmp_path: Path) -> None:
        out = tmp_path / "d.mmd"
        proc = cli("diagram", ORDER, "-o", out)
        assert proc.returncode == 0
        assert proc.stdout == ""
        assert out.read_text().startswith("stateDiagram-v2")

    def test_an_unknown_format(self) -> None:
        line = one_error_line(cli("diagram", ORDER, "--format", "svg"))
        assert "invalid choice" in line

    def test_a_missing_file(self, tmp_path: Path) -> None:
        assert "not found" in one_error_line(cli("diagram", tmp_path / "nope.yaml"))

    def test_an_invalid_definition(self, tmp_path: Path) -> None:
        bad = tmp_path / "bad.yaml"
        bad.write_text(
            "meta: {machine_name: m}\nstates: [{name: A}]\n"
            "transitions:\n  - {trigger: t, source: A, dest: B}\n  - {trigger: u, source: C}\n"
        )
        line = one_error_line(cli("diagram", bad))
        assert "transitions[0].dest" in line
        assert "more" in line


class TestProcessGuards:
    def test_guard_outcomes(self) -> None:
        proc = cli("process", ORDER, "OPEN", "execution_report", "--guard", "is_full_fill=true")
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["target_state"] == "FILLED"

    def test_a_missing_guard_is_named(self) -> None:
        line = one_error_line(cli("process", ORDER, "OPEN", "execution_report"))
        assert "is_full_fill" in line

    def test_a_malformed_guard(self) -> None:
        line = one_error_line(cli("process", ORDER, "OPEN", "execution_report", "--guard", "x"))
        assert "NAME=true" in line


class TestHashPassword:
    def test_from_standard_input(self) -> None:
        proc = cli("hash-password", "--iterations", "1000", stdin="s3cret\n")
        assert proc.returncode == 0, proc.stderr
        encoded = proc.stdout.strip()
        assert encoded.startswith("pbkdf2_sha256$1000$")
        assert verify_password("s3cret", encoded)
        assert "s3cret" not in proc.stdout

    def test_an_empty_password(self) -> None:
        assert "password" in one_error_line(cli("hash-password", stdin="\n"))


class TestApiCommand:
    def test_refuses_a_public_address_without_a_secret(self) -> None:
        line = one_error_line(cli("api", "--host", "0.0.0.0", "--port", "0"))
        assert "refusing to listen on 0.0.0.0" in line
        assert "--allow-insecure-bind" in line

    def test_refuses_a_public_address_from_the_environment(self) -> None:
        line = one_error_line(cli("api", env={"PYSTATOR_HOST": "0.0.0.0"}))
        assert "refusing" in line

    def test_bad_settings_name_the_variable_not_the_value(self) -> None:
        line = one_error_line(cli("api", env={"PYSTATOR_AUTH_SECRET": "tooshort-secret"}))
        assert "PYSTATOR_AUTH_SECRET" in line
        assert "tooshort-secret" not in line
        line = one_error_line(cli("api", env={"PYSTATOR_USERS": "bob:plain-password"}))
        assert "PYSTATOR_USERS" in line
        assert "plain-password" not in line

    def test_a_port_in_use(self) -> None:
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            port = busy.getsockname()[1]
            line = one_error_line(cli("api", "--port", str(port)))
        assert f"cannot listen on 127.0.0.1:{port}" in line

    def test_a_bad_port(self) -> None:
        assert "invalid int" in one_error_line(cli("api", "--port", "eighty"))

    def test_a_missing_machines_dir(self, tmp_path: Path) -> None:
        env = {
            "PYSTATOR_MACHINES_DIR": str(tmp_path / "missing"),
            "PYSTATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        }
        line = one_error_line(cli("api", "--port", str(free_port()), env=env))
        assert "not a directory" in line

    @pytest.mark.slow
    def test_the_override_starts_on_every_address(self, tmp_path: Path) -> None:
        port = free_port()
        env = clean_env(PYSTATOR_DATABASE_URL=f"sqlite:///{tmp_path / 'o.db'}")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pystator",
                "api",
                "--host",
                "0.0.0.0",
                "--port",
                str(port),
                "--allow-insecure-bind",
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).is_success:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.poll() is None, proc.communicate()[0]
                time.sleep(0.1)
            else:
                pytest.fail("the server did not start")
        finally:
            proc.terminate()
            output = proc.communicate(timeout=30)[0]
        assert "authentication is off" in output
