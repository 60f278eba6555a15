"""Machines written as Python classes: ``class Order(Machine[OrderContext])``.

States, regions and transitions are class attributes (``pystator.runtime.class_parts``); the
attribute's name is the state's or the trigger's name; guards and actions are methods; the type
parameter is the context model. The class keywords set ``meta``::

    class Order(Machine[OrderContext], version="2.0.0"):
        \"\"\"An exchange order.\"\"\"          # meta.description

        PENDING = State(initial=True)
        OPEN = State(on_enter=["notify"])
        FILLED = State(terminal=True)

        exchange_ack = PENDING.to(OPEN)
        fill = OPEN.to(FILLED, guards=["is_full_fill"])

        def is_full_fill(self, ctx: OrderContext) -> bool:
            return ctx.filled_qty >= ctx.order_qty

* ``Order.definition``: the ``MachineDefinition``, built (and checked) when the class is
  created; equal to the same machine loaded from YAML (``Order.machine().to_yaml()``).
* ``Order.machine()``: the compiled ``StateMachine``, made once per class, with every guard and
  action name the definition uses bound to a method of one ``Order()`` instance, made with no
  arguments when the machine is built: that instance is the ``self`` of every guard and action
  (shared by all entities: keep entity data in the context). A name that is not a method may
  come from the registries given as class keywords (``guards=GuardRegistry``,
  ``actions=ActionRegistry``, bound to the machine, so later registrations are seen); a name
  found in neither is a ``ConfigurationError`` when ``machine()`` is built.
* ``Order.create(context=...)`` / ``Order.restore(snapshot)``: a ``MachineSession`` (an
  ``EntitySession``) that type checkers know: ``session.context`` is the model, and with the
  plugin ``pystator.mypy`` enabled mypy checks its trigger methods and ``is_<state>``
  properties.

Class keywords: ``name`` (default: the class name in snake_case), ``version``, ``strict_mode``,
``description`` (default: the docstring), ``expr_on_missing``, ``validate_context``,
``context`` (a ``ContextSpec``), ``guards``, ``actions``.
"""

from __future__ import annotations

import inspect
import re
import threading
from collections.abc import Callable, Mapping
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Generic,
    Literal,
    Self,
    TypeVar,
    cast,
    get_args,
    get_origin,
)
from weakref import WeakKeyDictionary

from pydantic import BaseModel
from typing_extensions import TypeVar as DefaultTypeVar

from pystator.errors import ConfigIssue, ConfigurationError
from pystator.models.context import ContextSpec
from pystator.models.definition import MachineDefinition
from pystator.models.snapshot import SessionSnapshot
from pystator.runtime.class_definition import build_definition
from pystator.runtime.class_parts import (
    Delayed,
    Eventless,
    History,
    OnDone,
    Region,
    State,
    TransitionGroup,
    Transitions,
)
from pystator.runtime.clock import Clock
from pystator.runtime.machine import StateMachine
from pystator.runtime.registry import ActionRegistry, GuardRegistry
from pystator.runtime.session import EntitySession, session_class

C = DefaultTypeVar("C", default=dict[str, Any])
"""The context type: a Pydantic model class, or ``dict[str, Any]`` (the default)."""
M = TypeVar("M", bound="Machine[Any]")

RESERVED = frozenset(
    {"definition", "machine", "create", "restore", "context_model", "event_models"}
)
"""Names of ``Machine``'s own API: no state, region or trigger may take them."""

_machines: WeakKeyDictionary[type, StateMachine] = WeakKeyDictionary()
_lock = threading.Lock()


class MachineSession(EntitySession, Generic[M, C]):
    """The session of a class-defined machine: an ``EntitySession`` whose context is typed.

    Its trigger methods and ``is_<state>`` properties are made per machine (as for every
    session); the mypy plugin ``pystator.mypy`` tells mypy which ones exist.
    """

    __slots__ = ()

    if TYPE_CHECKING:

        @property
        def context(self) -> C: ...

        def __getattr__(self, name: str) -> Any: ...


