"""The PyStator adapter: every scenario through the public API only.

``process`` is stateless, so the guarded, hierarchical and parallel scenarios call
``machine.process(state, trigger, ctx)`` from the same state (or configuration string) every
time; the session and ring scenarios keep state and move on every call, as the peers do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from benchmarks.library import Library, expect
from benchmarks.shapes import ENTER, GUARD_NAME, LEAVE, Shape, StateShape, has_quantity
from benchmarks.timing import Runner
from pystator import StateMachine


def _state_entry(shape: Shape, state: StateShape) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": state.name}
    if state.parent is None and state.initial:
        entry["type"] = "initial"
    if state.terminal:
        entry["type"] = "terminal"
    if state.parallel:
        # Each region lists its direct children; deeper states join them with ``parent``.
        entry["type"] = "parallel"
        entry["regions"] = [
            {
                "name": region.name,
                "initial": shape.initial_child(region.name),
                "states": [_state_entry(shape, kid) for kid in shape.children(region.name)],
            }
            for region in shape.children(state.name)
        ]
        return entry
    child = shape.initial_child(state.name)
    if child is not None:
        entry["initial_child"] = child
    return entry


def definition_dict(shape: Shape) -> dict[str, Any]:
    """``shape`` as the plain data ``StateMachine.from_dict`` reads (as from YAML or JSON)."""
    regions = {s.name for s in shape.states if shape.is_parallel(s.parent)}
    states: list[dict[str, Any]] = []
    for state in shape.states:
        if state.name in regions or state.parent in regions:
            continue  # written inside its parallel state's ``regions``
        entry = _state_entry(shape, state)
        if state.parent is not None:
            entry["parent"] = state.parent
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


def configuration_string(shape: Shape, leaves: list[str]) -> str:
    """PyStator's string form of the configuration whose active leaves are ``leaves``
    (``P(r1=A1, r2=B1, r3=C1)``; a plain leaf is its own name)."""
    active = shape.active(leaves)

    def below(name: str) -> str:
        kids = shape.children(name)
        if shape.is_parallel(name):
            return f"{name}(" + ", ".join(f"{r.name}={below(r.name)}" for r in kids) + ")"
        child = next((k.name for k in kids if k.name in active), None)
        return name if child is None else below(child)

    return below(next(s.name for s in shape.children(None) if s.name in active))


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

    def region_runner(self, shape: Shape) -> Runner:
        process = build(shape).process
        leaves = shape.default_leaves(shape.parallel_state)
        source = configuration_string(shape, leaves)
        move = next(t for t in shape.transitions if t.trigger == "go" and t.source in leaves)
        moved = [move.dest if leaf == move.source else leaf for leaf in leaves]
        result = process(source, "go")
        expect(result.target_state == configuration_string(shape, moved), f"unexpected {result!r}")
        expect(
            result.exited_states == (move.source,) and result.entered_states == (move.dest,),
            f"more than region {shape.path(move.source)[-2]} moved: {result!r}",
        )

        def run(n: int) -> None:
            for _ in range(n):
                process(source, "go")

        return run

    def parallel_api_runner(self, shape: Shape) -> Runner:
        """Row 8b: row 8's event through the seed's parallel API, ``process_parallel`` on the
        ``ParallelStateConfig`` that ``enter_parallel_state`` gives (stateless, as row 8)."""
        machine = build(shape)
        process_parallel = machine.process_parallel
        config = machine.enter_parallel_state(shape.parallel_state)
        leaves = shape.default_leaves(shape.parallel_state)
        expect(str(config) == configuration_string(shape, leaves), f"unexpected {config!r}")
        moved, (result,) = process_parallel(config, "go")
        expect(
            str(moved) == machine.process(str(config), "go").target_state,
            f"process_parallel and process disagree: {moved!r}, {result!r}",
        )

        def run(n: int) -> None:
            for _ in range(n):
                process_parallel(config, "go")

        return run

    @staticmethod
    def _boundary(machine: StateMachine, shape: Shape, trigger: str) -> str:
        """The source of ``trigger`` (``enter`` or ``leave``), once checked that it crosses
        every region of the parallel state."""
        leaves = shape.default_leaves(shape.parallel_state)
        inside, outside = configuration_string(shape, leaves), shape.initial
        source, dest = (outside, inside) if trigger == ENTER else (inside, outside)
        result = machine.process(source, trigger)
        expect(result.target_state == dest, f"unexpected {result!r}")
        crossed = result.entered_states if trigger == ENTER else result.exited_states
        expect(set(crossed) == shape.active(leaves), f"not every region crossed: {result!r}")
        return source

    def _boundary_runner(self, shape: Shape, trigger: str) -> Runner:
        # process is stateless: the same boundary transition from the same state every call.
        machine = build(shape)
        process, source = machine.process, self._boundary(machine, shape, trigger)

        def run(n: int) -> None:
            for _ in range(n):
                process(source, trigger)

        return run

    def enter_runner(self, shape: Shape) -> Runner:
        return self._boundary_runner(shape, ENTER)

    def exit_runner(self, shape: Shape) -> Runner:
        return self._boundary_runner(shape, LEAVE)

    def round_trip_runner(self, shape: Shape) -> Runner:
        machine = build(shape)
        process = machine.process
        outside, inside = (self._boundary(machine, shape, t) for t in (ENTER, LEAVE))

        def run(n: int) -> None:
            for _ in range(n):
                process(outside, ENTER)
                process(inside, LEAVE)

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
