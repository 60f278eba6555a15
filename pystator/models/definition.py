"""The canonical machine definition: the one Pydantic model every loader produces.

YAML, JSON, dicts and Python code all end up as a ``MachineDefinition``. It drives validation,
the JSON Schema in ``schemas/``, the API bodies and what stores keep. Models are frozen and
forbid unknown keys; sequences are tuples so a definition cannot change once built.
Cross-reference checks (undefined states, duplicate names, ...) live in ``checks.py`` and run
from the ``model_validator`` here, so a definition built in Python is checked exactly like a
loaded one.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from pystator.models.context import ContextSpec, EventSpec
from pystator.models.data import JSONDict
from pystator.models.names import (
    CallableName,
    Name,
)

TRIGGER_PATTERN = r"^(?:[A-Za-z][A-Za-z0-9_]*|done\.state\.[A-Za-z][A-Za-z0-9_]*)$"
"""Triggers are names; ``done.state.X`` names the event raised when state ``X`` completes."""

DURATION_PATTERN = r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$"
DURATION_RE = re.compile(DURATION_PATTERN)
MAX_DELAY_MS = 366 * 24 * 3600 * 1000

TriggerName = Annotated[str, StringConstraints(pattern=TRIGGER_PATTERN, max_length=220)]
Duration = Annotated[
    int | Annotated[str, StringConstraints(pattern=DURATION_PATTERN, max_length=32)],
    Field(description="Delay: an integer of milliseconds, or '250ms', '5s', '1.5m', '2h'."),
]

StateType = Literal["initial", "stable", "terminal", "parallel", "history"]


def duration_ms(value: int | float | str) -> int:
    """Milliseconds of a delay: ``5000``, ``"250ms"``, ``"5s"``, ``"1.5m"`` or ``"2h"``."""
    if isinstance(value, bool):
        raise ValueError("a delay must be a number of milliseconds or a string like '5s'")
    if isinstance(value, int | float):
        ms = float(value)
    else:
        match = DURATION_RE.match(value)
        if match is None:
            raise ValueError(
                f"{value!r} is not a delay: use 5000 (ms), '250ms', '5s', '1.5m', '2h'"
            )
        number, unit = float(match.group(1)), match.group(2)
        ms = number * {"ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}[unit]
    if not 0 <= ms <= MAX_DELAY_MS:
        raise ValueError(f"delay {value!r} is out of range (0 to 366 days)")
    return round(ms)


class ActionSpec(BaseModel):
    """An action to run, by name, with keyword parameters taken from the definition."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid", title="Action")

    name: CallableName = Field(
        description="Name of the action in the ActionRegistry.", examples=["notify_customer"]
    )
    params: JSONDict = Field(
        default_factory=dict,
        description="Keyword arguments passed to the action after the context.",
        examples=[{"channel": "email"}],
    )