def snake_case(name: str) -> str:
    """``OrderManagement`` -> ``order_management``; ``HTTPOrder`` -> ``http_order``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _context_model(cls: type) -> type[BaseModel] | bool | None:
    """The context model named by ``Machine[X]`` among the class's own bases; ``False`` when
    no base is parametrised (inherit the parent's)."""
    for base in cls.__dict__.get("__orig_bases__", ()):
        origin = get_origin(base)
        if isinstance(origin, type) and issubclass(origin, Machine):
            args = get_args(base)
            model = args[0] if args else None
            if isinstance(model, type) and issubclass(model, BaseModel):
                return model
            return None
    return False


class Machine(Generic[C]):
    """Base class of machines written in Python (see the module docstring)."""

    definition: ClassVar[MachineDefinition]
    """The machine's definition, built when the class is created."""
    context_model: ClassVar[type[BaseModel] | None] = None
    """The context model (the type parameter), or ``None`` for dict contexts."""
    event_models: ClassVar[Mapping[str, type[BaseModel]]] = {}
    """Trigger -> payload model, from ``to(..., event=Model)``."""
    _guard_registry: ClassVar[GuardRegistry | None] = None
    _action_registry: ClassVar[ActionRegistry | None] = None
    _transition_owners: ClassVar[tuple[str, ...]] = ()
    _inherited: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(
        cls,
        *,
        name: str | None = None,
        version: str | None = None,
        strict_mode: bool | None = None,
        description: str | None = None,
        expr_on_missing: Literal["false", "error"] | None = None,
        validate_context: bool | None = None,
        context: ContextSpec | None = None,
        guards: GuardRegistry | None = None,
        actions: ActionRegistry | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        model = _context_model(cls)
        if model is not False:
            cls.context_model = model  # type: ignore[assignment]
        if guards is not None:
            cls._guard_registry = guards
        if actions is not None:
            cls._action_registry = actions
        # A subclass keeps its parent's meta switches and context contract, not its name.
        inherited = {**cls._inherited}
        for key, value in (
            ("version", version),
            ("strict_mode", strict_mode),
            ("expr_on_missing", expr_on_missing),
            ("validate_context", validate_context),
            ("context", context),
        ):
            if value is not None:
                inherited[key] = value
        cls._inherited = inherited
        members = _members(cls)
        if not any(isinstance(v, State) for v in members.values()):
            return  # an abstract base: only its subclasses with states are machines
        doc = cls.__dict__.get("__doc__")
        meta = {k: v for k, v in inherited.items() if k != "context"}
        meta["machine_name"] = name or snake_case(cls.__name__)
        if description is None and isinstance(doc, str):
            description = inspect.cleandoc(doc)
        if description:
            meta["description"] = description
        built = build_definition(cls, members, meta, inherited.get("context"))
        cls.definition = built.definition
        cls.event_models = built.event_models
        cls._transition_owners = built.transition_owners

    # ------------------------------------------------------------------ the machine
    @classmethod
    def machine(cls) -> StateMachine:
        """The compiled ``StateMachine`` of this class, with its methods bound as guards and
        actions; built on first call, then the same object."""
        machine = _machines.get(cls)
        if machine is not None:
            return machine
        with _lock:
            machine = _machines.get(cls)
            if machine is None:
                machine = _machines[cls] = _compile(cls)
        return machine

    @classmethod
    def create(
        cls,
        context: C | Mapping[str, Any] | None = None,
        initial_state: str | None = None,
        *,
        clock: Clock | None = None,
    ) -> MachineSession[Self, C]:
        """A new session of this machine (``StateMachine.create``)."""
        session = cls.machine().create(context, initial_state, clock=clock)  # type: ignore[arg-type]
        return cast("MachineSession[Self, C]", session)

    @classmethod
    def restore(
        cls,
        snapshot: Mapping[str, Any] | SessionSnapshot | str,
        *,
        clock: Clock | None = None,
    ) -> MachineSession[Self, C]:
        """A session restored from ``session.snapshot()`` (``EntitySession.from_snapshot``)."""
        session = EntitySession.from_snapshot(cls.machine(), snapshot, clock=clock)
        return cast("MachineSession[Self, C]", session)


def _members(cls: type) -> dict[str, Any]:
    """States, regions and transition groups of ``cls`` and its Machine bases, base first."""
    found: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if not (isinstance(klass, type) and issubclass(klass, Machine)) or klass is Machine:
            continue
        for key, value in vars(klass).items():
            if isinstance(value, State | Region | TransitionGroup):
                if key in RESERVED:
                    raise ConfigurationError(
                        [
                            ConfigIssue(
                                f"{cls.__name__}.{key}",
                                f"'{key}' is a name of Machine's own API: choose another name",
                            )
                        ],
                        source=f"class {cls.__name__}",
                    )
                found[key] = value
            else:
                found.pop(key, None)  # a subclass may replace a state with something else
    return found


# ---------------------------------------------------------------------- compiling
def _compile(cls: type[Machine[Any]]) -> StateMachine:
    definition = getattr(cls, "definition", None)
    if not isinstance(definition, MachineDefinition):
        raise ConfigurationError(
            [ConfigIssue(cls.__name__, "declares no states: it is not a machine")],
            source=f"class {cls.__name__}",
        )
    options: dict[str, Any] = {"context_model": cls.context_model}
    if cls.event_models:
        options["event_models"] = dict(cls.event_models)
    machine = StateMachine.from_definition(definition, **options)
    if cls._guard_registry is not None:
        machine.bind_guards(cls._guard_registry)
    if cls._action_registry is not None:
        machine.bind_actions(cls._action_registry)
    instance = cls()
    issues: list[ConfigIssue] = []
    for kind, names in (("guard", _guard_uses(definition)), ("action", _action_uses(definition))):
        registry = machine.guard_registry if kind == "guard" else machine.action_registry
        for callable_name, where in names.items():
            method = _method(instance, callable_name)
            if method is not None:
                registry.register(callable_name, method)
            elif callable_name not in registry:
                issues.append(
                    ConfigIssue(
                        f"{cls.__name__}.{_attribute(cls, definition, where)}",
                        f"{kind} '{callable_name}' is neither a method of {cls.__name__} nor "
                        f"registered{_did_you_mean(callable_name, cls)}",
                    )
                )
    if issues:
        raise ConfigurationError(issues, source=f"class {cls.__name__}")
    _use_typed_sessions(machine, cls)
    return machine


def _method(instance: Machine[Any], name: str) -> Callable[..., Any] | None:
    if not name.isidentifier() or name.startswith("__") or name in RESERVED:
        return None
    value = getattr(instance, name, None)
    if value is None or isinstance(value, State | Region | TransitionGroup):
        return None
    return value if callable(value) else None


def _did_you_mean(name: str, cls: type) -> str:
    import difflib

    methods = [
        key
        for klass in cls.__mro__
        if klass is not object and klass is not Machine
        for key, value in vars(klass).items()
        if callable(value) and not key.startswith("_") and not isinstance(value, type)
    ]
    close = difflib.get_close_matches(name, methods, n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _guard_uses(definition: MachineDefinition) -> dict[str, str]:
    """Guard name -> where it is first used (``transitions[i]``)."""
    uses: dict[str, str] = {}
    for i, t in enumerate(definition.transitions):
        for g in t.guards:
            name = g if isinstance(g, str) else g.name
            if name is not None:
                uses.setdefault(name, f"transitions[{i}]")
    return uses


def _action_uses(definition: MachineDefinition) -> dict[str, str]:
    """Action name -> where it is first used (``states[i]`` or ``transitions[i]``)."""
    from pystator.models.tree import flatten

    uses: dict[str, str] = {}

    def add(items: tuple[Any, ...], where: str) -> None:
        for item in items:
            name = item if isinstance(item, str) else getattr(item, "name", None)
            if isinstance(name, str):
                uses.setdefault(name, where)

    for node in flatten(definition.states):
        if node.state is not None:
            add(node.state.on_enter + node.state.on_exit, f"state:{node.name}")
    for i, t in enumerate(definition.transitions):
        add(t.actions, f"transitions[{i}]")
    return uses


def _attribute(cls: type, definition: MachineDefinition, where: str) -> str:
    """The class attribute that wrote ``where`` (a state, or the i-th transition)."""
    if where.startswith("state:"):
        return where.removeprefix("state:")
    index = int(where.removeprefix("transitions[").rstrip("]"))
    owners: tuple[str, ...] = getattr(cls, "_transition_owners", ())
    if index < len(owners):
        return owners[index]
    return where


def _use_typed_sessions(machine: StateMachine, cls: type) -> None:
    """Make the machine's sessions ``MachineSession`` instances.

    The trigger methods and ``is_<state>`` properties are the ones ``session_class`` makes
    for every machine, on a ``MachineSession`` base instead of ``EntitySession``.
    """
    plain = session_class(machine)
    attrs = {
        key: value
        for key, value in vars(plain).items()
        if key not in {"__module__", "__slots__", "__doc__", "__qualname__", "__dict__"}
    }
    attrs["__slots__"] = ()
    attrs["__doc__"] = f"A session of {cls.__name__}."
    machine.use_session_class(type(f"{cls.__name__}Session", (MachineSession,), attrs))


__all__ = [
    "Delayed",
    "Eventless",
    "History",
    "Machine",
    "MachineSession",
    "OnDone",
    "Region",
    "State",
    "Transitions",
    "snake_case",
]
