"""Where PyStator used to differ from the SCXML Recommendation (Appendix D), now fixed.

Issue 14 items 1-3: deep history over a parallel state restores every region; the done event
of a parallel state is queued after the done event of the region that completes it; a
transition that targets a history state has its domain from the history's effective targets.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from pystator import StateMachine
from pystator.models.result import TransitionResult

DEEP_OVER_PARALLEL = """
meta: {machine_name: a, strict_mode: false}
states:
  - {name: OUT, type: initial}
  - {name: C, initial_child: P}
  - {name: H, parent: C, type: history, history: deep, default: P}
  - name: P
    parent: C
    type: parallel
    regions: [{name: R1, states: [a1, a2]}, {name: R2, states: [b1, b2]}]
transitions:
  - {trigger: go, source: OUT, dest: C}
  - {trigger: t, source: b1, dest: b2}
  - {trigger: leave, source: C, dest: OUT}
  - {trigger: back, source: OUT, dest: H}
"""

DEEP_NESTED = """
meta: {machine_name: nested, strict_mode: false}
states:
  - {name: OUT, type: initial}
  - {name: C, initial_child: P}
  - {name: H, parent: C, type: history, history: deep}
  - name: P
    parent: C
    type: parallel
    regions:
      - {name: R1, states: [{name: A, initial_child: A1}]}
      - {name: R2, states: [{name: B, initial_child: B1}]}
      - {name: R3, states: [c1, c2]}
  - {name: A1, parent: A}
  - {name: A2, parent: A, initial_child: A2x}
  - {name: A2x, parent: A2}
  - {name: A2y, parent: A2}
  - {name: B1, parent: B}
  - {name: B2, parent: B}
transitions:
  - {trigger: go, source: OUT, dest: C}
  - {trigger: deeper, source: A1, dest: A2y}
  - {trigger: right, source: B1, dest: B2}
  - {trigger: leave, source: C, dest: OUT}
  - {trigger: back, source: OUT, dest: H}
"""

PARALLEL_DONE = """
meta: {machine_name: b, strict_mode: false}
states:
  - {name: IDLE, type: initial}
  - name: P
    type: parallel
    regions:
      - {name: R1, states: [a, {name: a_done, type: terminal}]}
      - {name: R2, states: [b, {name: b_done, type: terminal}]}
  - {name: X}
  - {name: Y}
transitions:
  - {trigger: go, source: IDLE, dest: P}
  - {trigger: finish, source: a, dest: a_done}
  - {trigger: finish, source: b, dest: b_done}
  - {trigger: done.state.R2, source: P, dest: X}
  - {trigger: done.state.P, source: P, dest: Y}
"""

THREE_REGIONS_DONE = """
meta: {machine_name: three, strict_mode: false}
states:
  - {name: IDLE, type: initial}
  - name: P
    type: parallel
    regions:
      - {name: R1, states: [a, {name: a_done, type: terminal}]}
      - {name: R2, states: [b, {name: b_done, type: terminal}]}
      - {name: R3, states: [c, {name: c_done, type: terminal}]}
  - {name: X}
  - {name: Y}
transitions:
  - {trigger: go, source: IDLE, dest: P}
  - {trigger: finish, source: a, dest: a_done}
  - {trigger: finish, source: b, dest: b_done}
  - {trigger: finish, source: c, dest: c_done}
  - {trigger: finish_a, source: a, dest: a_done}
  - {trigger: finish_bc, source: b, dest: b_done}
  - {trigger: finish_bc, source: c, dest: c_done}
  - {trigger: done.state.R3, source: P, dest: X}
  - {trigger: done.state.P, source: P, dest: Y}
