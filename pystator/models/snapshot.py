"""The serialised form of one entity held by an ``EntitySession``, and of its armed timers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SNAPSHOT_FORMAT = 1


# The runtime's one timer record: an ``EntitySession`` keeps it (its ``pending_timers``, where
# it is named ``PendingTimer``) and an orchestrated entity stores it, both made by the timer
# rule of ``runtime/timers.py``. The docstring below is the HTTP API's description of it.
class TimerSnapshot(BaseModel):
    """One armed timer of an entity."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    id: str = Field(description="'<timer key>@<entry token>': unique per arming.")
    key: str = Field(description="The timer's key in the machine ('<state>:after:<n>').")
    trigger: str = Field(description="The event the timer sends.")
    due: float = Field(description="When it is due, in the session clock's seconds.")


class SessionSnapshot(BaseModel):
    """A JSON-ready picture of one entity: which machine, which state, which context."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    format: Literal[1] = Field(default=1, description="Snapshot format version.")
    machine_name: str = Field(description="meta.machine_name of the machine.")
    machine_version: str = Field(description="meta.version of the machine.")
    definition_hash: str = Field(description="sha256 of the canonical JSON of the definition.")
    state: str = Field(description="The active configuration (a state name, or 'P(r=A, ...)').")
    context: dict[str, Any] = Field(default_factory=dict, description="The entity's context.")
    history: dict[str, list[str]] = Field(
        default_factory=dict, description="History memory: history state -> states to re-enter."
    )
    timers: list[TimerSnapshot] = Field(default_factory=list, description="Armed timers.")
    step: int = Field(default=0, ge=0, description="Transitions taken; makes timer ids unique.")
