"""``RetryPolicy``: how often the orchestrator tries a failing action, and how long it waits.

Public as ``pystator.RetryPolicy`` and ``pystator.runtime.orchestrator.RetryPolicy`` (the
orchestrator's ``action_retry``); it lives here, beside the other parts of the orchestrator.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often a failing action is tried, with exponential backoff and jitter."""

    max_attempts: int = 3
    base_delay: float = 0.05
    max_delay: float = 2.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must be >= 0")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        base = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return random.uniform(0, base) if self.jitter else base


__all__ = ["RetryPolicy"]
