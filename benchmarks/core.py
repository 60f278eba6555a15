"""The PyStator adapter: every scenario through the public API only.

``process`` is stateless, so the guarded and hierarchical scenarios call
``machine.process(state, trigger, ctx)`` from the same state every time; the session and ring
scenarios keep state and move on every call, as the peers do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from benchmarks.library import Library, expect
from benchmarks.shapes import GUARD_NAME, Shape, has_quantity
from benchmarks.timing import Runner
from pystator import StateMachine


def definition_dict(shape: Shape) -> dict[str, Any]:
    """``shape`` as the plain data ``StateMachine.from_dict`` reads (as from YAML or JSON)."""
    states: list[dict[str, Any]] = []
    for state in shape.states:
        entry: dict[str, Any] = {"name": state.name}
        if state.parent is None and state.initial:
            entry["type"] = "initial"
        if state.parent is not None:
            entry["parent"] = state.parent
        child = shape.initial_child(state.name)
        if child is not None:
            entry["initial_child"] = child
        states.append(entry)
    transitions: list[dict[str, Any]] = []
    for t in shape.transitions:
        entry = {"trigger": t.trigger, "source": t.source, "dest": t.dest}
        if t.guarded:
            entry["guards"] = [GUARD_NAME]
        transitions.append(entry)
    return {
        "meta": {"machine_name": shape.name, "version": "1.0.0", "strict_mode": True},
        "states": states,
        "transitions": transitions,
    }


def build(shape: Shape) -> StateMachine:
    machine = StateMachine.from_dict(definition_dict(shape))
    if any(t.guarded for t in shape.transitions):
        machine.guard(GUARD_NAME)(has_quantity)
    return machine


class PyStator(Library):
    name = "pystator"
    distribution = "pystator"
    import_statement = "import pystator"

    def guarded_runner(self, shape: Shape, context: Mapping[str, Any]) -> Runner:
        machine = build(shape)
        process = machine.process
        source = shape.initial
        first = shape.transitions[0]
        result = process(source, first.trigger, context)
        expect(result.success and result.target_state == first.dest, f"unexpected {result!r}")

        trigger = first.trigger

        def run(n: int) -> None:
            for _ in range(n):
                process(source, trigger, context)

        return run

    def send_runner(self, shape: Shape) -> Runner:
        session = build(shape).create()
        send = session.send
        before = session.current_state
        send("go")
        expect(session.current_state != before, "session.send('go') did not change state")

        def run(n: int) -> None:
            for _ in range(n):
                send("go")

        return run

    def hierarchical_runner(self, shape: Shape) -> Runner:
        machine = build(shape)
        process = machine.process
        source = machine.get_initial_state()
        first = next(t for t in shape.transitions if t.source == source)
        result = process(source, first.trigger)
        expect(result.target_state == first.dest, f"unexpected {result!r}")
        expect(len(result.exited_states) == len(result.entered_states) == 3, repr(result))

        trigger = first.trigger

        def run(n: int) -> None:
            for _ in range(n):
                process(source, trigger)

        return run

    def ring_runner(self, shape: Shape) -> Runner:
        process = build(shape).process
        start = shape.initial
        expect(process(start, "t0").target_state == shape.transitions[0].dest, "ring broken")

        def run(n: int) -> None:
            state = start
            for _ in range(n):
                state = process(state, "t0").target_state  # type: ignore[assignment]

        return run

    def load_input(self, shape: Shape) -> Any:
        return definition_dict(shape)

    def load(self, data: Any) -> object:
        return StateMachine.from_dict(data)

    def entity_factory(self, shape: Shape, context: Mapping[str, Any]) -> Callable[[], object]:
        machine = build(shape)
        template = dict(context)
        session = machine.create(template)
        expect(session.context == template and session.context is not template, "no copy")
        return partial(machine.create, template)
