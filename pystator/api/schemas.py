"""Request and response bodies of the HTTP API (the definition models are reused as they are).

Every request model forbids unknown fields, so a misspelled key is a 422 that names it, not
a silently ignored value.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StrictBool,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from pystator.models.definition import TRIGGER_PATTERN, MachineDefinition
from pystator.models.entity import TransitionRecord
from pystator.models.result import TransitionResult
from pystator.models.snapshot import TimerSnapshot

MACHINE_ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
ENTITY_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]*$"

JSONObject = dict[str, Any]
MachineId = Annotated[str, StringConstraints(pattern=MACHINE_ID_PATTERN, max_length=200)]
EntityId = Annotated[str, StringConstraints(pattern=ENTITY_ID_PATTERN, max_length=200)]
GuardOutcomes = dict[Annotated[str, StringConstraints(min_length=1, max_length=200)], StrictBool]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ----------------------------------------------------------------------------- errors
class ErrorItem(_Response):
    """One problem: where (a dotted path into the request) and what."""

    path: str = Field(description="Where, e.g. 'body.config.transitions[3].dest'.")
    message: str = Field(description="What is wrong, in words.")


class ErrorBody(_Response):
    """Every 4xx answer: a readable sentence, and the individual problems when there are
    several."""

    detail: str = Field(description="What went wrong, in one sentence.")
    errors: list[ErrorItem] = Field(default_factory=list, description="Each problem found.")


# ----------------------------------------------------------------------------- health
class HealthOut(_Response):
    status: Literal["ok"] = "ok"
    version: str = Field(description="The PyStator version serving.")
    auth_enabled: bool = Field(description="False when no auth secret is configured.")


class CheckOut(_Response):
    ok: bool
    configured: bool = True
    detail: str = Field(default="", description="Why the check failed (no secrets shown).")


class ReadyOut(_Response):
    status: Literal["ready", "unavailable"]
    database: CheckOut
    redis: CheckOut


# ----------------------------------------------------------------------------- definitions
class DocumentedAs:
    """Annotation: document a field with ``model``'s JSON Schema, validate it as annotated.

    A definition in a request is ``MachineDefinition`` in the OpenAPI document (FastAPI
    emits the model and its parts as components), while the route receives the plain JSON
    object and validates it with the loader (``pystator.api.definitions``): inside a parse
    slot and off the event loop, with the messages every other way in gives, and cached by
    its data for ``/process``. Validating it while FastAPI reads the body would run on the
    event loop, outside the parse slots (45 ms for a 680 KB definition, more for hostile
    ones).
    """

    def __init__(self, model: type[BaseModel]) -> None:
        self.model = model

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return handler(self.model.__pydantic_core_schema__)


DefinitionData = Annotated[
    JSONObject,
    DocumentedAs(MachineDefinition),
    Field(description="The machine definition (a MachineDefinition, as in a YAML file)."),
]
"""A definition as JSON data, documented as ``MachineDefinition``, validated by the loader."""


class ConfigInput(_Request):
    """A definition as JSON data."""

    config: DefinitionData


class YamlInput(_Request):
    """A definition as YAML text (problems name their line)."""

    yaml: str = Field(max_length=1_048_576, description="The definition as YAML text.")


class AnyConfigInput(_Request):
    """Any JSON object, checked as a definition (``/validate`` reports what is wrong)."""

    config: JSONObject = Field(description="The machine definition to check.")


DefinitionInput = ConfigInput | YamlInput
"""A definition to store or run: ``{"config": {...}}`` or ``{"yaml": "..."}``."""

ValidateRequest = AnyConfigInput | YamlInput
"""``POST /api/v1/validate``: any object (answered 200 either way, with every problem)."""


class MachineSummary(_Response):
    """What a valid definition contains."""

    name: str
    version: str
    description: str | None = None
    strict_mode: bool
    initial_state: str
    states: list[str]
    triggers: list[str]
    transitions: int = Field(description="Number of transitions.")
    named_guards: list[str] = Field(
        description="Guards by name; /process needs their outcomes in 'guards'."
    )


class LintWarning(_Response):
    """A lint finding about a valid definition (docs/lint.md): it loads and runs, but holds
    something that cannot be meant."""

    code: str = Field(
        description="Stable code of the finding (see docs/lint.md).",
        examples=["unreachable-state"],
    )
    path: str = Field(
        description="Where in the definition, e.g. 'states[3]' or 'transitions[5].trigger'."
    )
    message: str = Field(description="What is wrong, naming the state or trigger, and the fix.")
    line: int | None = Field(
        default=None, description="Line in the 'yaml' text, when the definition came as YAML."
    )


class ValidateResponse(_Response):
    valid: bool
    errors: list[ErrorItem] = Field(
        default_factory=list, description="Every problem, with its path in the definition."
    )
    warnings: list[LintWarning] = Field(
        default_factory=list,
        description="Lint findings of a valid definition (unreachable states, dead ends, "
        "shadowed transitions, triggers and done events that never fire); empty when clean "
        "or invalid.",
    )
    summary: MachineSummary | None = Field(default=None, description="Set when valid.")


class ProcessRequest(_Request):
    """``POST /api/v1/process``: one stateless transition."""

    config: DefinitionData
    current_state: Annotated[str, StringConstraints(min_length=1, max_length=10_000)] = Field(
        description="A state name, or a parallel configuration such as 'P(r1=A, r2=B)'."
    )
    trigger: Annotated[str, StringConstraints(pattern=TRIGGER_PATTERN, max_length=220)]
    context: JSONObject = Field(default_factory=dict, description="The event's context.")
    guards: GuardOutcomes = Field(
        default_factory=dict,
        description="Outcome of every named guard the transition may need. A named guard "
        "that is needed but missing here is a 422 naming it; 'expr' guards are evaluated.",
    )
    history: dict[str, list[str]] | None = Field(
        default=None, description="History memory (machines with history states)."
    )


# ----------------------------------------------------------------------------- machines
class MachineOut(_Response):
    """A stored machine."""

    id: str = Field(description="The machine's id: its meta.machine_name.")
    name: str
    version: str = Field(description="meta.version of the definition.")
    revision: int = Field(description="Incremented by every PUT.")
    description: str | None = None
    created_at: datetime
    updated_at: datetime


class MachineDetail(MachineOut):
    config: DefinitionData
    summary: MachineSummary


class MachineSchemas(_Response):
    """The JSON Schemas of a stored machine's context and of each trigger's payload."""

    machine_id: str
    context: JSONObject = Field(
        description="JSON Schema of the context: the machine's context model, or its "
        "'context' section ({'type': 'object'} when it declares none)."
    )
    events: dict[str, JSONObject] = Field(
        description="JSON Schema of each declared payload, by trigger ('events' section or "
        "event models); triggers without one take any object."
    )


class MachinePage(_Response):
    items: list[MachineOut]
    total: int
    limit: int
    offset: int


# ----------------------------------------------------------------------------- entities
class EntityCreate(_Request):
    """``POST /api/v1/machines/{id}/entities``."""

    entity_id: EntityId | None = Field(default=None, description="Default: a new random id.")
    context: JSONObject = Field(default_factory=dict, description="The initial context.")
    initial_state: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None


class EventSend(_Request):
    """``POST /api/v1/machines/{id}/entities/{entity_id}/events/{trigger}``."""

    context: JSONObject = Field(
        default_factory=dict,
        description="Event payload, merged into the entity's context (checked against the "
        "trigger's declared payload, when it has one).",
    )
    guards: GuardOutcomes = Field(
        default_factory=dict, description="Outcomes of named guards, as in /process."
    )
    idempotency_key: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None,
        description="An event sent twice with the same key is applied once; the second "
        "answer is the first result (metadata.replayed = true).",
    )


class EventRequest(EventSend):
    """``POST /api/v1/machines/{id}/entities/{entity_id}/events``: the trigger in the body."""

    trigger: Annotated[str, StringConstraints(pattern=TRIGGER_PATTERN, max_length=220)]


class EntityOut(_Response):
    machine_id: str
    entity_id: str
    state: str = Field(description="The active configuration.")
    context: JSONObject
    version: int = Field(description="Committed transitions so far (optimistic locking).")
    timers: list[TimerSnapshot] = Field(description="Armed timers of delayed transitions.")
    available_triggers: list[str] = Field(description="Triggers with a transition from here.")
    is_final: bool
    created_at: datetime
    updated_at: datetime


class EventResponse(_Response):
    result: TransitionResult = Field(description="The outcome (success false when refused).")
    entity: EntityOut = Field(description="The entity after the event.")


class EntityPage(_Response):
    items: list[EntityOut]
    total: int
    limit: int
    offset: int


class HistoryPage(_Response):
    items: list[TransitionRecord] = Field(description="Committed transitions, oldest first.")
    limit: int
    offset: int


# ----------------------------------------------------------------------------- auth
class TokenRequest(_Request):
    username: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class TokenResponse(_Response):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires.")


class MeOut(_Response):
    username: str
    authenticated: bool = Field(description="False when auth is off (everyone is anonymous).")
    auth_enabled: bool
    expires_at: datetime | None = None
