"""Where PyStator used to differ from the SCXML Recommendation (Appendix D), now fixed.

Issue 14 items 1-3: deep history over a parallel state restores every region; the done event
of a parallel state is queued after the done event of the region that completes it; a
transition that targets a history state has its domain from the history's effective targets.
Items 4 and 5: history wherever SCXML allows it (directly in a parallel state, as a compound
state's initial child) and internal events (``{raise: EVENT}``).
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from pystator import ConfigurationError, LoopLimitError, RaiseSpec, StateMachine
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


# Item 4: a history state directly in a parallel state.
HISTORY_IN_PARALLEL = """
meta: {machine_name: hp, strict_mode: false}
states:
  - {name: IDLE, type: initial}
  - name: P
    type: parallel
    regions:
      - {name: left, states: [L1, L2]}
      - {name: right, states: [R1, R2]}
  - {name: H, parent: P, type: history, history: %s}
transitions:
  - {trigger: enter, source: IDLE, dest: P}
  - {trigger: step, source: L1, dest: L2}
  - {trigger: hop, source: R1, dest: R2}
  - {trigger: leave, source: P, dest: IDLE}
  - {trigger: again, source: IDLE, dest: H}
"""

# Item 4: a compound state whose initial child is its history.
INITIAL_HISTORY = """
meta: {machine_name: ih, strict_mode: false}
states:
  - {name: OFF, type: initial}
  - {name: ON, initial_child: BACK}
  - {name: BACK, parent: ON, type: history%s}
  - {name: LOW, parent: ON}
  - {name: HIGH, parent: ON%s}
transitions:
  - {trigger: power, source: OFF, dest: ON}
  - {trigger: up, source: LOW, dest: HIGH}
  - {trigger: power, source: ON, dest: OFF}
"""


class TestHistoryInParallel:
    def test_deep_history_restores_every_region(self) -> None:
        m = StateMachine.from_yaml_string(HISTORY_IN_PARALLEL % "deep")
        state, results = run(m, "enter step hop leave again")
        assert state == "P(left=L2, right=R2)"
        assert results[-2].history == {"H": ("L2", "R2")}
        assert results[-1].entered_states == ("P", "left", "L2", "right", "R2")

    def test_shallow_history_remembers_the_regions_and_enters_their_defaults(self) -> None:
        m = StateMachine.from_yaml_string(HISTORY_IN_PARALLEL % "shallow")
        state, results = run(m, "enter step leave again")
        # The children of a parallel state are its regions: a shallow memory holds them, and
        # re-entering a region enters its initial state (SCXML's addDescendantStatesToEnter).
        assert results[-2].history == {"H": ("left", "right")}
        assert state == "P(left=L1, right=R1)"

    def test_without_memory_every_region_is_entered(self) -> None:
        m = StateMachine.from_yaml_string(HISTORY_IN_PARALLEL % "deep")
        assert m.process("IDLE", "again").target_state == "P(left=L1, right=R1)"

    def test_a_default_in_one_region_gives_the_others_their_initial_state(self) -> None:
        text = (HISTORY_IN_PARALLEL % "deep").replace(
            "history: deep}", "history: deep, default: L2}"
        )
        m = StateMachine.from_yaml_string(text)
        result = m.process("IDLE", "again")
        assert result.target_state == "P(left=L2, right=R1)"
        assert result.entered_states == ("P", "left", "L2", "right", "R1")

    def test_a_session_keeps_the_memory(self) -> None:
        m = StateMachine.from_yaml_string(HISTORY_IN_PARALLEL % "deep")
        session = m.create()
        for event in ("enter", "hop", "leave", "again"):
            assert session.send(event).success
        assert session.current_state == "P(left=L1, right=R2)"


class TestInitialHistory:
    def test_first_entry_takes_the_first_real_child(self) -> None:
        m = StateMachine.from_yaml_string(INITIAL_HISTORY % ("", ""))
        assert m.process("OFF", "power").target_state == "LOW"

    def test_the_history_default_wins_over_the_initial_child(self) -> None:
        m = StateMachine.from_yaml_string(INITIAL_HISTORY % (", default: HIGH", ""))
        assert m.process("OFF", "power").target_state == "HIGH"

    def test_a_child_of_type_initial_is_the_fallback(self) -> None:
        m = StateMachine.from_yaml_string(INITIAL_HISTORY % ("", ", type: initial"))
        assert m.process("OFF", "power").target_state == "HIGH"

    def test_re_entry_restores_the_remembered_child(self) -> None:
        m = StateMachine.from_yaml_string(INITIAL_HISTORY % ("", ""))
        state, results = run(m, "power up power power")
        assert state == "HIGH"
        assert results[-1].entered_states == ("ON", "HIGH")

    def test_the_machine_can_start_through_a_history(self) -> None:
        text = (
            (INITIAL_HISTORY % ("", ""))
            .replace("{name: OFF, type: initial}", "{name: OFF}")
            .replace(
                "{name: ON, initial_child: BACK}", "{name: ON, type: initial, initial_child: BACK}"
            )
        )
        m = StateMachine.from_yaml_string(text)
        assert m.get_initial_state() == "LOW"

    def test_a_region_may_start_through_its_history(self) -> None:
        m = StateMachine.from_yaml_string(
            """
