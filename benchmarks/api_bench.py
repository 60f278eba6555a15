"""``python -m benchmarks.api_bench``: the HTTP API under load, beside the same work in-process.

For each scenario a real server (``pystator api``) runs in its own process and a load client
runs in a second process on loopback: ``--concurrency`` keep-alive connections, each sending
its next request as soon as the previous answer arrived (closed loop). The client reports
requests per second and latency percentiles. The in-process figure is the same work without
HTTP: ``machine.process`` for ``/api/v1/process``, ``Orchestrator.process_event`` over the
same kind of store for entity events.

Scenarios:

* ``process``: ``POST /api/v1/process`` with the order workflow definition and a named guard
  outcome (the compiled definition is cached by the server, as it is for real clients).
* ``events-sqlite``: ``POST /api/v1/machines/{id}/entities/{e}/events`` on a SQLite file; each
  connection drives its own entities (no version conflicts), every event is a transition and
  one committed write.
* ``events-postgres``: the same on PostgreSQL (``--postgres``, default
  ``postgresql+psycopg://postgres@127.0.0.1:5432/test``): a dedicated database
  ``pystator_api_bench`` is created for the run and dropped after it. Skipped, with the reason
  printed, when the server is not reachable.

These are benchmarks, not tests: nothing is asserted. The machine running them is reported
with the figures; on a small machine the client and the server share the same cores.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ORDER_YAML = ROOT / "examples" / "order_workflow_fsm.yaml"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BENCH_DATABASE = "pystator_api_bench"

TOGGLE: dict[str, Any] = {
    "meta": {"machine_name": "toggle", "version": "1.0.0"},
    "states": [{"name": "OFF", "type": "initial"}, {"name": "ON"}],
    "transitions": [
        {"trigger": "flip", "source": "OFF", "dest": "ON"},
        {"trigger": "flip", "source": "ON", "dest": "OFF"},
    ],
}


@dataclass(frozen=True, slots=True)
class Figures:
    """Throughput and latency of one run."""

    ops_per_second: float
    p50_ms: float
    p99_ms: float
    count: int
    errors: int = 0


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def figures(latencies: list[float], elapsed: float, errors: int = 0) -> Figures:
    ordered = sorted(latencies)
    return Figures(
        ops_per_second=len(latencies) / elapsed if elapsed > 0 else float("nan"),
        p50_ms=percentile(ordered, 0.50) * 1e3,
        p99_ms=percentile(ordered, 0.99) * 1e3,
        count=len(latencies),
        errors=errors,
    )


def order_config() -> dict[str, Any]:
    from pystator.loaders import load_yaml_file
    from pystator.loaders.definition_io import definition_to_dict

    return definition_to_dict(load_yaml_file(ORDER_YAML))


# ----------------------------------------------------------------------------- load client
class _Connection:
    """One keep-alive HTTP/1.1 connection, written by hand: the client must cost little."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def request(self, raw: bytes) -> int:
        self.writer.write(raw)
        status_line = await self.reader.readline()
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if length:
            await self.reader.readexactly(length)
        return status


def _raw_post(host: str, port: int, path: str, body: dict[str, Any]) -> bytes:
    payload = json.dumps(body, separators=(",", ":")).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode()
    return head + payload


