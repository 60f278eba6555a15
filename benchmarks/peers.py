"""Adapters for the peers: transitions, python-statemachine and sismic.

Each peer is used the way its documentation shows, configured for its best speed where that
does not change the scenario (transitions without ``auto_transitions``, which would add a
``to_<state>`` trigger per state and model). The peers are stateful: an event moves the entity,
so the guarded, hierarchical and region scenarios run on toggles (``A <-> B``, ``L1 <-> L2``,
``A1 <-> A2``) where every event fires the transition being measured. Entering and leaving the
parallel state cannot be repeated on one entity without the opposite transition, so those two
scenarios are ``Batch``es: ``n`` entities brought to the source state beforehand (not timed),
then one event to each.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from benchmarks.library import Library, NotExpressible, distribution_version, expect
from benchmarks.shapes import ENTER, GUARD_NAME, LEAVE, Shape, has_quantity
from benchmarks.timing import Batch, Runner


def _is_nested(shape: Shape) -> bool:
    return any(s.parent is not None for s in shape.states)


class _Entity:
    """The per-entity model object that transitions attaches its triggers and state to."""

    def __init__(self, context: Mapping[str, Any] | None = None) -> None:
        self.context = dict(context) if context else {}


def _call_each(calls: list[Callable[[], object]]) -> None:
    """The timed half of a peer's ``Batch``: one prepared event per entity."""
    for call in calls:
        call()


