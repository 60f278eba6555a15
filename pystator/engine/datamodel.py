"""Pure context updates: compiled ``assign`` items and the context of one macrostep.

An ``{assign: {field: expression}}`` item is compiled once, at load (``CompiledAssign``). While
the engine runs a macrostep it keeps the context in a ``DataModel`` that the driver created and
reads: after each microstep the engine applies that microstep's assign items to it, in SCXML's
order (exit innermost first, transition, entry outermost first), so the guards of the eventless
and done transitions that follow see the updated context. Applying never mutates a context: a
plain dict is replaced by a new dict; a context model's instance by a new, validated instance
(the driver supplies that ``rebuild``). Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

ValueFn = Callable[[Mapping[str, Any]], Any]
Rebuild = Callable[[Any, Mapping[str, Any], dict[str, Any]], tuple[Any, Mapping[str, Any]]]
"""``rebuild(context, view, updates) -> (new context, new view)``; raises ``AssignFailed``."""


class CompiledAssign:
    """One ``{assign: ...}`` item: (field, evaluator, source) triples and where it was
    declared (``transitions[2].assign``, ``states[1].on_enter[0].assign``)."""

    __slots__ = ("items", "path")

    def __init__(self, path: str, items: tuple[tuple[str, ValueFn, str], ...]) -> None:
        self.path = path
        self.items = items

    def __repr__(self) -> str:
        return f"CompiledAssign({self.path}: {', '.join(f for f, _, _ in self.items)})"


class AssignFailed(Exception):
    """An assign item could not be computed, or its result is not a valid context."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def dict_rebuild(
    context: Any, view: Mapping[str, Any], updates: dict[str, Any]
) -> tuple[Any, Mapping[str, Any]]:
    """The rebuild of a plain mapping context: a new dict (the input is never written)."""
    new = {**context, **updates}
    return new, new


class DataModel:
    """The context of one macrostep: ``context`` is what named guards and actions receive,
    ``view`` what expressions read (the same dict for a plain context; a mapping view of a
    model instance, with the payload laid over it, for a typed one)."""

    __slots__ = ("assigned", "context", "rebuild", "view")

    def __init__(
        self, context: Any, view: Mapping[str, Any], rebuild: Rebuild = dict_rebuild
    ) -> None:
        self.context = context
        self.view = view
        self.rebuild = rebuild
        self.assigned = False
        """Some assign item ran: ``context`` is a new object."""

    def apply(self, assigns: Iterable[CompiledAssign]) -> None:
        """Run ``assigns`` in order; each item's expressions read the context as the items
        before it left it. Raises ``AssignFailed`` (nothing is kept by the caller then)."""
        for assign in assigns:
            view = self.view
            updates: dict[str, Any] = {}
            for field, evaluate, source in assign.items:
                try:
                    updates[field] = evaluate(view)
                except Exception as exc:  # ExpressionError, or a limit of the language
                    raise _failed(assign, field, source, exc) from None
            self.context, self.view = self.rebuild(self.context, view, updates)
            self.assigned = True


def apply_to_dict(assigns: Iterable[CompiledAssign], context: Mapping[str, Any]) -> dict[str, Any]:
    """``DataModel.apply`` for a plain mapping context, without the object: the new dict.
    Raises ``AssignFailed``."""
    current: Mapping[str, Any] = context
    for assign in assigns:
        items = assign.items
        if len(items) == 1:  # the usual item, one field: no dict of updates to build
            field, evaluate, source = items[0]
            try:
                current = {**current, field: evaluate(current)}
            except Exception as exc:
                raise _failed(assign, field, source, exc) from None
            continue
        updates: dict[str, Any] = {}
        for field, evaluate, source in items:
            try:
                updates[field] = evaluate(current)
            except Exception as exc:
                raise _failed(assign, field, source, exc) from None
        current = {**current, **updates}
    return current  # type: ignore[return-value]


def _failed(assign: CompiledAssign, field: str, source: str, exc: Exception) -> AssignFailed:
    return AssignFailed([f"{field}: cannot compute {source!r} ({assign.path}.{field}): {exc}"])
