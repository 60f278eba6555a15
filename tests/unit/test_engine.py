"""Engine semantics through ``StateMachine.process``: selection, hierarchy, exit/entry order."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from pystator import StateMachine
from tests.unit.conftest import build, traced


def always(value: bool) -> Any:
    def guard(ctx: Any, **_: Any) -> bool:
        return value

    return guard


class TestFlat:
    def test_simple_transition(self) -> None:
        m = build(
            [{"name": "A", "type": "initial"}, {"name": "B"}],
            [
                {"trigger": "go", "source": "A", "dest": "B"},
            ],
        )
        r = m.process("A", "go")
        assert (r.success, r.source_state, r.target_state, r.trigger) == (True, "A", "B", "go")
        assert r.state_changed
        assert r.error is None
        assert "reason" not in r.metadata

    def test_source_list(self) -> None:
        m = build(
            [{"name": "A"}, {"name": "B"}, {"name": "C"}],
            [
                {"trigger": "stop", "source": ["A", "B"], "dest": "C"},
            ],
        )
        assert m.process("A", "stop").target_state == "C"
        assert m.process("B", "stop").target_state == "C"
        assert not m.process("C", "stop").success

    def test_wildcard_source_covers_every_non_terminal_state(self) -> None:
        m = build(
            [{"name": "A"}, {"name": "B"}, {"name": "T", "type": "terminal"}],
            [{"trigger": "reset", "source": "*", "dest": "A"}],
        )
        assert m.process("A", "reset").target_state == "A"
        assert m.process("B", "reset").target_state == "A"
        r = m.process("T", "reset")
        assert not r.success
        assert r.metadata["reason"] == "terminal_state"

    def test_transition_actions_carry_params(self) -> None:
        m = build(
            [{"name": "A"}, {"name": "B"}],
            [
                {
                    "trigger": "go",
                    "source": "A",
                    "dest": "B",
                    "actions": [
                        "plain",
                        {"name": "with_params", "params": {"book": "main", "n": 2}},
                    ],
                },
            ],
        )
        r = m.process("A", "go")
        assert [(a.name, a.params) for a in r.actions_to_execute] == [
            ("plain", {}),
            ("with_params", {"book": "main", "n": 2}),
        ]
        assert r.all_actions == ("plain", "with_params")

    def test_flat_exit_and_entry_actions(self) -> None:
        m = build(
            [traced("A"), traced("B")],
            [
                {"trigger": "go", "source": "A", "dest": "B", "actions": ["t"]},
            ],
        )
        r = m.process("A", "go")
        assert r.all_actions == ("ex_A", "t", "en_B")
        assert [a.name for a in r.on_exit_actions] == ["ex_A"]
        assert [a.name for a in r.on_enter_actions] == ["en_B"]
        assert (r.exited_states, r.entered_states) == (("A",), ("B",))


class TestPriorityAndOrder:
    def test_document_order_breaks_ties(self) -> None:
        m = build(
            [{"name": "A"}, {"name": "B"}, {"name": "C"}],
            [
                {"trigger": "go", "source": "A", "dest": "B"},
                {"trigger": "go", "source": "A", "dest": "C"},
            ],
        )
        assert m.process("A", "go").target_state == "B"

    def test_higher_priority_first(self) -> None:
        m = build(
            [{"name": "A"}, {"name": "B"}, {"name": "C"}, {"name": "D"}],
            [
                {"trigger": "go", "source": "A", "dest": "B"},
                {"trigger": "go", "source": "A", "dest": "C", "priority": 5},
                {"trigger": "go", "source": "A", "dest": "D", "priority": 5},
            ],
        )
        assert m.process("A", "go").target_state == "C"

    def test_negative_priority_goes_last(self) -> None:
        m = build(
            [{"name": "A"}, {"name": "B"}, {"name": "C"}],
            [
                {"trigger": "go", "source": "A", "dest": "B", "priority": -1},
                {"trigger": "go", "source": "A", "dest": "C"},
            ],
        )
        assert m.process("A", "go").target_state == "C"

    def test_guarded_candidates_are_tried_in_order(self) -> None:
        m = build(
            [{"name": "A"}, {"name": "B"}, {"name": "C"}, {"name": "D"}],
            [
                {"trigger": "go", "source": "A", "dest": "B", "guards": ["no"], "priority": 9},
                {"trigger": "go", "source": "A", "dest": "C", "guards": ["no"]},
                {"trigger": "go", "source": "A", "dest": "D", "guards": ["yes"]},
            ],
        )
        m.guard_registry.register("yes", always(True))
        m.guard_registry.register("no", always(False))
        assert m.process("A", "go").target_state == "D"

    def test_wildcard_and_specific_source_by_document_order(self) -> None:
        m = build(
            [{"name": "A"}, {"name": "B"}, {"name": "C"}],
            [
                {"trigger": "go", "source": "*", "dest": "B"},
                {"trigger": "go", "source": "A", "dest": "C"},
            ],
        )
        assert m.process("A", "go").target_state == "B"


class TestGuards:
    def test_guards_run_in_order_and_stop_at_the_first_no(self) -> None:
        calls: list[str] = []
        m = build(
            [{"name": "A"}, {"name": "B"}],
            [
                {"trigger": "go", "source": "A", "dest": "B", "guards": ["g1", "g2", "g3"]},
            ],
        )
        for name, value in (("g1", True), ("g2", False), ("g3", True)):
            m.guard_registry.register(
                name, lambda ctx, name=name, value=value: calls.append(name) or value
            )
        r = m.process("A", "go")
        assert calls == ["g1", "g2"]
        assert not r.success
        assert r.metadata["guard_name"] == "g2"

    def test_all_guards_must_pass(self) -> None:
        m = build(
            [{"name": "A"}, {"name": "B"}],
            [
                {"trigger": "go", "source": "A", "dest": "B", "guards": ["g1", "g2"]},
            ],
        )
        m.guard_registry.register("g1", lambda ctx: ctx["x"] > 0)
        m.guard_registry.register("g2", lambda ctx: ctx["x"] < 10)
        assert m.process("A", "go", {"x": 5}).success
        assert not m.process("A", "go", {"x": 50}).success
        assert not m.process("A", "go", {"x": -5}).success

    def test_guard_params_are_keyword_arguments(self) -> None:
        seen: list[dict[str, Any]] = []
        m = build(
            [{"name": "A"}, {"name": "B"}],
            [
                {
                    "trigger": "go",
                    "source": "A",
                    "dest": "B",
                    "guards": [{"name": "below", "params": {"limit": 10, "strict": True}}],
                },
            ],
        )

        @m.guard("below")
        def below(ctx: Any, *, limit: int, strict: bool) -> bool:
            seen.append({"limit": limit, "strict": strict})
            return bool(ctx["x"] < limit)

        assert m.process("A", "go", {"x": 3}).success
        assert not m.process("A", "go", {"x": 30}).success
        assert seen == [{"limit": 10, "strict": True}] * 2

    def test_guard_sees_the_callers_context(self) -> None:
        seen: list[Any] = []
        m = build(
            [{"name": "A"}, {"name": "B"}],
            [
                {"trigger": "go", "source": "A", "dest": "B", "guards": ["g"]},
            ],
        )
        m.guard_registry.register("g", lambda ctx: seen.append(dict(ctx)) or True)
        m.process("A", "go", {"k": 1})
        m.process("A", "go")
        assert seen == [{"k": 1}, {}]

    @pytest.mark.parametrize(
        ("value", "success"), [(1, True), ("yes", True), (0, False), (None, False), ([], False)]
    )
    def test_truthy_guard_values(self, value: Any, success: bool) -> None:
        m = build(
            [{"name": "A"}, {"name": "B"}],
            [
                {"trigger": "go", "source": "A", "dest": "B", "guards": ["g"]},
            ],
        )
        m.guard_registry.register("g", lambda ctx: value)
        assert m.process("A", "go").success is success

    def test_a_raising_guard_propagates(self) -> None:
        m = build(
            [{"name": "A"}, {"name": "B"}],
            [
                {"trigger": "go", "source": "A", "dest": "B", "guards": ["g"]},
            ],
        )
        m.guard_registry.register("g", lambda ctx: ctx["missing"])
        with pytest.raises(KeyError, match="missing"):
            m.process("A", "go", {})


HIER = [
    traced("IDLE", type="initial"),
    traced("OPEN"),
    traced("WORKING", parent="OPEN", initial_child="PARTIAL"),
    traced("NEW", parent="WORKING"),
    traced("PARTIAL", parent="WORKING"),
    traced("HELD", parent="OPEN"),
    traced("DONE", type="terminal"),
]


def hier(*transitions: dict[str, Any]) -> StateMachine:
    return build(HIER, list(transitions))


class TestHierarchy:
    def test_entering_a_compound_descends_to_its_initial_child(self) -> None:
        m = hier({"trigger": "open", "source": "IDLE", "dest": "OPEN"})
        r = m.process("IDLE", "open")
        # OPEN has no initial_child: its first child in document order (WORKING) is entered,
        # and WORKING names PARTIAL.
        assert r.target_state == "PARTIAL"
        assert r.exited_states == ("IDLE",)
        assert r.entered_states == ("OPEN", "WORKING", "PARTIAL")
        assert r.all_actions == ("ex_IDLE", "en_OPEN", "en_WORKING", "en_PARTIAL")

    def test_type_initial_child_is_the_default(self) -> None:
        m = build(
            [
                {"name": "A"},
                {"name": "P"},
                {"name": "C1", "parent": "P"},
                {"name": "C2", "parent": "P", "type": "initial"},
            ],
            [{"trigger": "go", "source": "A", "dest": "P"}],
        )
        assert m.process("A", "go").target_state == "C2"

    def test_initial_state_of_the_machine(self) -> None:
        assert hier().get_initial_state() == "IDLE"
        m = build([{"name": "P"}, {"name": "K", "parent": "P"}, {"name": "Z", "type": "initial"}])
        assert m.get_initial_state() == "Z"
        m = build([{"name": "P"}, {"name": "K1", "parent": "P"}, {"name": "K2", "parent": "P"}])
        assert m.get_initial_state() == "K1"

    def test_transition_of_an_ancestor_applies_to_descendants(self) -> None:
        m = hier({"trigger": "hold", "source": "OPEN", "dest": "HELD"})
        r = m.process("NEW", "hold")
        assert r.target_state == "HELD"
        assert r.source_state == "NEW"
        # The transition's source is OPEN and it is external, so (SCXML) its domain is the
        # parent of OPEN: OPEN is exited and re-entered on the way to HELD.
        assert r.exited_states == ("NEW", "WORKING", "OPEN")
        assert r.entered_states == ("OPEN", "HELD")
        assert r.all_actions == ("ex_NEW", "ex_WORKING", "ex_OPEN", "en_OPEN", "en_HELD")

    def test_innermost_state_first_whatever_the_priority(self) -> None:
        m = hier(
            {"trigger": "go", "source": "OPEN", "dest": "DONE", "priority": 100},
            {"trigger": "go", "source": "WORKING", "dest": "HELD", "priority": 50},
            {"trigger": "go", "source": "PARTIAL", "dest": "NEW", "priority": -100},
        )
        assert m.process("PARTIAL", "go").target_state == "NEW"
        assert m.process("NEW", "go").target_state == "HELD"
        assert m.process("HELD", "go").target_state == "DONE"

    def test_ancestor_is_tried_when_the_inner_guard_rejects(self) -> None:
        m = hier(
            {"trigger": "go", "source": "PARTIAL", "dest": "NEW", "guards": ["no"]},
            {"trigger": "go", "source": "OPEN", "dest": "DONE"},
        )
        m.guard_registry.register("no", always(False))
        assert m.process("PARTIAL", "go").target_state == "DONE"

    def test_exit_and_entry_order_through_the_least_common_compound_ancestor(self) -> None:
        m = hier({"trigger": "jump", "source": "NEW", "dest": "HELD", "actions": ["t"]})
        r = m.process("NEW", "jump")
        assert r.all_actions == ("ex_NEW", "ex_WORKING", "t", "en_HELD")

    def test_transition_between_top_level_subtrees_exits_everything(self) -> None:
        m = hier({"trigger": "finish", "source": "PARTIAL", "dest": "DONE", "actions": ["t"]})
        r = m.process("PARTIAL", "finish")
        assert r.exited_states == ("PARTIAL", "WORKING", "OPEN")
        assert r.all_actions == ("ex_PARTIAL", "ex_WORKING", "ex_OPEN", "t", "en_DONE")

    def test_sibling_transition_stays_inside_the_parent(self) -> None:
        m = hier({"trigger": "next", "source": "NEW", "dest": "PARTIAL"})
        r = m.process("NEW", "next")
        assert (r.exited_states, r.entered_states) == (("NEW",), ("PARTIAL",))

    def test_target_compound_resolves_to_its_default_leaf(self) -> None:
        m = hier({"trigger": "back", "source": "HELD", "dest": "WORKING"})
        r = m.process("HELD", "back")
        assert r.target_state == "PARTIAL"
        assert r.entered_states == ("WORKING", "PARTIAL")
        assert r.all_actions == ("ex_HELD", "en_WORKING", "en_PARTIAL")

    def test_external_transition_to_an_ancestor_exits_and_reenters_it(self) -> None:
        m = hier({"trigger": "restart", "source": "NEW", "dest": "OPEN"})
        r = m.process("NEW", "restart")
        assert r.exited_states == ("NEW", "WORKING", "OPEN")
        assert r.entered_states == ("OPEN", "WORKING", "PARTIAL")
        assert r.target_state == "PARTIAL"

    def test_external_transition_into_a_descendant_exits_and_reenters_the_source(self) -> None:
        m = hier({"trigger": "dive", "source": "OPEN", "dest": "HELD"})
        r = m.process("PARTIAL", "dive")
        assert r.exited_states == ("PARTIAL", "WORKING", "OPEN")
        assert r.entered_states == ("OPEN", "HELD")

    def test_get_available_transitions_innermost_first(self) -> None:
        m = hier(
            {"trigger": "a", "source": "OPEN", "dest": "IDLE"},
            {"trigger": "b", "source": "PARTIAL", "dest": "NEW"},
            {"trigger": "c", "source": "WORKING", "dest": "HELD"},
        )
        assert [t.trigger for t in m.get_available_transitions("PARTIAL")] == ["b", "c", "a"]
        assert [t.trigger for t in m.get_available_transitions("HELD")] == ["a"]
        assert m.get_available_transitions("IDLE") == []


class TestSelfAndInternal:
    def test_external_self_transition_exits_and_reenters(self) -> None:
        m = build(
            [traced("A"), traced("B")],
            [
                {"trigger": "again", "source": "A", "dest": "A", "actions": ["t"]},
            ],
        )
        r = m.process("A", "again")
        assert r.success
        assert r.target_state == "A"
        assert r.all_actions == ("ex_A", "t", "en_A")
        assert (r.exited_states, r.entered_states) == (("A",), ("A",))
        assert not r.state_changed

    def test_external_self_transition_of_a_compound_reenters_its_default(self) -> None:
        m = hier({"trigger": "again", "source": "OPEN", "dest": "OPEN"})
        r = m.process("NEW", "again")
        assert r.exited_states == ("NEW", "WORKING", "OPEN")
        assert r.entered_states == ("OPEN", "WORKING", "PARTIAL")
        assert r.target_state == "PARTIAL"
        assert r.state_changed

    def test_internal_self_transition_runs_only_its_actions(self) -> None:
        m = build(
            [traced("A")],
            [
                {"trigger": "tick", "source": "A", "dest": "A", "internal": True, "actions": ["t"]},
            ],
        )
        r = m.process("A", "tick")
        assert r.success
        assert r.target_state == "A"
        assert r.all_actions == ("t",)
        assert (r.exited_states, r.entered_states) == ((), ())

    def test_internal_transition_of_an_ancestor_keeps_the_active_leaf(self) -> None:
        m = hier({"trigger": "tick", "source": "OPEN", "internal": True, "actions": ["t"]})
        r = m.process("NEW", "tick")
        assert r.target_state == "NEW"
        assert r.all_actions == ("t",)

    def test_internal_transition_to_a_descendant_keeps_the_source(self) -> None:
        m = hier({"trigger": "hold", "source": "OPEN", "dest": "HELD", "internal": True})
        r = m.process("PARTIAL", "hold")
        assert r.target_state == "HELD"
        assert "OPEN" not in r.exited_states
        assert "OPEN" not in r.entered_states
        assert r.exited_states == ("PARTIAL", "WORKING")
        assert r.entered_states == ("HELD",)
        assert r.all_actions == ("ex_PARTIAL", "ex_WORKING", "en_HELD")

    def test_targetless_transition_stays_and_runs_actions(self) -> None:
        m = build([traced("A")], [{"trigger": "ping", "source": "A", "actions": ["pong"]}])
        r = m.process("A", "ping")
        assert (r.success, r.target_state, r.state_changed) == (True, "A", False)
        assert r.all_actions == ("pong",)
        assert "reason" not in r.metadata

    def test_targetless_transition_of_an_ancestor(self) -> None:
        m = hier({"trigger": "ping", "source": "WORKING", "actions": ["pong"]})
        r = m.process("PARTIAL", "ping")
        assert (r.target_state, r.all_actions) == ("PARTIAL", ("pong",))


class TestDeterminism:
    def test_same_inputs_equal_results(self) -> None:
        m = hier({"trigger": "jump", "source": "NEW", "dest": "HELD", "actions": ["t"]})
        assert m.process("NEW", "jump") == m.process("NEW", "jump")
        assert m.process("NEW", "nope") == m.process("NEW", "nope")

    def test_two_machines_from_the_same_definition_agree(self) -> None:
        a = hier({"trigger": "jump", "source": "NEW", "dest": "HELD"})
        b = StateMachine.from_dict(a.to_dict())
        for state in a.states:
            for trigger in ("jump", "nope"):
                assert a.process(state, trigger) == b.process(state, trigger)


def desk(*transitions: dict[str, Any]) -> StateMachine:
    """OUT and a parallel state P of two regions (A1/A2, B1/B2), plus ``transitions``."""
    machine = build(
        [
            {"name": "OUT", "type": "initial"},
            {
                "name": "P",
                "type": "parallel",
                "regions": [
                    {"name": "r1", "states": ["A1", "A2"]},
                    {"name": "r2", "states": ["B1", "B2"]},
                ],
            },
        ],
        [
            {"trigger": "go", "source": "A1", "dest": "A2"},
            {"trigger": "leave", "source": "P", "dest": "OUT"},
            *transitions,
        ],
    )
    machine.guard("ok")(lambda ctx: bool(ctx.get("ok")))
    return machine


class TestParallelResultsBuiltOnce:
    """A parallel step that evaluated no guard is built once; a guarded one never is."""

    def test_unguarded_step_is_shared_and_keeps_the_callers_spelling(self) -> None:
        m = desk()
        first = m.process("P(r1=A1, r2=B1)", "go")
        assert first.target_state == "P(r1=A2, r2=B1)"
        assert m.process("P(r1=A1, r2=B1)", "go") is first
        other = m.process("P(r1=A1,r2=B1)", "go")
        assert other.source_state == "P(r1=A1,r2=B1)"
        assert other.target_state == first.target_state

    async def test_sync_and_async_drivers_agree(self) -> None:
        m = desk()
        for _ in range(2):
            assert await m.aprocess("P(r1=A1, r2=B1)", "leave") == m.process(
                "P(r1=A1, r2=B1)", "leave"
            )

    def test_guarded_step_reads_the_context_every_time(self) -> None:
        m = desk({"trigger": "flip", "source": "B1", "dest": "B2", "guards": ["ok"]})
        for ok in (True, False, True, False):
            r = m.process("P(r1=A1, r2=B1)", "flip", {"ok": ok})
            assert r.success is ok
            assert r.target_state == ("P(r1=A1, r2=B2)" if ok else None)

    def test_a_guard_on_an_earlier_candidate_counts(self) -> None:
        # The unguarded fallback is selected only when the guarded candidate before it says
        # no: the result depends on the context, so it is never shared.
        m = desk(
            {"trigger": "flip", "source": "B1", "dest": "B2", "guards": ["ok"]},
            {"trigger": "flip", "source": "P", "dest": "OUT"},
        )
        for ok in (False, True, False):
            r = m.process("P(r1=A1, r2=B1)", "flip", {"ok": ok})
            assert r.target_state == ("P(r1=A1, r2=B2)" if ok else "OUT")


class TestRejectionsOnEveryPath:
    """A rejection built by the general engine (timers, parallel configurations) is shared
    like the sync driver's, and equals a freshly built one."""

    def test_a_guarded_timer_rejection(self) -> None:
        from pystator.engine.outcomes import build_rejection

        m = build(
            [{"name": "A", "type": "initial"}, {"name": "B"}],
            [{"after": 100, "source": "A", "dest": "B", "guards": [{"expr": "ready == 1"}]}],
        )
        guard = m.index.guards[0][0]
        ctx = {"ready": 0}
        first = m.fire_timer("A", "A:after:0", ctx)
        assert first.context is ctx  # a failure carries the caller's context
        assert first.model_copy(update={"context": None}) == build_rejection(
            m.index, "A", "A:after:0", guard, 1, "the expression is false"
        )
        assert m.fire_timer("A", "A:after:0", ctx) is first
        missing = m.fire_timer("A", "A:after:0", {})
        assert missing.metadata["guard_detail"] == "context key 'ready' is missing"
        assert m.fire_timer("A", "A:after:0", {"ready": 1}).target_state == "B"

    async def test_sync_and_async_drivers_share_a_rejection(self) -> None:
        m = desk({"trigger": "flip", "source": "B1", "dest": "B2", "guards": ["ok"]})
        r = m.process("P(r1=A1, r2=B1)", "flip")
        assert r.metadata["reason"] == "guard_rejected"
        assert await m.aprocess("P(r1=A1, r2=B1)", "flip") is r


