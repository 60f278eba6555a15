"""docs/deployment.md, run: API processes and a worker on one PostgreSQL database and one Redis.

Every process is started with the guide's own command (``pystator api ...``, ``uvicorn
pystator.api.main:app ... --workers ...``, ``pystator worker --app deploy_worker:app``), only
its address changed, on a PostgreSQL database created for the test and dropped after it. The
client is the guide's ``send_event`` and the worker the guide's ``deploy_worker.py``, both
taken from the page as they are written there.

* Three API processes (two ``pystator api``, one uvicorn with two workers) start at once on
  an empty database with one ``PYSTATOR_MACHINES_DIR``: the tables are created and the machine
  stored once. Events sent to one entity through all of them at once are each applied once:
  every accepted event is in the history exactly once, in one version each, and the final
  context counts them all. Conflicts and outages are retried by ``send_event`` with the same
  idempotency key, as the guide tells clients to.
* The readiness probes of the guide's Kubernetes block answer ready on every process; with
  Redis frozen or stopped ``/ready`` is 503 and says why (``/health`` stays 200), and ready
  again once Redis is back.
* A delayed transition armed through one API process (with ``PYSTATOR_REDIS_URL``) is fired
  once by the guide's worker and seen through another: one armed while the worker runs,
  which the API itself hands to the worker's scheduler (the worker polls nothing but its
  queue), and one armed while Redis was down, which the worker's start-up re-arm hands over.
  Leaving the state or deleting the entity through one API process cancels its timer: its
  record and its job leave Redis.

Nothing waits for a fixed time: every wait polls for what it waits for, with a deadline only
a broken test reaches. With ``CI=true`` a PostgreSQL or Redis that cannot be reached fails the
tests instead of skipping them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import re
import shlex
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import httpx2
import pytest

from pystator.loaders import load_yaml_text
from tests.conftest import require_service
from tests.docs.markdown_snippets import ROOT, Block, blocks_of
from tests.integration.api_app import PASSWORD, SECRET, USERS, clean_env, free_port
from tests.integration.backends import POSTGRES_URL, unique

GUIDE = ROOT / "docs" / "deployment.md"
WAIT = 120.0
"""Deadline of every wait. Only a broken test waits this long, even on a loaded machine."""
DUE_ROUNDING = 0.001
"""arq keeps due times in whole milliseconds (rounded): a job may start 0.5 ms early."""

EVENTS = 150
THREADS = 9
ENTITY = "t-1"
TALLY: dict[str, Any] = {
    "meta": {"machine_name": "tally", "version": "1.0.0"},
    "states": [{"name": "COUNTING", "type": "initial"}],
    "transitions": [
        {
            "trigger": "add",
            "source": "COUNTING",
            "dest": "COUNTING",
            "internal": True,
            "assign": {"count": "count + 1", "total": "total + amount"},
        }
    ],
}
DEADLINE: dict[str, Any] = {
    "meta": {"machine_name": "deadline", "version": "1.0.0"},
    "states": [
        {"name": "IDLE", "type": "initial"},
        {"name": "WAITING"},
        {"name": "EXPIRED", "type": "terminal"},
    ],
    "transitions": [
        {"trigger": "start", "source": "IDLE", "dest": "WAITING"},
        {"after": "1s", "source": "WAITING", "dest": "EXPIRED"},
        {"trigger": "stop", "source": "WAITING", "dest": "IDLE"},
    ],
}
TIMER_KEYS = "pystator:timers:deadline:"
"""Where the ``ArqScheduler`` of the API and of the guide's worker keep the machine's timers."""
QUEUE = "pystator:queue"


# ---------------------------------------------------------------------------- the guide
def guide_block(file_name: str) -> Block:
    """The block of the guide marked ``<!-- snippet: file=NAME -->``."""
    found = [b for b in blocks_of(GUIDE) if b.file == file_name]
    assert len(found) == 1, f"docs/deployment.md has {len(found)} blocks file={file_name}"
    return found[0]


def guide_command(start: str) -> list[str]:
    """The arguments of the guide's console line ``$ <start> ...``."""
    for block in blocks_of(GUIDE):
        for line in block.code.splitlines() if block.lang == "console" else ():
            if line.startswith(f"$ {start} "):
                return shlex.split(line[2:])
    raise AssertionError(f"docs/deployment.md has no console line '$ {start} ...'")