# --------------------------------------------------------------------------- transitions
class Transitions(Library):
    name = "transitions"
    distribution = "transitions"
    import_statement = "import transitions, transitions.extensions.nesting"

    @staticmethod
    def _states(shape: Shape, parent: str | None = None) -> list[Any]:
        """Flat: names. Nested: HierarchicalMachine's tree of ``{name, children, initial}``."""
        out: list[Any] = []
        for state in shape.children(parent):
            kids = Transitions._states(shape, state.name)
            if state.parallel:
                out.append({"name": state.name, "parallel": kids})
            elif kids:
                out.append(
                    {
                        "name": state.name,
                        "children": kids,
                        "initial": shape.initial_child(state.name),
                    }
                )
            else:
                out.append(state.name)
        return out

    @staticmethod
    def _state_id(shape: Shape, name: str) -> str:
        # HierarchicalMachine names a nested state by its path joined with "_".
        return "_".join(shape.path(name)) if _is_nested(shape) else name

    def load_input(self, shape: Shape) -> Any:
        transitions: list[dict[str, Any]] = []
        for t in shape.transitions:
            entry: dict[str, Any] = {
                "trigger": t.trigger,
                "source": self._state_id(shape, t.source),
                "dest": self._state_id(shape, t.dest),
            }
            if t.guarded:
                entry["conditions"] = [has_quantity]
            transitions.append(entry)
        return {
            "states": self._states(shape),
            "transitions": transitions,
            "initial": shape.initial,
            "auto_transitions": False,
        }

    def load(self, data: Any, model: object = "self") -> object:
        from transitions import Machine
        from transitions.extensions.nesting import HierarchicalMachine

        nested = any(isinstance(s, dict) for s in data["states"])
        cls = HierarchicalMachine if nested else Machine
        return cls(model=model, **data)

    def _model(self, shape: Shape) -> Any:
        model = _Entity()
        self.load(self.load_input(shape), model)
        return model

    def guarded_runner(self, shape: Shape, context: Mapping[str, Any]) -> Runner:
        model = self._model(shape)
        go = model.go
        expect(go(context) and model.state == shape.transitions[0].dest, "guarded go failed")

        def run(n: int) -> None:
            for _ in range(n):
                go(context)

        return run

    def send_runner(self, shape: Shape) -> Runner:
        model = self._model(shape)
        go = model.go
        expect(go() and model.state != shape.initial, "go did not change state")

        def run(n: int) -> None:
            for _ in range(n):
                go()

        return run

    def hierarchical_runner(self, shape: Shape) -> Runner:
        model = self._model(shape)
        go = model.go
        first = shape.transitions[0]
        expect(model.state == self._state_id(shape, first.source), f"starts in {model.state}")
        go()
        expect(model.state == self._state_id(shape, first.dest), f"went to {model.state}")

        def run(n: int) -> None:
            for _ in range(n):
                go()

        return run

    def ring_runner(self, shape: Shape) -> Runner:
        model = self._model(shape)
        t0 = model.t0
        t0()
        expect(model.state == shape.transitions[0].dest, f"t0 went to {model.state}")

        def run(n: int) -> None:
            for _ in range(n):
                t0()

        return run

    def _ids(self, shape: Shape, leaves: list[str]) -> list[str]:
        return [self._state_id(shape, leaf) for leaf in leaves]

    def region_runner(self, shape: Shape) -> Runner:
        model = self._model(shape)
        leaves = shape.default_leaves(shape.parallel_state)
        getattr(model, ENTER)()
        expect(model.state == self._ids(shape, leaves), f"entered {model.state}")
        go = model.go
        move = next(t for t in shape.transitions if t.trigger == "go" and t.source in leaves)
        go()
        moved = [move.dest if leaf == move.source else leaf for leaf in leaves]
        expect(model.state == self._ids(shape, moved), f"went to {model.state}")

        def run(n: int) -> None:
            for _ in range(n):
                go()

        return run

    def _entities(self, shape: Shape, n: int, *triggers: str) -> list[Any]:
        # A fresh machine per batch (add_model slows as models accumulate), each entity sent
        # ``triggers`` to bring it to the batch's source state.
        machine: Any = self.load(self.load_input(shape), None)
        models = [_Entity() for _ in range(n)]
        machine.add_model(models)
        for model in models:
            for trigger in triggers:
                getattr(model, trigger)()
        return models

    def _boundary_batch(self, shape: Shape, trigger: str, *before: str) -> Batch:
        inside = self._ids(shape, shape.default_leaves(shape.parallel_state))
        model = self._entities(shape, 1, *before)[0]
        getattr(model, trigger)()
        expect(model.state == (inside if trigger == ENTER else shape.initial), f"{model.state}")

        def prepare(n: int) -> list[Callable[[], object]]:
            return [getattr(m, trigger) for m in self._entities(shape, n, *before)]

        return prepare, _call_each

    def enter_runner(self, shape: Shape) -> Batch:
        return self._boundary_batch(shape, ENTER)

    def exit_runner(self, shape: Shape) -> Batch:
        return self._boundary_batch(shape, LEAVE, ENTER)

    def round_trip_runner(self, shape: Shape) -> Runner:
        model = self._model(shape)
        enter, leave = getattr(model, ENTER), getattr(model, LEAVE)
        enter()
        inside = self._ids(shape, shape.default_leaves(shape.parallel_state))
        expect(model.state == inside, f"entered {model.state}")
        leave()
        expect(model.state == shape.initial, f"left to {model.state}")

        def run(n: int) -> None:
            for _ in range(n):
                enter()
                leave()

        return run

    def entity_factory(self, shape: Shape, context: Mapping[str, Any]) -> Callable[[], object]:
        # One shared machine; each entity is a model registered on it (the light way).
        machine: Any = self.load(self.load_input(shape), None)
        template = dict(context)

        def make() -> object:
            entity = _Entity(template)
            machine.add_model(entity)
            return entity

        expect(getattr(make(), "state", None) == shape.initial, "model not in initial state")
        return make


