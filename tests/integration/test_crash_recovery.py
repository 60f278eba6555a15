"""Kill a worker with SIGKILL at chosen points; recovery loses no action and doubles no event.

The worker sends four keyed events (``workers.CRASH_EVENTS``) and is killed:

* ``before_commit``: nothing of that event is stored; the client's retry applies it once;
* ``after_commit``: the transition is stored, none of its actions ran; ``recover()`` runs them;
* ``mid_actions``: the first action finished, the second was running; ``recover()`` runs the
  second again (at least once) and the third, never the finished first.

Then the client retries every event with its idempotency key (what a client does when its
request died with the worker): committed events are replayed, never applied again.
"""

from __future__ import annotations

import multiprocessing
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from pystator import StateMachine
from pystator.runtime.clock import ManualClock
from pystator.runtime.orchestrator import Orchestrator
from tests.integration.backends import StoreBackend
from tests.integration.workers import CRASH_EVENTS, ORDER, crash_actions, crash_worker

ACTIONS = {"pay": 3, "ship": 2}
LEASE = 1.0  # the worker's action_lease


def kill_worker_at(backend: StoreBackend, point: str, at_event: int, work: Path) -> None:
    spawn = multiprocessing.get_context("spawn")
    worker = spawn.Process(
        target=crash_worker, args=(backend.spec, point, at_event, str(work)), daemon=True
    )
    worker.start()
    deadline = time.monotonic() + 60
    try:
        while not (work / "ready").exists():
            assert not (work / "finished").exists(), "the worker never reached the crash point"
            assert worker.is_alive() or (work / "ready").exists(), "the worker died early"
            assert time.monotonic() < deadline, "the worker never reached the crash point"
            time.sleep(0.01)
    finally:
        worker.kill()
        worker.join(timeout=30)
    assert worker.exitcode == -signal.SIGKILL


def expected_ids(store: object, entity_id: str) -> list[str]:
    """The action ids of every committed transition of the entity."""
    history = store.get_history("crashy", entity_id)  # type: ignore[attr-defined]
    return [
        f"crashy/{entity_id}/{h.version}/{n}" for h in history for n in range(ACTIONS[h.trigger])
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("point", "at_event"),
    [
        ("before_commit", 2),
        ("after_commit", 0),
        ("after_commit", 2),
        ("mid_actions", 1),
        ("mid_actions", 3),
    ],
)
def test_recovery_after_a_kill(
    persistent_backend: StoreBackend, tmp_path: Path, point: str, at_event: int
) -> None:
    kill_worker_at(persistent_backend, point, at_event, tmp_path)
    log = tmp_path / "actions.log"
    machine = StateMachine.from_dict(ORDER)
    store = persistent_backend.store()
    crashed_entity, crashed_trigger = CRASH_EVENTS[at_event]
    committed = CRASH_EVENTS[: at_event + (0 if point == "before_commit" else 1)]

    # What the kill left: the events before the crash point are stored, the rest is not.
    for entity_id in {e for e, _ in CRASH_EVENTS}:
        triggers = [h.trigger for h in store.get_history("crashy", entity_id)]
        assert triggers == [t for e, t in committed if e == entity_id]
    before = Counter(log.read_text().split()) if log.exists() else Counter()
    if point == "after_commit":
        crashed_version = len([1 for e, _ in committed if e == crashed_entity])
        assert not any(f"crashy/{crashed_entity}/{crashed_version}/" in i for i in before)

    # Recovery, in a new process (this one), once the dead worker's lease ran out: its clock
    # is past every lease the worker took (each ends LEASE after it was taken, before now).
    after_the_leases = ManualClock(time.time() + LEASE + 1)
    recovering = Orchestrator(
        machine, store, actions=crash_actions(log), action_lease=0, clock=after_the_leases
    )
    recovering.recover()
    assert store.pending_actions(now=time.time() + 3600) == []

    # The client retries every request; committed events are replayed, not applied again.
    client = Orchestrator(machine, store, actions=crash_actions(log))
    for n, (entity_id, trigger) in enumerate(CRASH_EVENTS):
        request = f"{entity_id}:{trigger}"  # the same request as the worker's
        result = client.process_event(
            entity_id, trigger, {"request": request}, idempotency_key=request
        )
        assert result.success
        assert bool(result.metadata.get("replayed")) == (n < len(committed))

    ran = Counter(log.read_text().split())
    for entity_id, states in {"c-1": "SHIPPED", "c-2": "PAID", "c-3": "PAID"}.items():
        history = store.get_history("crashy", entity_id)
        wanted = [t for e, t in CRASH_EVENTS if e == entity_id]
        assert [h.trigger for h in history] == wanted  # nothing applied twice
        assert [h.version for h in history] == list(range(1, len(wanted) + 1))
        record = store.load("crashy", entity_id)
        assert record is not None
        assert (record.state, record.version) == (states, len(wanted))
        for action_id in expected_ids(store, entity_id):
            assert ran[action_id] >= 1, f"{action_id} never ran"  # at least once
    everything = {i for e in ("c-1", "c-2", "c-3") for i in expected_ids(store, e)}
    assert set(ran) == everything  # and nothing else ran

    # Only the action that was running when the worker died runs twice.
    twice = {i for i, count in ran.items() if count > 1}
    if point == "mid_actions":
        version = len([1 for e, _ in committed if e == crashed_entity])
        assert twice == {f"crashy/{crashed_entity}/{version}/1"}
        assert ran[f"crashy/{crashed_entity}/{version}/0"] == 1
    else:
        assert twice == set()
    assert crashed_trigger in ACTIONS
    assert store.pending_actions(now=time.time() + 3600) == []