class GuardSpec(BaseModel):
    """A guard: a registered function by ``name`` (with ``params``), or an inline ``expr``."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid", title="Guard")

    name: CallableName | None = Field(
        default=None,
        description="Name of the guard in the GuardRegistry.",
        examples=["is_full_fill"],
    )
    params: JSONDict = Field(
        default_factory=dict,
        description="Keyword arguments passed to a named guard after the context.",
        examples=[{"limit": 100}],
    )
    expr: str | None = Field(
        default=None,
        max_length=2000,
        description="Inline boolean expression over the context, e.g. 'fill_qty >= order_qty'.",
        examples=[
            "fill_qty >= order_qty",
            "qty > 0 and side in ['buy', 'sell']",
            "retries < 3",
        ],
    )

    @model_validator(mode="after")
    def _one_kind(self) -> GuardSpec:
        if (self.name is None) == (self.expr is None):
            raise ValueError("a guard needs exactly one of 'name' or 'expr'")
        if self.expr is not None and self.params:
            raise ValueError("'params' only applies to a named guard, not to 'expr'")
        return self

    @property
    def label(self) -> str:
        """How the guard is named in results and errors: its name, or its expression."""
        return self.name if self.name is not None else f"expr: {self.expr}"


ASSIGN_FIELD_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
"""Context keys an ``assign`` may write: identifiers (what an expression can read back)."""

AssignField = Annotated[str, StringConstraints(pattern=ASSIGN_FIELD_PATTERN, max_length=200)]
AssignExpr = Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class AssignSpec(BaseModel):
    """A pure context update: ``{assign: {field: expression}}``.

    Each expression (the safe expression language) reads the context as it was before this
    item, with the event payload; the engine computes the new context without mutating the
    input. Items run in SCXML's order: exit (innermost first), transition, entry.
    """

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid", title="Assign")

    assign: dict[AssignField, AssignExpr] = Field(
        min_length=1,
        description="Context key -> expression computing its new value, e.g. "
        "{filled_qty: 'filled_qty + qty'}.",
        examples=[{"filled_qty": "filled_qty + qty"}, {"retries": "retries + 1"}],
    )


class RaiseSpec(BaseModel):
    """An internal event: ``{raise: EVENT}`` (SCXML's ``<raise>``).

    The engine queues ``EVENT`` on the internal queue when the item's place in the step is
    reached (exit items, then transition items, then entry items) and processes it in the same
    macrostep, after eventless transitions and before the next external event. An internal
    event carries no payload. In Python: ``RaiseSpec(event="retry")`` or ``{"raise": "retry"}``.
    """

    model_config = ConfigDict(
        defer_build=True,
        frozen=True,
        extra="forbid",
        title="Raise",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    event: TriggerName = Field(
        alias="raise",
        description="The internal event to queue; some transition of the machine must have "
        "it as its trigger.",
        examples=["retry", "validated"],
    )


ActionItem = str | ActionSpec | AssignSpec | RaiseSpec
"""One item of an action list (``actions``, ``on_enter``, ``on_exit``) once validated."""

ActionRef = Annotated[
    CallableName | ActionSpec | AssignSpec | RaiseSpec,
    Field(
        description="An action name, {name, params}, {assign: {field: expression}}, or "
        "{raise: EVENT}."
    ),
]
GuardRef = Annotated[
    CallableName | GuardSpec,
    Field(description="A guard name, {name, params}, or {expr}."),
]


class MachineMeta(BaseModel):
    """Identity and behaviour switches of a machine."""

    model_config = ConfigDict(
        defer_build=True, frozen=True, extra="forbid", title="Meta", coerce_numbers_to_str=True
    )

    machine_name: Name = Field(
        description="Unique name of the machine (letters, digits, _).",
        examples=["order_management"],
    )
    version: str = Field(
        default="1.0.0",
        min_length=1,
        max_length=64,
        description="Version of the definition; snapshots of another major version are refused.",
        examples=["1.0.0"],
    )
    strict_mode: bool = Field(
        default=True,
        description=(
            "Strict: an event with no transition from the current state is a failed result "
            "and a missing named guard raises. Lenient: such an event is a successful no-op."
        ),
    )
    description: str | None = Field(default=None, description="Free text shown in tools.")
    initial: Name | None = Field(
        default=None,
        description="Top-level state the machine starts in; default: the top-level state of "
        "type 'initial', else the first top-level state.",
        examples=["PENDING"],
    )
    expr_on_missing: Literal["false", "error"] = Field(
        default="false",
        description="What an 'expr' guard does when it reads a context key that is missing: "
        "'false' (the guard fails, naming the key) or 'error' (GuardEvaluationError).",
    )
    validate_context: bool = Field(
        default=False,
        description="Check the context against the machine's context contract before guards.",
    )


class TimeoutSpec(BaseModel):
    """Leave a state for ``destination`` when the entity stays in it for ``seconds``."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid", title="Timeout")

    seconds: float = Field(
        gt=0, le=MAX_DELAY_MS / 1000, description="Time allowed in the state.", examples=[30, 300]
    )
    destination: Name = Field(
        description="State entered when the time is up.", examples=["EXPIRED"]
    )


class StateDefinition(BaseModel):
    """One state: a leaf, a compound state (other states name it as their ``parent``), a
    parallel state (``regions``), or a history pseudo-state."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid", title="State")

    name: Name = Field(
        description="Unique state name (letters, digits, _; case is kept).",
        examples=["PENDING", "OPEN", "FILLED"],
    )
    type: StateType = Field(
        default="stable",
        description=(
            "initial: where the machine (or its parent) starts; stable: an ordinary state; "
            "terminal: a final state; parallel: orthogonal regions all active at once; "
            "history: a pseudo-state that re-enters what was last active in its parent."
        ),
    )
    parent: Name | None = Field(
        default=None,
        description="Name of the enclosing compound state, if nested.",
        examples=["ACTIVE"],
    )
    initial_child: Name | None = Field(
        default=None,
        description="Child entered when this compound state is the target of a transition.",
    )
    on_enter: tuple[ActionRef, ...] = Field(
        default=(),
        description="Actions run when the state is entered (outermost first).",
        examples=[["notify_customer"], [{"assign": {"attempts": "attempts + 1"}}]],
    )
    on_exit: tuple[ActionRef, ...] = Field(
        default=(),
        description="Actions run when the state is exited (innermost first).",
        examples=[["release_funds"]],
    )
    regions: tuple[RegionDefinition, ...] = Field(
        default=(), description="Regions of a parallel state (type: parallel)."
    )
    timeout: TimeoutSpec | None = Field(
        default=None, description="Leave for timeout.destination after timeout.seconds here."
    )
    history: Literal["shallow", "deep"] = Field(
        default="shallow",
        description="For type: history: re-enter the last active child (shallow) or the "
        "last active leaves (deep) of the parent.",
    )
    default: Name | None = Field(
        default=None,
        description="For type: history: the state entered when there is no memory yet "
        "(default: the parent's initial child).",
    )
    description: str | None = Field(default=None, description="Free text shown in tools.")
    metadata: JSONDict = Field(
        default_factory=dict, description="Free-form data for tools; the engine ignores it."
    )


class RegionDefinition(BaseModel):
    """One orthogonal region of a parallel state: its own states, one of them active."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid", title="Region")

    name: Name = Field(description="Region name, unique among states and regions.")
    initial: Name | None = Field(
        default=None, description="State the region starts in (default: its first state)."
    )
    states: tuple[Name | StateDefinition, ...] = Field(
        min_length=1,
        description="The region's states: names of simple states, or full state definitions. "
        "Other states can join a region with parent: <region name>.",
    )
    description: str | None = Field(default=None, description="Free text shown in tools.")


