"""``ParallelStateConfig``: the model form of a configuration with a parallel state active."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

from pystator.models.config_text import split_parallel

MAX_SHARED = 1_024
"""How many configurations ``SHARED_CONFIGS`` keeps; when full it starts again (cleared)."""


class ParallelStateConfig(BaseModel):
    """A parallel state and the configuration of each of its regions.

    ``str(config)`` is the string ``process`` accepts, e.g.
    ``"MONITORING(feed=STREAMING, risk=CALM)"``; a region's value is its active leaf or a
    nested parallel configuration string.

    The model is frozen and ``regions`` is read-only too: the string form is computed once
    and kept (``config.text``), and ``StateMachine.process_parallel`` shares instances
    between callers.
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


class SharedConfigs(dict[str, ParallelStateConfig]):
    """Configuration string -> its ``ParallelStateConfig``, parsed on first use and shared.

    ``StateMachine.process_parallel`` builds its result with ``SHARED_CONFIGS[target]``, so
    that an event reaching a configuration seen before costs a dictionary look-up. Parsing
    is syntax only (no machine), so one cache serves every machine; sharing is safe because
    the model is frozen. Bounded: when it holds ``MAX_SHARED`` entries it starts again.
    """

    def __missing__(self, text: str) -> ParallelStateConfig:
        config = ParallelStateConfig.from_string(text)
        if len(self) >= MAX_SHARED:
            self.clear()
        self[text] = config
        return config


SHARED_CONFIGS = SharedConfigs()
