"""Files that are not definition files: devices, FIFOs, directories, links to them, files
whose size lies. Each is refused with one clear error, quickly, with at most the limit read;
none hangs a loader, the command line or the API server's start-up.

A FIFO would block ``open`` until a writer comes: every read of one runs in a thread (or a
subprocess) with a deadline, and a test that finds it still blocked unblocks it and fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pystator import ConfigurationError, StateMachine
from pystator.loaders import load_file, load_json_file, load_yaml_file
from tests.conftest import ROOT
from tests.integration.api_app import ORDER, running_server

DEADLINE = 60.0
"""Seconds a refusal may take before the test calls it a hang (it takes milliseconds)."""

pytestmark = pytest.mark.skipif(
    not Path("/dev/zero").exists() or not hasattr(os, "mkfifo"), reason="needs a POSIX system"
)


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "pipe.yaml"
    os.mkfifo(path)
    yield path
    _unblock(path)


def _unblock(path: Path) -> None:
    """Open the FIFO's write end (non-blocking) so that a reader stuck in ``open`` returns."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return  # no reader is waiting
    os.close(fd)


def refused_within_deadline(load: Callable[[], Any], unblock: Path | None = None) -> str:
    """Run ``load`` in a thread; it must raise ``ConfigurationError`` before the deadline."""
    outcome: dict[str, BaseException | None] = {}

    def run() -> None:
        try:
            load()
        except BaseException as exc:  # reported below, whatever it is
            outcome["error"] = exc
        else:
            outcome["error"] = None

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(DEADLINE)
    if thread.is_alive():
        if unblock is not None:
            _unblock(unblock)
        pytest.fail(f"still reading after {DEADLINE} s: it hangs")
    error = outcome["error"]
    assert isinstance(error, ConfigurationError), repr(error)
    (issue,) = error.issues
    return str(issue)


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pystator", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=DEADLINE,
    )


LOADERS: dict[str, Callable[[Path], Any]] = {
    "load_file": load_file,
    "load_yaml_file": load_yaml_file,
    "load_json_file": load_json_file,
    "from_yaml": StateMachine.from_yaml,
    "from_json": StateMachine.from_json,
}


@pytest.mark.parametrize("loader", LOADERS)
class TestLoaders:
    @pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
    def test_devices(self, loader: str, device: str) -> None:
        issue = refused_within_deadline(lambda: LOADERS[loader](Path(device)))
        assert issue == (
            f"{device} is a character device, not a definition file (only regular files are read)"
        )

    def test_a_link_to_a_device(self, loader: str, tmp_path: Path) -> None:
        link = tmp_path / "m.yaml"
        link.symlink_to("/dev/zero")
        issue = refused_within_deadline(lambda: LOADERS[loader](link))
        assert issue == (
            f"{link} is a character device, not a definition file (only regular files are read)"
        )

    def test_a_fifo(self, loader: str, fifo: Path) -> None:
        issue = refused_within_deadline(lambda: LOADERS[loader](fifo), unblock=fifo)
        assert issue == (
            f"{fifo} is a FIFO (named pipe), not a definition file (only regular files are read)"
        )

    def test_a_link_to_a_fifo(self, loader: str, fifo: Path, tmp_path: Path) -> None:
        link = tmp_path / "link.json"
        link.symlink_to(fifo)
        issue = refused_within_deadline(lambda: LOADERS[loader](link), unblock=fifo)
        assert "is a FIFO (named pipe), not a definition file" in issue

    def test_a_directory(self, loader: str, tmp_path: Path) -> None:
        issue = refused_within_deadline(lambda: LOADERS[loader](tmp_path))
        assert issue == (
            f"{tmp_path} is a directory, not a definition file (only regular files are read)"
        )


