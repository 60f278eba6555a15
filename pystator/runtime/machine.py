"""``StateMachine``: the facade over the pure engine, with guards, actions and hooks bound.

``process`` and ``aprocess`` are the two tiny drivers of the one engine: they walk the
candidates the index gives for (state, trigger) and evaluate guards in order, fail-fast. The
only difference between them is ``await``. Neither runs an action; ``EntitySession`` and the
``Orchestrator`` do that after the state change is stored.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import time
from collections.abc import Callable, Mapping
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from pystator.engine import (
    CompiledGuard,
    MachineIndex,
    accept,
    compile_machine,
    no_transition,
    reject,
)
from pystator.errors import GuardEvaluationError, GuardNotFoundError, UndefinedStateError
from pystator.loaders import (
    definition_from_data,
    definition_to_dict,
    definition_to_json,
    definition_to_yaml,
    load_json_file,
    load_json_string,
    load_yaml_file,
    load_yaml_string,
)
from pystator.loaders.definition_io import PathLike
from pystator.models.checks import suggest
from pystator.models.definition import MachineDefinition, TransitionDefinition
from pystator.models.result import TransitionResult
from pystator.runtime.executor import ActionExecutor
from pystator.runtime.hooks import TransitionObserver
from pystator.runtime.registry import ActionRegistry, GuardRegistry

if TYPE_CHECKING:
    from pystator.runtime.session import EntitySession

F = TypeVar("F", bound=Callable[..., Any])
Context = Mapping[str, Any]
_EMPTY: Context = MappingProxyType({})


def _missing_guard(machine: StateMachine, guard: CompiledGuard) -> bool:
    """A named guard that is not registered: raise in strict mode, reject in lenient mode."""
    if machine._index.strict:
        raise GuardNotFoundError(
            f"guard '{guard.name}' is not registered on machine '{machine.name}'; register it "
            f"with @machine.guard('{guard.name}') or machine.bind_guards(registry)"
        )
    return False


def _not_a_bool(guard: CompiledGuard, value: Any) -> bool:
    if inspect.isawaitable(value):
        if inspect.iscoroutine(value):
            value.close()
        raise GuardEvaluationError(
            f"guard '{guard.label}' is async: use machine.aprocess() or session.asend()"
        )
    return bool(value)


class StateMachine:
    """A compiled machine: compute transitions with ``process``; create sessions with ``create``.

    Build one with ``from_yaml``, ``from_json``, ``from_dict`` or ``from_definition``. The
    machine holds no entity state: the same machine serves every entity and every thread.
    """

    def __init__(self, definition: MachineDefinition) -> None:
        self._definition = definition
        self._index: MachineIndex = compile_machine(definition)
        self.guard_registry = GuardRegistry()
        self.action_registry = ActionRegistry()
        self._guards = self.guard_registry._items
        self._executor: ActionExecutor | None = None
        self._observer: TransitionObserver | None = None
        self._session_class: type[EntitySession] | None = None

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_definition(cls, definition: MachineDefinition) -> StateMachine:
        """Wrap an already built ``MachineDefinition`` (for example one made in Python)."""
        if not isinstance(definition, MachineDefinition):
            raise TypeError(
                f"from_definition expects a MachineDefinition, got {type(definition).__name__}; "
                "use from_dict for plain data"
            )
        return cls(definition)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StateMachine:
        """Validate plain data (as in YAML/JSON) and compile it."""
        return cls(definition_from_data(data))

    @classmethod
    def from_yaml(cls, path: PathLike) -> StateMachine:
        """Read a YAML definition file (safely: no tags, aliases or duplicate keys)."""
        return cls(load_yaml_file(path))

    @classmethod
    def from_yaml_string(cls, text: str) -> StateMachine:
        """Parse a YAML definition held in a string."""
        return cls(load_yaml_string(text))

    @classmethod
    def from_json(cls, path: PathLike) -> StateMachine:
        """Read a JSON definition file."""
        return cls(load_json_file(path))

    @classmethod
    def from_json_string(cls, text: str | bytes) -> StateMachine:
        """Parse a JSON definition held in a string."""
        return cls(load_json_string(text))

    def to_dict(self) -> dict[str, Any]:
        """The definition as plain data; ``from_dict(m.to_dict())`` gives an equal machine."""
        return definition_to_dict(self._definition)

    def to_yaml(self) -> str:
        return definition_to_yaml(self._definition)

    def to_json(self, *, indent: int | None = 2) -> str:
        return definition_to_json(self._definition, indent=indent)

    # ----------------------------------------------------------------- identity
    @property
    def definition(self) -> MachineDefinition:
        """The canonical Pydantic model of this machine."""
        return self._definition

    @property
    def name(self) -> str:
        return self._definition.meta.machine_name

    @property
    def version(self) -> str:
        return self._definition.meta.version

    @property
    def meta(self) -> Mapping[str, Any]:
        """``meta`` as a read-only mapping (``machine.meta["strict_mode"]``)."""
        return MappingProxyType(self._definition.meta.model_dump())

    @property
    def strict_mode(self) -> bool:
        return self._index.strict

    @cached_property
    def definition_hash(self) -> str:
        """sha256 of the canonical JSON of the definition (snapshots carry it)."""
        canonical = json.dumps(
            self._definition.model_dump(mode="json"), sort_keys=True, separators=(",", ":")
        )
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def states(self) -> tuple[str, ...]:
        """Every state name, in document order."""
        return tuple(self._index.states)

    @property
    def triggers(self) -> tuple[str, ...]:
        """Every trigger name, in document order."""
        return tuple(dict.fromkeys(t.trigger for t in self._definition.transitions))

    def __repr__(self) -> str:
        return f"<StateMachine {self.name} v{self.version}: {len(self._index.states)} states>"

    # ----------------------------------------------------------------- guards and actions
    def guard(self, name: str | None = None) -> Callable[[F], F]:
        """Decorator registering a guard on this machine: ``@machine.guard("is_full_fill")``."""
        return self.guard_registry.decorator(name)

    def action(self, name: str | None = None) -> Callable[[F], F]:
        """Decorator registering an action on this machine: ``@machine.action("notify")``."""
        return self.action_registry.decorator(name)

    def bind_guards(self, registry: GuardRegistry) -> None:
        """Use ``registry`` for guards from now on (later registrations in it are seen).

        Guards registered on the machine before are copied into ``registry`` unless it has
        its own function under the same name.
        """
        if not isinstance(registry, GuardRegistry):
            raise TypeError(f"bind_guards expects a GuardRegistry, got {type(registry).__name__}")
        for name in self.guard_registry:
            if name not in registry:
                registry.register(name, self.guard_registry._items[name])
        self.guard_registry = registry
        self._guards = registry._items

    def bind_actions(self, registry: ActionRegistry) -> None:
        """Use ``registry`` for actions from now on (same rules as ``bind_guards``)."""
        if not isinstance(registry, ActionRegistry):
            raise TypeError(
                f"bind_actions expects an ActionRegistry, got {type(registry).__name__}"
            )
        for name in self.action_registry:
            if name not in registry:
                registry.register(name, self.action_registry._items[name])
        self.action_registry = registry
        self._executor = None

    @property
    def executor(self) -> ActionExecutor:
        """The ``ActionExecutor`` over this machine's action registry (used by sessions)."""
        executor = self._executor
        if executor is None or executor.registry is not self.action_registry:
            executor = self._executor = ActionExecutor(self.action_registry)
        return executor

    # ----------------------------------------------------------------- hooks
    @property
    def observer(self) -> TransitionObserver:
        """The observer whose hooks see every ``process`` call of this machine."""
        if self._observer is None:
            self._observer = TransitionObserver()
        return self._observer

    def add_hook(self, hook: Any) -> None:
        """Attach a hook (``LoggingHook``, ``MetricsCollector`` or your own)."""
        self.observer.add_hook(hook)

    # ----------------------------------------------------------------- processing
    def process(self, state: str, trigger: str, context: Context | None = None) -> TransitionResult:
        """Compute the next state and the actions to run; never runs them.

        Returns a failed result for every outcome caused by the event (guard rejected, no
        transition, terminal state); raises ``UndefinedStateError`` for an undefined ``state``
        and ``GuardNotFoundError`` for an unregistered guard in strict mode.
        """
        if self._observer:
            return self._observed(state, trigger, context)
        return self._select(state, trigger, _EMPTY if context is None else context)

    def _select(self, state: str, trigger: str, ctx: Context) -> TransitionResult:
        # The sync driver. Keep it flat: this is the hot path the benchmarks measure.
        index = self._index
        per_state = index.table.get(state)
        cands = per_state.get(trigger) if per_state is not None else None
        if cands is None:
            return no_transition(index, state, trigger)
        guards = self._guards
        first_no: CompiledGuard | None = None
        for cand in cands:
            for g in cand.guards:
                if g.evaluate is not None:
                    ok = g.evaluate(ctx)
                else:
                    fn = guards.get(g.name)  # type: ignore[arg-type]
                    if fn is None:
                        ok = _missing_guard(self, g)
                    else:
                        value = fn(ctx) if g.params is None else fn(ctx, **g.params)
                        ok = value if value is True or value is False else _not_a_bool(g, value)
                if not ok:
                    if first_no is None:
                        first_no = g
                    break
            else:
                result = cand.result
                return accept(index, cand) if result is None else result
        assert first_no is not None
        return reject(index, state, trigger, first_no, len(cands))

    async def aprocess(
        self, state: str, trigger: str, context: Context | None = None
    ) -> TransitionResult:
        """Like ``process``, awaiting guards that are async."""
        ctx = _EMPTY if context is None else context
        observer = self._observer
        if not observer:
            return await self._aselect(state, trigger, ctx)
        observer.before_process(state, trigger, ctx)
        started = time.perf_counter()
        try:
            result = await self._aselect(state, trigger, ctx)
        except Exception as exc:
            observer.transition_error(state, trigger, exc, (time.perf_counter() - started) * 1e3)
            raise
        self._notify(observer, result, started)
        return result

    async def _aselect(self, state: str, trigger: str, ctx: Context) -> TransitionResult:
        # The async driver: the same walk as ``_select``, awaiting awaitable guard values.
        index = self._index
        per_state = index.table.get(state)
        cands = per_state.get(trigger) if per_state is not None else None
        if cands is None:
            return no_transition(index, state, trigger)
        guards = self._guards
        first_no: CompiledGuard | None = None
        for cand in cands:
            for g in cand.guards:
                if g.evaluate is not None:
                    ok = g.evaluate(ctx)
                else:
                    fn = guards.get(g.name)  # type: ignore[arg-type]
                    if fn is None:
                        ok = _missing_guard(self, g)
                    else:
                        value = fn(ctx) if g.params is None else fn(ctx, **g.params)
                        if inspect.isawaitable(value):
                            value = await value
                        ok = bool(value)
                if not ok:
                    if first_no is None:
                        first_no = g
                    break
            else:
                result = cand.result
                return accept(index, cand) if result is None else result
        assert first_no is not None
        return reject(index, state, trigger, first_no, len(cands))

    def _observed(self, state: str, trigger: str, context: Context | None) -> TransitionResult:
        observer = self._observer
        assert observer is not None
        ctx = _EMPTY if context is None else context
        observer.before_process(state, trigger, ctx)
        started = time.perf_counter()
        try:
            result = self._select(state, trigger, ctx)
        except Exception as exc:
            observer.transition_error(state, trigger, exc, (time.perf_counter() - started) * 1e3)
            raise
        self._notify(observer, result, started)
        return result

    @staticmethod
    def _notify(observer: TransitionObserver, result: TransitionResult, started: float) -> None:
        if result.success and "reason" not in result.metadata:
            observer.transition_start(result)
        observer.transition_complete(result, (time.perf_counter() - started) * 1e3)

    # ----------------------------------------------------------------- queries
    def get_initial_state(self) -> str:
        """The (leaf) state a new entity starts in."""
        return self._index.initial_state

    def _node(self, state: str) -> Any:
        node = self._index.states.get(state)
        if node is None:
            raise UndefinedStateError(
                f"state '{state}' is not defined in machine '{self.name}'"
                f"{suggest(state, self._index.states)}"
            )
        return node

    def get_available_transitions(self, state: str) -> list[TransitionDefinition]:
        """Transitions that may fire from ``state`` (its own, then its ancestors'), in
        selection order, ignoring guards."""
        self._node(state)
        per_state = self._index.table.get(state, {})
        ordered = sorted(
            (c for cands in per_state.values() for c in cands),
            key=lambda c: (
                (self._index.states[c.state].ancestors.index(c.source) + 1)
                if c.source != c.state
                else 0
            ),
        )
        seen: set[int] = set()
        out: list[TransitionDefinition] = []
        for cand in ordered:
            if cand.index not in seen:
                seen.add(cand.index)
                out.append(cand.transition)
        return out

    def get_triggers(self, state: str) -> list[str]:
        """Trigger names with at least one transition from ``state`` (guards ignored)."""
        self._node(state)
        return list(self._index.allowed.get(state, ()))

    def is_terminal(self, state: str) -> bool:
        """True for a top-level terminal state: no event leaves it."""
        return bool(self._node(state).is_final)

    def resolve_state(self, state: str) -> str:
        """The leaf entered when ``state`` is entered: compound states descend to their
        initial child."""
        self._node(state)
        from pystator.engine.index import default_entry

        path = default_entry(self._index.states, state)
        return path[-1] if path else state

    # ----------------------------------------------------------------- sessions
    def create(
        self, context: Mapping[str, Any] | None = None, initial_state: str | None = None
    ) -> EntitySession:
        """A new ``EntitySession`` in ``initial_state`` (default: the machine's initial state)."""
        from pystator.runtime.session import session_class

        cls = self._session_class
        if cls is None:
            cls = self._session_class = session_class(self)
        state = (
            self._index.initial_state
            if initial_state is None
            else self.resolve_state(initial_state)
        )
        return cls(self, state, dict(context) if context else {})
