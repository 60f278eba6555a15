"""What a step runs with: the machine's contexts, contracts and declared payloads.

A step's *frame* is the pair (what named guards receive, what expressions read): the context
itself for a dict, or a context model's instance and a ``ModelView`` of it (with the step's
payload keys that are not fields of the model laid over it, for the step only). What lives
here, each bound as a method of ``StateMachine``:

* ``frame``: the frame of an event (``send_step``, and ``process`` of a machine that is not
  plain), or the failed result of a payload or context that does not validate. Its phases:
  ``payload_values`` (the trigger's declared payload, validated), then ``dict_frame`` (a
  dict context, checked against the ``context:`` contract) or, for a context model,
  ``known_instance``, ``lay_payload`` and ``state_contract``;
* ``entry_frame``: the frame of a step no event sends (``start``, ``fire_timer``);
* ``model_rebuild``: how an ``assign`` makes the next instance of a context model;
* the public methods on contexts and payloads: ``coerce_context``, ``check_context``,
  ``context_json``, ``context_schema``, ``event_model``, ``event_schemas``.

The ``ModelView`` of an instance with nothing laid over it is made by
``fast_select.model_view``, which keeps the last one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from pystator.engine import (
    AssignFailed,
    configuration,
    context_invalid,
    payload_invalid,
)
from pystator.engine.datamodel import Rebuild
from pystator.engine.index import StateNode
from pystator.errors import ContextValidationError
from pystator.models.result import TransitionResult
from pystator.runtime.contract import (
    ContextContract,
    EventContract,
    ModelView,
    TypedContext,
    validation_errors,
)
from pystator.runtime.fast_select import model_view
from pystator.runtime.guard_drivers import NO_CONTEXT

if TYPE_CHECKING:
    from pystator.runtime.machine import StateMachine

Context = Mapping[str, Any]
Frame = tuple[Any, Context]
"""(what named guards receive, what expressions read)."""
_ABSENT: Any = object()


def model_rebuild(typed: TypedContext) -> Rebuild:
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


def frame(
    machine: StateMachine,
    state: str,
    trigger: str,
    given: Any,
    payload: Mapping[str, Any] | None,
) -> Frame | TransitionResult:
    """The frame of one event, or the failed result of a payload or a context that does
    not validate.

    The payload is validated first (a session's ``payload``; for ``process``, the declared
    keys read from ``given``) and its coerced values are laid over the context: without a
    context model they are merged into a new dict; with one, keys that are fields of the
    model (every key when it keeps extras) update a new, validated instance and the others
    are visible to expressions during the step only.
    """
    # An undefined state raises before any check, and a terminal state answers
    # ``terminal_state`` whatever the payload (the checks are for an event that can fire).
    node = machine.index.states.get(state)
    if node is None:
        configuration(machine.index, state)
    raw: Any = NO_CONTEXT if given is None else given
    coerced = payload
    event = machine._events.get(trigger)
    if event is not None:
        values = payload_values(event, node, state, trigger, raw, payload)
        if isinstance(values, TransitionResult):
            return values
        coerced = values
    typed = machine._typed
    if typed is None:
        return dict_frame(machine, state, trigger, raw, coerced)
    if type(raw) is typed.model:  # a session's own instance, validated when it was made
        instance, overlay = raw, None
    else:
        known = known_instance(typed, state, trigger, raw)
        if isinstance(known, TransitionResult):
            return known
        instance, overlay = known
    if coerced:
        laid = lay_payload(typed, state, trigger, instance, overlay, coerced)
        if isinstance(laid, TransitionResult):
            return laid
        instance, overlay = laid
    contract = machine._contract
    if contract is not None and contract.per_state:
        failed = state_contract(machine, contract, state, trigger, instance)
        if failed is not None:
            return failed
    if overlay is None:
        return instance, model_view(machine, instance)
    return instance, ModelView(instance, overlay)


def payload_values(
    event: EventContract,
    node: StateNode | None,
    state: str,
    trigger: str,
    raw: Any,
    payload: Mapping[str, Any] | None,
) -> Mapping[str, Any] | TransitionResult | None:
    """The declared payload of ``trigger``, validated and coerced: from ``payload`` (a
    session's), or the declared keys read from the context (``process``). For ``process``,
    only the values coercion changed, the others being in the context already. A terminal
    state checks nothing (``payload`` as given)."""
    if node is not None and node.is_final:
        return payload
    source: Any = ModelView(raw) if isinstance(raw, BaseModel) else raw
    try:
        values = event.validate(event.read(source) if payload is None else payload, source)
    except ValidationError as exc:
        return payload_invalid(state, trigger, validation_errors(exc))
    if payload is None:
        return {k: v for k, v in values.items() if source.get(k, _ABSENT) is not v}
    return values


def dict_frame(
    machine: StateMachine,
    state: str,
    trigger: str,
    raw: Any,
    coerced: Mapping[str, Any] | None,
) -> Frame | TransitionResult:
    """The frame of a dict context: the payload merged into a new dict, then checked
    against the ``context:`` contract."""
    ctx: Any = {**raw, **coerced} if coerced else raw
    invalid = check_context(machine, state, trigger, ctx)
    return (ctx, ctx) if invalid is None else invalid


def known_instance(
    typed: TypedContext, state: str, trigger: str, raw: Any
) -> tuple[BaseModel, dict[str, Any] | None] | TransitionResult:
    """An instance of the context model made of ``raw``, with the keys that are not its
    fields (to lay over its view), or the failed result of a context that does not
    validate."""
    try:
        return typed.coerce_known(raw)
    except ValidationError as exc:
        return context_invalid(state, trigger, validation_errors(exc))


def lay_payload(
    typed: TypedContext,
    state: str,
    trigger: str,
    instance: BaseModel,
    overlay: dict[str, Any] | None,
    coerced: Mapping[str, Any],
) -> tuple[BaseModel, dict[str, Any] | None] | TransitionResult:
    """The payload over a context model's instance: its fields update a new, validated
    instance, the other keys join the overlay."""
    into, other = typed.split(coerced)
    if into:
        try:
            instance = typed.update(instance, into)
        except ValidationError as exc:
            return context_invalid(state, trigger, validation_errors(exc))
    if other:
        overlay = {**overlay, **other} if overlay else other
    return instance, overlay


def state_contract(
    machine: StateMachine,
    contract: ContextContract,
    state: str,
    trigger: str,
    instance: BaseModel,
) -> TransitionResult | None:
    """The failed result of an instance that breaks a per-state rule of the ``context:``
    contract (fields required in some states), or ``None``."""
    configuration(machine.index, state)
    errors = contract.state_errors(instance, lambda name: machine.is_active(state, name))
    return context_invalid(state, trigger, errors) if errors else None


def entry_frame(
    machine: StateMachine, given: Any, label: str, state: str = ""
) -> Frame | TransitionResult:
    """The frame of a timer in ``state`` or of the entry into the initial state (no
    payload)."""
    typed = machine._typed
    if typed is None:
        ctx: Any = NO_CONTEXT if given is None else given
        return ctx, ctx
    try:
        instance = typed.coerce(given)
    except ValidationError as exc:
        return context_invalid(state, label, validation_errors(exc))
    return instance, ModelView(instance)


def check_context(
    machine: StateMachine, state: str, trigger: str, ctx: Any
) -> TransitionResult | None:
    """The failed result for a context that breaks the contract, or ``None`` if it is fine
    (or the machine has no contract). Raises ``UndefinedStateError`` for a bad ``state``."""
    contract = machine._contract
    if contract is None:
        return None
    configuration(machine.index, state)
    errors = contract.errors(ctx, lambda name: machine.is_active(state, name))
    return context_invalid(state, trigger, errors) if errors else None


def coerce_context(machine: StateMachine, data: Any) -> Any:
    """With a context model, the validated instance of ``data`` (a dict or an instance;
    raises ``ContextValidationError`` listing the fields); without one, ``data`` as given
    (``None``: a new empty dict)."""
    typed = machine._typed
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


def context_json(machine: StateMachine, value: Any) -> dict[str, Any]:
    """A JSON-ready dict of a context: a model instance through ``model_dump(mode="json")``,
    a mapping as a new dict (``None``: ``{}``)."""
    if value is None:
        return {}
    if isinstance(value, BaseModel):
        # By alias: the stored JSON is what the published context schema describes.
        return value.model_dump(mode="json", by_alias=True)
    return dict(value)


def context_schema(machine: StateMachine) -> dict[str, Any]:
    """The JSON Schema of this machine's context contract (its context model's, when there
    is one)."""
    if machine._contract is not None:
        return machine._contract.json_schema()
    if machine.definition.context is not None:
        return ContextContract(machine.definition.context, None).json_schema()
    return {"type": "object"}


def event_model(machine: StateMachine, trigger: str) -> type[BaseModel] | None:
    """The payload model of ``trigger``: the one given in ``event_models=``, or one made
    from the definition's ``events:`` entry; ``None`` when the payload is undeclared."""
    contract = machine._events.get(trigger)
    return contract.model if contract is not None else None


def event_schemas(machine: StateMachine) -> dict[str, dict[str, Any]]:
    """trigger -> the JSON Schema of its declared payload."""
    return {trigger: c.json_schema() for trigger, c in machine._events.items()}