class TestIndexCaches:
    """The compiled index is frozen; what the engine fills in on use is in ``index.caches``,
    and clearing it changes no outcome."""

    def test_the_index_and_its_caches_cannot_be_rebound(self) -> None:
        index = desk().index
        with pytest.raises(dataclasses.FrozenInstanceError):
            index.simple = False  # type: ignore[misc]
        with pytest.raises(dataclasses.FrozenInstanceError):
            index.caches.failures = {}  # type: ignore[misc]

    def test_clearing_the_caches_changes_no_outcome(self) -> None:
        m = desk(
            {"trigger": "enter", "source": "OUT", "dest": "P"},
            {"trigger": "flip", "source": "B1", "dest": "B2", "guards": ["ok"]},
        )
        calls = [
            ("OUT", "enter", None),
            ("OUT", "nope", None),
            ("P(r1=A1, r2=B1)", "go", None),
            ("P(r1=A1, r2=B1)", "flip", {"ok": False}),
            ("P(r1=A1, r2=B1)", "flip", {"ok": True}),
        ]
        before = [m.process(*call) for call in calls]
        caches = m.index.caches
        filled = ("table", "fast_table", "allowed", "configs", "settled", "results", "failures")
        assert all(getattr(caches, name) for name in filled)
        caches.clear()
        assert not any(getattr(caches, name) for name in filled)
        assert [m.process(*call) for call in calls] == before
        # The fast path holds the same dictionaries, filled again.
        assert m._failures is caches.failures
        assert len(caches.failures) == 2