async def _load(plan: dict[str, Any]) -> dict[str, Any]:
    host, port = plan["host"], plan["port"]
    concurrency, duration, warmup = plan["concurrency"], plan["duration"], plan["warmup"]
    requests: list[list[bytes]] = [
        [_raw_post(host, port, r["path"], r["body"]) for r in per_connection]
        for per_connection in plan["requests"]
    ]
    latencies: list[float] = []
    errors = 0
    started_at = time.perf_counter() + warmup
    stop_at = started_at + duration

    async def worker(index: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        conn = _Connection(reader, writer)
        mine = requests[index % len(requests)]
        i = 0
        try:
            while True:
                sent = time.perf_counter()
                if sent >= stop_at:
                    break
                status = await conn.request(mine[i % len(mine)])
                done = time.perf_counter()
                i += 1
                if sent >= started_at:
                    if status >= 400:
                        errors += 1
                    latencies.append(done - sent)
        finally:
            writer.close()

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    result = figures(latencies, duration, errors)
    return dataclasses.asdict(result)


def client_main() -> int:
    """The load client process: reads a plan (JSON) on stdin, prints figures (JSON)."""
    plan = json.loads(sys.stdin.read())
    print(json.dumps(asyncio.run(_load(plan))))
    return 0


def run_client(plan: dict[str, Any]) -> Figures:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.api_bench", "--client"],
        input=json.dumps(plan),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=plan["duration"] + plan["warmup"] + 120,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the load client failed:\n{proc.stderr}")
    return Figures(**json.loads(proc.stdout))


# ----------------------------------------------------------------------------- server
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """``pystator api`` in a subprocess, on a free port, with the given database."""

    def __init__(self, database_url: str, workdir: Path) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYSTATOR_")}
        env.update(PYSTATOR_DATABASE_URL=database_url, PYSTATOR_LOG_LEVEL="warning")
        self.log = (workdir / f"server-{self.port}.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pystator", "api", "--port", str(self.port)],
            cwd=workdir,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait()

    def _wait(self) -> None:
        import http.client

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pystator api exited; see {self.log.name}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("pystator api did not answer /health within 60 s")

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        payload = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
        return json.loads(data) if data else None

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


# ----------------------------------------------------------------------------- in-process
def timed_loop(op: Callable[[int], object], seconds: float) -> Figures:
    latencies: list[float] = []
    started = time.perf_counter()
    i = 0
    while True:
        t0 = time.perf_counter()
        if t0 - started >= seconds:
            break
        op(i)
        latencies.append(time.perf_counter() - t0)
        i += 1
    return figures(latencies, time.perf_counter() - started)


def in_process_process(seconds: float) -> Figures:
    from pystator.api.supplied_guards import machine_with_supplied_guards, supplying
    from pystator.loaders import definition_from_data

    machine = machine_with_supplied_guards(definition_from_data(order_config()))
    outcomes = {"is_full_fill": True}

    def op(_: int) -> object:
        with supplying(outcomes):
            return machine.process("OPEN", "execution_report", {"fill_qty": 100})

    return timed_loop(op, seconds)


def in_process_events(url: str, seconds: float, entities: int) -> Figures:
    from pystator import Orchestrator, StateMachine
    from pystator.stores.sql import SQLStateStore

    store = SQLStateStore(url, table_prefix="inproc_")
    try:
        orchestrator = Orchestrator(
            StateMachine.from_dict(TOGGLE),
            store,
            use_initial_state_when_missing=False,
            run_actions=False,
        )
        for e in range(entities):
            orchestrator.create_entity(f"inproc-{e}")

        def op(i: int) -> object:
            return orchestrator.process_event(f"inproc-{i % entities}", "flip")

        return timed_loop(op, seconds)
    finally:
        store.drop_tables()
        store.close()


# ----------------------------------------------------------------------------- scenarios
@dataclass(frozen=True, slots=True)
class Row:
    scenario: str
    in_process: Figures | None
    http: Figures | None
    note: str = ""


def bench_process(args: argparse.Namespace, workdir: Path) -> Row:
    inproc = in_process_process(args.seconds)
    server = Server(f"sqlite:///{workdir / 'process.db'}", workdir)
    try:
        body = {
            "config": order_config(),
            "current_state": "OPEN",
            "trigger": "execution_report",
            "context": {"fill_qty": 100},
            "guards": {"is_full_fill": True},
        }
        server.call("POST", "/api/v1/process", body)
        plan = {
            "host": "127.0.0.1",
            "port": server.port,
            "concurrency": args.concurrency,
            "duration": args.seconds,
            "warmup": args.warmup,
            "requests": [[{"path": "/api/v1/process", "body": body}]],
        }
        http = run_client(plan)
    finally:
        server.close()
    return Row("POST /api/v1/process", inproc, http)


def bench_events(args: argparse.Namespace, workdir: Path, url: str, label: str) -> Row:
    per_connection = 8
    inproc = in_process_events(url, args.seconds, per_connection * args.concurrency)
    server = Server(url, workdir)
    try:
        server.call("POST", "/api/v1/machines", {"config": TOGGLE})
        requests = []
        for c in range(args.concurrency):
            mine = []
            for k in range(per_connection):
                entity = f"c{c}-e{k}"
                server.call("POST", "/api/v1/machines/toggle/entities", {"entity_id": entity})
                mine.append(
                    {
                        "path": f"/api/v1/machines/toggle/entities/{entity}/events",
                        "body": {"trigger": "flip"},
                    }
                )
            requests.append(mine)
        plan = {
            "host": "127.0.0.1",
            "port": server.port,
            "concurrency": args.concurrency,
            "duration": args.seconds,
            "warmup": args.warmup,
            "requests": requests,
        }
        http = run_client(plan)
        server.call("DELETE", "/api/v1/machines/toggle")
    finally:
        server.close()
    return Row(f"entity events ({label})", inproc, http)


def postgres_database(base_url: str) -> tuple[str | None, str]:
    """(URL of a fresh dedicated database, "") or (None, why not)."""
    try:
        import psycopg
        from sqlalchemy.engine import make_url
    except ImportError as exc:
        return None, f"driver missing ({exc.name})"
    base = make_url(base_url)
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
    except psycopg.Error as exc:
        return None, f"PostgreSQL not reachable ({type(exc).__name__})"
    return base.set(database=BENCH_DATABASE).render_as_string(hide_password=False), ""


def drop_postgres_database(base_url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(base_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')


# ----------------------------------------------------------------------------- report
def _cell(f: Figures | None) -> tuple[str, str]:
    if f is None:
        return "-", "-"
    return f"{f.ops_per_second:,.0f}", f"{f.p99_ms:.3f}"


def render(rows: list[Row], args: argparse.Namespace) -> str:
    lines = [
        f"PyStator HTTP API benchmark: Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}; client and server on loopback, "
        f"{args.concurrency} keep-alive connections, {args.seconds:g} s per figure",
        "",
        f"{'scenario':<34} {'in-process ops/s':>17} {'p99 ms':>8}   "
        f"{'HTTP req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}",
    ]
    for row in rows:
        ops, p99 = _cell(row.in_process)
        if row.http is None:
            lines.append(f"{row.scenario:<34} {ops:>17} {p99:>8}   skipped: {row.note}")
            continue
        h = row.http
        lines.append(
            f"{row.scenario:<34} {ops:>17} {p99:>8}   {h.ops_per_second:>10,.0f} "
            f"{h.p50_ms:>8.2f} {h.p99_ms:>8.2f} {h.errors:>7}"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.api_bench", description=__doc__)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured time per figure")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured time first")
    parser.add_argument("--concurrency", type=int, default=8, help="client connections")
    parser.add_argument("--quick", action="store_true", help="1 s per figure, 4 connections")
    parser.add_argument(
        "--only", default="", help="comma-separated: process, events-sqlite, events-postgres"
    )
    parser.add_argument(
        "--postgres", default=os.environ.get("PYSTATOR_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.warmup, args.concurrency = 1.0, 0.3, 4
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.client:
        return client_main()
    chosen = [s.strip() for s in args.only.split(",") if s.strip()] or [
        "process",
        "events-sqlite",
        "events-postgres",
    ]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="pystator-api-bench-") as tmp:
        workdir = Path(tmp)
        if "process" in chosen:
            rows.append(bench_process(args, workdir))
        if "events-sqlite" in chosen:
            url = f"sqlite:///{workdir / 'events.db'}"
            rows.append(bench_events(args, workdir, url, "SQLite"))
        if "events-postgres" in chosen:
            url, why = postgres_database(args.postgres)
            if url is None:
                rows.append(Row("entity events (PostgreSQL)", None, None, why))
            else:
                try:
                    rows.append(bench_events(args, workdir, url, "PostgreSQL"))
                finally:
                    drop_postgres_database(args.postgres)
    print(render(rows, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
