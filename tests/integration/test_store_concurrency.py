"""Two processes, eight threads each sending 500 events, one entity, on every persistent store.

Each thread has its own orchestrator and store object. Every event is a self-loop that writes
its own id into one of 64 context slots, so an event applied twice shows as a second history
row and a lost update as a slot that does not hold the last successful write to it. The
history must hold exactly the successful events, with versions 1..N.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest

from tests.integration.backends import StoreBackend
from tests.integration.workers import duplicates, hammer

PROCESSES = 2
THREADS = 8
EVENTS_PER_THREAD = 500
EVENTS_PER_PROCESS = THREADS * EVENTS_PER_THREAD
TIMEOUT = 240.0

pytestmark = pytest.mark.slow


def run_workers(target: Any, backend: StoreBackend, per_process: int) -> list[dict[str, Any]]:
    spawn = multiprocessing.get_context("spawn")
    queue = spawn.Queue()
    processes = [
        spawn.Process(
            target=target, args=(backend.spec, p, per_process, THREADS, "hot", queue), daemon=True
        )
        for p in range(PROCESSES)
    ]
    for p in processes:
        p.start()
    try:
        reports = [queue.get(timeout=TIMEOUT) for _ in processes]
    finally:
        for p in processes:
            p.join(timeout=10)
            if p.is_alive():  # pragma: no cover - only when a worker hangs
                p.kill()
                p.join()
        queue.close()
        queue.join_thread()
    assert [p.exitcode for p in processes] == [0] * PROCESSES
    return reports


def test_no_event_is_lost_or_applied_twice(persistent_backend: StoreBackend) -> None:
    reports = run_workers(hammer, persistent_backend, EVENTS_PER_PROCESS)
    ok = [key for r in reports for key in r["ok"]]
    stale = [key for r in reports for key in r["stale"]]
    assert [f for r in reports for f in r["failed"]] == []
    assert len(ok) + len(stale) == PROCESSES * EVENTS_PER_PROCESS
    assert len(set(ok)) == len(ok)
    assert ok, "no event succeeded"

    store = persistent_backend.store()
    history = store.get_history("counter", "hot", limit=PROCESSES * EVENTS_PER_PROCESS)
    assert len(history) == len(ok)
    assert [h.version for h in history] == list(range(1, len(ok) + 1))
    # Each row is one event, and each successful event has exactly one row.
    assert all(len(h.context_changes) == 1 for h in history)
    changes = [next(iter(h.context_changes.values())) for h in history]
    assert sorted(changes) == sorted(ok)

    entity = store.load("counter", "hot")
    assert entity is not None
    assert entity.version == len(ok)
    # No lost update: every slot holds the id of the last committed event that wrote it, and
    # nothing from an event that failed.
    last: dict[str, str] = {}
    for h in history:
        last.update(h.context_changes)
    assert entity.context == last
    print(  # shown with -s: how hard the workers fought
        f"{persistent_backend.kind}: {len(ok)} applied, {len(stale)} StaleVersionError"
    )


def test_duplicates_from_two_processes_apply_once(persistent_backend: StoreBackend) -> None:
    keys = 40
    reports = run_workers(duplicates, persistent_backend, keys)
    assert [f for r in reports for f in r["failed"]] == []
    applied = sorted(key for r in reports for key in r["applied"])
    assert applied == sorted(f"k{n}" for n in range(keys))
    replayed = [key for r in reports for key in r["replayed"]]
    assert len(replayed) == PROCESSES * THREADS * keys - keys

    store = persistent_backend.store()
    history = store.get_history("counter", "hot", limit=1000)
    assert [h.version for h in history] == list(range(1, keys + 1))
    assert sorted(h.idempotency_key or "" for h in history) == applied
    entity = store.load("counter", "hot")
    assert set(entity.context) == set(applied)