# --------------------------------------------------------------------------- python-statemachine
class PythonStatemachine(Library):
    name = "python-statemachine"
    distribution = "python-statemachine"
    import_statement = "import statemachine, statemachine.io"

    @staticmethod
    def _states(shape: Shape, parent: str | None = None) -> dict[str, Any]:
        first_child = shape.initial_child(parent) if parent is not None else shape.initial
        out: dict[str, Any] = {}
        for state in shape.children(parent):
            spec: dict[str, Any] = {}
            if state.name == first_child and not shape.is_parallel(parent):
                spec["initial"] = True
            if state.parallel:
                spec["parallel"] = True
            kids = PythonStatemachine._states(shape, state.name)
            if kids:
                spec["states"] = kids
            events: dict[str, list[dict[str, Any]]] = {}
            for t in shape.outgoing.get(state.name, ()):
                entry: dict[str, Any] = {"target": t.dest}
                if t.guarded:
                    entry["cond"] = has_quantity
                events.setdefault(t.trigger, []).append(entry)
            if events:
                spec["on"] = events
            out[state.name] = spec
        return out

    def load_input(self, shape: Shape) -> Any:
        return {"name": f"{shape.name.title()}Chart", "states": self._states(shape)}

    def load(self, data: Any) -> object:
        from statemachine.io import create_machine_class_from_definition

        return create_machine_class_from_definition(data["name"], states=data["states"])

    def _instance(self, shape: Shape) -> Any:
        cls: Any = self.load(self.load_input(shape))
        return cls()

    @staticmethod
    def _active(sm: Any) -> set[str]:
        return {state.id for state in sm.configuration}

    def guarded_runner(self, shape: Shape, context: Mapping[str, Any]) -> Runner:
        sm = self._instance(shape)
        send = sm.send
        send("go", ctx=context)
        expect(shape.transitions[0].dest in self._active(sm), f"in {self._active(sm)}")

        def run(n: int) -> None:
            for _ in range(n):
                send("go", ctx=context)

        return run

    def send_runner(self, shape: Shape) -> Runner:
        sm = self._instance(shape)
        send = sm.send
        send("go")
        expect(shape.initial not in self._active(sm), "go did not change state")

        def run(n: int) -> None:
            for _ in range(n):
                send("go")

        return run

    def hierarchical_runner(self, shape: Shape) -> Runner:
        sm = self._instance(shape)
        send = sm.send
        first = shape.transitions[0]
        expect(self._active(sm) == set(shape.path(first.source)), f"in {self._active(sm)}")
        send("go")
        expect(self._active(sm) == set(shape.path(first.dest)), f"in {self._active(sm)}")

        def run(n: int) -> None:
            for _ in range(n):
                send("go")

        return run

    def ring_runner(self, shape: Shape) -> Runner:
        sm = self._instance(shape)
        send = sm.send
        send("t0")
        expect(self._active(sm) == {shape.transitions[0].dest}, f"in {self._active(sm)}")

        def run(n: int) -> None:
            for _ in range(n):
                send("t0")

        return run

    @staticmethod
    def _supports_parallel() -> None:
        from statemachine import State

        if "parallel" not in inspect.signature(State.__init__).parameters:
            version = distribution_version("python-statemachine")
            raise NotExpressible(f"python-statemachine {version} has no parallel states")

    def region_runner(self, shape: Shape) -> Runner:
        self._supports_parallel()
        sm = self._instance(shape)
        send = sm.send
        leaves = shape.default_leaves(shape.parallel_state)
        send(ENTER)
        expect(self._active(sm) == shape.active(leaves), f"entered {self._active(sm)}")
        move = next(t for t in shape.transitions if t.trigger == "go" and t.source in leaves)
        send("go")
        moved = [move.dest if leaf == move.source else leaf for leaf in leaves]
        expect(self._active(sm) == shape.active(moved), f"in {self._active(sm)}")

        def run(n: int) -> None:
            for _ in range(n):
                send("go")

        return run

    def _boundary_batch(self, shape: Shape, trigger: str, *before: str) -> Batch:
        self._supports_parallel()
        cls: Any = self.load(self.load_input(shape))
        inside = shape.active(shape.default_leaves(shape.parallel_state))

        def entities(n: int) -> list[Any]:
            machines = [cls() for _ in range(n)]
            for sm in machines:
                for event in before:
                    sm.send(event)
            return machines

        sm = entities(1)[0]
        sm.send(trigger)
        expected = inside if trigger == ENTER else {shape.initial}
        expect(self._active(sm) == expected, f"in {self._active(sm)}")

        def prepare(n: int) -> list[Callable[[], object]]:
            return [partial(m.send, trigger) for m in entities(n)]

        return prepare, _call_each

    def enter_runner(self, shape: Shape) -> Batch:
        return self._boundary_batch(shape, ENTER)

    def exit_runner(self, shape: Shape) -> Batch:
        return self._boundary_batch(shape, LEAVE, ENTER)

    def round_trip_runner(self, shape: Shape) -> Runner:
        self._supports_parallel()
        sm = self._instance(shape)
        send = sm.send
        send(ENTER)
        inside = shape.active(shape.default_leaves(shape.parallel_state))
        expect(self._active(sm) == inside, f"entered {self._active(sm)}")
        send(LEAVE)
        expect(self._active(sm) == {shape.initial}, f"left to {self._active(sm)}")

        def run(n: int) -> None:
            for _ in range(n):
                send(ENTER)
                send(LEAVE)

        return run

    def entity_factory(self, shape: Shape, context: Mapping[str, Any]) -> Callable[[], object]:
        # Each entity is an instance of the generated StateChart class, carrying its context.
        cls: Any = self.load(self.load_input(shape))
        template = dict(context)

        def make() -> object:
            sm = cls()
            sm.context = dict(template)
            return sm

        expect(self._active(make()) == {shape.initial}, "not in the initial state")
        return make


