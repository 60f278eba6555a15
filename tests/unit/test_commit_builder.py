"""The pure builders of what the orchestrator writes (``runtime/orchestration/commit.py``) and
the one timer rule (``runtime/timers.py``): plain values in, records out, no store, no clock.

Timer ids are ``<key>@<token>``, the token being the entity's version after the step: ``@0``
for the unsaved record an event for an unknown entity starts from, ``@1`` for
``create_entity``'s, ``@<version>`` after each event.
"""

from __future__ import annotations

from typing import Any

import pytest

from pystator.models.definition import ActionSpec
from pystator.models.entity import EntityRecord
from pystator.models.result import TimerSpec, TransitionResult
from pystator.models.snapshot import TimerSnapshot
from pystator.runtime.orchestration.commit import (
    CREATE_TRIGGER,
    build_commit,
    context_changes,
    creation_commit,
    new_entity,
)
from pystator.runtime.timers import armed, due_at, timer_id, timers_after

NOW = 100.0
WAIT = TimerSpec(key="WAIT:timeout", state="WAIT", trigger="expire", delay_ms=30_000)
POLL = TimerSpec(key="W1:after:1", state="W1", trigger="poll", delay_ms=5_000)


def result(**fields: Any) -> TransitionResult:
    base: dict[str, Any] = {
        "success": True,
        "source_state": "IDLE",
        "target_state": "WAIT",
        "trigger": "go",
    }
    return TransitionResult(**{**base, **fields})


def record(**fields: Any) -> EntityRecord:
    base: dict[str, Any] = {
        "machine_name": "kiosk",
        "entity_id": "k1",
        "state": "IDLE",
        "context": {"n": 1, "gone": True},
        "version": 3,
        "created_at": 10.0,
        "updated_at": 50.0,
    }
    return EntityRecord(**{**base, **fields})


def timer(key: str, token: int, due: float = 90.0) -> TimerSnapshot:
    return TimerSnapshot(id=f"{key}@{token}", key=key, trigger="t", due=due)


def commit_of(rec: EntityRecord, res: TransitionResult, **given: Any) -> Any:
    options: dict[str, Any] = {
        "now": NOW,
        "result_json": {"trigger": res.trigger},
        "idempotency_key": None,
        "fingerprint": "",
        "timer_id": None,
        "incarnation": None,
        "claimed_until": 0.0,
        **given,
    }
    context = options.pop("context", {"n": 2})
    return build_commit(rec, res, context, **options)


# ----------------------------------------------------------------------------- the timer rule
class TestTimerRule:
    def test_an_id_is_the_key_and_the_token(self) -> None:
        assert timer_id("WAIT:timeout", 4) == "WAIT:timeout@4"

    def test_a_timer_is_due_its_delay_after_now(self) -> None:
        assert due_at(POLL, NOW) == 105.0

    def test_armed_records_each_spec_in_order(self) -> None:
        assert armed([POLL, WAIT], now=NOW, token=2) == [
            TimerSnapshot(id="W1:after:1@2", key="W1:after:1", trigger="poll", due=105.0),
            TimerSnapshot(id="WAIT:timeout@2", key="WAIT:timeout", trigger="expire", due=130.0),
        ]

    def test_timers_after_drops_cancelled_keys_and_the_fired_timer_then_arms(self) -> None:
        current = [timer("A", 1), timer("B", 1), timer("C", 2)]
        after = timers_after(
            current,
            result(timers_to_cancel=("A",), timers_to_arm=(WAIT,)),
            now=NOW,
            token=5,
            fired="C@2",
        )
        assert [t.id for t in after] == ["B@1", "WAIT:timeout@5"]
        assert after[0] is current[1]


