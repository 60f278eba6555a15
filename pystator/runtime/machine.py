"""``StateMachine``: the facade over the pure engine, with guards, actions and hooks bound.

``process`` and ``aprocess`` drive the one engine: they walk the candidates the index gives
for (state, trigger) and evaluate guards in order, fail-fast. The general drivers (``_drive``,
``_adrive``) differ only in awaiting a guard; ``process`` first tries a sync-only fast path for
a plain state (``_select``), which gives the same results (the tests compare them). Neither
runs an action; ``EntitySession`` and the ``Orchestrator`` do that after the state change is
stored.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from pystator.engine import (
    AssignFailed,
    CompiledGuard,
    DataModel,
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
    payload_invalid,
    reject,
    state_table,
)
from pystator.engine import start as engine_start
from pystator.engine.datamodel import CompiledAssign, Rebuild, apply_to_dict, dict_rebuild
from pystator.errors import (
    ContextValidationError,
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
from pystator.models.config import SHARED_CONFIGS, ParallelStateConfig
from pystator.models.definition import MachineDefinition, TransitionDefinition
from pystator.models.result import TransitionResult, with_context
from pystator.runtime.clock import Clock
from pystator.runtime.contract import (
    ContextContract,
    EventContract,
    ModelView,
    TypedContext,
    validation_errors,
)
from pystator.runtime.executor import ActionExecutor
from pystator.runtime.hooks import TransitionObserver
from pystator.runtime.registry import ActionRegistry, GuardRegistry
from pystator.runtime.session import new_session
from pystator.runtime.validation import check_machine

if TYPE_CHECKING:
    from pystator.runtime.session import EntitySession

F = TypeVar("F", bound=Callable[..., Any])
Context = Mapping[str, Any]
EventModels = Mapping[str, type[BaseModel]]
_EMPTY: Context = MappingProxyType({})
_ABSENT: Any = object()


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


_ATTACHED: dict[int, tuple[TransitionResult, TransitionResult]] = {}
"""id(shared result) -> (it, its last copy with a context). A session sends its events with
the same context object until an event changes it, so the copy made for one call serves the
next ones; the entry holds the shared result, so its id is not reused while it is here."""
_MAX_ATTACHED = 4_096


def _attach(result: TransitionResult, context: Any) -> TransitionResult:
    """A shared result (built once, handed to every call) carrying ``context``: ``result``
    itself if it does, else a copy, the last of which is kept per shared result. The
    machine's empty stand-in for "no context given" is carried as ``None``."""
    if context is _EMPTY:
        context = None
    if result.context is context:
        return result
    entry = _ATTACHED.get(id(result))
    if entry is not None and entry[0] is result and entry[1].context is context:
        return entry[1]
    copy = with_context(result, context)
    if len(_ATTACHED) >= _MAX_ATTACHED:
        _ATTACHED.clear()
    _ATTACHED[id(result)] = (result, copy)
    return copy


def _carry(result: TransitionResult, context: Any) -> TransitionResult:
    """A result built for one call (a failed check, a step off the fast path) carrying
    ``context``: a copy, never cached (``_attach`` is for the shared results)."""
    return with_context(result, None if context is _EMPTY else context)


def _model_rebuild(typed: TypedContext) -> Rebuild:
    """How an assign makes the next context of a machine with a context model: a new,
    validated instance, read through a new view (keeping the step's payload overlay, minus
    the keys just assigned)."""

    def rebuild(
        context: Any, view: Mapping[str, Any], updates: dict[str, Any]
    ) -> tuple[Any, Mapping[str, Any]]:
        try:
            instance = typed.update(context, updates)
        except ValidationError as exc:
            raise AssignFailed(validation_errors(exc)) from None
        overlay = view.overlay if isinstance(view, ModelView) else None
        if overlay:
            overlay = {k: v for k, v in overlay.items() if k not in updates} or None
        return instance, ModelView(instance, overlay)

    return rebuild


