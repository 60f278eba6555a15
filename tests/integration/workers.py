"""Code that runs in worker processes (spawned) for the concurrency and crash tests.

Everything here is importable at module level, as ``multiprocessing``'s spawn start method
needs; results go back through a queue or files.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

from pystator import StateMachine
from pystator.errors import StaleVersionError
from pystator.models.entity import Commit
from pystator.runtime.orchestrator import Orchestrator
from pystator.runtime.registry import ActionRegistry
from tests.integration.backends import StoreSpec

COUNTER: dict[str, Any] = {
    "meta": {"version": "1.0.0", "machine_name": "counter", "strict_mode": True},
    "states": [{"name": "ON", "type": "initial"}],
    "transitions": [{"trigger": "bump", "source": "ON", "dest": "ON"}],
}


SLOTS = 64


def hammer(
    spec: StoreSpec, process: int, events: int, threads: int, entity_id: str, queue: Any
) -> None:
    """Send ``events`` self-loop events to one entity from ``threads`` threads, each with its
    own orchestrator and store; report which succeeded and which raised StaleVersionError."""
    machine = StateMachine.from_dict(COUNTER)
    ok: list[str] = []
    stale: list[str] = []
    failed: list[str] = []
    start = threading.Barrier(threads)

    def run(thread: int) -> None:
        store = spec.open()
        orchestrator = Orchestrator(machine, store)
        try:
            start.wait()
            for n in range(thread, events, threads):
                key = f"p{process}e{n}"
                try:
                    # 64 slots keep the context small; each event writes its own id into one.
                    slot = f"slot{n % SLOTS}"
                    result = orchestrator.process_event(entity_id, "bump", {slot: key})
                except StaleVersionError:
                    stale.append(key)
                    continue
                except Exception as exc:
                    failed.append(f"{key}: {exc!r}")
                    continue
                if result.success:
                    ok.append(key)
                else:
                    failed.append(f"{key}: rejected {result.error!r}")
        finally:
            store.close()

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    queue.put({"process": process, "ok": ok, "stale": stale, "failed": failed})


def duplicates(
    spec: StoreSpec, process: int, keys: int, threads: int, entity_id: str, queue: Any
) -> None:
    """Every thread sends the same ``keys`` keyed events, each in its own order."""
    machine = StateMachine.from_dict(COUNTER)
    applied: list[str] = []
    replayed: list[str] = []
    failed: list[str] = []
    start = threading.Barrier(threads)

    def run(thread: int) -> None:
        store = spec.open()
        orchestrator = Orchestrator(machine, store)
        order = list(range(keys))
        random.Random(process * 100 + thread).shuffle(order)
        try:
            start.wait()
            for n in order:
                key = f"k{n}"
                try:
                    result = orchestrator.process_event(
                        entity_id, "bump", {key: True}, idempotency_key=key
                    )
                except Exception as exc:
                    failed.append(f"{key}: {exc!r}")
                    continue
                if not result.success:
                    failed.append(f"{key}: rejected {result.error!r}")
                elif result.metadata.get("replayed"):
                    replayed.append(key)
                else:
                    applied.append(key)
        finally:
            store.close()

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    queue.put({"process": process, "applied": applied, "replayed": replayed, "failed": failed})


# ---------------------------------------------------------------------------- crash worker
ORDER: dict[str, Any] = {
    "meta": {"version": "1.0.0", "machine_name": "crashy", "strict_mode": True},
    "states": [
        {"name": "NEW", "type": "initial"},
        {"name": "PAID"},
        {"name": "SHIPPED", "type": "terminal"},
    ],
    "transitions": [
        {"trigger": "pay", "source": "NEW", "dest": "PAID", "actions": ["a0", "a1", "a2"]},
        {"trigger": "ship", "source": "PAID", "dest": "SHIPPED", "actions": ["a0", "a1"]},
    ],
}

CRASH_EVENTS: list[tuple[str, str]] = [
    ("c-1", "pay"),
    ("c-1", "ship"),
    ("c-2", "pay"),
    ("c-3", "pay"),
]
"""What the crash worker sends, in order, each with the idempotency key '<entity>:<trigger>'."""


def crash_actions(log: Path, *, crash_in: str | None = None, ready: Path | None = None) -> Any:
    """Actions that append '<action id>' to ``log`` (flushed, so a kill does not lose it).

    With ``crash_in`` = an action id, that action logs itself, creates ``ready`` and sleeps,
    so that the parent can kill the process in the middle of the transition's actions.
    """
    registry = ActionRegistry()

    def make(name: str) -> Any:
        def action(ctx: Any, action_id: str) -> None:
            with log.open("a", encoding="utf-8") as out:
                out.write(f"{action_id}\n")
                out.flush()
            if crash_in is not None and action_id == crash_in:
                assert ready is not None
                ready.touch()
                time.sleep(120)

        return action

    for name in ("a0", "a1", "a2"):
        registry.register(name, make(name))
    return registry


class _PausingStore:
    """Wraps a store: at the chosen commit, signal the parent and sleep (to be killed)."""

    def __init__(self, inner: Any, pause_at: int, when: str, ready: Path) -> None:
        self._inner = inner
        self._pause_at = pause_at
        self._when = when
        self._ready = ready
        self._commits = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def commit(self, commit: Commit) -> None:
        self._commits += 1
        pausing = self._commits == self._pause_at
        if pausing and self._when == "before_commit":
            self._pause()
        self._inner.commit(commit)
        if pausing and self._when == "after_commit":
            self._pause()

    def _pause(self) -> None:
        self._ready.touch()
        time.sleep(120)


def crash_worker(spec: StoreSpec, point: str, at_event: int, workdir: str) -> None:
    """Send ``CRASH_EVENTS`` and stop (to be SIGKILLed) at ``point`` of event ``at_event``:
    ``before_commit``, ``after_commit`` (before any action) or ``mid_actions`` (in the
    second action of that event)."""
    work = Path(workdir)
    ready = work / "ready"
    machine = StateMachine.from_dict(ORDER)
    store: Any = spec.open()
    crash_in: str | None = None
    if point in ("before_commit", "after_commit"):
        # The n-th event is the n-th commit: every event here changes the entity.
        store = _PausingStore(store, at_event + 1, point, ready)
    elif point == "mid_actions":
        entity_id, _ = CRASH_EVENTS[at_event]
        version = sum(1 for e, _ in CRASH_EVENTS[: at_event + 1] if e == entity_id)
        crash_in = f"crashy/{entity_id}/{version}/1"
    else:
        raise ValueError(point)
    actions = crash_actions(work / "actions.log", crash_in=crash_in, ready=ready)
    orchestrator = Orchestrator(machine, store, actions=actions, action_lease=1.0)
    for entity_id, trigger in CRASH_EVENTS:
        request = f"{entity_id}:{trigger}"
        orchestrator.process_event(
            entity_id, trigger, {"request": request}, idempotency_key=request
        )
    (work / "finished").touch()  # never reached when the parent kills us
