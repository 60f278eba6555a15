"""The mypy plugin of PyStator: typed sessions of machines written as classes.

Enable it next to Pydantic's::

    [tool.mypy]
    plugins = ["pydantic.mypy", "pystator.mypy"]

``Order.create(...)`` is a ``MachineSession[Order, OrderContext]``. Its trigger methods and
``is_<state>`` properties are made at run time from the class, so plain typing cannot name
them; this plugin reads them from the class's attributes: each attribute of type
``Transitions`` is a trigger method (``session.exchange_ack(**payload) -> TransitionResult``),
each ``State`` (not ``History``) an ``is_<name lowercased>`` property. Any other name is an
``attr-defined`` error. Without the plugin such names are ``Any`` (as on every session).

Only mypy imports this module; it uses no other part of PyStator.
"""

from __future__ import annotations

from collections.abc import Callable

from mypy.errorcodes import ATTR_DEFINED
from mypy.nodes import ARG_STAR2, TypeInfo, Var
from mypy.plugin import AttributeContext, Plugin
from mypy.types import AnyType, CallableType, Instance, Type, TypeOfAny, get_proper_type

SESSION = "pystator.runtime.classes.MachineSession"
MACHINE = "pystator.runtime.classes.Machine"
STATE = "pystator.runtime.class_parts.State"
HISTORY = "pystator.runtime.class_parts.History"
TRANSITIONS = "pystator.runtime.class_parts.Transitions"


class PyStatorPlugin(Plugin):
    """Types the trigger methods and ``is_<state>`` properties of ``MachineSession``."""

    def get_attribute_hook(self, fullname: str) -> Callable[[AttributeContext], Type] | None:
        # mypy asks with ``<class defining __getattr__>.<name>`` for names a class lacks.
        prefix = SESSION + "."
        if not fullname.startswith(prefix):
            return None
        name = fullname[len(prefix) :]
        session = self.lookup_fully_qualified(SESSION)
        if (
            session is not None
            and isinstance(session.node, TypeInfo)
            and any(name in base.names for base in session.node.mro)
        ):
            return None  # a real attribute of the session
        return lambda ctx: _session_attribute(name, ctx)


def _session_attribute(name: str, ctx: AttributeContext) -> Type:
    session = get_proper_type(ctx.type)
    if not isinstance(session, Instance) or not session.args:
        return ctx.default_attr_type
    machine = get_proper_type(session.args[0])
    if not isinstance(machine, Instance) or machine.type.fullname == MACHINE:
        return ctx.default_attr_type
    members = _members(machine.type)
    if members is None:
        return ctx.default_attr_type  # a class attribute whose type is not inferred yet
    triggers, properties = members
    if name in triggers:
        return CallableType(
            [AnyType(TypeOfAny.explicit)],
            [ARG_STAR2],
            ["payload"],
            _send_result(session),
            ctx.api.named_generic_type("builtins.function", []),
            name=name,
        )
    if name in properties:
        return ctx.api.named_generic_type("builtins.bool", [])
    ctx.api.fail(
        f'Session of "{machine.type.name}" has no attribute "{name}"{_hint(name, members)}',
        ctx.context,
        code=ATTR_DEFINED,
    )
    return AnyType(TypeOfAny.from_error)


def _send_result(session: Instance) -> Type:
    """``TransitionResult``, read from ``EntitySession.send`` (what a trigger method returns)."""
    send = session.type.get_method("send")
    typ = send.type if send is not None else None
    if isinstance(typ, CallableType):
        return typ.ret_type
    return AnyType(TypeOfAny.special_form)


def _members(info: TypeInfo) -> tuple[set[str], set[str]] | None:
    """The trigger names and ``is_<state>`` property names of a machine class."""
    triggers: set[str] = set()
    lowered: dict[str, int] = {}
    for base in reversed(info.mro):
        for key, symbol in base.names.items():
            node = symbol.node
            if not isinstance(node, Var):
                continue
            if node.type is None:
                if not node.is_inferred:
                    continue
                return None
            typ = get_proper_type(node.type)
            if not isinstance(typ, Instance):
                continue
            kinds = {b.fullname for b in typ.type.mro}
            if TRANSITIONS in kinds:
                triggers.add(key)
            elif STATE in kinds and HISTORY not in kinds:
                prop = f"is_{key.lower()}"
                lowered[prop] = lowered.get(prop, 0) + 1
    # Two states that lowercase alike get no property (as at run time).
    return triggers, {prop for prop, count in lowered.items() if count == 1}


def _hint(name: str, members: tuple[set[str], set[str]]) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(members[0] | members[1]), n=1)
    return f'; maybe "{close[0]}"?' if close else ""


def plugin(version: str) -> type[Plugin]:
    """Entry point mypy calls."""
    return PyStatorPlugin
