"""What the engine returns: an immutable ``TransitionResult``, shared by every call, with
``with_context`` to make a call's copy carrying its context; and reports of action runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    computed_field,
    model_validator,
)
from pydantic_core import to_jsonable_python

from pystator._unvalidated import field_copier
from pystator.errors import ERROR_TYPES, FSMError
from pystator.models.definition import ActionSpec

EMPTY_MAPPING: Mapping[str, Any] = MappingProxyType({})


def _freeze_mapping(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return value if isinstance(value, MappingProxyType) else MappingProxyType(dict(value))


ReadOnlyMapping = Annotated[
    Mapping[str, Any],
    AfterValidator(_freeze_mapping),
    PlainSerializer(dict, return_type=dict[str, Any]),
]


def _error_from_json(value: Any) -> Any:
    """Rebuild an ``FSMError`` from its ``{code, type, message}`` form (stored results)."""
    if value is None or isinstance(value, FSMError):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("message"), str):
        cls = ERROR_TYPES.get(str(value.get("type")), FSMError)
        error = FSMError.__new__(cls)
        FSMError.__init__(error, value["message"])
        for key in ("guard_name", "current_state"):
            if key in value:
                setattr(error, key, value[key])
        return error
    raise ValueError("error must be null or an object with 'code', 'type' and 'message'")


def fresh_error(error: FSMError) -> FSMError:
    """A new exception equal to ``error``: same type, arguments and attributes (lists copied),
    with no traceback, cause or context."""
    clone = type(error).__new__(type(error), *error.args)
    clone.__dict__.update(
        {key: list(value) if type(value) is list else value for key, value in vars(error).items()}
    )
    return clone


def _error_to_json(error: FSMError | None) -> dict[str, Any] | None:
    if error is None:
        return None
    data = error.to_dict()
    for key in ("guard_name", "current_state"):
        value = getattr(error, key, None)
        if value:
            data[key] = value
    return data


ErrorField = Annotated[
    FSMError | None,
    BeforeValidator(_error_from_json),
    PlainSerializer(_error_to_json, return_type=dict[str, Any] | None),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "object",
                    "properties": {
                        "code": {"type": "string"},
                        "type": {"type": "string"},
                        "message": {"type": "string"},
                    },
                    "required": ["code", "type", "message"],
                },
                {"type": "null"},
            ]
        }
    ),
]


_READABLE_LENGTH = 200
"""Characters kept of the ``repr`` of a context value JSON has no form for."""


def _readable(value: Any) -> str:
    """A context value JSON has no form for (an object, a client...) as a short string."""
    try:
        text = repr(value)
    except Exception:
        return f"<{type(value).__qualname__}>"
    if len(text) > _READABLE_LENGTH:
        return text[:_READABLE_LENGTH] + "..."
    return text


def _context_to_json(context: Any) -> Any:
    """The JSON form of a result's context: a model instance as its JSON, JSON data as is,
    anything else (at any depth) as a readable string; so a result always serialises."""
    try:
        return to_jsonable_python(context, fallback=_readable)
    except Exception:  # e.g. a container that holds itself
        return _readable(context)


ContextField = Annotated[Any, PlainSerializer(_context_to_json, return_type=Any, when_used="json")]


class TimerSpec(BaseModel):
    """A timer the runtime must arm when ``state`` is entered (and cancel when it is left).

    ``key`` is stable for (state, delayed transition); the runtime makes the id of one arming
    by adding the entity's entry token (see ``docs/semantics.md``), so a timer armed on an
    earlier visit of the state can be told apart.
    """

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    key: str = Field(description="'<state>:after:<transition index>' or '<state>:timeout'.")
    state: str = Field(description="The state whose entry armed the timer.")
    trigger: str = Field(description="The event the timer sends when it fires.")
    delay_ms: int = Field(description="Delay after the entry, in milliseconds.")


HistoryMap = Annotated[
    Mapping[str, tuple[str, ...]],
    AfterValidator(_freeze_mapping),
    PlainSerializer(lambda m: {k: list(v) for k, v in m.items()}, return_type=dict[str, Any]),
]


class TransitionResult(BaseModel):
    """The outcome of one event: the next state and the actions to run, never run here.

    A successful result is shared and immutable: the engine builds it once per (state,
    transition) and hands out the same object every time.
    """

    model_config = ConfigDict(
        defer_build=True, frozen=True, extra="forbid", arbitrary_types_allowed=True
    )

    success: bool = Field(description="True when a transition fired (or a lenient no-op).")
    source_state: str = Field(description="The state the event was processed in.")
    target_state: str | None = Field(
        default=None, description="The state after the event; None when it failed."
    )
    trigger: str = Field(description="The event that was processed.")
    on_exit_actions: tuple[ActionSpec, ...] = Field(
        default=(), description="Exit actions of every exited state, innermost first."
    )
    actions_to_execute: tuple[ActionSpec, ...] = Field(
        default=(), description="The transition's own actions."
    )
    on_enter_actions: tuple[ActionSpec, ...] = Field(
        default=(), description="Entry actions of every entered state, outermost first."
    )
    error: ErrorField = Field(default=None, description="Why the event failed, if it did.")
    metadata: ReadOnlyMapping = Field(
        default_factory=lambda: EMPTY_MAPPING,
        description='Details, e.g. {"reason": "guard_rejected"}.',
    )
    exited_states: tuple[str, ...] = Field(
        default=(), description="States exited, innermost first."
    )
    entered_states: tuple[str, ...] = Field(
        default=(), description="States entered, outermost first."
    )

    timers_to_arm: tuple[TimerSpec, ...] = Field(
        default=(), description="Timers of the states entered (arm after cancelling)."
    )
    timers_to_cancel: tuple[str, ...] = Field(
        default=(), description="Keys of the timers of the states exited (cancel first)."
    )
    history: HistoryMap | None = Field(
        default=None,
        description="The entity's history memory after the event (machines with history "
        "states only): history state -> states to re-enter.",
    )
    # Its JSON form never fails (``_context_to_json``): a result always serialises.
    context: ContextField = Field(
        default=None,
        description="The context after the step: the input when nothing was assigned, a new "
        "object when an assign ran (an instance of the context model when there is one).",
    )
    ordered_actions: tuple[ActionSpec, ...] | None = Field(
        default=None,
        description="Set when eventless, done or internal-event transitions followed the "
        "event: every action in execution order across all the steps.",
    )
    internal_events: tuple[str, ...] = Field(
        default=(),
        description="The internal events the step processed, in the order it dequeued them: "
        "those raised by {raise: EVENT} items and done.state events (SCXML's internal queue).",
    )

    def model_post_init(self, _validation_context: Any, /) -> None:
        # ``context`` counts as set on every result, so ``model_dump(exclude_unset=True)``
        # keeps it: added once to a built result's fields set, which ``with_context`` shares.
        self.__pydantic_fields_set__.add("context")

    @model_validator(mode="before")
    @classmethod
    def _drop_computed(cls, data: Any) -> Any:
        # The JSON form carries the computed fields; reading it back ignores them.
        if isinstance(data, dict) and ("all_actions" in data or "state_changed" in data):
            return {k: v for k, v in data.items() if k not in {"all_actions", "state_changed"}}
        return data

    @computed_field  # type: ignore[prop-decorator]
    @cached_property
    def all_actions(self) -> tuple[str, ...]:
        """Names of every action to run, in order: exit, then transition, then enter."""
        return tuple(a.name for a in self.action_specs())

    @computed_field  # type: ignore[prop-decorator]
    @property
    def state_changed(self) -> bool:
        """True when the event moved the entity to another state."""
        return (
            self.success
            and self.target_state is not None
            and (self.target_state != self.source_state)
        )

    def action_specs(self) -> tuple[ActionSpec, ...]:
        """Every action to run with its params, in execution order."""
        if self.ordered_actions is not None:
            return self.ordered_actions
        return (*self.on_exit_actions, *self.actions_to_execute, *self.on_enter_actions)

    def raise_for_error(self) -> TransitionResult:
        """Raise a copy of the carried error if the event failed; return ``self`` otherwise.

        The copy is equal to ``error`` (same type, code, message and attributes) but its own
        object: a failed result is shared like a successful one, so raising ``error`` itself
        would hang this call's traceback on the object every other caller sees.
        """
        if self.error is not None:
            raise fresh_error(self.error)
        return self

    def __bool__(self) -> bool:
        return self.success


with_context: Callable[[TransitionResult, Any], TransitionResult] = field_copier(
    TransitionResult, "context"
)
"""``with_context(result, context)``: ``result`` carrying ``context``, a shallow per-call copy
(results are built once and shared, a context belongs to one call); ``result`` itself when it
carries it already.

The copy is made without validation (every field but ``context`` is the validated
original's), which keeps it under a microsecond: the speed trick and its plain twin live in
``pystator._unvalidated`` (``field_copier``). It shares the original's set of fields set,
which holds ``context`` (``TransitionResult.model_post_init``).
"""


class ActionOutcome(BaseModel):
    """How one action run went."""

    model_config = ConfigDict(
        defer_build=True, frozen=True, extra="forbid", arbitrary_types_allowed=True
    )

    name: str
    params: ReadOnlyMapping = Field(default_factory=lambda: EMPTY_MAPPING)
    success: bool
    error: str | None = Field(default=None, description="'Type: message' of the failure.")
    error_code: str | None = None
    duration_ms: float = 0.0
    attempts: int = 1


class ExecutionReport(BaseModel):
    """The outcome of running a result's actions."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    success: bool = Field(description="True when every action ran without error.")
    outcomes: tuple[ActionOutcome, ...] = ()
    skipped: tuple[str, ...] = Field(
        default=(), description="Actions not run because an earlier one failed (stop_on_error)."
    )

    @property
    def failed(self) -> tuple[ActionOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.success)