# ----------------------------------------------------------------------------- build_commit
class TestBuildCommit:
    def test_the_version_grows_by_one_and_the_commit_expects_the_old_one(self) -> None:
        commit, outbox = commit_of(record(), result())
        assert commit.expected_version == 3
        assert commit.entity.version == 3 + 1
        assert commit.transition.version == 4
        assert (commit.entity.state, commit.transition.source_state) == ("WAIT", "IDLE")
        assert commit.entity.created_at == 10.0
        assert commit.entity.updated_at == NOW
        assert commit.transition.at == NOW
        assert outbox == []
        assert commit.outbox == []
        assert commit.idempotency is None
        assert commit.incarnation is None

    def test_a_new_entity_is_committed_at_version_1_with_its_whole_context(self) -> None:
        new = record(version=0, created_at=0.0, context={"n": 1})
        commit, _ = commit_of(new, result(), context={"n": 1, "m": 2})
        assert (commit.expected_version, commit.entity.version) == (0, 1)
        assert commit.entity.created_at == NOW  # no created_at yet: now
        assert commit.transition.context_changes == {"n": 1, "m": 2}
        assert commit.transition.context_removed == []

    def test_the_history_row_holds_the_changes_and_the_result_json(self) -> None:
        commit, _ = commit_of(
            record(), result(), result_json={"trigger": "go", "x": 1}, idempotency_key="k"
        )
        row = commit.transition
        assert (row.context_changes, row.context_removed) == ({"n": 2}, ["gone"])
        assert row.result == {"trigger": "go", "x": 1}
        assert row.idempotency_key == "k"

    def test_the_state_stays_without_a_target(self) -> None:
        commit, _ = commit_of(record(state="WAIT"), result(source_state="WAIT", target_state=None))
        assert commit.entity.state == "WAIT"

    def test_kept_cancelled_and_fired_timers(self) -> None:
        rec = record(timers=[timer("A", 1), timer("B", 2), timer("C", 3)])
        res = result(timers_to_cancel=("A",), timers_to_arm=(POLL,))
        commit, _ = commit_of(rec, res, timer_id="C@3")
        assert [t.id for t in commit.entity.timers] == ["B@2", "W1:after:1@4"]
        assert commit.entity.timers[1].due == 105.0

    def test_no_timers_stay_no_timers(self) -> None:
        commit, _ = commit_of(record(), result())
        assert commit.entity.timers == []

    def test_outbox_items_are_numbered_by_version_and_position(self) -> None:
        res = result(
            on_exit_actions=(ActionSpec(name="leave"),),
            actions_to_execute=(ActionSpec(name="pay", params={"amount": 3}),),
        )
        commit, outbox = commit_of(record(), res, claimed_until=130.0)
        assert outbox == commit.outbox
        assert [(i.id, i.name, i.position, i.version) for i in outbox] == [
            ("kiosk/k1/4/0", "leave", 0, 4),
            ("kiosk/k1/4/1", "pay", 1, 4),
        ]
        assert outbox[1].params == {"amount": 3}
        assert all(i.claimed_until == 130.0 and i.created_at == NOW for i in outbox)
        assert all(i.status == "pending" and i.attempts == 0 for i in outbox)
        assert outbox[0].context == {"n": 2}

    def test_outbox_items_not_run_now_are_not_claimed(self) -> None:
        _, outbox = commit_of(record(), result(actions_to_execute=(ActionSpec(name="a"),)))
        assert outbox[0].claimed_until == 0.0

    def test_the_idempotency_record_replays_the_committed_context(self) -> None:
        commit, _ = commit_of(
            record(),
            result(),
            idempotency_key="key-1",
            fingerprint="fp",
            result_json={"trigger": "go"},
        )
        idem = commit.idempotency
        assert idem is not None
        assert (idem.key, idem.fingerprint, idem.version) == ("key-1", "fp", 4)
        assert idem.result == {"trigger": "go", "context": {"n": 2}}

    def test_the_incarnation_is_carried(self) -> None:
        commit, _ = commit_of(record(), result(), incarnation=10.0)
        assert commit.incarnation == 10.0

    def test_the_context_is_stored_as_given(self) -> None:
        context = {"n": 2}
        commit, _ = commit_of(record(), result(), context=context)
        assert commit.entity.context is context


def test_context_changes() -> None:
    assert context_changes({"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 5, "d": 4}) == (
        {"b": 5, "d": 4},
        ["c"],
    )


# ----------------------------------------------------------------------------- new entities
class TestNewEntity:
    @pytest.mark.parametrize("version", [0, 1])
    def test_a_new_entity_at_its_version_with_timers_of_that_token(self, version: int) -> None:
        entry = result(
            source_state="",
            trigger="__start__",
            timers_to_arm=(WAIT,),
            history={"H": ("W1",)},
        )
        entity = new_entity(
            "kiosk",
            "k1",
            entry,
            {"n": 1},
            version=0 if version == 0 else 1,
            now=NOW,
            created_at=99.0,
            fallback_state="IDLE",
        )
        assert entity.version == version
        assert (entity.machine_name, entity.entity_id, entity.state) == ("kiosk", "k1", "WAIT")
        assert entity.context == {"n": 1}
        assert entity.history == {"H": ["W1"]}
        assert entity.timers == [
            TimerSnapshot(
                id=f"WAIT:timeout@{version}", key="WAIT:timeout", trigger="expire", due=130.0
            )
        ]
        assert (entity.created_at, entity.updated_at) == (99.0, 99.0)

    def test_without_a_target_the_entity_is_in_the_fallback_state(self) -> None:
        entry = result(success=False, target_state=None)
        entity = new_entity(
            "kiosk", "k1", entry, {}, version=0, now=NOW, created_at=NOW, fallback_state="IDLE"
        )
        assert entity.state == "IDLE"
        assert entity.history == {}
        assert entity.timers == []

    def test_the_creation_commit_writes_a_create_row(self) -> None:
        entry = result(source_state="", trigger="__start__", timers_to_arm=(WAIT,))
        entity = new_entity(
            "kiosk", "k1", entry, {"n": 1}, version=1, now=NOW, created_at=NOW, fallback_state="X"
        )
        commit = creation_commit(entity, {"trigger": "__start__"}, NOW)
        assert commit.entity is entity
        assert commit.expected_version == 0
        row = commit.transition
        assert (row.version, row.source_state, row.target_state) == (1, "", "WAIT")
        assert row.trigger == CREATE_TRIGGER == "__create__"
        assert row.context_changes == {"n": 1}
        assert row.result == {"trigger": "__start__"}
        assert row.at == NOW
        assert commit.outbox == []
        assert commit.idempotency is None