class TransitionDefinition(BaseModel):
    """A rule: on ``trigger``, from ``source`` state(s), if every guard passes, go to ``dest``."""

    # How it fires (one of ``trigger``, ``after`` with an optional trigger, or ``auto``) and the
    # range of ``after`` are checked with the cross-references (``models.transition_checks``),
    # in one pass over the machine, instead of a Python validator called for every transition.

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid", title="Transition")

    trigger: TriggerName | None = Field(
        default=None,
        description="Event that fires this transition; optional with 'after' (a trigger is "
        "generated) and absent with 'auto'.",
        examples=["exchange_ack", "fill", "cancel", "done.state.PROCESSING"],
    )
    # A name first: the usual case is then the first branch the union tries.
    source: Name | Literal["*"] | Annotated[tuple[Name, ...], Field(min_length=1)] = Field(
        description="A state, a list of states, or '*' for every non-terminal state.",
        examples=["PENDING", ["OPEN", "PARTIALLY_FILLED"], "*"],
    )
    dest: Name | None = Field(
        default=None,
        description="Target state; omitted for a targetless transition (actions only).",
        examples=["OPEN"],
    )
    guards: tuple[GuardRef, ...] = Field(
        default=(),
        description="All must pass, evaluated in order (fail-fast).",
        examples=[["is_full_fill"], [{"expr": "fill_qty >= order_qty"}]],
    )
    actions: tuple[ActionRef, ...] = Field(
        default=(),
        description="Actions of the transition, run between exit and entry actions.",
        examples=[
            ["notify_customer"],
            [{"name": "notify_customer", "params": {"channel": "email"}}],
        ],
    )
    assign: dict[AssignField, AssignExpr] = Field(
        default_factory=dict,
        description="Context updates of the transition, {field: expression}; the same as a "
        "first {assign: ...} item in 'actions'.",
        examples=[{"filled_qty": "filled_qty + qty"}],
    )
    after: Duration | None = Field(
        default=None,
        description="Delayed transition: fires this long after its source state was entered, "
        "if the entity is still there (armed on entry, cancelled on exit).",
        examples=["5s", "250ms", "1.5m", "2h", 30000],
    )
    auto: bool = Field(
        default=False,
        description="Eventless transition: taken as soon as its guards pass, after every step.",
    )
    priority: int = Field(
        default=0,
        ge=-1_000_000,
        le=1_000_000,
        description="Higher priority is tried first among transitions of the same state.",
    )
    internal: bool = Field(
        default=False,
        description=(
            "Internal: with no dest (or dest == source) only the transition's actions run; "
            "with a dest inside a compound source, the source is not exited (SCXML)."
        ),
    )
    region: Name | None = Field(
        default=None,
        description="The region of a parallel state that holds the source(s), as pystator "
        "0.0.x wrote it; checked when the definition loads (every source must be in it), "
        "otherwise ignored.",
        examples=["payment"],
    )
    description: str | None = Field(default=None, description="Free text shown in tools.")

    @property
    def sources(self) -> tuple[str, ...]:
        """The sources as a tuple; ``('*',)`` for the wildcard."""
        if isinstance(self.source, str):
            return (self.source,)
        return self.source


class MachineDefinition(BaseModel):
    """A whole machine: meta, states and transitions. The single source of truth."""

    model_config = ConfigDict(
        defer_build=True,
        frozen=True,
        extra="forbid",
        title="PyStator machine definition",
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"},
    )

    meta: MachineMeta = Field(description="Identity and behaviour switches.")
    states: tuple[StateDefinition, ...] = Field(
        min_length=1, description="Every state of the machine, in document order."
    )
    transitions: tuple[TransitionDefinition, ...] = Field(
        default=(), description="Every transition, in document order (ties go to the first)."
    )
    context: ContextSpec | None = Field(
        default=None,
        description="The context contract: keys, types, and keys required in given states "
        "(checked when meta.validate_context is true).",
    )
    events: dict[TriggerName, EventSpec] = Field(
        default_factory=dict,
        description="Payload schema per trigger (same field form as context.fields); a bad "
        "payload fails with reason payload_validation before any guard runs.",
        examples=[
            {"fill": {"fields": {"qty": {"type": "integer", "required": True, "minimum": 1}}}}
        ],
    )

    @model_validator(mode="after")
    def _cross_references(self) -> MachineDefinition:
        from pystator.models.checks import check_definition

        check_definition(self)
        return self

    @property
    def name(self) -> str:
        return self.meta.machine_name

    @property
    def version(self) -> str:
        return self.meta.version
