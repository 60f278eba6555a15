"""Name -> function registries for guards and actions.

Guards are called as ``fn(context, **params)`` and return a bool (or, for ``aprocess``, an
awaitable of one). Actions are called as ``fn(context, **params)``; their return value is
ignored. ``params`` come from the definition (``{name: ..., params: {...}}``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
Fn = Callable[..., Any]


class _Registry:
    kind = "function"

    def __init__(self) -> None:
        self._items: dict[str, Fn] = {}

    def register(self, name: str, fn: F) -> F:
        """Register ``fn`` under ``name`` (replacing an earlier one); returns ``fn``."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"{self.kind} name must be a non-empty string, got {name!r}")
        if not callable(fn):
            raise TypeError(f"{self.kind} '{name}' must be callable, got {type(fn).__name__}")
        self._items[name] = fn
        return fn

    def decorator(self, name: str | None = None) -> Callable[[F], F]:
        """``@registry.decorator("name")``; without a name the function's ``__name__`` is used."""

        def wrap(fn: F) -> F:
            return self.register(name or fn.__name__, fn)

        return wrap

    def get(self, name: str) -> Fn | None:
        return self._items.get(name)

    def unregister(self, name: str) -> None:
        self._items.pop(name, None)

    def update(self, other: _Registry) -> None:
        """Copy every entry of ``other`` into this registry."""
        self._items.update(other._items)

    def names(self) -> list[str]:
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({sorted(self._items)})"


class GuardRegistry(_Registry):
    """Guards by name: ``register(name, fn)`` or ``@decorator(name)``."""

    kind = "guard"


class ActionRegistry(_Registry):
    """Actions by name: ``register(name, fn)`` or ``@decorator(name)``."""

    kind = "action"