def with_option(argv: list[str], option: str, value: str) -> list[str]:
    """``argv`` with the value of ``option`` replaced (the option must be there)."""
    assert option in argv, f"the guide's command {argv} has no {option}"
    position = argv.index(option) + 1
    return [*argv[:position], value, *argv[position + 1 :]]


def as_python(argv: list[str]) -> list[str]:
    """``pystator ...`` and ``uvicorn ...`` run with this interpreter (``python -m``)."""
    return [sys.executable, "-m", argv[0], *argv[1:]]


def guide_module(file_name: str, directory: Path) -> Any:
    """The guide's python block ``file_name``, written to ``directory`` and imported."""
    path = directory / file_name
    path.write_text(guide_block(file_name).code, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"guide_{path.stem}_{unique('')}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------- processes
@pytest.fixture
def database_url() -> Iterator[str]:
    """A PostgreSQL database of the test's own, dropped afterwards."""
    require_service("PostgreSQL", POSTGRES_URL, 5432)
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(POSTGRES_URL)
    admin_url = base.set(drivername="postgresql").render_as_string(hide_password=False)
    name = unique("pystator_deploy_")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Processes:
    """The processes of one test, each logging to its own file; all stopped at the end."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        with self.log(name).open("wb") as log:
            self.procs[name] = subprocess.Popen(
                argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def log(self, name: str) -> Path:
        return self.directory / f"{name}.log"

    def logs(self) -> str:
        return "\n".join(f"--- {n}:\n{self.log(n).read_text(errors='replace')}" for n in self.procs)

    def alive(self, name: str) -> None:
        if self.procs[name].poll() is not None:
            raise AssertionError(f"{name} exited:\n{self.logs()}")

    def wait_for_health(self, name: str, base: str) -> None:
        def healthy() -> bool:
            self.alive(name)
            try:
                return httpx2.get(f"{base}/health", timeout=5).status_code == 200
            except httpx2.HTTPError:
                return False

        wait_for(healthy, f"{name} to answer /health", self.logs)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for(check: Callable[[], bool], what: str, logs: Callable[[], str] = str) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {WAIT:g} s for {what}\n{logs()}")
        time.sleep(0.1)


@contextlib.contextmanager
def processes(directory: Path) -> Iterator[Processes]:
    running = Processes(directory)
    try:
        yield running
    finally:
        running.stop_all()


def api_env(database_url: str, **extra: str) -> dict[str, str]:
    """The settings of every API process of a test: one database, one secret, one user."""
    return clean_env(
        PYSTATOR_DATABASE_URL=database_url,
        PYSTATOR_AUTH_SECRET=SECRET,
        PYSTATOR_USERS=USERS,
        PYSTATOR_LOG_LEVEL="warning",
        **extra,
    )


def start_apis(
    running: Processes, env: dict[str, str], *, pystator: int, uvicorn: bool
) -> list[str]:
    """Start ``pystator`` processes with the guide's ``pystator api`` command and, with
    ``uvicorn``, one uvicorn with two workers (the guide's command), all at once on one
    database; returns their URLs once each answers ``/health``."""
    bases: dict[str, str] = {}
    commands: dict[str, list[str]] = {}
    for index in range(pystator):
        commands[f"api{index}"] = guide_command("pystator api")
    if uvicorn:
        argv = with_option(guide_command("uvicorn pystator.api.main:app"), "--workers", "2")
        commands["uvicorn"] = [*argv, "--log-level", "warning"]
    for name, argv in commands.items():
        port = free_port()
        argv = with_option(with_option(argv, "--host", "127.0.0.1"), "--port", str(port))
        running.start(name, as_python(argv), env, running.directory)
        bases[name] = f"http://127.0.0.1:{port}"
    for name, base in bases.items():
        running.wait_for_health(name, base)
    return list(bases.values())


def login(base: str) -> dict[str, str]:
    """The headers of a bearer token for the test's user, issued by ``base``."""
    answer = httpx2.post(
        f"{base}/api/v1/auth/token", json={"username": "alice", "password": PASSWORD}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


# ---------------------------------------------------------------------------- events
@pytest.mark.postgres
@pytest.mark.slow
def test_events_sent_through_three_api_processes_are_each_applied_once(
    database_url: str, tmp_path: Path
) -> None:
    send_event = guide_module("pystator_client.py", tmp_path).send_event
    statuses: Counter[int] = Counter()

    def count(response: httpx2.Response) -> None:
        statuses[response.status_code] += 1

    machines = tmp_path / "machines"
    machines.mkdir()
    (machines / "tally.json").write_text(json.dumps(TALLY), encoding="utf-8")
    env = api_env(database_url, PYSTATOR_MACHINES_DIR=str(machines))
    with processes(tmp_path) as running, contextlib.ExitStack() as stack:
        # Four processes start at once on an empty database, each storing the machine.
        bases = start_apis(running, env, pystator=2, uvicorn=True)
        headers = login(bases[0])  # a token of one process is good for all: one secret
        clients = [
            stack.enter_context(
                httpx2.Client(
                    base_url=base,
                    headers=headers,
                    timeout=60,
                    event_hooks={"response": [count]},
                )
            )
            for base in bases
        ]
        for client in clients:
            assert client.get("/api/v1/auth/me").json()["username"] == "alice"
        stored = clients[0].get("/api/v1/machines").json()
        assert [(m["id"], m["revision"]) for m in stored["items"]] == [("tally", 1)]
        entity = clients[1].post(
            "/api/v1/machines/tally/entities",
            json={"entity_id": ENTITY, "context": {"count": 0, "total": 0}},
        )
        assert entity.status_code == 201, entity.text
        path = f"/api/v1/machines/tally/entities/{ENTITY}/events"

        def send(n: int) -> dict[str, Any]:
            client = clients[n % len(clients)]
            answer: dict[str, Any] = send_event(client, path, "add", {"amount": n}, key=f"add-{n}")
            return answer

        with ThreadPoolExecutor(THREADS) as pool:
            answers = list(pool.map(send, range(EVENTS)))

        assert all(a["result"]["success"] for a in answers)
        fresh = [
            (n, a) for n, a in enumerate(answers) if not a["result"]["metadata"].get("replayed")
        ]
        versions = [a["entity"]["version"] for _, a in fresh]
        assert len(set(versions)) == len(versions), "two events answered with one version"
        assert set(versions) <= set(range(2, EVENTS + 2))
        # Each answer is the entity as its own event left it.
        assert all(a["entity"]["context"]["amount"] == n for n, a in fresh)

        for client in clients:
            final = client.get(f"/api/v1/machines/tally/entities/{ENTITY}").json()
            assert final["version"] == EVENTS + 1
            assert final["context"]["count"] == EVENTS
            assert final["context"]["total"] == sum(range(EVENTS))
            ready = client.get("/ready")
            assert ready.status_code == 200, ready.text
            assert ready.json()["database"]["detail"] == "postgresql"

        history = read_history(clients[-1], "tally", ENTITY)
        assert [row["version"] for row in history] == list(range(1, EVENTS + 2))
        assert history[0]["trigger"] == "__create__"
        keys = Counter(row["idempotency_key"] for row in history[1:])
        assert keys == Counter(f"add-{n}" for n in range(EVENTS)), "an event lost or doubled"
        for row in history[1:]:
            assert row["trigger"] == "add"
            assert row["idempotency_key"] == f"add-{row['context_changes']['amount']}"

    unexpected = {s: c for s, c in statuses.items() if s not in {200, 201, 409, 503}}
    assert not unexpected, f"answers {dict(statuses)}"
    assert "Traceback" not in running.logs(), running.logs()


def read_history(client: httpx2.Client, machine: str, entity: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while True:
        page = client.get(
            f"/api/v1/machines/{machine}/entities/{entity}/history",
            params={"limit": 500, "offset": len(rows)},
        ).json()["items"]
        rows += page
        if len(page) < 500:
            return rows


# ---------------------------------------------------------------------------- probes
def guide_probes() -> dict[str, str]:
    """The paths of the guide's Kubernetes probes, by probe."""
    data = load_yaml_text(guide_block("api-probes.yaml").code).data
    container = data["containers"][0]
    return {
        probe: container[probe]["httpGet"]["path"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe")
    }


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_the_guides_probes_answer_and_readiness_follows_redis(
    database_url: str, tmp_path: Path
) -> None:
    from tests.integration.private_servers import private_redis

    probes = guide_probes()
    assert probes == {
        "startupProbe": "/health",
        "livenessProbe": "/health",
        "readinessProbe": "/ready",
    }
    with private_redis() as redis_server, processes(tmp_path) as running:
        env = api_env(database_url, PYSTATOR_REDIS_URL=redis_server.url)
        bases = start_apis(running, env, pystator=2, uvicorn=False)
        for base in bases:
            for path in probes.values():
                assert httpx2.get(f"{base}{path}", timeout=30).status_code == 200
            assert httpx2.get(f"{base}/ready", timeout=30).json() == {
                "status": "ready",
                "database": {"ok": True, "configured": True, "detail": "postgresql"},
                "redis": {"ok": True, "configured": True, "detail": "redis"},
            }

        # Frozen: it takes connections and never answers; the probe gives up after 1 s.
        redis_server.freeze()
        for base in bases:
            assert_unavailable(base, "redis: did not answer within 1 s")
        redis_server.thaw()
        for base in bases:
            wait_for(partial(answers_ready, base, 200), f"{base}/ready to be 200")

        redis_server.stop(keep_data=False)
        for base in bases:
            assert_unavailable(base, "redis: refused the connection")
        redis_server.start()
        for base in bases:
            wait_for(partial(answers_ready, base, 200), f"{base}/ready to be 200")


def answers_ready(base: str, status: int) -> bool:
    """Whether ``/ready`` of ``base`` answers ``status``."""
    return httpx2.get(f"{base}/ready", timeout=30).status_code == status


def assert_unavailable(base: str, detail: str) -> None:
    """``/ready`` of ``base`` is 503 because of Redis (``detail``); ``/health`` is 200."""
    wait_for(partial(answers_ready, base, 503), f"{base}/ready to be 503")
    answer = httpx2.get(f"{base}/ready", timeout=30)
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] == "5"
    assert answer.json() == {
        "status": "unavailable",
        "database": {"ok": True, "configured": True, "detail": "postgresql"},
        "redis": {"ok": False, "configured": True, "detail": detail},
    }
    assert httpx2.get(f"{base}/health", timeout=30).status_code == 200


# ---------------------------------------------------------------------------- the worker
class RedisTimers:
    """The deadline machine's timers as Redis holds them: records, and jobs in the queue."""

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, decode_responses=True)

    def records(self) -> list[str]:
        """The members (``<timer id>|<entity>``) of the armed timer records."""
        return sorted(self.client.hkeys(TIMER_KEYS + "records"))

    def jobs(self) -> list[str]:
        """The ids of the timer jobs queued for the workers."""
        return sorted(j for j in self.client.zrange(QUEUE, 0, -1) if j.startswith(TIMER_KEYS))

    def of(self, entity: str) -> tuple[list[str], list[str]]:
        """The records and jobs of one entity's timers."""
        mine = [m for m in self.records() if m.endswith(f"|{entity}")]
        return mine, [j for j in self.jobs() if j.endswith(f"|{entity}")]

    def close(self) -> None:
        self.client.close()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_the_guides_worker_fires_timers_armed_through_the_api(
    database_url: str, tmp_path: Path
) -> None:
    from tests.integration.private_servers import private_redis

    worker_dir = tmp_path / "worker"
    worker_dir.mkdir()
    (worker_dir / "deploy_worker.py").write_text(guide_block("deploy_worker.py").code)
    with private_redis() as redis_server, processes(tmp_path) as running:
        env = api_env(database_url, PYSTATOR_REDIS_URL=redis_server.url)
        first, second = start_apis(running, env, pystator=2, uvicorn=False)
        headers = login(first)
        through_a = httpx2.Client(base_url=first, headers=headers, timeout=60)
        through_b = httpx2.Client(base_url=second, headers=headers, timeout=60)
        redis_timers = RedisTimers(redis_server.url)
        with through_a, through_b, contextlib.closing(redis_timers):
            stored = through_a.post("/api/v1/machines", json={"config": DEADLINE})
            assert stored.status_code == 201, stored.text

            # Armed while Redis is down: the event is committed and answered, its timer
            # recorded on the entity only.
            redis_server.stop(keep_data=False)
            due = {"outage": arm(through_a, "outage")}
            redis_server.start()
            assert redis_timers.records() == []
            wait_for(
                lambda: "scheduler failed to arm" in running.log("api0").read_text(),
                "the API to log the failed arming",
                running.logs,
            )

            # The worker starts: its start-up re-arm hands that timer over.
            env = clean_env(PYSTATOR_DATABASE_URL=database_url, PYSTATOR_REDIS_URL=redis_server.url)
            running.start("worker", as_python(guide_command("pystator worker")), env, worker_dir)
            wait_for(
                lambda: expired(through_b, "outage", running), "outage to expire", running.logs
            )
            wait_for(
                lambda: "pystator worker: machines deadline" in running.log("worker").read_text(),
                "the worker to start",
                running.logs,
            )

            # Armed through A while the worker runs. The worker re-armed from the database
            # before it logged its start and reads only its queue since, so only A can have
            # handed this timer to it.
            due["live"] = arm(through_a, "live")
            wait_for(lambda: expired(through_b, "live", running), "live to expire", running.logs)

            for entity, due_at in due.items():
                seen = through_b.get(f"/api/v1/machines/deadline/entities/{entity}").json()
                assert seen["timers"] == []
                history = read_history(through_b, "deadline", entity)
                # Fired once: one firing, whoever armed the timer and however often.
                assert [row["trigger"] for row in history] == ["__create__", "start", "after:1"]
                assert history[-1]["at"] >= due_at - DUE_ROUNDING, "fired before it was due"
            # A fired timer leaves nothing behind (its record is acknowledged after firing).
            wait_for(
                lambda: redis_timers.records() == [] and redis_timers.jobs() == [],
                "the fired timers to leave Redis",
                running.logs,
            )
    worker_log = running.log("worker").read_text()
    assert worker_log.count("re-armed") == 1, worker_log  # at start-up, and never again
    # No traceback: the failed arming is an outage, logged as one line with its reason.
    records = log_records(running.log("api0"))
    assert not [r for r in records if "Traceback" in r], running.logs()
    failed = [r for r in records if "scheduler failed to arm" in r]
    assert len(failed) == 1, running.logs()
    assert "refused the connection" in failed[0], running.logs()
    assert "Traceback" not in running.log("api1").read_text() + worker_log


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_leaving_the_state_or_deleting_the_entity_through_the_api_cancels_the_timer(
    database_url: str, tmp_path: Path
) -> None:
    from tests.integration.private_servers import private_redis

    with private_redis() as redis_server, processes(tmp_path) as running:
        env = api_env(database_url, PYSTATOR_REDIS_URL=redis_server.url)
        first, second = start_apis(running, env, pystator=2, uvicorn=False)
        headers = login(first)
        through_a = httpx2.Client(base_url=first, headers=headers, timeout=60)
        through_b = httpx2.Client(base_url=second, headers=headers, timeout=60)
        redis_timers = RedisTimers(redis_server.url)
        with through_a, through_b, contextlib.closing(redis_timers):
            slow = {**DEADLINE, "transitions": [*DEADLINE["transitions"]]}
            slow["transitions"][1] = {"after": "1h", "source": "WAITING", "dest": "EXPIRED"}
            stored = through_a.post("/api/v1/machines", json={"config": slow})
            assert stored.status_code == 201, stored.text
            for entity in ("left", "deleted", "kept"):
                arm(through_a, entity)
                records, jobs = redis_timers.of(entity)
                assert len(records) == len(jobs) == 1, (entity, records, jobs)

            # Through the other process: the state is left, the entity deleted.
            stopped = through_b.post(
                "/api/v1/machines/deadline/entities/left/events", json={"trigger": "stop"}
            )
            assert stopped.status_code == 200, stopped.text
            assert stopped.json()["entity"]["timers"] == []
            deleted = through_b.delete("/api/v1/machines/deadline/entities/deleted")
            assert deleted.status_code == 204, deleted.text

            assert redis_timers.of("left") == ([], [])
            assert redis_timers.of("deleted") == ([], [])
            records, jobs = redis_timers.of("kept")
            assert len(records) == len(jobs) == 1
    assert "Traceback" not in running.logs(), running.logs()


def log_records(path: Path) -> list[str]:
    """The records of a ``pystator api`` log (``LEVEL:     logger: message`` and the lines
    that follow it, such as a traceback)."""
    records: list[str] = []
    for line in path.read_text(errors="replace").splitlines():
        if re.match(r"(DEBUG|INFO|WARNING|ERROR|CRITICAL):", line) or not records:
            records.append(line)
        else:
            records[-1] += "\n" + line
    return records


def arm(client: httpx2.Client, entity: str) -> float:
    """Create ``entity`` and send it ``start`` (arming its timer); the timer's due time."""
    created = client.post("/api/v1/machines/deadline/entities", json={"entity_id": entity})
    assert created.status_code == 201, created.text
    started = client.post(
        f"/api/v1/machines/deadline/entities/{entity}/events", json={"trigger": "start"}
    )
    assert started.status_code == 200, started.text
    timers = started.json()["entity"]["timers"]
    assert [t["trigger"] for t in timers] == ["after:1"]
    due: float = timers[0]["due"]
    return due


def expired(client: httpx2.Client, entity: str, running: Processes) -> bool:
    running.alive("worker")
    state: str = client.get(f"/api/v1/machines/deadline/entities/{entity}").json()["state"]
    return state == "EXPIRED"