# --------------------------------------------------------------------------- sismic
_SISMIC_ROOT = "sismic_root"


class Sismic(Library):
    name = "sismic"
    distribution = "sismic"
    import_statement = "import sismic.interpreter, sismic.io.datadict"

    @staticmethod
    def _state(shape: Shape, name: str) -> dict[str, Any]:
        spec: dict[str, Any] = {"name": name}
        kids = shape.children(name if name != _SISMIC_ROOT else None)
        if kids and shape.is_parallel(name):
            spec["parallel states"] = [Sismic._state(shape, k.name) for k in kids]
        elif kids:
            spec["states"] = [Sismic._state(shape, k.name) for k in kids]
            spec["initial"] = shape.initial if name == _SISMIC_ROOT else shape.initial_child(name)
        transitions = []
        for t in shape.outgoing.get(name, ()):
            entry = {"event": t.trigger, "target": t.dest}
            if t.guarded:
                # A named Python function put in the interpreter's context.
                entry["guard"] = f"{GUARD_NAME}(event.ctx)"
            transitions.append(entry)
        if transitions:
            spec["transitions"] = transitions
        return spec

    def load_input(self, shape: Shape) -> Any:
        return {"statechart": {"name": shape.name, "root state": self._state(shape, _SISMIC_ROOT)}}

    def load(self, data: Any) -> object:
        from sismic.io.datadict import import_from_dict  # type: ignore[import-untyped]

        return import_from_dict(data)

    def _interpreter(self, shape: Shape, context: Mapping[str, Any] | None = None) -> Any:
        from sismic.interpreter import Interpreter  # type: ignore[import-untyped]

        interpreter = Interpreter(self.load(self.load_input(shape)), initial_context=context)
        interpreter.execute_once()  # enters the initial configuration
        return interpreter

    def _runner(self, interpreter: Any, trigger: str, **params: Any) -> Runner:
        queue = interpreter.queue
        execute_once = interpreter.execute_once

        def run(n: int) -> None:
            for _ in range(n):
                queue(trigger, **params)
                execute_once()

        return run

    def guarded_runner(self, shape: Shape, context: Mapping[str, Any]) -> Runner:
        interpreter = self._interpreter(shape, {GUARD_NAME: has_quantity})
        run = self._runner(interpreter, "go", ctx=context)
        run(1)
        dest = shape.transitions[0].dest
        expect(dest in interpreter.configuration, f"in {interpreter.configuration}")
        return run

    def send_runner(self, shape: Shape) -> Runner:
        interpreter = self._interpreter(shape)
        run = self._runner(interpreter, "go")
        run(1)
        expect(shape.initial not in interpreter.configuration, "go did not change state")
        return run

    def hierarchical_runner(self, shape: Shape) -> Runner:
        interpreter = self._interpreter(shape)
        run = self._runner(interpreter, "go")
        first = shape.transitions[0]
        expect(first.source in interpreter.configuration, f"in {interpreter.configuration}")
        run(1)
        expected = {_SISMIC_ROOT, *shape.path(first.dest)}
        expect(set(interpreter.configuration) == expected, f"in {interpreter.configuration}")
        return run

    def ring_runner(self, shape: Shape) -> Runner:
        interpreter = self._interpreter(shape)
        run = self._runner(interpreter, "t0")
        run(1)
        dest = shape.transitions[0].dest
        expect(dest in interpreter.configuration, f"in {interpreter.configuration}")
        return run

    def region_runner(self, shape: Shape) -> Runner:
        interpreter = self._interpreter(shape)
        leaves = shape.default_leaves(shape.parallel_state)
        self._runner(interpreter, ENTER)(1)
        expected = {_SISMIC_ROOT, *shape.active(leaves)}
        expect(set(interpreter.configuration) == expected, f"in {interpreter.configuration}")
        run = self._runner(interpreter, "go")
        run(1)
        move = next(t for t in shape.transitions if t.trigger == "go" and t.source in leaves)
        moved = [move.dest if leaf == move.source else leaf for leaf in leaves]
        expected = {_SISMIC_ROOT, *shape.active(moved)}
        expect(set(interpreter.configuration) == expected, f"in {interpreter.configuration}")
        return run

    def _boundary_batch(self, shape: Shape, trigger: str, *before: str) -> Batch:
        from sismic.interpreter import Interpreter

        statechart = self.load(self.load_input(shape))
        inside = shape.active(shape.default_leaves(shape.parallel_state))

        def entities(n: int) -> list[Any]:
            interpreters = [Interpreter(statechart) for _ in range(n)]
            for interpreter in interpreters:
                interpreter.execute_once()  # enters the initial configuration
                for event in before:
                    interpreter.queue(event)
                    interpreter.execute_once()
            return interpreters

        interpreter = entities(1)[0]
        interpreter.queue(trigger)
        interpreter.execute_once()
        expected = {_SISMIC_ROOT, *(inside if trigger == ENTER else {shape.initial})}
        expect(set(interpreter.configuration) == expected, f"in {interpreter.configuration}")

        def prepare(n: int) -> list[tuple[Callable[..., object], Callable[[], object]]]:
            return [(i.queue, i.execute_once) for i in entities(n)]

        def run(prepared: list[tuple[Callable[..., object], Callable[[], object]]]) -> None:
            for queue, execute_once in prepared:
                queue(trigger)
                execute_once()

        return prepare, run

    def enter_runner(self, shape: Shape) -> Batch:
        return self._boundary_batch(shape, ENTER)

    def exit_runner(self, shape: Shape) -> Batch:
        return self._boundary_batch(shape, LEAVE, ENTER)

    def round_trip_runner(self, shape: Shape) -> Runner:
        interpreter = self._interpreter(shape)
        enter, leave = self._runner(interpreter, ENTER), self._runner(interpreter, LEAVE)
        enter(1)
        inside = {_SISMIC_ROOT, *shape.active(shape.default_leaves(shape.parallel_state))}
        expect(set(interpreter.configuration) == inside, f"in {interpreter.configuration}")
        leave(1)
        outside = {_SISMIC_ROOT, shape.initial}
        expect(set(interpreter.configuration) == outside, f"in {interpreter.configuration}")
        queue, execute_once = interpreter.queue, interpreter.execute_once

        def run(n: int) -> None:
            for _ in range(n):
                queue(ENTER)
                execute_once()
                queue(LEAVE)
                execute_once()

        return run

    def entity_factory(self, shape: Shape, context: Mapping[str, Any]) -> Callable[[], object]:
        # Each entity is an Interpreter (sismic keeps the configuration there), entered.
        from sismic.interpreter import Interpreter

        statechart = self.load(self.load_input(shape))
        template = dict(context)

        def make() -> object:
            interpreter = Interpreter(statechart, initial_context=dict(template))
            interpreter.execute_once()
            return interpreter

        expect(shape.initial in getattr(make(), "configuration", ()), "not entered")
        return make


PEERS: tuple[type[Library], ...] = (Transitions, PythonStatemachine, Sismic)

__all__ = ["PEERS", "PythonStatemachine", "Sismic", "Transitions"]
