"""Timers and history held by sessions; starting, parallel helpers and configuration errors.

Time only moves when a test moves it (``ManualClock``). Timer ids are ``<key>@<step>``, where
``step`` counts the transitions the entity has taken, so every arming has its own id.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pystator import (
    EntitySession,
    IncompatibleSnapshotError,
    LoopLimitError,
    ManualClock,
    ParallelStateConfig,
    PendingTimer,
    StateMachine,
    UndefinedStateError,
)

KIOSK: dict[str, Any] = {
    "meta": {"machine_name": "kiosk"},
    "states": [
        {"name": "IDLE", "type": "initial"},
        {"name": "WAIT", "timeout": {"seconds": 30, "destination": "EXPIRED"}},
        {"name": "W1", "parent": "WAIT"},
        {"name": "W2", "parent": "WAIT"},
        {"name": "EXPIRED"},
    ],
    "transitions": [
        {"trigger": "go", "source": "IDLE", "dest": "WAIT"},
        {"after": "5s", "source": "W1", "dest": "W2", "actions": ["moved"]},
        {"trigger": "again", "source": "WAIT", "dest": "WAIT"},
        {"trigger": "leave", "source": "WAIT", "dest": "IDLE"},
    ],
}

DEVICE: dict[str, Any] = {
    "meta": {"machine_name": "device"},
    "states": [
        {"name": "OFF_STATE", "type": "initial"},
        {"name": "RUNNING"},
        {"name": "H", "type": "history", "parent": "RUNNING"},
        {"name": "SLOW", "parent": "RUNNING"},
        {"name": "FAST", "parent": "RUNNING", "timeout": {"seconds": 60, "destination": "SLOW"}},
    ],
    "transitions": [
        {"trigger": "power", "source": "OFF_STATE", "dest": "H"},
        {"trigger": "shutdown", "source": "RUNNING", "dest": "OFF_STATE"},
        {"trigger": "faster", "source": "SLOW", "dest": "FAST"},
    ],
}

DESK: dict[str, Any] = {
    "meta": {"machine_name": "desk"},
    "states": [
        {"name": "IDLE", "type": "initial"},
        {
            "name": "P",
            "type": "parallel",
            "regions": [
                {"name": "r1", "states": ["A1", "B1"]},
                {"name": "r2", "initial": "B2", "states": ["A2", "B2"]},
            ],
        },
        {"name": "OUT"},
    ],
    "transitions": [
        {"trigger": "open", "source": "IDLE", "dest": "P"},
        {"trigger": "a", "source": "A1", "dest": "B1"},
        {"trigger": "out", "source": "P", "dest": "OUT"},
    ],
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(100.0)


@pytest.fixture
def kiosk() -> tuple[StateMachine, list[str]]:
    machine = StateMachine.from_dict(KIOSK)
    ran: list[str] = []
    machine.action("moved")(lambda ctx: ran.append("moved"))
    return machine, ran


def ids(session: EntitySession) -> list[str]:
    return [t.id for t in session.pending_timers]


# ----------------------------------------------------------------------------- session timers
class TestSessionTimers:
    def test_entering_arms_timers_due_after_their_delay(
        self, kiosk: tuple[StateMachine, list[str]], clock: ManualClock
    ) -> None:
        machine, _ = kiosk
        session = machine.create(clock=clock)
        assert session.pending_timers == []
        session.send("go")
        assert [(t.id, t.key, t.due) for t in session.pending_timers] == [
            ("W1:after:1@1", "W1:after:1", 105.0),
            ("WAIT:timeout@1", "WAIT:timeout", 130.0),
        ]
        assert all(isinstance(t, PendingTimer) for t in session.pending_timers)

    def test_a_timer_does_not_fire_before_it_is_due(
        self, kiosk: tuple[StateMachine, list[str]], clock: ManualClock
    ) -> None:
        machine, ran = kiosk
        session = machine.create(clock=clock)
        session.send("go")
        clock.advance(4.999)
        result = session.fire_timer("W1:after:1@1")
        assert not result.success
        assert result.metadata["reason"] == "timer_not_due"
        assert session.current_state == "W1"
        assert ids(session) == ["W1:after:1@1", "WAIT:timeout@1"], "an early try keeps it"
        assert session.fire_due_timers() == []
        assert ran == []

    def test_a_due_timer_fires_once(
        self, kiosk: tuple[StateMachine, list[str]], clock: ManualClock
    ) -> None:
        machine, ran = kiosk
        session = machine.create(clock=clock)
        session.send("go")
        clock.advance(5)
        result = session.fire_timer("W1:after:1@1")
        assert result.success
        assert session.current_state == "W2"
        assert ran == ["moved"], "the delayed transition's actions ran"
        assert ids(session) == ["WAIT:timeout@1"], "the fired timer is gone, WAIT's runs on"
        again = session.fire_timer("W1:after:1@1")
        assert not again.success
        assert again.metadata["reason"] == "stale_timer"
        assert ran == ["moved"]

    def test_a_timer_of_a_state_left_is_stale(
        self, kiosk: tuple[StateMachine, list[str]], clock: ManualClock
    ) -> None:
        machine, ran = kiosk
        session = machine.create(clock=clock)
        session.send("go")
        session.send("leave")
        assert session.pending_timers == []
        clock.advance(60)
        result = session.fire_timer("W1:after:1@1")
        assert result.metadata["reason"] == "stale_timer"
        assert session.current_state == "IDLE"
        assert session.fire_due_timers() == []
        assert ran == []

    def test_re_entry_arms_new_ids_and_the_old_ones_are_stale(
        self, kiosk: tuple[StateMachine, list[str]], clock: ManualClock
    ) -> None:
        machine, ran = kiosk
        session = machine.create(clock=clock)
        session.send("go")
        first = ids(session)
        clock.advance(3)
        session.send("again")  # exits and re-enters WAIT (and W1)
        second = ids(session)
        assert set(first).isdisjoint(second)
        assert [(t.key, t.due) for t in session.pending_timers] == [
            ("W1:after:1", 108.0),
            ("WAIT:timeout", 133.0),
        ]
        clock.advance(2)  # 105: the first visit's W1 timer would be due now
        assert session.fire_timer(first[0]).metadata["reason"] == "stale_timer"
        assert session.fire_due_timers() == []
        clock.advance(3)
        (fired,) = session.fire_due_timers()
        assert fired.success
        assert session.current_state == "W2"
        assert ran == ["moved"]

    def test_fire_due_timers_fires_the_soonest_first(
        self, kiosk: tuple[StateMachine, list[str]], clock: ManualClock
    ) -> None:
        machine, _ = kiosk
        session = machine.create(clock=clock)
        session.send("go")
        clock.advance(31)
        results = session.fire_due_timers()
        assert [r.target_state for r in results] == ["W2", "EXPIRED"]
        assert [r.source_state for r in results] == ["W1", "W2"]
        assert session.current_state == "EXPIRED"
        assert session.pending_timers == []

    def test_a_timer_cancelled_by_an_earlier_one_does_not_fire(self, clock: ManualClock) -> None:
        machine = StateMachine.from_dict(
            {
                "meta": {"machine_name": "race"},
                "states": [{"name": "A", "type": "initial"}, {"name": "B"}, {"name": "C"}],
                "transitions": [
                    {"after": "2s", "source": "A", "dest": "C"},
                    {"after": "1s", "source": "A", "dest": "B"},
                ],
            }
        )
        session = machine.create(clock=clock)
        assert [t.key for t in session.pending_timers] == ["A:after:1", "A:after:0"]
        clock.advance(10)
        results = session.fire_due_timers()
        assert len(results) == 1
        assert session.current_state == "B"
        assert session.pending_timers == []

    def test_the_stateless_api_refuses_a_delayed_trigger(
        self, kiosk: tuple[StateMachine, list[str]]
    ) -> None:
        machine, _ = kiosk
        spec = machine.process("IDLE", "go").timers_to_arm[1]
        assert (spec.key, spec.state, spec.delay_ms) == ("W1:after:1", "W1", 5000)
        refused = machine.process("W1", spec.trigger)
        assert not refused.success
        assert refused.metadata["reason"] == "invalid_transition"
        fired = machine.fire_timer("W1", spec.key)
        assert fired.success
        assert fired.target_state == "W2"
        stale = machine.fire_timer("IDLE", spec.key)
        assert stale.metadata["reason"] == "stale_timer"


# ----------------------------------------------------------------------------- snapshots
class TestSnapshots:
    def test_timers_and_history_survive_a_snapshot(self, clock: ManualClock) -> None:
        machine = StateMachine.from_dict(DEVICE)
        session = machine.create(clock=clock)
        session.send("power")
        session.send("faster")
        session.send("shutdown")
        session.send("power")  # history: back to FAST, whose timeout is armed again
        assert session.current_state == "FAST"
        assert dict(session.history) == {"H": ("FAST",)}
        data = session.snapshot()
        assert data["history"] == {"H": ["FAST"]}
        assert [(t["key"], t["due"]) for t in data["timers"]] == [("FAST:timeout", 160.0)]

        later = ManualClock(clock.now())
        restored = EntitySession.from_snapshot(machine, json.dumps(data), clock=later)
        assert restored.current_state == "FAST"
        assert dict(restored.history) == {"H": ("FAST",)}
        assert restored.pending_timers == session.pending_timers
        later.advance(60)
        (fired,) = restored.fire_due_timers()
        assert fired.success
        assert restored.current_state == "SLOW"
        assert session.current_state == "FAST", "the original entity is untouched"
        assert len(session.pending_timers) == 1

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            pytest.param(
                {"timers": [{"id": "X@1", "key": "NOPE:after:9", "trigger": "x", "due": 1.0}]},
                "timer 'NOPE:after:9'",
                id="unknown-timer",
            ),
            pytest.param({"history": {"NOPE": ["SLOW"]}}, "history entry 'NOPE'", id="unknown"),
            pytest.param({"history": {"SLOW": ["FAST"]}}, "history entry 'SLOW'", id="not-history"),
            pytest.param({"history": {"H": ["GHOST"]}}, "history entry 'H'", id="unknown-target"),
        ],
    )
    def test_from_snapshot_refuses_what_the_machine_lacks(
        self, change: dict[str, Any], message: str
    ) -> None:
        machine = StateMachine.from_dict(DEVICE)
        data = {**machine.create(clock=ManualClock()).snapshot(), **change}
        with pytest.raises(IncompatibleSnapshotError, match=message):
            EntitySession.from_snapshot(machine, data)


# ----------------------------------------------------------------------------- history
class TestHistory:
    def test_two_sessions_never_share_memory(self) -> None:
        machine = StateMachine.from_dict(DEVICE)
        first = machine.create(clock=ManualClock())
        second = machine.create(clock=ManualClock())
        first.send("power")
        first.send("faster")
        first.send("shutdown")
        assert dict(first.history) == {"H": ("FAST",)}
        assert dict(second.history) == {}
        second.send("power")
        assert second.current_state == "SLOW", "the default, not the other entity's memory"
        first.send("power")
        assert first.current_state == "FAST"
        third = machine.create(clock=ManualClock())
        third.send("power")
        assert third.current_state == "SLOW"

    def test_the_stateless_api_takes_and_returns_memory(self) -> None:
        machine = StateMachine.from_dict(DEVICE)
        off = machine.process("FAST", "shutdown")
        assert off.history == {"H": ("FAST",)}
        assert machine.process("OFF_STATE", "power").target_state == "SLOW"
        back = machine.process("OFF_STATE", "power", history=off.history)
        assert back.target_state == "FAST"
        assert back.history == {"H": ("FAST",)}
        assert machine.process("OFF_STATE", "power").target_state == "SLOW", "nothing kept"


# ----------------------------------------------------------------------------- start
class TestStart:
    def test_start_enters_the_initial_configuration(self) -> None:
        machine = StateMachine.from_dict(DESK)
        result = machine.start()
        assert result.success
        assert (result.source_state, result.target_state) == ("", "IDLE")
        assert result.entered_states == ("IDLE",)
        parallel = machine.start(initial_state="P")
        assert parallel.target_state == "P(r1=A1, r2=B2)"
        assert parallel.entered_states == ("P", "r1", "A1", "r2", "B2")

    def test_start_arms_timers_and_takes_eventless_transitions(self) -> None:
        machine = StateMachine.from_dict(
            {
                "meta": {"machine_name": "boot"},
                "states": [
                    {"name": "BOOT", "type": "initial", "on_enter": ["hello"]},
                    {"name": "READY", "timeout": {"seconds": 1.5, "destination": "BOOT"}},
                ],
                "transitions": [{"auto": True, "source": "BOOT", "dest": "READY"}],
            }
        )
        result = machine.start({})
        assert machine.get_initial_state() == "BOOT"
        assert result.target_state == "READY"
        assert result.all_actions == ("hello",)
        assert [(t.key, t.delay_ms) for t in result.timers_to_arm] == [("READY:timeout", 1500)]
        session = machine.create(clock=ManualClock())
        assert session.current_state == "READY"
        assert [t.key for t in session.pending_timers] == ["READY:timeout"]

    def test_start_refuses_an_unknown_state(self) -> None:
        with pytest.raises(UndefinedStateError, match="'NOPE' is not defined"):
            StateMachine.from_dict(DESK).start(initial_state="NOPE")

    def test_an_eventless_loop_at_start_raises(self) -> None:
        machine = StateMachine.from_dict(
            {
                "meta": {"machine_name": "spin"},
                "states": [{"name": "A", "type": "initial"}, {"name": "B"}],
                "transitions": [
                    {"auto": True, "source": "A", "dest": "B"},
                    {"auto": True, "source": "B", "dest": "A"},
                ],
            }
        )
        with pytest.raises(LoopLimitError, match="loops"):
            machine.start()
        with pytest.raises(LoopLimitError):
            machine.create()


def _chain(length: int) -> StateMachine:
    states = [{"name": "A", "type": "initial"}] + [{"name": f"S{i}"} for i in range(length + 1)]
    transitions = [{"trigger": "go", "source": "A", "dest": "S0"}] + [
        {"auto": True, "source": f"S{i}", "dest": f"S{i + 1}"} for i in range(length)
    ]
    return StateMachine.from_dict(
        {"meta": {"machine_name": "chain"}, "states": states, "transitions": transitions}
    )


def test_the_loop_limit_allows_100_eventless_transitions_and_stops_the_101st() -> None:
    """MAX_MICROSTEPS counts the eventless (and done) transitions after the event."""
    assert _chain(100).process("A", "go").target_state == "S100"
    failed = _chain(101).process("A", "go")
    assert not failed.success
    assert failed.metadata["reason"] == "loop_limit"
    assert failed.target_state is None
    assert failed.all_actions == ()


# ----------------------------------------------------------------------------- parallel API
class TestParallelHelpers:
    def test_enter_parallel_state(self) -> None:
        machine = StateMachine.from_dict(DESK)
        config = machine.enter_parallel_state("P")
        assert config == ParallelStateConfig(state="P", regions={"r1": "A1", "r2": "B2"})
        assert str(config) == "P(r1=A1, r2=B2)"
        with pytest.raises(UndefinedStateError, match="'OUT' is not a parallel state"):
            machine.enter_parallel_state("OUT")
        with pytest.raises(UndefinedStateError, match="'NOPE' is not defined"):
            machine.enter_parallel_state("NOPE")

    def test_process_parallel(self) -> None:
        machine = StateMachine.from_dict(DESK)
        config = machine.enter_parallel_state("P")
        moved, (result,) = machine.process_parallel(config, "a")
        assert moved == ParallelStateConfig(state="P", regions={"r1": "B1", "r2": "B2"})
        assert result.exited_states == ("A1",)
        assert result.entered_states == ("B1",)
        same, (failed,) = machine.process_parallel(moved, "a")
        assert same == moved
        assert not failed.success
        out, (left,) = machine.process_parallel(str(moved), "out")
        assert out == "OUT"
        assert left.exited_states == ("B2", "r2", "B1", "r1", "P")

    def test_is_active_reads_a_configuration(self) -> None:
        machine = StateMachine.from_dict(DESK)
        config = "P(r1=A1, r2=B2)"
        assert all(machine.is_active(config, s) for s in ("P", "r1", "A1", "r2", "B2"))
        assert not any(machine.is_active(config, s) for s in ("B1", "A2", "IDLE", "OUT"))
        assert machine.configuration_leaves(config) == ("A1", "B2")

    def test_another_spelling_gets_its_own_source_state(self) -> None:
        machine = StateMachine.from_dict(DESK)
        odd = machine.process("P(r2=B2, r1=A1)", "a")
        canonical = machine.process("P(r1=A1, r2=B2)", "a")
        assert odd.source_state == "P(r2=B2, r1=A1)"
        assert canonical.source_state == "P(r1=A1, r2=B2)"
        assert odd.target_state == canonical.target_state == "P(r1=B1, r2=B2)"


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("state", "message"),
    [
        pytest.param("A1", r"'A1' is inside a parallel state .*'P\(r1=A1, r2=B2\)'", id="leaf"),
        pytest.param("r2", r"'r2' is inside a parallel state", id="region"),
        pytest.param("P", r"'P' is a parallel state .*'P\(r1=A1, r2=B2\)'", id="parallel"),
        pytest.param("P(r1=A1)", r"region\(s\) r2 of 'P' missing", id="missing-region"),
        pytest.param("P(r1=A1, r3=B2)", r"'r3' is not a region of 'P'", id="unknown-region"),
        pytest.param("P(r1=A1, r2=B2) extra", r"unexpected text after", id="extra-text"),
        pytest.param("P(r1=A1, r2=B2", r"expected '\)'", id="unclosed"),
        pytest.param("P(r1=A1, r1=B1, r2=B2)", r"region 'r1' is given twice", id="twice"),
        pytest.param("P(r1=A2, r2=B2)", r"'A2' is not inside 'r1'", id="wrong-region"),
        pytest.param("P(r1=GHOST, r2=B2)", r"state 'GHOST' is not defined", id="unknown-state"),
        pytest.param("P(r1=A1; r2=B2)", r"unexpected ';", id="bad-character"),
        pytest.param("IDLE(r1=A1)", r"unexpected text after", id="not-parallel"),
        pytest.param(
            "IDEL", r"'IDEL' is not defined in machine 'desk'; did you mean 'IDLE'", id="typo"
        ),
    ],
)
def test_undefined_configurations_say_what_is_wrong(state: str, message: str) -> None:
    machine = StateMachine.from_dict(DESK)
    with pytest.raises(UndefinedStateError, match=message):
        machine.process(state, "a")
    with pytest.raises(UndefinedStateError, match=message):
        machine.configuration_leaves(state)
