"""What stores keep: entities, committed transitions, the action outbox, idempotency keys,
and the machine definitions the API serves.

A ``Commit`` is everything one event changes, written at once and only if the entity is
still at ``expected_version``: the new state and context, the transition's history row, the
actions to run (the outbox) and the idempotency key.

``build_record`` makes one of these records without validation, for values PyStator built
itself (the orchestrator and the stores, on every event); it is
``pystator._unvalidated.construct``, where that trick and its plain twin live.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pystator._unvalidated import construct
from pystator.models.snapshot import TimerSnapshot

ActionStatus = Literal["pending", "done", "failed"]


class EntityRecord(BaseModel):
    """The stored state of one entity."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    machine_name: str
    entity_id: str
    state: str = Field(description="The active configuration.")
    context: dict[str, Any] = Field(default_factory=dict)
    version: int = Field(ge=0, description="Committed transitions so far; 0 = never stored.")
    history: dict[str, list[str]] = Field(default_factory=dict, description="History memory.")
    timers: list[TimerSnapshot] = Field(default_factory=list, description="Armed timers.")
    created_at: float = 0.0
    updated_at: float = 0.0


class TransitionRecord(BaseModel):
    """One committed transition of an entity (its history row)."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    machine_name: str
    entity_id: str
    version: int = Field(ge=1, description="The entity's version after this transition.")
    source_state: str
    target_state: str
    trigger: str
    context_changes: dict[str, Any] = Field(
        default_factory=dict, description="Keys the event set or changed, with new values."
    )
    context_removed: list[str] = Field(default_factory=list)
    at: float = Field(description="Unix time of the commit.")
    idempotency_key: str | None = None
    result: dict[str, Any] = Field(
        default_factory=dict,
        description="The TransitionResult as JSON (replayed on a duplicate idempotency key).",
    )


class OutboxItem(BaseModel):
    """An action of a committed transition, to run at least once."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    id: str = Field(description="'<machine>/<entity>/<version>/<n>': stable, for deduplication.")
    machine_name: str
    entity_id: str
    version: int
    position: int = Field(ge=0, description="Order among the transition's actions.")
    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(
        default_factory=dict, description="The context the action runs with."
    )
    status: ActionStatus = "pending"
    attempts: int = 0
    last_error: str | None = None
    claimed_until: float = Field(
        default=0.0, description="Unix time until which a runner holds this item."
    )
    created_at: float = 0.0


class IdempotencyRecord(BaseModel):
    """An idempotency key that was applied, with what it produced."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    machine_name: str
    entity_id: str
    key: str
    fingerprint: str = Field(description="sha256 of the trigger and the event's context.")
    version: int
    result: dict[str, Any]


class Commit(BaseModel):
    """One atomic, version-checked write."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    entity: EntityRecord = Field(description="The entity as it is after the event.")
    expected_version: int = Field(ge=0, description="Write only if the stored version is this.")
    transition: TransitionRecord | None = None
    outbox: list[OutboxItem] = Field(default_factory=list)
    idempotency: IdempotencyRecord | None = None
    incarnation: float | None = Field(
        default=None,
        description=(
            "When set, the commit (of an existing entity) also requires the stored entity's "
            "created_at to equal it: an entity deleted and created again is another "
            "incarnation. Set by the orchestrator's record cache."
        ),
    )


class MachineRecord(BaseModel):
    """A machine definition stored for the API (its catalogue), under its machine name."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    id: str = Field(max_length=200, description="The definition's meta.machine_name.")
    name: str = Field(max_length=200)
    version: str = Field(max_length=64)
    description: str | None = None
    revision: int = Field(default=1, ge=1, description="Grows by one with every update.")
    definition: str = Field(description="The definition as JSON text.")
    created_at: float
    updated_at: float


class Page(BaseModel):
    """A page of results with the total count."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    items: list[Any]
    total: int
    limit: int
    offset: int


# Records built on the hot path of every event, without validation: the trick is fenced in
# ``pystator._unvalidated`` (its docstring names the benchmark rows). The name is kept here,
# beside the records it builds, for the orchestrator and the stores.
build_record = construct
