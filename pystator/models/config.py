"""``ParallelStateConfig``: the model form of a configuration with a parallel state active."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

from pystator.models.config_text import split_parallel


class ParallelStateConfig(BaseModel):
    """A parallel state and the configuration of each of its regions.

    ``str(config)`` is the string ``process`` accepts, e.g.
    ``"MONITORING(feed=STREAMING, risk=CALM)"``; a region's value is its active leaf or a
    nested parallel configuration string.

    The model is frozen and ``regions`` is read-only too: the string form is computed once
    and kept (``config.text``), and ``StateMachine.process_parallel`` shares instances
    between callers (``pystator.runtime.configurations.SHARED_CONFIGS``).
    """

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    state: str = Field(description="The parallel state.")
    regions: dict[str, str] = Field(description="Region name -> the region's configuration.")

    def __str__(self) -> str:
        return self.text

    @cached_property
    def text(self) -> str:
        """``str(config)``, computed once (read it where a call to ``str`` would cost)."""
        inner = ", ".join(f"{name}={value}" for name, value in self.regions.items())
        return f"{self.state}({inner})"

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        # The copy starts with this instance's ``__dict__``, the kept string included: an
        # update must not keep the old one.
        copy = super().model_copy(update=update, deep=deep)
        if update:
            copy.__dict__.pop("text", None)
        return copy

    def to_string(self) -> str:
        return str(self)

    @classmethod
    def from_string(cls, text: str) -> ParallelStateConfig:
        """Parse ``"P(r1=A, r2=Q(x=B, y=C))"`` (syntax only; the machine checks legality).

        Lenient: see ``pystator.models.config_text.split_parallel``."""
        state, regions = split_parallel(text)
        return cls(state=state, regions=regions)
