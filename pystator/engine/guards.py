"""The expressions of a definition, compiled once at load: guards and ``assign`` items.

A transition's ``guards`` list (SCXML's ``cond``, 5.9.1) names registered guards or holds
inline expressions. ``engine.build`` resolves each reference here while it indexes the
transitions: a name stays a name (the runtime's registry answers it), an ``expr`` is compiled
by the expression language once and kept with a ``why_not`` function, so a rejection needs no
second evaluation to say why. Drivers answer a guard with ``True``/``False`` or a
``Rejection`` (``engine.step``).

The values of ``{assign: {field: expression}}`` items (SCXML's ``<assign>``, 5.4) are compiled
here too, into ``engine.datamodel.CompiledAssign``: both kinds of expression report a problem
the same way, as ``ConfigIssue``s at the path where the expression is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pystator.engine.datamodel import CompiledAssign, ValueFn
from pystator.errors import ConfigIssue, ConfigurationError
from pystator.models.definition import ActionItem, AssignSpec, GuardSpec, TransitionDefinition

ExprFn = Callable[[Mapping[str, Any]], bool]
"""A compiled ``expr`` guard: the context in, the guard's truth out."""
WhyNotFn = Callable[[Mapping[str, Any]], str | None]
"""``None`` when the guard holds, else why not (e.g. the missing context key)."""


class CompiledGuard:
    """A guard reference resolved as far as the definition allows.

    ``name`` is the registry key of a named guard; ``evaluate`` is set for an inline
    expression. ``label`` is how results name the guard. ``why_not``, set by
    ``compile_guard`` for an expression, answers in one call whether the guard holds
    (``None``) or why not, so a rejection needs no second evaluation for its detail.
    """

    __slots__ = ("evaluate", "expr", "label", "name", "params", "why_not")

    def __init__(
        self,
        name: str | None,
        params: Mapping[str, Any] | None,
        expr: str | None,
        evaluate: ExprFn | None,
        why_not: WhyNotFn | None = None,
    ) -> None:
        self.name = name
        self.params = params
        self.expr = expr
        self.evaluate = evaluate
        self.label = name if name is not None else f"expr: {expr}"
        self.why_not = why_not


class Rejection:
    """A guard outcome that is false and says why (e.g. the context key that is missing).

    Drivers send it back to the engine instead of ``False`` when they know more.
    """

    __slots__ = ("detail",)

    def __init__(self, detail: str) -> None:
        self.detail = detail

    def __bool__(self) -> bool:
        return False


def compile_guard(
    ref: str | GuardSpec, compile_expr: Callable[[str], ExprFn] | None
) -> CompiledGuard:
    """Resolve one guard reference; an ``expr`` is compiled once, here."""
    if isinstance(ref, str):
        return CompiledGuard(ref, None, None, None)
    if ref.expr is not None:
        if compile_expr is None:
            raise ValueError("inline expressions need an expression compiler")
        evaluate = compile_expr(ref.expr)
        return CompiledGuard(None, None, ref.expr, evaluate, _why_not_of(evaluate))
    return CompiledGuard(ref.name, ref.params or None, None, None)


def _why_not_of(evaluate: ExprFn) -> WhyNotFn | None:
    """One function saying whether an ``expr`` guard holds (``None``) and, if not, why.

    The expression language's ``explain`` is that function when a missing context key makes
    the guard false; with ``on_missing="error"`` the guard must raise instead, so it is
    evaluated first and explained only when it says no. ``None`` for an expression compiled
    without ``explain``.
    """
    explain = getattr(evaluate, "explain", None)
    if explain is None:
        return None
    if getattr(evaluate, "on_missing", None) == "false":
        return explain  # type: ignore[no-any-return]
    return lambda ctx: None if evaluate(ctx) else explain(ctx)


def compile_guards(
    i: int,
    t: TransitionDefinition,
    compile_expr: Callable[[str], ExprFn] | None,
    issues: list[ConfigIssue],
) -> tuple[CompiledGuard, ...] | None:
    """The compiled guards of transition ``i``; ``None`` after adding its problems to
    ``issues`` (each at its path, ``transitions[i].guards[j]``)."""
    guards: list[CompiledGuard] = []
    failed = False
    for j, ref in enumerate(t.guards):
        where = f"transitions[{i}].guards[{j}]"
        try:
            guards.append(compile_guard(ref, compile_expr))
        except ConfigurationError as exc:
            # The compiler reports the expression; the path says which guard it is.
            issues.extend(_issues_at(f"{where}.expr", exc))
            failed = True
        except ValueError as exc:
            issues.append(ConfigIssue(where, str(exc)))
            failed = True
    return None if failed else tuple(guards)


def action_assigns(
    path: str,
    refs: tuple[ActionItem, ...],
    compile_value: Callable[[str], ValueFn] | None,
    issues: list[ConfigIssue],
) -> tuple[CompiledAssign, ...]:
    """The compiled ``{assign: ...}`` items of an action list written at ``path``."""
    out: list[CompiledAssign] = []
    for j, ref in enumerate(refs):
        if isinstance(ref, AssignSpec):
            compiled = compile_assign(f"{path}[{j}].assign", ref.assign, compile_value, issues)
            if compiled is not None:
                out.append(compiled)
    return tuple(out)


def compile_assign(
    path: str,
    assign: Mapping[str, str],
    compile_value: Callable[[str], ValueFn] | None,
    issues: list[ConfigIssue],
) -> CompiledAssign | None:
    """Compile one ``{field: expression}`` mapping declared at ``path``; ``None`` after
    adding its problems to ``issues``."""
    items: list[tuple[str, ValueFn, str]] = []
    for name, source in assign.items():
        if compile_value is None:
            issues.append(ConfigIssue(f"{path}.{name}", "assign needs an expression compiler"))
            continue
        try:
            items.append((name, compile_value(source), source))
        except ConfigurationError as exc:
            issues.extend(_issues_at(f"{path}.{name}", exc))
    if len(items) != len(assign):
        return None
    return CompiledAssign(path, tuple(items))


def _issues_at(where: str, exc: ConfigurationError) -> list[ConfigIssue]:
    """The problems the expression compiler reported, each at ``where`` (plus its own path
    inside the expression, if any)."""
    return [
        ConfigIssue(f"{where}{('.' + x.path) if x.path else ''}", x.message) for x in exc.issues
    ]