meta: {machine_name: rh, strict_mode: false}
states:
  - {name: IDLE, type: initial}
  - name: P
    type: parallel
    regions:
      - {name: r1, initial: H1, states: [A1, A2, {name: H1, type: history}]}
      - {name: r2, states: [B1]}
transitions:
  - {trigger: go, source: IDLE, dest: P}
  - {trigger: a, source: A1, dest: A2}
  - {trigger: out, source: P, dest: IDLE}
"""
        )
        state, _ = run(m, "go a out go")
        assert state == "P(r1=A2, r2=B1)"

    def test_a_default_naming_a_history_state_is_refused(self) -> None:
        text = (INITIAL_HISTORY % (", default: H2", "")).replace(
            "  - {name: LOW, parent: ON}",
            "  - {name: LOW, parent: ON}\n  - {name: H2, parent: ON, type: history}",
        )
        with pytest.raises(ConfigurationError) as info:
            StateMachine.from_yaml_string(text)
        assert [str(i) for i in info.value.issues] == [
            "states[2].default: 'H2' is a history state: a default names a real state to enter "
            "(line 6)"
        ]


# Item 5: internal events, in SCXML's queue order.
RAISES = """
meta: {machine_name: rs, strict_mode: false}
states:
  - {name: A, type: initial, on_exit: [{raise: from_exit}]}
  - {name: B, initial_child: B1, on_enter: [{raise: from_entry}, enter_B]}
  - {name: B1, parent: B}
  - {name: B_done, parent: B, type: terminal, on_enter: [{raise: from_final}]}
  - {name: C}
transitions:
  - {trigger: go, source: A, dest: B_done, actions: [{raise: from_transition}, act]}
  - {trigger: from_exit, source: B, actions: [saw_exit]}
  - {trigger: from_transition, source: B, actions: [saw_transition]}
  - {trigger: from_entry, source: B, actions: [saw_entry]}
  - {trigger: from_final, source: B, actions: [saw_final]}
  - {trigger: done.state.B, source: B, dest: C}
"""


class TestInternalEvents:
    def test_the_queue_order_is_exit_transition_entry_then_done(self) -> None:
        m = StateMachine.from_yaml_string(RAISES)
        result = m.process("A", "go")
        assert result.success, result.error
        assert result.internal_events == (
            "from_exit",
            "from_transition",
            "from_entry",
            "from_final",
            "done.state.B",
        )
        assert result.target_state == "C"
        # raise items are not actions; the actions run in the order the events were taken.
        assert [a.name for a in result.ordered_actions or ()] == [
            "act",
            "enter_B",
            "saw_exit",
            "saw_transition",
            "saw_entry",
            "saw_final",
        ]

    def test_eventless_transitions_come_before_internal_events(self) -> None:
        m = StateMachine.from_yaml_string(
            """