class StateMachine:
    """A compiled machine: compute transitions with ``process``; create sessions with ``create``.

    Build one with ``from_yaml``, ``from_json``, ``from_dict`` or ``from_definition``. The
    machine holds no entity state: the same machine serves every entity and every thread.
    """

    def __init__(
        self,
        definition: MachineDefinition,
        *,
        context_model: type[BaseModel] | None = None,
        event_models: EventModels | None = None,
    ) -> None:
        self._definition = definition
        # The checks every way of loading a machine shares (pystator validate, the API, the
        # machines directory): what one accepts, all accept.
        checked = check_machine(definition, context_model=context_model, event_models=event_models)
        self._index: MachineIndex = checked.index
        self.index = self._index
        """The compiled, frozen ``MachineIndex`` of the definition (read it, never change it)."""
        # The caches the fast path reads on every call, held directly (one attribute lookup
        # each, as when they were fields of the index). ``IndexCaches`` never rebinds them.
        caches = self._index.caches
        self._fast_table = caches.fast_table
        self._settled = caches.settled
        self._failures = caches.failures
        self._contract: ContextContract | None = checked.contract
        self._context_model = context_model
        self._typed: TypedContext | None = checked.typed
        self._events: Mapping[str, EventContract] = checked.events
        # No context model, no contract, no declared payload: contexts go to guards as given
        # (the fast path; ``_frame`` is skipped).
        self.plain = self._typed is None and self._contract is None and not self._events
        """No context model, no contract, no declared payload: contexts reach guards as given,
        and sessions call ``select`` directly (a plain attribute: ``send`` reads it every
        call)."""
        self.has_context_model = self._typed is not None
        """Contexts are validated into ``context_model`` (``coerce_context`` makes them)."""
        self._last_view: tuple[BaseModel, ModelView] | None = None
        self._rebuild: Rebuild = (
            dict_rebuild if self._typed is None else _model_rebuild(self._typed)
        )
        self.guard_registry = GuardRegistry()
        self.action_registry = ActionRegistry()
        self._guards = self.guard_registry._items
        self._executor: ActionExecutor | None = None
        # The observer, or None until ``observer`` makes one: sessions test it on every send.
        self.hooks: TransitionObserver | None = None
        self._session_class: type[EntitySession] | None = None

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_definition(
        cls,
        definition: MachineDefinition,
        *,
        context_model: type[BaseModel] | None = None,
        event_models: EventModels | None = None,
    ) -> StateMachine:
        """Wrap an already built ``MachineDefinition`` (for example one made in Python)."""
        if not isinstance(definition, MachineDefinition):
            raise TypeError(
                f"from_definition expects a MachineDefinition, got {type(definition).__name__}; "
                "use from_dict for plain data"
            )
        return cls(definition, context_model=context_model, event_models=event_models)

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        context_model: type[BaseModel] | None = None,
        event_models: EventModels | None = None,
    ) -> StateMachine:
        """Validate plain data (as in YAML/JSON) and compile it."""
        return cls(
            definition_from_data(data), context_model=context_model, event_models=event_models
        )

    @classmethod
    def from_yaml(
        cls,
        path: PathLike,
        *,
        context_model: type[BaseModel] | None = None,
        event_models: EventModels | None = None,
    ) -> StateMachine:
        """Read a YAML definition file (safely: no tags, aliases or duplicate keys).

        ``context_model``: a Pydantic model class the context must satisfy (enables the
        context check in ``process``, sessions and the orchestrator).
        """
        return cls(load_yaml_file(path), context_model=context_model, event_models=event_models)

    @classmethod
    def from_yaml_string(
        cls,
        text: str,
        *,
        context_model: type[BaseModel] | None = None,
        event_models: EventModels | None = None,
    ) -> StateMachine:
        """Parse a YAML definition held in a string."""
        return cls(load_yaml_string(text), context_model=context_model, event_models=event_models)

    @classmethod
    def from_json(
        cls,
        path: PathLike,
        *,
        context_model: type[BaseModel] | None = None,
        event_models: EventModels | None = None,
    ) -> StateMachine:
        """Read a JSON definition file."""
        return cls(load_json_file(path), context_model=context_model, event_models=event_models)

    @classmethod
    def from_json_string(
        cls,
        text: str | bytes,
        *,
        context_model: type[BaseModel] | None = None,
        event_models: EventModels | None = None,
    ) -> StateMachine:
        """Parse a JSON definition held in a string."""
        return cls(load_json_string(text), context_model=context_model, event_models=event_models)

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
        if self.hooks is None:
            self.hooks = TransitionObserver()
        return self.hooks

    def add_hook(self, hook: Any) -> None:
        """Attach a hook (``LoggingHook``, ``MetricsCollector`` or your own)."""
        self.observer.add_hook(hook)

    # ----------------------------------------------------------------- typed contexts, events
    @property
    def context_model(self) -> type[BaseModel] | None:
        """The context model given as ``context_model=`` (``None``: contexts are dicts)."""
        return self._context_model

    def event_model(self, trigger: str) -> type[BaseModel] | None:
        """The payload model of ``trigger``: the one given in ``event_models=``, or one made
        from the definition's ``events:`` entry; ``None`` when the payload is undeclared."""
        contract = self._events.get(trigger)
        return contract.model if contract is not None else None

    def event_schemas(self) -> dict[str, dict[str, Any]]:
        """trigger -> the JSON Schema of its declared payload."""
        return {trigger: c.json_schema() for trigger, c in self._events.items()}

    def context_json(self, value: Any) -> dict[str, Any]:
        """A JSON-ready dict of a context: a model instance through ``model_dump(mode=
        "json")``, a mapping as a new dict (``None``: ``{}``)."""
        if value is None:
            return {}
        if isinstance(value, BaseModel):
            # By alias: the stored JSON is what the published context schema describes.
            return value.model_dump(mode="json", by_alias=True)
        return dict(value)

    def coerce_context(self, data: Any) -> Any:
        """With a context model, the validated instance of ``data`` (a dict or an instance;
        raises ``ContextValidationError`` listing the fields); without one, ``data`` as
        given (``None``: a new empty dict)."""
        typed = self._typed
        if typed is None:
            return {} if data is None else data
        try:
            return typed.coerce(data)
        except ValidationError as exc:
            errors = validation_errors(exc)
            raise ContextValidationError(
                f"context is invalid for {typed.model.__name__}: " + "; ".join(errors),
                errors=errors,
            ) from None

    # ----------------------------------------------------------------- processing
    def process(
        self,
        state: str,
        trigger: str,
        context: Context | BaseModel | None = None,
        *,
        history: History | None = None,
    ) -> TransitionResult:
        """Compute the next state, the actions to run and the new context; never runs them.

        ``state`` is a state name or a configuration string (``"P(r1=A, r2=B)"``).
        ``history`` is the entity's history memory (machines with history states; the
        result's ``history`` is the updated memory). ``result.context`` is the context after
        the step (``context`` itself when nothing was assigned). Returns a failed result for
        every outcome caused by the event (guard rejected, no transition, terminal state, a
        bad payload or context); raises ``UndefinedStateError`` for an undefined ``state``
        and ``GuardNotFoundError`` for an unregistered guard in strict mode.
        """
        if self.plain:
            ctx: Any = _EMPTY if context is None else context
            if self.hooks:
                return self._observed(state, trigger, ctx, ctx, context, history)
            return self._select(state, trigger, ctx, ctx, context, history)
        return self._process(state, trigger, context, None, history)

    def _process(
        self,
        state: str,
        trigger: str,
        given: Any,
        payload: Mapping[str, Any] | None,
        history: History | None,
    ) -> TransitionResult:
        """``process`` of a machine with a context model, a contract or declared payloads;
        ``payload`` is what a session sent (``None``: read the declared keys from
        ``given``)."""
        frame = self._frame(state, trigger, given, payload)
        if isinstance(frame, TransitionResult):
            return self._early(state, trigger, given, frame)
        ctx, view = frame
        if self.hooks:
            return self._observed(state, trigger, ctx, view, given, history)
        return self._select(state, trigger, ctx, view, given, history)

    def _early(
        self, state: str, trigger: str, given: Any, failed: TransitionResult
    ) -> TransitionResult:
        """A payload or context that failed before any guard: hooks see it as well."""
        failed = _carry(failed, given)
        observer = self.hooks
        if observer:
            observer.before_process(state, trigger, _EMPTY if given is None else given)
            self._notify(observer, failed, time.perf_counter())
        return failed

    def _frame(
        self,
        state: str,
        trigger: str,
        given: Any,
        payload: Mapping[str, Any] | None,
        *,
        events: bool = True,
    ) -> tuple[Any, Context] | TransitionResult:
        """(what named guards receive, what expressions read) for one step, or the failed
        result of a payload or a context that does not validate.

        The payload is validated first (a session's ``payload``; for ``process``, the
        declared keys read from ``given``) and its coerced values are laid over the context:
        without a context model they are merged into a new dict; with one, keys that are
        fields of the model (every key when it keeps extras) update a new, validated
        instance and the others are visible to expressions during the step only.
        """
        # An undefined state raises before any check, and a terminal state answers
        # ``terminal_state`` whatever the payload (the checks are for an event that can fire).
        node = self._index.states.get(state)
        if node is None:
            configuration(self._index, state)
        raw: Any = _EMPTY if given is None else given
        typed = self._typed
        coerced: Mapping[str, Any] | None = payload
        event = self._events.get(trigger) if events else None
        if event is not None and node is not None and node.is_final:
            event = None
        if event is not None:
            source: Any = ModelView(raw) if isinstance(raw, BaseModel) else raw
            try:
                values = event.validate(event.read(source) if payload is None else payload, source)
            except ValidationError as exc:
                return payload_invalid(state, trigger, validation_errors(exc))
            if payload is None:  # only what coercion changed needs laying over the context
                values = {k: v for k, v in values.items() if source.get(k, _ABSENT) is not v}
            coerced = values
        if typed is None:
            ctx: Any = {**raw, **coerced} if coerced else raw
            invalid = self.check_context(state, trigger, ctx)
            return (ctx, ctx) if invalid is None else invalid
        if type(raw) is typed.model:  # a session's own instance, validated when it was made
            instance, overlay = raw, None
        else:
            try:
                instance, overlay = typed.coerce_known(raw)
            except ValidationError as exc:
                return context_invalid(state, trigger, validation_errors(exc))
        if coerced:
            into, other = typed.split(coerced)
            if into:
                try:
                    instance = typed.update(instance, into)
                except ValidationError as exc:
                    return context_invalid(state, trigger, validation_errors(exc))
            if other:
                overlay = {**overlay, **other} if overlay else other
        contract = self._contract
        if contract is not None and contract.per_state:
            configuration(self._index, state)
            errors = contract.state_errors(instance, lambda name: self.is_active(state, name))
            if errors:
                return context_invalid(state, trigger, errors)
        if overlay is None:
            return instance, self._view(instance)
        return instance, ModelView(instance, overlay)

    def _view(self, instance: BaseModel) -> ModelView:
        """The view expressions read of ``instance`` (no payload over it). The last one made
        is kept: a session sends its events with one instance until an event changes it
        (``typed_bench``, row "session send, 3-field model")."""
        last = self._last_view
        if last is not None and last[0] is instance:
            return last[1]
        view = ModelView(instance)
        self._last_view = (instance, view)
        return view

    def _select(
        self,
        state: str,
        trigger: str,
        ctx: Any,
        view: Context,
        given: Any,
        history: History | None = None,
    ) -> TransitionResult:
        # The sync driver. The first half is the fast path the benchmarks measure: a plain
        # state of a machine whose results can be built once. Named guards receive ``ctx``,
        # expressions read ``view`` (the same object unless the context is a model);
        # a success carries ``ctx`` (or the context its assigns made), a failure ``given``.
        index = self._index
        per_state = self._fast_table.get(state)
        if per_state is None:
            # A parallel configuration's step that read no guard is built once, then shared.
            settled = self._settled.get((state, trigger))
            if settled is not None:
                return _attach(settled, ctx if settled.success else given)
            if state_table(index, state) is None or state not in self._fast_table:
                data = DataModel(ctx, view, self._rebuild)
                step = macrostep(index, state, trigger, history, data=data)
                return self._finish(state, trigger, self._drive(step, data), data, given)
            per_state = self._fast_table[state]
        cands = per_state.get(trigger)
        if cands is None:
            return _attach(no_transition(index, state, trigger), given)
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
                    why = g.why_not(view)  # an ``expr`` guard: ``None`` when it holds
                    ok = why is None
                else:
                    ok = g.evaluate(view)
                    if not ok:
                        why = _why_not(g, view)
                if not ok:
                    if first_no is None:
                        first_no, detail = g, why
                    break
            else:
                result = cand.result
                if result is None:
                    result = accept(index, cand)
                assigns = cand.assigns
                if not assigns:
                    if ctx is _EMPTY:  # no context given: the shared result carries None
                        return result
                    carried = cand.carried
                    if carried is None or carried.context is not ctx:
                        carried = cand.carried = with_context(result, ctx)
                    return carried
                if ctx is view and self._contract is None:  # a plain dict context
                    try:
                        return with_context(result, apply_to_dict(assigns, ctx))
                    except AssignFailed as exc:
                        return _carry(context_invalid(state, trigger, exc.errors), given)
                return self._assigned(state, trigger, result, assigns, ctx, view, given)
        assert first_no is not None
        tried = len(cands)
        # Rejections are built once and shared (``engine.outcomes.reject``): read the shared
        # one here, as a successful result is read from its candidate above.
        shared = self._failures.get((state, trigger, first_no, tried, detail))
        if shared is not None and shared.error.__traceback__ is None:  # type: ignore[union-attr]
            return _attach(shared, given)
        return _attach(reject(index, state, trigger, first_no, tried, detail), given)

    def _assigned(
        self,
        state: str,
        trigger: str,
        result: TransitionResult,
        assigns: tuple[CompiledAssign, ...],
        ctx: Any,
        view: Context,
        given: Any,
    ) -> TransitionResult:
        """The fast path's result of a transition that assigns to a model instance or a
        checked context: its items applied, the new context validated."""
        try:
            data = DataModel(ctx, view, self._rebuild)
            data.apply(assigns)
        except AssignFailed as exc:
            return _carry(context_invalid(state, trigger, exc.errors), given)
        return self._finish(state, trigger, result, data, given)

    def _finish(
        self, state: str, trigger: str, result: TransitionResult, data: DataModel, given: Any
    ) -> TransitionResult:
        """The result with its context: ``given`` for a failure, else the step's context
        (checked against the ``context:`` contract when an assign made it)."""
        # A failure is one of the engine's shared ones (``engine.outcomes``); a success of
        # this path may be built for this call alone, so it is carried without the cache of
        # ``_attach``, which would keep its context alive.
        if not result.success:
            return _attach(result, given)
        contract = self._contract
        if data.assigned and contract is not None and self._typed is None:
            target = result.target_state or state
            errors = contract.errors(data.context, lambda name: self.is_active(target, name))
            if errors:
                return _carry(context_invalid(state, trigger, errors), given)
        return _carry(result, data.context)

    def _guard(self, guard: CompiledGuard, ctx: Any, view: Context) -> Any:
        """Evaluate one guard; the value may be awaitable (the async driver awaits it)."""
        if guard.evaluate is not None:
            return guard.evaluate(view)
        fn = self._guards.get(guard.name)  # type: ignore[arg-type]
        if fn is None:
            return _missing_guard(self, guard)
        return fn(ctx) if guard.params is None else fn(ctx, **guard.params)

    def _drive(self, step: GuardStep, data: DataModel) -> TransitionResult:
        """Answer the engine's guard requests synchronously, with the context in ``data``
        (which the engine's assigns update between microsteps)."""
        try:
            guard = next(step)
            while True:
                value = self._guard(guard, data.context, data.view)
                ok = value if value is True or value is False else _not_a_bool(guard, value)
                guard = step.send(ok or _rejection(guard, data.view))
        except StopIteration as done:
            result: TransitionResult = done.value
            return result

    async def _adrive(self, step: GuardStep, data: DataModel) -> TransitionResult:
        """Answer the engine's guard requests, awaiting async guards."""
        try:
            guard = next(step)
            while True:
                value = self._guard(guard, data.context, data.view)
                if inspect.isawaitable(value):
                    value = await value
                guard = step.send(bool(value) or _rejection(guard, data.view))
        except StopIteration as done:
            result: TransitionResult = done.value
            return result

    async def aprocess(
        self,
        state: str,
        trigger: str,
        context: Context | BaseModel | None = None,
        *,
        history: History | None = None,
    ) -> TransitionResult:
        """Like ``process``, awaiting guards that are async."""
        return await self._aprocess(state, trigger, context, None, history)

    async def _aprocess(
        self,
        state: str,
        trigger: str,
        given: Any,
        payload: Mapping[str, Any] | None,
        history: History | None,
    ) -> TransitionResult:
        if self.plain:
            ctx: Any = _EMPTY if given is None else given
            if payload:
                ctx = {**ctx, **payload}
            view: Context = ctx
        else:
            frame = self._frame(state, trigger, given, payload)
            if isinstance(frame, TransitionResult):
                return self._early(state, trigger, given, frame)
            ctx, view = frame
        observer = self.hooks
        if not observer:
            return await self._aselect(state, trigger, ctx, view, given, history)
        observer.before_process(state, trigger, ctx)
        started = time.perf_counter()
        try:
            result = await self._aselect(state, trigger, ctx, view, given, history)
        except Exception as exc:
            observer.transition_error(state, trigger, exc, (time.perf_counter() - started) * 1e3)
            raise
        self._notify(observer, result, started)
        return result

    async def _aselect(
        self,
        state: str,
        trigger: str,
        ctx: Any,
        view: Context,
        given: Any,
        history: History | None,
    ) -> TransitionResult:
        settled = self._settled.get((state, trigger))
        if settled is not None:
            return _attach(settled, ctx if settled.success else given)
        data = DataModel(ctx, view, self._rebuild)
        step = macrostep(self._index, state, trigger, history, data=data)
        return self._finish(state, trigger, await self._adrive(step, data), data, given)

    def check_context(self, state: str, trigger: str, ctx: Any) -> TransitionResult | None:
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
        """The JSON Schema of this machine's context contract (its context model's, when
        there is one)."""
        if self._contract is not None:
            return self._contract.json_schema()
        if self._definition.context is not None:
            return ContextContract(self._definition.context, None).json_schema()
        return {"type": "object"}

    def _entry_frame(
        self, given: Any, label: str, state: str = ""
    ) -> tuple[Any, Context] | TransitionResult:
        """The context of a timer in ``state`` or of the entry into the initial state (no
        payload)."""
        if self._typed is None:
            ctx: Any = _EMPTY if given is None else given
            return ctx, ctx
        try:
            instance = self._typed.coerce(given)
        except ValidationError as exc:
            return context_invalid(state, label, validation_errors(exc))
        return instance, ModelView(instance)

    def fire_timer(
        self,
        state: str,
        timer_key: str,
        context: Context | BaseModel | None = None,
        *,
        history: History | None = None,
    ) -> TransitionResult:
        """Fire the delayed transition (or timeout) of timer ``timer_key`` in ``state``.

        Only a runtime that knows the timer is due calls this (a session or a scheduler); the
        timer's trigger sent through ``process`` does not fire it. A timer whose state is no
        longer active gives a failed result with ``metadata["reason"] == "stale_timer"``.
        """
        frame = self._entry_frame(context, timer_key, state)
        if isinstance(frame, TransitionResult):
            return _carry(frame, context)
        data = DataModel(frame[0], frame[1], self._rebuild)
        result = self._drive(self._timer_step(state, timer_key, history, data), data)
        return self._finish(state, timer_key, result, data, context)

    async def afire_timer(
        self,
        state: str,
        timer_key: str,
        context: Context | BaseModel | None = None,
        *,
        history: History | None = None,
    ) -> TransitionResult:
        """``fire_timer`` with async guards."""
        frame = self._entry_frame(context, timer_key, state)
        if isinstance(frame, TransitionResult):
            return _carry(frame, context)
        data = DataModel(frame[0], frame[1], self._rebuild)
        result = await self._adrive(self._timer_step(state, timer_key, history, data), data)
        return self._finish(state, timer_key, result, data, context)

    def _timer_step(
        self, state: str, timer_key: str, history: History | None, data: DataModel
    ) -> GuardStep:
        spec = self._index.timer_table.get(timer_key)
        label = spec.transition.trigger if spec is not None else None
        return macrostep(
            self._index, state, label or timer_key, history, timer_key=timer_key, data=data
        )

    def start(
        self,
        context: Context | BaseModel | None = None,
        *,
        initial_state: str | None = None,
        history: History | None = None,
    ) -> TransitionResult:
        """Enter the initial configuration (or ``initial_state``) from nothing.

        The result's ``target_state`` is where a new entity begins after eventless and done
        transitions; it lists the entry actions and the timers to arm, and ``context`` is
        the context after the entry's assigns. ``source_state`` is ``""``.
        """
        if initial_state is not None:
            self._node(initial_state)
        frame = self._entry_frame(context, "__start__")
        if isinstance(frame, TransitionResult):
            return _carry(frame, context)
        data = DataModel(frame[0], frame[1], self._rebuild)
        result = self._drive(engine_start(self._index, history, initial_state, data), data)
        return self._finish("", "__start__", result, data, context)

    async def astart(
        self,
        context: Context | BaseModel | None = None,
        *,
        initial_state: str | None = None,
        history: History | None = None,
    ) -> TransitionResult:
        """``start`` with async guards."""
        if initial_state is not None:
            self._node(initial_state)
        frame = self._entry_frame(context, "__start__")
        if isinstance(frame, TransitionResult):
            return _carry(frame, context)
        data = DataModel(frame[0], frame[1], self._rebuild)
        step = engine_start(self._index, history, initial_state, data)
        return self._finish("", "__start__", await self._adrive(step, data), data, context)

    # ----------------------------------------------------------------- parallel states
    def enter_parallel_state(self, name: str) -> ParallelStateConfig:
        """The configuration reached by entering parallel state ``name`` by default."""
        node = self._node(name)
        if node.kind != "parallel":
            raise UndefinedStateError(f"'{name}' is not a parallel state of machine '{self.name}'")
        result = self.start(initial_state=name)
        return SHARED_CONFIGS[self._outer_parallel(result.target_state or "")]

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
        and the results (one per event processed). It costs little more than ``process`` on
        the string: the frozen config keeps its string form (``config.text``), and a new
        configuration is parsed once and then shared (``SHARED_CONFIGS``).
        """
        # ``config.text`` is the string form kept on the config; ``str`` takes the rest (a
        # string, a subclass). A failed result is the one without a target state.
        text = config.text if type(config) is ParallelStateConfig else str(config)
        result = self.process(text, trigger, context)
        target = result.target_state
        if target is None:
            return config, [result]
        return (SHARED_CONFIGS[target] if "(" in target else target), [result]

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
        self,
        state: str,
        trigger: str,
        ctx: Any,
        view: Context,
        given: Any,
        history: History | None = None,
    ) -> TransitionResult:
        observer = self.hooks
        assert observer is not None
        observer.before_process(state, trigger, ctx)
        started = time.perf_counter()
        try:
            result = self._select(state, trigger, ctx, view, given, history)
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

    # The session's entry points: ``EntitySession`` (``runtime/session.py``) drives the machine
    # through public names only. The methods are the very functions of the underscore names
    # (no extra call layer on ``send``); ``plain``, ``hooks``, ``index`` and
    # ``has_context_model`` are plain attributes set in ``__init__`` (a property, or a cached
    # one, would make ``send``'s attribute reads slower).
    select = _select
    """The sync driver for a plain machine (``plain``): ``select(state, trigger, ctx, view,
    given, history=None)``, with no hooks called; ``send`` calls it directly."""
    select_observed = _observed
    """``select`` with the hooks of ``hooks`` called around it (same arguments)."""
    send_step = _process
    """``process`` of a session: ``send_step(state, trigger, context, payload, history)``
    merges (and validates) the sent ``payload`` into the context first."""
    asend_step = _aprocess
    """``send_step`` awaiting async guards (``asend``)."""
    session_class = _session_cls
    """The ``EntitySession`` subclass this machine's sessions are made of (made once)."""

    @cached_property
    def keeps_runtime(self) -> bool:
        """Sessions of this machine keep history memory or timers."""
        return self._needs_runtime

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