class TestSizes:
    def test_a_file_whose_size_lies_is_read_up_to_the_limit(self) -> None:
        # /proc files say they are empty and are not: the limit holds on what is read.
        path = Path("/proc/self/maps")
        if not path.exists():
            pytest.skip("needs /proc")
        issue = refused_within_deadline(lambda: load_yaml_file(path, max_bytes=100))
        assert issue == f"{path} is larger than the limit of 100 bytes"

    def test_a_file_over_the_limit_is_refused_before_reading(self, tmp_path: Path) -> None:
        path = tmp_path / "big.yaml"
        path.write_bytes(b"#" * 1000)
        issue = refused_within_deadline(lambda: load_yaml_file(path, max_bytes=999))
        assert issue == f"{path} is 1000 bytes, over the limit of 999 bytes"

    def test_a_file_at_the_limit_is_read(self, tmp_path: Path) -> None:
        path = tmp_path / "m.json"
        text = json.dumps(ORDER)
        path.write_text(text, encoding="utf-8")
        assert load_json_file(path, max_bytes=len(text)).meta.machine_name == "orders"

    def test_an_unreadable_file(self) -> None:
        # In a directory anyone may enter (pytest's own tmp directories are 0700), so that
        # the file's mode alone is what refuses the read.
        import shutil
        import tempfile

        directory = Path(tempfile.mkdtemp(prefix="pystator-unreadable-"))
        try:
            directory.chmod(0o755)
            path = directory / "secret.yaml"
            path.write_text("meta: {machine_name: m}\n", encoding="utf-8")
            path.chmod(0o644)
            if os.geteuid() == 0:  # root reads every file: read it as nobody, in a child
                readable = _as_nobody(lambda: path.read_text(encoding="utf-8"))
                assert readable == "meta: {machine_name: m}\n"  # the directory lets nobody in
            path.chmod(0)
            if os.geteuid() != 0:
                issue = refused_within_deadline(lambda: load_yaml_file(path))
            else:
                issue = _as_nobody(lambda: refused_within_deadline(lambda: load_yaml_file(path)))
            assert issue == f"cannot read {path}: Permission denied"
        finally:
            shutil.rmtree(directory, ignore_errors=True)


def _as_nobody(check: Callable[[], str]) -> str:
    """``check()`` run in a forked child whose user is ``nobody``; its text, or its error."""
    import pwd

    nobody = pwd.getpwnam("nobody")
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12 warns about fork() beside threads; the child only reads one file.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read_end)
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            text = check()
        except BaseException as exc:
            text = f"child failed: {exc!r}"
        os.write(write_end, text.encode())
        os._exit(0)
    os.close(write_end)
    import select
    import signal

    with os.fdopen(read_end, "rb") as pipe:
        ready, _, _ = select.select([pipe], [], [], 120)
        if not ready:  # a child stuck on a lock copied at fork: end it, fail the test
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the child reading as nobody did not answer")
        text = pipe.read().decode()
    os.waitpid(pid, 0)
    return text


class TestCommandLine:
    @pytest.mark.parametrize("command", ["validate", "diagram", "process"])
    def test_devices_fifos_and_directories(self, command: str, fifo: Path, tmp_path: Path) -> None:
        link = tmp_path / "zero.yaml"
        link.symlink_to("/dev/zero")
        for path, kind in [
            (Path("/dev/zero"), "a character device"),
            (Path("/dev/urandom"), "a character device"),
            (link, "a character device"),
            (fifo, "a FIFO (named pipe)"),
            (tmp_path, "a directory"),
        ]:
            extra = ["A", "go"] if command == "process" else []
            try:
                proc = cli(command, path, *extra)
            except subprocess.TimeoutExpired:
                _unblock(fifo)
                pytest.fail(f"pystator {command} {path} hangs")
            assert proc.returncode == 1
            assert "Traceback" not in proc.stderr
            lines = proc.stderr.strip().splitlines()
            assert len(lines) == 1, proc.stderr
            assert lines[0].endswith(
                f"{path} is {kind}, not a definition file (only regular files are read)"
            )


class TestMachinesDirectory:
    def test_the_server_starts_and_logs_each_refusal(self, tmp_path: Path) -> None:
        machines = tmp_path / "machines"
        machines.mkdir()
        (machines / "orders.json").write_text(json.dumps(ORDER), encoding="utf-8")
        (machines / "zero.yaml").symlink_to("/dev/zero")
        (machines / "random.json").symlink_to("/dev/urandom")
        os.mkfifo(machines / "pipe.yml")
        (machines / "folder.yaml").mkdir()
        try:
            with running_server(tmp_path, env={"PYSTATOR_MACHINES_DIR": str(machines)}) as base:
                listed = httpx.get(f"{base}/api/v1/machines", timeout=DEADLINE).json()
                assert [m["id"] for m in listed["items"]] == ["orders"]
        finally:
            _unblock(machines / "pipe.yml")
        log = (tmp_path / "server.log").read_text(encoding="utf-8")
        for name, kind in [
            ("zero.yaml", "a character device"),
            ("random.json", "a character device"),
            ("pipe.yml", "a FIFO (named pipe)"),
            ("folder.yaml", "a directory"),
        ]:
            line = next(line for line in log.splitlines() if f"skipped {name}:" in line)
            assert line.endswith(
                f"skipped {name}: 1 problem: {machines / name} is {kind}, not a definition "
                "file (only regular files are read)"
            )
        assert "Traceback" not in log
