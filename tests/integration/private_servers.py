"""Private Redis and PostgreSQL servers for fault tests: stopped, restarted and frozen by the
test that owns them, never the shared ones.

Each server runs on a free port, in a directory of its own, and is killed and removed when its
``with`` block ends, whatever happened inside (a frozen server is thawed first). ``blackhole``
is a port that never answers: connections are made and never answered (read timeouts), or
never made at all (connect timeouts).

A missing ``redis-server`` or PostgreSQL binary skips the test, or fails it with ``CI=true``
(as ``require_service`` does for the shared servers).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import IN_CI

START_DEADLINE = 60.0
"""Seconds a server may take to start or stop on a loaded machine."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def missing(what: str) -> None:
    """Skip (or fail with ``CI=true``) a test whose server cannot be started here."""
    if IN_CI:
        pytest.fail(f"{what} (CI=true: fault tests must run)")
    pytest.skip(what)


def wait_until(check: Callable[[], bool], what: str, deadline: float = START_DEADLINE) -> None:
    end = time.monotonic() + deadline
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"{what} within {deadline:g} s")
        time.sleep(0.05)


def answers(port: int) -> bool:
    """Whether something accepts connections on ``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


# ---------------------------------------------------------------------------- Redis
class PrivateRedis:
    """A ``redis-server`` of the test's own: no persistence, loopback only."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.frozen = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.settimeout(5)
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        """Start it (again, on the same port) and wait until it answers ``PING``."""
        log = (self.directory / "redis.log").open("ab")
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        proc = self.proc

        def up() -> bool:
            if proc.poll() is not None:
                text = (self.directory / "redis.log").read_text(errors="replace")
                raise AssertionError(f"redis-server exited:\n{text}")
            return self._ping()

        wait_until(up, "the private redis-server did not answer")

    def stop(self, *, keep_data: bool = True) -> None:
        """Stop it and wait until it is gone; its port refuses connections.

        ``keep_data``: ``SHUTDOWN SAVE`` writes the data set to its directory and the next
        ``start()`` loads it (a restart, not a new server); otherwise SIGTERM, data lost.
        """
        proc, self.proc = self.proc, None
        if proc is None:
            return
        self.thaw()
        if keep_data and proc.poll() is None:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock,
            ):
                sock.sendall(b"SHUTDOWN SAVE\r\n")
                sock.settimeout(START_DEADLINE)
                sock.recv(64)  # the server closes the connection when it exits
        proc.terminate()
        try:
            proc.wait(timeout=START_DEADLINE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def freeze(self) -> None:
        """SIGSTOP: the kernel still accepts connections and data; nothing answers."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        if self.frozen and self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)
        self.frozen = False


@contextlib.contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    """A started ``PrivateRedis``, stopped and removed at the end."""
    binary = shutil.which("redis-server")
    if binary is None:
        missing("redis-server is not installed")
    assert binary is not None
    directory = Path(tempfile.mkdtemp(prefix="pystator-redis-"))
    server = PrivateRedis(binary, directory)
    try:
        server.start()
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(directory, ignore_errors=True)


# ---------------------------------------------------------------------------- PostgreSQL
def postgres_bin() -> Path | None:
    """The newest PostgreSQL server's ``bin`` directory, or ``None``."""

    def version(path: str) -> tuple[int, ...]:
        part = Path(path).parent.name
        return tuple(int(p) for p in part.split(".") if p.isdigit())

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version)
    if found:
        return Path(found[-1])
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own: trust authentication, loopback only, no fsync.

    As root, the cluster belongs to the ``postgres`` user (PostgreSQL refuses to run as root)
    and its programs run through ``runuser``.
    """

    def __init__(self, bin_dir: Path, directory: Path, user: str | None) -> None:
        self.bin_dir = bin_dir
        self.directory = directory
        self.data = directory / "data"
        self.user = user
        self.port = free_port()
        self.frozen: list[int] = []

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=START_DEADLINE + 30, check=False
        )
        if done.returncode != 0:
            log = self.directory / "postgres.log"
            text = log.read_text(errors="replace") if log.exists() else ""
            raise AssertionError(f"{' '.join(args[:1])} failed:\n{done.stdout}{done.stderr}{text}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")

    def start(self) -> None:
        """Start it (again, on the same port) and wait until it accepts connections."""
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.directory / "postgres.log"),
            "-o",
            options,
            "-w",
            "-t",
            str(int(START_DEADLINE)),
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop it and wait until it is gone; its port refuses connections."""
        self.thaw()
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def pids(self) -> list[int]:
        """The postmaster and every process it started."""
        head = (self.data / "postmaster.pid").read_text().split("\n", 1)[0]
        postmaster = int(head)
        children = []
        for stat in glob.glob("/proc/[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = Path(stat).read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == postmaster:
                    children.append(int(Path(stat).parent.name))
        return [postmaster, *children]

    def freeze(self) -> None:
        """SIGSTOP the postmaster and its backends: connections and data are still accepted
        by the kernel, nothing answers."""
        self.frozen = self.pids()
        signal_all(self.frozen, signal.SIGSTOP)

    def thaw(self) -> None:
        frozen, self.frozen = self.frozen, []
        signal_all(frozen, signal.SIGCONT)


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A started ``PrivatePostgres``, stopped and removed at the end."""
    bin_dir = postgres_bin()
    if bin_dir is None or not (bin_dir / "initdb").exists():
        missing("the PostgreSQL server programs (initdb, pg_ctl) are not installed")
    assert bin_dir is not None
    user = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            missing("running as root and there is no 'postgres' user to own the cluster")
        if shutil.which("runuser") is None:
            missing("running as root without runuser")
        user = "postgres"
    directory = Path(tempfile.mkdtemp(prefix="pystator-pg-"))
    directory.chmod(0o755)
    if user is not None:
        shutil.chown(directory, user)
    server = PrivatePostgres(bin_dir, directory, user)
    try:
        server.init()
        server.start()
        yield server
    finally:
        try:
            if (server.data / "postmaster.pid").exists():
                server.stop("immediate")
        finally:
            shutil.rmtree(directory, ignore_errors=True)


# ---------------------------------------------------------------------------- blackholes
@contextlib.contextmanager
def blackhole(*, accept: bool = True) -> Iterator[int]:
    """A loopback port that never answers; yields the port.

    ``accept=True``: the kernel completes every connection and takes the data, and nothing
    ever replies (what a frozen server looks like: read timeouts). ``accept=False``: the
    listen queue is kept full, so new connections are never completed (connect timeouts).
    """
    listener = socket.socket()
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        if accept:
            listener.listen(128)
        else:
            listener.listen(0)
            for _ in range(16):  # a backlog of 0 still takes one or two connections
                filler = socket.socket()
                filler.settimeout(0.5)
                try:
                    filler.connect(("127.0.0.1", port))
                except OSError:
                    filler.close()
                    break
                fillers.append(filler)
            else:
                raise AssertionError("could not fill the listen queue of the blackhole")
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


__all__ = [
    "PrivatePostgres",
    "PrivateRedis",
    "answers",
    "blackhole",
    "free_port",
    "private_postgres",
    "private_redis",
]