meta: {machine_name: order, strict_mode: false}
states:
  - {name: A, type: initial}
  - {name: B}
  - {name: C}
  - {name: D}
transitions:
  - {trigger: go, source: A, dest: B, actions: [{raise: next}]}
  - {auto: true, source: B, dest: C}
  - {trigger: next, source: B, dest: D}
  - {trigger: next, source: C, dest: A}
"""
        )
        result = m.process("A", "go")
        assert (result.target_state, result.internal_events) == ("A", ("next",))
        assert result.entered_states == ("B", "C", "A")

    def test_an_event_that_selects_nothing_is_dropped_and_the_next_one_taken(self) -> None:
        m = StateMachine.from_yaml_string(
            """
meta: {machine_name: drop, strict_mode: true}
states:
  - {name: A, type: initial}
  - {name: B}
  - {name: C}
transitions:
  - {trigger: go, source: A, dest: B, actions: [{raise: only_in_a}, {raise: move}]}
  - {trigger: only_in_a, source: A, dest: C}
  - {trigger: move, source: B, dest: C}
"""
        )
        result = m.process("A", "go")
        assert result.success
        assert result.target_state == "C"
        assert result.internal_events == ("only_in_a", "move")

    def test_a_raise_loop_is_a_loop_limit_error_and_changes_nothing(self) -> None:
        m = StateMachine.from_yaml_string(
            """
meta: {machine_name: loop}
states:
  - {name: A, type: initial}
  - {name: B}
transitions:
  - {trigger: ping, source: A, dest: B, actions: [{raise: pong}]}
  - {trigger: pong, source: B, dest: A, actions: [{raise: ping}]}
"""
        )
        result = m.process("A", "ping")
        assert not result.success
        assert isinstance(result.error, LoopLimitError)
        assert result.metadata["reason"] == "loop_limit"
        session = m.create()
        sent = session.send("ping")
        assert isinstance(sent.error, LoopLimitError)
        assert session.current_state == "A"

    def test_raises_at_start_are_processed(self) -> None:
        m = StateMachine.from_yaml_string(
            """
meta: {machine_name: boot}
states:
  - {name: A, type: initial, on_enter: [{raise: ready}]}
  - {name: B}
transitions:
  - {trigger: ready, source: A, dest: B}
"""
        )
        assert m.get_initial_state() == "A"  # the configuration entered, before any step
        session = m.create()
        assert session.current_state == "B"

    def test_guards_of_internal_event_transitions_see_the_assigned_context(self) -> None:
        m = StateMachine.from_yaml_string(
            """
meta: {machine_name: retry, strict_mode: false}
context:
  fields: {tries: {type: integer, default: 0}}
states:
  - {name: IDLE, type: initial}
  - {name: TRYING, on_enter: [{assign: {tries: tries + 1}}, {raise: check}]}
  - {name: GAVE_UP}
transitions:
  - {trigger: start, source: IDLE, dest: TRYING}
  - {trigger: check, source: TRYING, dest: TRYING, guards: [{expr: tries < 3}]}
  - {trigger: check, source: TRYING, dest: GAVE_UP}
