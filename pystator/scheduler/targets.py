"""What every scheduler shares: the orchestrators it fires timers through, by machine name."""

from __future__ import annotations

from pystator.runtime.ports import TimerTarget


class TargetRegistry:
    """Maps machine names to the orchestrators (``TimerTarget``) that fire their timers.

    A replica fires any stored timer of a machine it registered, including timers another
    replica armed.
    """

    def __init__(self) -> None:
        self._targets: dict[str, TimerTarget] = {}
        self.fired = 0
        """Timers this scheduler fired (the orchestrator returned, whatever the result)."""

    def register(self, target: TimerTarget) -> None:
        """Fire timers of ``target.machine_name`` through ``target`` (an orchestrator)."""
        self._targets[target.machine_name] = target

    @property
    def machines(self) -> list[str]:
        """Machine names this scheduler fires timers for."""
        return sorted(self._targets)