"""

# Item 3: S holds a deep history H and a compound child Y with its own history HY.
HISTORY_DOMAIN = """
meta: {machine_name: dom, strict_mode: false}
states:
  - {name: OUT, type: initial}
  - {name: S, initial_child: Y, on_enter: [enter_S], on_exit: [exit_S]}
  - {name: H, parent: S, type: history, history: deep}
  - {name: Y, parent: S, initial_child: z1, on_enter: [enter_Y], on_exit: [exit_Y]}
  - {name: HY, parent: Y, type: history}
  - {name: z1, parent: Y, on_enter: [enter_z1], on_exit: [exit_z1]}
  - {name: z2, parent: Y, on_enter: [enter_z2], on_exit: [exit_z2]}
  - {name: Q, parent: S}
transitions:
  - {trigger: go, source: OUT, dest: S}
  - {trigger: next, source: z1, dest: z2}
  - {trigger: prev, source: z2, dest: z1}
  - {trigger: leave, source: S, dest: OUT}
  - {trigger: back, source: OUT, dest: H}
  - {trigger: jump, source: z1, dest: H, actions: [jumped]}
"""

# Item 3 with a parallel state: the history's default lies in one region.
HISTORY_DOMAIN_PARALLEL = """
meta: {machine_name: domp, strict_mode: false}
states:
  - {name: S, type: initial, initial_child: P}
  - {name: H, parent: S, type: history, history: deep, default: a2}
  - name: P
    parent: S
    type: parallel
    regions: [{name: R1, states: [a1, a2]}, {name: R2, states: [b1, b2]}]
transitions:
  - {trigger: t, source: b1, dest: b2}
  - {trigger: jump, source: a1, dest: H}
