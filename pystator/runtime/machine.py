"""``StateMachine``: the facade over the pure engine, with guards, actions and hooks bound.

``process`` and ``aprocess`` compute one step: the next configuration, the actions to run and
the new context. Neither runs an action; ``EntitySession`` and the ``Orchestrator`` do that
after the state change is stored. ``process`` runs ``select``, the sync fast path (after the
payload and context checks of ``send_step`` when the machine has any); ``aprocess`` runs the
general engine, awaiting async guards. They give the same results (the tests compare them).

The class is split by concept. Defined here: construction and loading, identity, the
observer, the event entry points (``process``, ``aprocess``, and the session's
``send_step`` and ``asend_step``) and sessions. Its other methods are functions of these
modules, bound in the class body below (the very functions: no extra call):

* ``runtime/fast_select.py``: ``select``, the sync fast path, a fenced speed trick beside its
  plain twin (the general engine);
* ``runtime/observed.py``: ``select_observed``, and the hooks around the other steps;
* ``runtime/context_frames.py``: contexts, contracts and declared payloads
  (``coerce_context``, ``check_context``, ``context_json``, ``context_schema``,
  ``event_model``, ``event_schemas``);
* ``runtime/entry_and_timers.py``: ``start``, ``fire_timer`` and their async twins;
* ``runtime/configurations.py``: ``is_active``, ``configuration_leaves``, ``resolve_state``,
  ``get_available_transitions``, ``get_triggers``, ``is_terminal``, ``enter_parallel_state``,
  ``process_parallel``;
* ``runtime/bindings.py``: ``guard``, ``action``, ``bind_guards``, ``bind_actions``;
* ``runtime/questions.py``: ``allowed_triggers``, ``can`` and their async twins, the
  questions that evaluate guards and change nothing.

Those functions take the machine first and read the private state ``__init__`` sets up (the
fast path's caches, the context checks, the guards' dictionary); ``runtime/guard_drivers.py``
answers the engine's guard requests for all of them. Nothing outside these modules reads that
state: sessions and the orchestrator use public names only.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel

from pystator.engine import History, MachineIndex
from pystator.engine.datamodel import Rebuild, dict_rebuild
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
from pystator.models.definition import MachineDefinition
from pystator.models.result import TransitionResult
from pystator.runtime import (
    bindings,
    configurations,
    context_frames,
    entry_and_timers,
    fast_select,
    observed,
    questions,
)
from pystator.runtime.clock import Clock
from pystator.runtime.context_frames import frame, model_rebuild
from pystator.runtime.contract import ContextContract, EventContract, ModelView, TypedContext
from pystator.runtime.executor import ActionExecutor
from pystator.runtime.fast_select import aselect
from pystator.runtime.guard_drivers import NO_CONTEXT
from pystator.runtime.hooks import TransitionObserver
from pystator.runtime.observed import aselect_observed, failed_early
from pystator.runtime.registry import ActionRegistry, GuardRegistry
from pystator.runtime.session import EntitySession, new_session
from pystator.runtime.session import session_class as make_session_class
from pystator.runtime.validation import check_machine

Context = Mapping[str, Any]
EventModels = Mapping[str, type[BaseModel]]


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
        self.index: MachineIndex = checked.index
        """The compiled, frozen ``MachineIndex`` of the definition (read it, never change it)."""
        # The caches the fast path reads on every call, held directly (one attribute lookup
        # each). ``IndexCaches`` never rebinds them.
        caches = self.index.caches
        self._fast_table = caches.fast_table
        self._settled = caches.settled
        self._failures = caches.failures
        self._contract: ContextContract | None = checked.contract
        self._context_model = context_model
        self._typed: TypedContext | None = checked.typed
        self._events: Mapping[str, EventContract] = checked.events
        # The session's entry points read these on every send: plain attributes (a property,
        # or a cached one, makes ``send`` slower).
        self.plain = self._typed is None and self._contract is None and not self._events
        """No context model, no contract, no declared payload: contexts reach guards as given,
        and sessions call ``select`` directly."""
        self.has_context_model = self._typed is not None
        """Contexts are validated into ``context_model`` (``coerce_context`` makes them)."""
        self.keeps_runtime = self.index.has_history or bool(self.index.timer_table)
        """Sessions of this machine keep history memory or timers."""
        self.hooks: TransitionObserver | None = None
        """The observer, or ``None`` until ``observer`` makes one (sessions test it)."""
        self._last_view: tuple[BaseModel, ModelView] | None = None  # see fast_select.model_view
        self._rebuild: Rebuild = dict_rebuild if self._typed is None else model_rebuild(self._typed)
        self.guard_registry = GuardRegistry()
        self.action_registry = ActionRegistry()
        self._guards = self.guard_registry._items  # the registry's dict (see bind_guards)
        self._executor: ActionExecutor | None = None
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

    @classmethod
    def from_scxml(
        cls, path: PathLike, *, context_model: type[BaseModel] | None = None
    ) -> StateMachine:
        """Read an SCXML document (``docs/scxml.md``; a ``<scxml>`` without ``name`` is named
        after the file, as ``pystator import`` names it); each problem names its line."""
        from pystator.loaders.scxml import load_scxml_file

        built: list[StateMachine] = []
        # The machine is built as the loader's check, so its problems carry the document's
        # lines (and the definition is compiled once).
        load_scxml_file(path, check=lambda d: built.append(cls(d, context_model=context_model)))
        return built[0]

    def to_scxml(self) -> str:
        """The definition as SCXML; ``from_scxml`` reads it back equal."""
        from pystator.loaders.scxml import to_scxml

        return to_scxml(self._definition)

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
        return self.index.strict

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
        return tuple(self.index.states)

    @property
    def triggers(self) -> tuple[str, ...]:
        """Every trigger name, in document order."""
        return tuple(
            dict.fromkeys(t.trigger for t in self._definition.transitions if t.trigger is not None)
        )

    def __repr__(self) -> str:
        return f"<StateMachine {self.name} v{self.version}: {len(self.index.states)} states>"

    # ----------------------------------------------------------------- guards and actions
    guard = bindings.guard
    action = bindings.action
    bind_guards = bindings.bind_guards
    bind_actions = bindings.bind_actions

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

    # ----------------------------------------------------------------- contexts and payloads
    @property
    def context_model(self) -> type[BaseModel] | None:
        """The context model given as ``context_model=`` (``None``: contexts are dicts)."""
        return self._context_model

    coerce_context = context_frames.coerce_context
    check_context = context_frames.check_context
    context_json = context_frames.context_json
    context_schema = context_frames.context_schema
    event_model = context_frames.event_model
    event_schemas = context_frames.event_schemas

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
            ctx: Any = NO_CONTEXT if context is None else context
            if self.hooks:
                return self.select_observed(state, trigger, ctx, ctx, context, history)
            return self.select(state, trigger, ctx, ctx, context, history)
        return self.send_step(state, trigger, context, None, history)

    async def aprocess(
        self,
        state: str,
        trigger: str,
        context: Context | BaseModel | None = None,
        *,
        history: History | None = None,
    ) -> TransitionResult:
        """Like ``process``, awaiting guards that are async."""
        return await self.asend_step(state, trigger, context, None, history)

    # The session's entry points: ``EntitySession`` (``runtime/session.py``) drives the
    # machine through these public names only (with ``plain``, ``hooks``, ``index``,
    # ``has_context_model``, ``keeps_runtime`` and ``session_class``).
    select = fast_select.select
    """The sync driver for a plain machine (``plain``): ``select(state, trigger, ctx, view,
    given, history=None)``, with no hooks called; ``send`` calls it directly."""

    select_observed = observed.select_observed
    """``select`` with the hooks of ``hooks`` called around it (same arguments)."""

    def send_step(
        self,
        state: str,
        trigger: str,
        given: Any,
        payload: Mapping[str, Any] | None,
        history: History | None,
    ) -> TransitionResult:
        """``process`` of a session: ``send_step(state, trigger, context, payload, history)``
        merges (and validates) the sent ``payload`` into the context first (``payload``
        ``None``: ``process``, which reads the declared keys from the context)."""
        checked = frame(self, state, trigger, given, payload)
        if isinstance(checked, TransitionResult):
            return failed_early(self, state, trigger, given, checked)
        ctx, view = checked
        if self.hooks:
            return self.select_observed(state, trigger, ctx, view, given, history)
        return self.select(state, trigger, ctx, view, given, history)

    async def asend_step(
        self,
        state: str,
        trigger: str,
        given: Any,
        payload: Mapping[str, Any] | None,
        history: History | None,
    ) -> TransitionResult:
        """``send_step`` awaiting async guards (``asend``, ``aprocess``)."""
        if self.plain:
            ctx: Any = NO_CONTEXT if given is None else given
            if payload:
                ctx = {**ctx, **payload}
            view: Context = ctx
        else:
            checked = frame(self, state, trigger, given, payload)
            if isinstance(checked, TransitionResult):
                return failed_early(self, state, trigger, given, checked)
            ctx, view = checked
        if self.hooks:
            return await aselect_observed(self, state, trigger, ctx, view, given, history)
        return await aselect(self, state, trigger, ctx, view, given, history)

    # ----------------------------------------------------------------- steps without an event
    start = entry_and_timers.start
    astart = entry_and_timers.astart
    fire_timer = entry_and_timers.fire_timer
    afire_timer = entry_and_timers.afire_timer

    # ----------------------------------------------------------------- configurations
    is_active = configurations.is_active
    configuration_leaves = configurations.configuration_leaves
    resolve_state = configurations.resolve_state
    enter_parallel_state = configurations.enter_parallel_state
    process_parallel = configurations.process_parallel

    # ----------------------------------------------------------------- queries
    def get_initial_state(self) -> str:
        """The configuration a new entity starts in (before any eventless transition)."""
        return self.index.initial_state

    get_available_transitions = configurations.get_available_transitions
    get_triggers = configurations.get_triggers
    is_terminal = configurations.is_terminal

    # ----------------------------------------------------------------- questions (guards run)
    allowed_triggers = questions.allowed_triggers
    """``allowed_triggers(state, context=None, *, history=None) -> list[str]``: the triggers
    that would fire, guards evaluated; nothing changes, no action runs, no hook is told."""
    aallowed_triggers = questions.aallowed_triggers
    can = questions.can
    """``can(state, trigger, context=None, *, payload=None, history=None) -> bool``: would
    ``trigger`` fire (``process``, or ``send`` with ``payload``); nothing changes."""
    acan = questions.acan

    # ----------------------------------------------------------------- sessions
    def session_class(self) -> type[EntitySession]:
        """The ``EntitySession`` subclass this machine's sessions are made of (made once, by
        ``runtime.session.session_class``, unless ``use_session_class`` gave one)."""
        cls = self._session_class
        if cls is None:
            cls = self._session_class = make_session_class(self)
        return cls

    def use_session_class(self, cls: type[EntitySession]) -> None:
        """Make this machine's sessions (``create``, ``EntitySession.from_snapshot``)
        instances of ``cls``, a subclass of ``EntitySession`` (a class machine's sessions
        are ``MachineSession`` instances, ``runtime/classes.py``)."""
        if not (isinstance(cls, type) and issubclass(cls, EntitySession)):
            raise TypeError(f"use_session_class expects an EntitySession subclass, got {cls!r}")
        self._session_class = cls

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
