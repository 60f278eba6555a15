"""Actions: ``ActionRegistry`` and ``ActionExecutor`` (also importable from ``pystator``)."""

from pystator.runtime.executor import ActionExecutor
from pystator.runtime.registry import ActionRegistry

__all__ = ["ActionExecutor", "ActionRegistry"]