"""


def run(
    machine: StateMachine, events: str, history: Mapping[str, tuple[str, ...]] | None = None
) -> tuple[str, list[TransitionResult]]:
    """Process ``events`` (space separated) from the initial state, carrying the history."""
    state = machine.get_initial_state()
    results: list[TransitionResult] = []
    for event in events.split():
        r = machine.process(state, event, history=history)
        assert r.success, (event, r.error)
        results.append(r)
        state, history = r.target_state, r.history
    return state, results


class TestDeepHistoryOverParallel:
    def test_issue_repro_restores_every_region(self) -> None:
        m = StateMachine.from_yaml_string(DEEP_OVER_PARALLEL)
        state, results = run(m, "go t leave back")
        assert state == "P(R1=a1, R2=b2)"
        back = results[-1]
        # One child per region: the default b1 is not entered beside the remembered b2.
        assert back.entered_states == ("C", "P", "R1", "a1", "R2", "b2")
        assert back.history is not None
        assert dict(back.history) == {"H": ("a1", "b2")}

    def test_nested_compound_states_inside_regions(self) -> None:
        m = StateMachine.from_yaml_string(DEEP_NESTED)
        state, results = run(m, "go deeper right leave back")
        assert results[2].target_state == "P(R1=A2y, R2=B2, R3=c1)"
        assert state == "P(R1=A2y, R2=B2, R3=c1)"
        assert results[-1].entered_states == (
            "C",
            "P",
            "R1",
            "A",
            "A2",
            "A2y",
            "R2",
            "B",
            "B2",
            "R3",
            "c1",
        )

    def test_session_agrees(self) -> None:
        m = StateMachine.from_yaml_string(DEEP_NESTED)
        session = m.create()
        for event in ("go", "deeper", "right", "leave", "back"):
            assert session.send(event).success
        assert session.current_state == "P(R1=A2y, R2=B2, R3=c1)"


class TestParallelDoneOrder:
    def test_issue_repro_region_done_before_parallel_done(self) -> None:
        m = StateMachine.from_yaml_string(PARALLEL_DONE)
        state, results = run(m, "go finish")
        # done.state.R1 (no transition), done.state.R2 (to X); done.state.P comes last.
        assert state == "X"
        assert results[-1].entered_states == ("a_done", "b_done", "X")

    def test_parallel_done_still_fires_when_regions_have_no_transition(self) -> None:
        m = StateMachine.from_yaml_string(
            PARALLEL_DONE.replace("  - {trigger: done.state.R2, source: P, dest: X}\n", "")
        )
        state, _ = run(m, "go finish")
        assert state == "Y"

    def test_three_regions_finishing_together(self) -> None:
        m = StateMachine.from_yaml_string(THREE_REGIONS_DONE)
        # R1, R2, R3, then P: done.state.R3 is taken before done.state.P is dequeued.
        state, results = run(m, "go finish")
        assert state == "X"
        assert results[-1].entered_states == ("a_done", "b_done", "c_done", "X")

    def test_three_regions_the_last_two_together(self) -> None:
        m = StateMachine.from_yaml_string(THREE_REGIONS_DONE)
        state, results = run(m, "go finish_a finish_bc")
        assert results[1].target_state == "P(R1=a_done, R2=b, R3=c)"
        assert state == "X"

    def test_three_regions_parallel_done_comes_last(self) -> None:
        without_r3 = THREE_REGIONS_DONE.replace(
            "  - {trigger: done.state.R3, source: P, dest: X}\n", ""
        )
        m = StateMachine.from_yaml_string(without_r3)
        for events in ("go finish", "go finish_a finish_bc"):
            assert run(m, events)[0] == "Y"


class TestHistoryTargetDomain:
    """The domain comes from what the history remembers, not from the pseudo-state."""

    def test_deep_history_within_one_child_exits_only_below_it(self) -> None:
        m = StateMachine.from_yaml_string(HISTORY_DOMAIN)
        # H remembers z2 (left from z2), back in S, then to z1 and jump to H: the domain is Y
        # (the innermost compound state holding z1 and z2), so Y is neither exited nor
        # entered again and its own history HY is not rewritten.
        state, results = run(m, "go next leave back prev jump")
        jump = results[-1]
        assert state == "z2"
        assert jump.exited_states == ("z1",)
        assert jump.entered_states == ("z2",)
        assert [a.name for a in jump.on_exit_actions] == ["exit_z1"]
        assert [a.name for a in jump.actions_to_execute] == ["jumped"]
        assert [a.name for a in jump.on_enter_actions] == ["enter_z2"]
        assert jump.history is not None
        assert dict(jump.history) == {"H": ("z2",), "HY": ("z2",)}

    def test_without_memory_the_default_is_the_effective_target(self) -> None:
        m = StateMachine.from_yaml_string(HISTORY_DOMAIN)
        # H has no memory: its effective target is S's initial child Y; the innermost compound
        # state holding z1 and Y is S, so Y and z1 are exited and entered again.
        _, results = run(m, "go jump")
        jump = results[-1]
        assert jump.exited_states == ("z1", "Y")
        assert jump.entered_states == ("Y", "z1")
        assert jump.history is not None
        assert dict(jump.history) == {"HY": ("z1",)}

    def test_other_regions_keep_their_configuration(self) -> None:
        m = StateMachine.from_yaml_string(HISTORY_DOMAIN_PARALLEL)
        # H's default a2 is in R1 like the source a1: the domain is R1, so R2 keeps b2 (it is
        # neither exited nor given its default b1).
        state, results = run(m, "t jump")
        jump = results[-1]
        assert state == "P(R1=a2, R2=b2)"
        assert jump.exited_states == ("a1",)
        assert jump.entered_states == ("a2",)

    @pytest.mark.parametrize("events", ["go next leave back prev jump", "go jump"])
    def test_session_runs_the_same_actions(self, events: str) -> None:
        m = StateMachine.from_yaml_string(HISTORY_DOMAIN)
        ran: list[str] = []
        names = ["jumped"] + [f"{k}_{s}" for k in ("enter", "exit") for s in ("S", "Y", "z1", "z2")]
        for name in names:
            m.action(name)(lambda *_a, _n=name, **_k: ran.append(_n))
        session = m.create()
        for event in events.split():
            assert session.send(event).success
        state, results = run(m, events)
        assert session.current_state == state
        expected = [
            a.name
            for r in results
            for a in (*r.on_exit_actions, *r.actions_to_execute, *r.on_enter_actions)
        ]
        assert ran == expected
