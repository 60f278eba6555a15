"""The serialised form of one entity held by an ``EntitySession``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SNAPSHOT_FORMAT = 1


class SessionSnapshot(BaseModel):
    """A JSON-ready picture of one entity: which machine, which state, which context."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal[1] = Field(default=1, description="Snapshot format version.")
    machine_name: str = Field(description="meta.machine_name of the machine.")
    machine_version: str = Field(description="meta.version of the machine.")
    definition_hash: str = Field(description="sha256 of the canonical JSON of the definition.")
    state: str = Field(description="The active state (a leaf state name).")
    context: dict[str, Any] = Field(default_factory=dict, description="The entity's context.")
    history: dict[str, str] = Field(
        default_factory=dict, description="History memory: compound state -> last active child."
    )