"""
        )
        result = m.process("IDLE", "start", {"tries": 0})
        assert result.target_state == "GAVE_UP"
        assert result.context == {"tries": 3}
        assert result.internal_events == ("check", "check", "check")

    def test_a_python_definition_takes_raise_spec(self) -> None:
        from pystator import MachineDefinition

        definition = MachineDefinition.model_validate(
            {
                "meta": {"machine_name": "py"},
                "states": [{"name": "A", "type": "initial"}, {"name": "B"}, {"name": "C"}],
                "transitions": [
                    {
                        "trigger": "go",
                        "source": "A",
                        "dest": "B",
                        "actions": [RaiseSpec(event="on")],
                    },
                    {"trigger": "on", "source": "B", "dest": "C"},
                ],
            }
        )
        assert definition.transitions[0].actions == (RaiseSpec(event="on"),)
        assert definition.model_dump()["transitions"][0]["actions"] == ({"raise": "on"},)
        machine = StateMachine.from_definition(definition)
        assert machine.process("A", "go").target_state == "C"
        assert '- raise: "on"' in machine.to_yaml()
        assert StateMachine.from_yaml_string(machine.to_yaml()).definition == definition

    @pytest.mark.parametrize(
        ("where", "path"),
        [
            ("transition", "transitions[0].actions[0].raise"),
            ("on_enter", "states[1].on_enter[0].raise"),
            ("on_exit", "states[0].on_exit[0].raise"),
        ],
    )
    def test_a_raise_nobody_takes_is_refused(self, where: str, path: str) -> None:
        item = {"raise": "chek"}
        states: list[dict[str, object]] = [{"name": "A", "type": "initial"}, {"name": "B"}]
        transitions: list[dict[str, object]] = [
            {"trigger": "go", "source": "A", "dest": "B"},
            {"trigger": "check", "source": "B", "dest": "A"},
            {"trigger": "later", "source": "B", "dest": "A", "after": "1s"},
        ]
        if where == "transition":
            transitions[0]["actions"] = [item]
        else:
            states[1 if where == "on_enter" else 0][where] = [item]
        with pytest.raises(ConfigurationError) as info:
            StateMachine.from_dict(
                {"meta": {"machine_name": "m"}, "states": states, "transitions": transitions}
            )
        assert [str(i) for i in info.value.issues] == [
            f"{path}: no transition has trigger 'chek': the internal event would be dropped; "
            "did you mean 'check'?"
        ]

    def test_a_delayed_transitions_trigger_cannot_be_raised(self) -> None:
        with pytest.raises(ConfigurationError) as info:
            StateMachine.from_dict(
                {
                    "meta": {"machine_name": "m"},
                    "states": [{"name": "A", "type": "initial"}, {"name": "B"}],
                    "transitions": [
                        {
                            "trigger": "go",
                            "source": "A",
                            "dest": "B",
                            "actions": [{"raise": "later"}],
                        },
                        {"trigger": "later", "source": "B", "dest": "A", "after": "1s"},
                    ],
                }
            )
        assert "no transition has trigger 'later'" in str(info.value)

    @pytest.mark.parametrize(
        ("item", "message"),
        [
            ({"raise": "no such"}, "'no such' is not a valid name"),
            ({"raise": "x", "extra": 1}, "unknown key"),
            ({"rase": "x"}, ".rase: unknown key"),
            ({}, "must be an action name, {name, params}, {assign: {field: expression}} or "),
        ],
    )
    def test_malformed_raise_items(self, item: dict[str, object], message: str) -> None:
        with pytest.raises(ConfigurationError) as info:
            StateMachine.from_dict(
                {
                    "meta": {"machine_name": "m"},
                    "states": [{"name": "A", "type": "initial"}, {"name": "B"}],
                    "transitions": [
                        {"trigger": "x", "source": "A", "dest": "B", "actions": [item]}
                    ],
                }
            )
        issues = [str(i) for i in info.value.issues]
        assert len(issues) == 1, issues
        assert issues[0].startswith("transitions[0].actions[0]"), issues
        assert message in issues[0], issues


def test_a_top_level_final_state_halts_the_internal_queue() -> None:
    """SCXML stops at a ``<final>`` child of ``<scxml>``: events still queued are not taken."""
    m = StateMachine.from_yaml_string(
        """
meta: {machine_name: halt}
states:
  - {name: A, type: initial}
  - {name: END, type: terminal, on_enter: [{raise: again}]}
transitions:
  - {trigger: finish, source: A, dest: END, actions: [{raise: again}]}
  - {trigger: again, source: A, dest: A}
"""
    )
    result = m.process("A", "finish")
    assert result.success
    assert (result.target_state, result.internal_events) == ("END", ())
