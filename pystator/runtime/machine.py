"""``StateMachine``: the facade over the pure engine, with guards, actions and hooks bound.

``process`` and ``aprocess`` are the two tiny drivers of the one engine: they walk the
candidates the index gives for (state, trigger) and evaluate guards in order, fail-fast. The
only difference between them is ``await``. Neither runs an action; ``EntitySession`` and the
``Orchestrator`` do that after the state change is stored.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from pystator.engine import (
    CompiledGuard,
    GuardStep,
    History,
    MachineIndex,
    Rejection,
    accept,
    allowed_triggers,
    configuration,
    context_invalid,
    entry_configuration,
    macrostep,
    no_transition,
    reject,
    state_table,
)
from pystator.engine import start as engine_start
from pystator.errors import (
    GuardEvaluationError,
    GuardNotFoundError,
    UndefinedStateError,
)
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
from pystator.models.config import ParallelStateConfig
from pystator.models.definition import MachineDefinition, TransitionDefinition
from pystator.models.result import TransitionResult
from pystator.runtime.clock import Clock
from pystator.runtime.contract import ContextContract
from pystator.runtime.executor import ActionExecutor
from pystator.runtime.hooks import TransitionObserver
from pystator.runtime.registry import ActionRegistry, GuardRegistry
from pystator.runtime.session import new_session
from pystator.runtime.validation import check_machine

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


def _why_not(guard: CompiledGuard, ctx: Context) -> str | None:
    """Why an ``expr`` guard said no, when it can tell (a missing context key)."""
    explain = getattr(guard.evaluate, "explain", None)
    if explain is None:
        return None
    detail: str | None = explain(ctx)
    return detail


def _rejection(guard: CompiledGuard, ctx: Context) -> bool | Rejection:
    detail = _why_not(guard, ctx)
    return Rejection(detail) if detail else False


class StateMachine:
    """A compiled machine: compute transitions with ``process``; create sessions with ``create``.

    Build one with ``from_yaml``, ``from_json``, ``from_dict`` or ``from_definition``. The
    machine holds no entity state: the same machine serves every entity and every thread.
    """

    def __init__(
        self, definition: MachineDefinition, *, context_model: type[BaseModel] | None = None
    ) -> None:
        self._definition = definition
        # The checks every way of loading a machine shares (pystator validate, the API, the
        # machines directory): what one accepts, all accept.
        checked = check_machine(definition, context_model=context_model)
        self._index: MachineIndex = checked.index
        self._contract: ContextContract | None = checked.contract
        self.guard_registry = GuardRegistry()
        self.action_registry = ActionRegistry()
        self._guards = self.guard_registry._items
        self._executor: ActionExecutor | None = None
        self._observer: TransitionObserver | None = None
        self._session_class: type[EntitySession] | None = None

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_definition(
        cls, definition: MachineDefinition, *, context_model: type[BaseModel] | None = None
    ) -> StateMachine:
        """Wrap an already built ``MachineDefinition`` (for example one made in Python)."""
        if not isinstance(definition, MachineDefinition):
            raise TypeError(
                f"from_definition expects a MachineDefinition, got {type(definition).__name__}; "
                "use from_dict for plain data"
            )
        return cls(definition, context_model=context_model)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, context_model: type[BaseModel] | None = None
    ) -> StateMachine:
        """Validate plain data (as in YAML/JSON) and compile it."""
        return cls(definition_from_data(data), context_model=context_model)

    @classmethod
    def from_yaml(
        cls, path: PathLike, *, context_model: type[BaseModel] | None = None
    ) -> StateMachine:
        """Read a YAML definition file (safely: no tags, aliases or duplicate keys).

        ``context_model``: a Pydantic model class the context must satisfy (enables the
        context check in ``process``, sessions and the orchestrator).
        """
        return cls(load_yaml_file(path), context_model=context_model)

    @classmethod
    def from_yaml_string(
        cls, text: str, *, context_model: type[BaseModel] | None = None
    ) -> StateMachine:
        """Parse a YAML definition held in a string."""
        return cls(load_yaml_string(text), context_model=context_model)

    @classmethod
    def from_json(
        cls, path: PathLike, *, context_model: type[BaseModel] | None = None
    ) -> StateMachine:
        """Read a JSON definition file."""
        return cls(load_json_file(path), context_model=context_model)

    @classmethod
    def from_json_string(
        cls, text: str | bytes, *, context_model: type[BaseModel] | None = None
    ) -> StateMachine:
        """Parse a JSON definition held in a string."""
        return cls(load_json_string(text), context_model=context_model)

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
        import hashlib  # only snapshots need these two: not imported with pystator
        import json

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
        return tuple(
            dict.fromkeys(t.trigger for t in self._definition.transitions if t.trigger is not None)
        )

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
    def process(
        self,
        state: str,
        trigger: str,
        context: Context | None = None,
        *,
        history: History | None = None,
    ) -> TransitionResult:
        """Compute the next state and the actions to run; never runs them.

        ``state`` is a state name or a configuration string (``"P(r1=A, r2=B)"``).
        ``history`` is the entity's history memory (machines with history states; the
        result's ``history`` is the updated memory). Returns a failed result for every
        outcome caused by the event (guard rejected, no transition, terminal state); raises
        ``UndefinedStateError`` for an undefined ``state`` and ``GuardNotFoundError`` for an
        unregistered guard in strict mode.
        """
        if self._observer:
            return self._observed(state, trigger, context, history)
        return self._select(state, trigger, _EMPTY if context is None else context, history)

    def _select(
        self, state: str, trigger: str, ctx: Context, history: History | None = None
    ) -> TransitionResult:
        # The sync driver. The first half is the fast path the benchmarks measure: a plain
        # state of a machine whose results can be built once.
        if self._contract is not None:
            invalid = self.check_context(state, trigger, ctx)
            if invalid is not None:
                return invalid
        index = self._index
        per_state = index.fast_table.get(state)
        if per_state is None:
            # A parallel configuration's step that read no guard is built once, then shared.
            settled = index.settled.get((state, trigger))
            if settled is not None:
                return settled
            if state_table(index, state) is None or state not in index.fast_table:
                return self._drive(macrostep(index, state, trigger, history), ctx)
            per_state = index.fast_table[state]
        cands = per_state.get(trigger)
        if cands is None:
            return no_transition(index, state, trigger)
        guards = self._guards
        first_no: CompiledGuard | None = None
        detail: str | None = None
        for cand in cands:
            for g in cand.guards:
                why: str | None = None
                if g.evaluate is None:
                    fn = guards.get(g.name)  # type: ignore[arg-type]
                    if fn is None:
                        ok = _missing_guard(self, g)
                    else:
                        value = fn(ctx) if g.params is None else fn(ctx, **g.params)
                        ok = value if value is True or value is False else _not_a_bool(g, value)
                elif g.why_not is not None:
                    why = g.why_not(ctx)  # an ``expr`` guard: ``None`` when it holds
                    ok = why is None
                else:
                    ok = g.evaluate(ctx)
                    if not ok:
                        why = _why_not(g, ctx)
                if not ok:
                    if first_no is None:
                        first_no, detail = g, why
                    break
            else:
                result = cand.result
                return accept(index, cand) if result is None else result
        assert first_no is not None
        tried = len(cands)
        # Rejections are built once and shared (``engine.outcomes.reject``): read the shared
        # one here, as a successful result is read from its candidate above.
        shared = index.failures.get((state, trigger, first_no, tried, detail))
        if shared is not None and shared.error.__traceback__ is None:  # type: ignore[union-attr]
            return shared
        return reject(index, state, trigger, first_no, tried, detail)

    def _guard(self, guard: CompiledGuard, ctx: Context) -> Any:
        """Evaluate one guard; the value may be awaitable (the async driver awaits it)."""
        if guard.evaluate is not None:
            return guard.evaluate(ctx)
        fn = self._guards.get(guard.name)  # type: ignore[arg-type]
        if fn is None:
            return _missing_guard(self, guard)
        return fn(ctx) if guard.params is None else fn(ctx, **guard.params)

    def _drive(self, step: GuardStep, ctx: Context) -> TransitionResult:
        """Answer the engine's guard requests synchronously."""
        try:
            guard = next(step)
            while True:
                value = self._guard(guard, ctx)
                ok = value if value is True or value is False else _not_a_bool(guard, value)
                guard = step.send(ok or _rejection(guard, ctx))
        except StopIteration as done:
            result: TransitionResult = done.value
            return result

    async def _adrive(self, step: GuardStep, ctx: Context) -> TransitionResult:
        """Answer the engine's guard requests, awaiting async guards."""
        try:
            guard = next(step)
            while True:
                value = self._guard(guard, ctx)
                if inspect.isawaitable(value):
                    value = await value
                guard = step.send(bool(value) or _rejection(guard, ctx))
        except StopIteration as done:
            result: TransitionResult = done.value
            return result

    async def aprocess(
        self,
        state: str,
        trigger: str,
        context: Context | None = None,
        *,
        history: History | None = None,
    ) -> TransitionResult:
        """Like ``process``, awaiting guards that are async."""
        ctx = _EMPTY if context is None else context
        observer = self._observer
        if not observer:
            return await self._aselect(state, trigger, ctx, history)
        observer.before_process(state, trigger, ctx)
        started = time.perf_counter()
        try:
            result = await self._aselect(state, trigger, ctx, history)
        except Exception as exc:
            observer.transition_error(state, trigger, exc, (time.perf_counter() - started) * 1e3)
            raise
        self._notify(observer, result, started)
        return result

    async def _aselect(
        self, state: str, trigger: str, ctx: Context, history: History | None
    ) -> TransitionResult:
        if self._contract is not None:
            invalid = self.check_context(state, trigger, ctx)
            if invalid is not None:
                return invalid
        settled = self._index.settled.get((state, trigger))
        if settled is not None:
            return settled
        return await self._adrive(macrostep(self._index, state, trigger, history), ctx)

    def check_context(self, state: str, trigger: str, ctx: Context) -> TransitionResult | None:
        """The failed result for a context that breaks the contract, or ``None`` if it is
        fine (or the machine has no contract). Raises ``UndefinedStateError`` for a bad
        ``state``."""
        contract = self._contract
        if contract is None:
            return None
        configuration(self._index, state)
        errors = contract.errors(ctx, lambda name: self.is_active(state, name))
        return context_invalid(state, trigger, errors) if errors else None

    def context_schema(self) -> dict[str, Any]:
        """The JSON Schema of this machine's context contract."""
        if self._contract is not None:
            return self._contract.json_schema()
        if self._definition.context is not None:
            return ContextContract(self._definition.context, None).json_schema()
        return {"type": "object"}

    def fire_timer(
        self,
        state: str,
        timer_key: str,
        context: Context | None = None,
        *,
        history: History | None = None,
    ) -> TransitionResult:
        """Fire the delayed transition (or timeout) of timer ``timer_key`` in ``state``.

        Only a runtime that knows the timer is due calls this (a session or a scheduler); the
        timer's trigger sent through ``process`` does not fire it. A timer whose state is no
        longer active gives a failed result with ``metadata["reason"] == "stale_timer"``.
        """
        return self._drive(self._timer_step(state, timer_key, history), context or _EMPTY)

    async def afire_timer(
        self,
        state: str,
        timer_key: str,
        context: Context | None = None,
        *,
        history: History | None = None,
    ) -> TransitionResult:
        """``fire_timer`` with async guards."""
        step = self._timer_step(state, timer_key, history)
        return await self._adrive(step, context or _EMPTY)

    def _timer_step(self, state: str, timer_key: str, history: History | None) -> GuardStep:
        spec = self._index.timer_table.get(timer_key)
        label = spec.transition.trigger if spec is not None else None
        return macrostep(self._index, state, label or timer_key, history, timer_key=timer_key)

    def start(
        self,
        context: Context | None = None,
        *,
        initial_state: str | None = None,
        history: History | None = None,
    ) -> TransitionResult:
        """Enter the initial configuration (or ``initial_state``) from nothing.

        The result's ``target_state`` is where a new entity begins after eventless and done
        transitions; it lists the entry actions and the timers to arm. ``source_state`` is
        ``""``.
        """
        if initial_state is not None:
            self._node(initial_state)
        ctx = _EMPTY if context is None else context
        return self._drive(engine_start(self._index, history, initial_state), ctx)

    async def astart(
        self,
        context: Context | None = None,
        *,
        initial_state: str | None = None,
        history: History | None = None,
    ) -> TransitionResult:
        """``start`` with async guards."""
        if initial_state is not None:
            self._node(initial_state)
        ctx = _EMPTY if context is None else context
        return await self._adrive(engine_start(self._index, history, initial_state), ctx)

    # ----------------------------------------------------------------- parallel states
    def enter_parallel_state(self, name: str) -> ParallelStateConfig:
        """The configuration reached by entering parallel state ``name`` by default."""
        node = self._node(name)
        if node.kind != "parallel":
            raise UndefinedStateError(f"'{name}' is not a parallel state of machine '{self.name}'")
        result = self.start(initial_state=name)
        return ParallelStateConfig.from_string(self._outer_parallel(result.target_state or ""))

    def _outer_parallel(self, config: str) -> str:
        if "(" not in config:
            raise UndefinedStateError(f"'{config}' is not a parallel configuration")
        return config

    def process_parallel(
        self,
        config: ParallelStateConfig | str,
        trigger: str,
        context: Context | None = None,
    ) -> tuple[ParallelStateConfig | str, list[TransitionResult]]:
        """Process ``trigger`` in a parallel configuration; every region sees the event.

        Returns the new configuration (a plain state name once the parallel state is left)
        and the results (one per event processed).
        """
        result = self.process(str(config), trigger, context)
        if not result.success or result.target_state is None:
            return config, [result]
        target = result.target_state
        new: ParallelStateConfig | str = (
            ParallelStateConfig.from_string(target) if "(" in target else target
        )
        return new, [result]

    def is_active(self, config: str, state: str) -> bool:
        """True when ``state`` is active in configuration ``config``."""
        node = self._index.states.get(config)
        if node is not None and not node.in_parallel and node.kind != "parallel":
            return state == config or state in node.ancestors
        return state in configuration(self._index, config).active

    def configuration_leaves(self, config: str) -> tuple[str, ...]:
        """The active leaves of ``config`` in document order (validates it)."""
        return configuration(self._index, config).leaves

    def _observed(
        self, state: str, trigger: str, context: Context | None, history: History | None = None
    ) -> TransitionResult:
        observer = self._observer
        assert observer is not None
        ctx = _EMPTY if context is None else context
        observer.before_process(state, trigger, ctx)
        started = time.perf_counter()
        try:
            result = self._select(state, trigger, ctx, history)
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
        """The configuration a new entity starts in (before any eventless transition)."""
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
        """Transitions that may fire from ``state`` (a state or configuration): each active
        leaf's own, then its ancestors', in selection order, ignoring guards."""
        index = self._index
        leaves = configuration(index, state).leaves
        seen: set[int] = set()
        out: list[TransitionDefinition] = []
        for leaf in leaves:
            per_state = state_table(index, leaf) or {}
            ordered = sorted(
                (c for key, cands in per_state.items() if key for c in cands),
                key=lambda c: (
                    (index.states[c.state].ancestors.index(c.source) + 1)
                    if c.source != c.state
                    else 0
                ),
            )
            for cand in ordered:
                if cand.index not in seen:
                    seen.add(cand.index)
                    out.append(cand.transition)
        return out

    def get_triggers(self, state: str) -> list[str]:
        """Trigger names with at least one transition from ``state`` (guards ignored)."""
        return list(allowed_triggers(self._index, configuration(self._index, state)))

    def is_terminal(self, state: str) -> bool:
        """True for a top-level terminal state: no event leaves it."""
        return any(
            self._index.states[leaf].is_final for leaf in configuration(self._index, state).leaves
        )

    def resolve_state(self, state: str) -> str:
        """The configuration reached by entering ``state`` by default (compound states
        descend to their initial child, parallel states enter every region)."""
        node = self._node(state)
        if node.kind == "atomic" and not node.in_parallel:
            return state

        return entry_configuration(self._index, state)

    # ----------------------------------------------------------------- sessions
    @cached_property
    def _needs_runtime(self) -> bool:
        """Sessions of this machine keep history memory or timers."""
        return self._index.has_history or bool(self._index.timer_table)

    def _session_cls(self) -> type[EntitySession]:
        cls = self._session_class
        if cls is None:
            from pystator.runtime.session import session_class

            cls = self._session_class = session_class(self)
        return cls

    def create(
        self,
        context: Mapping[str, Any] | None = None,
        initial_state: str | None = None,
        *,
        clock: Clock | None = None,
    ) -> EntitySession:
        """A new ``EntitySession`` in ``initial_state`` (default: the machine's initial state).

        Entering the initial configuration runs no actions; its eventless transitions are
        taken and its timers armed (``clock`` gives their due times; default: wall clock).
        """
        # Imported at module level: an import statement here cost ~1 µs per create().
        return new_session(self, context, initial_state, clock)
