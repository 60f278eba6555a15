"""The sync fast path (``runtime/fast_select.py``) against its plain twins.

``select`` must give what ``plain_select`` (the general engine) gives, field for field, for
every kind of step: named and ``expr`` guards passing and saying no, several candidates,
missing and odd guards, no transition, terminal states, no context, ``assign`` items,
context models, configurations and history. ``attach`` must give what ``carry`` gives, and
``model_view`` what a new ``ModelView`` gives. ``PYSTATOR_PLAIN_TWINS=fast_select`` swaps
the twins in.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from pystator import GuardEvaluationError, GuardNotFoundError, StateMachine, TransitionResult
from pystator.runtime import fast_select
from pystator.runtime.fast_select import attach, carry, model_view, plain_model_view, plain_select
from pystator.runtime.guard_drivers import NO_CONTEXT
from tests.unit.conftest import build


def same(fast: TransitionResult, plain: TransitionResult) -> None:
    """Equal results, errors included, each carrying its call's context."""
    assert fast.model_dump() == plain.model_dump()
    assert type(fast.error) is type(plain.error)
    if plain.error is not None:
        assert fast.error is not None
        assert fast.error.message == plain.error.message
        assert vars(fast.error) == vars(plain.error)
    assert fast.context == plain.context


def both(
    m: StateMachine, state: str, trigger: str, context: Any = None
) -> tuple[TransitionResult, TransitionResult]:
    """The fast path and its twin on the same call, as ``process`` makes it for a plain
    machine (twice for the fast path: its second answer comes from what the first kept)."""
    ctx = NO_CONTEXT if context is None else context
    fast = fast_select.select(m, state, trigger, ctx, ctx, context)
    again = fast_select.select(m, state, trigger, ctx, ctx, context)
    same(again, fast)
    return fast, plain_select(m, state, trigger, ctx, ctx, context)


def guarded(*guards: Any, strict: bool = True) -> StateMachine:
    """A -go-> B guarded by ``guards``, B -go-> A unguarded, C terminal."""
    return build(
        [{"name": "A", "type": "initial"}, {"name": "B"}, {"name": "C", "type": "terminal"}],
        [
            {"trigger": "go", "source": "A", "dest": "B", "guards": list(guards)},
            {"trigger": "go", "source": "B", "dest": "A"},
            {"trigger": "end", "source": "B", "dest": "C"},
        ],
        strict_mode=strict,
    )


def registered(m: StateMachine, **guards: Callable[..., Any]) -> StateMachine:
    for name, fn in guards.items():
        m.guard_registry.register(name, fn)
    return m


CASES: dict[str, tuple[Callable[[], StateMachine], str, str, Any]] = {
    "named guard passes": (
        lambda: registered(guarded("ok"), ok=lambda ctx: ctx.get("n", 0) > 0),
        "A",
        "go",
        {"n": 1},
    ),
    "named guard says no": (
        lambda: registered(guarded("ok"), ok=lambda ctx: ctx.get("n", 0) > 0),
        "A",
        "go",
        {"n": 0},
    ),
    "named guard with params": (
        lambda: registered(
            guarded({"name": "above", "params": {"limit": 2}}),
            above=lambda ctx, limit: ctx["n"] > limit,
        ),
        "A",
        "go",
        {"n": 3},
    ),
    "a guard's value that is not a bool": (
        lambda: registered(guarded("odd"), odd=lambda ctx: ctx["n"] % 2),
        "A",
        "go",
        {"n": 2},
    ),
    "unregistered guard, lenient": (lambda: guarded("nobody", strict=False), "A", "go", {}),
    "expr guard holds": (lambda: guarded({"expr": "n > 0"}), "A", "go", {"n": 1}),
    "expr guard says no": (lambda: guarded({"expr": "n > 0"}), "A", "go", {"n": 0}),
    "expr guard, key missing": (lambda: guarded({"expr": "n > 0"}), "A", "go", {}),
    "two guards, the second says no": (
        lambda: registered(guarded("ok", {"expr": "n > 5"}), ok=lambda ctx: True),
        "A",
        "go",
        {"n": 1},
    ),
    "no guard": (lambda: guarded(), "A", "go", {"n": 1}),
    "no context": (lambda: guarded(), "A", "go", None),
    "no context, guard says no": (lambda: guarded({"expr": "n > 0"}), "A", "go", None),
    "undefined trigger": (lambda: guarded(), "A", "nope", {}),
    "not from this state": (lambda: guarded(), "A", "end", {}),
    "terminal state": (lambda: guarded(), "C", "go", {}),
    "undefined trigger, lenient": (lambda: guarded(strict=False), "A", "nope", {}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_select_gives_what_the_general_engine_gives(case: str) -> None:
    make, state, trigger, context = CASES[case]
    fast, plain = both(make(), state, trigger, context)
    same(fast, plain)
    if context is not None:
        assert fast.context is plain.context is context
    else:
        assert fast.context is None


def two_candidates(first: bool, second: bool, calls: list[str]) -> StateMachine:
    m = build(
        [{"name": "A", "type": "initial"}, {"name": "B"}, {"name": "C"}],
        [
            {"trigger": "go", "source": "A", "dest": "B", "guards": ["first", {"expr": "n > 0"}]},
            {"trigger": "go", "source": "A", "dest": "C", "guards": ["second"]},
        ],
    )

    def guard(name: str, answer: bool) -> Callable[[Any], bool]:
        def check(ctx: Any) -> bool:
            calls.append(name)
            return answer

        return check

    return registered(m, first=guard("first", first), second=guard("second", second))


@pytest.mark.parametrize("first", [True, False])
@pytest.mark.parametrize("second", [True, False])
@pytest.mark.parametrize("n", [0, 1])
def test_candidates_are_tried_in_order_with_the_same_guard_calls(
    first: bool, second: bool, n: int
) -> None:
    fast_calls: list[str] = []
    plain_calls: list[str] = []
    ctx = {"n": n}
    fast = fast_select.select(two_candidates(first, second, fast_calls), "A", "go", ctx, ctx, ctx)
    m = two_candidates(first, second, plain_calls)
    same(fast, plain_select(m, "A", "go", ctx, ctx, ctx))
    assert fast_calls == plain_calls


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: guarded("nobody"), GuardNotFoundError),
        (lambda: registered(guarded("slow"), slow=_async_guard), GuardEvaluationError),
    ],
    ids=["unregistered guard, strict", "async guard"],
)
def test_both_raise_alike(make: Callable[[], StateMachine], error: type[Exception]) -> None:
    m = make()
    with pytest.raises(error) as fast:
        fast_select.select(m, "A", "go", {}, {}, {})
    with pytest.raises(error) as plain:
        plain_select(m, "A", "go", {}, {}, {})
    assert str(fast.value) == str(plain.value)


async def _async_guard(ctx: Any) -> bool:
    return True


def test_assigns_to_a_dict_context() -> None:
    m = build(
        [{"name": "A", "type": "initial"}],
        [{"trigger": "add", "source": "A", "dest": "A", "assign": {"total": "total + 1"}}],
    )
    ctx = {"total": 1}
    fast, plain = both(m, "A", "add", ctx)
    same(fast, plain)
    assert fast.context == {"total": 2}
    assert ctx == {"total": 1}


class Counter(BaseModel):
    total: int = 0


def test_a_context_model() -> None:
    m = StateMachine.from_dict(
        {
            "meta": {"machine_name": "typed"},
            "states": [{"name": "A", "type": "initial"}],
            "transitions": [
                {"trigger": "tick", "source": "A", "dest": "A", "guards": [{"expr": "total >= 0"}]},
                {"trigger": "add", "source": "A", "dest": "A", "assign": {"total": "total + 1"}},
            ],
        },
        context_model=Counter,
    )
    instance = Counter(total=1)
    for trigger in ("tick", "add"):
        view = model_view(m, instance)
        fast = fast_select.select(m, "A", trigger, instance, view, instance)
        same(fast, plain_select(m, "A", trigger, instance, plain_model_view(m, instance), instance))
    assert fast.context == Counter(total=2)


PARALLEL = {
    "meta": {"machine_name": "p"},
    "states": [
        {"name": "OUT", "type": "initial"},
        {
            "name": "P",
            "type": "parallel",
            "regions": [
                {"name": "r1", "states": [{"name": "A1", "type": "initial"}, {"name": "A2"}]},
                {"name": "r2", "states": [{"name": "B1", "type": "initial"}, {"name": "B2"}]},
            ],
        },
    ],
    "transitions": [
        {"trigger": "enter", "source": "OUT", "dest": "P"},
        {"trigger": "go", "source": "A1", "dest": "A2"},
        {"trigger": "flip", "source": "B1", "dest": "B2", "guards": [{"expr": "ok"}]},
    ],
}


@pytest.mark.parametrize(
    ("trigger", "context"),
    [("go", None), ("flip", {"ok": True}), ("flip", {"ok": False}), ("nope", {})],
)
def test_a_configuration_goes_the_general_way(trigger: str, context: Any) -> None:
    m = StateMachine.from_dict(PARALLEL)
    fast, plain = both(m, "P(r1=A1, r2=B1)", trigger, context)
    same(fast, plain)


def test_attach_gives_what_carry_gives_and_keeps_the_last_copy() -> None:
    m = guarded()
    shared = m.process("A", "nope")
    context = {"n": 1}
    first = attach(shared, context)
    assert first.model_dump() == carry(shared, context).model_dump()
    assert first.context is context
    assert attach(shared, context) is first
    assert attach(shared, NO_CONTEXT) is shared  # no context: the shared result itself
    assert carry(shared, NO_CONTEXT).context is None


def test_model_view_keeps_the_last_view_of_an_instance() -> None:
    m = StateMachine.from_dict(
        {"meta": {"machine_name": "v"}, "states": [{"name": "A", "type": "initial"}]},
        context_model=Counter,
    )
    instance = Counter(total=3)
    view = model_view(m, instance)
    assert model_view(m, instance) is view
    assert dict(view) == dict(plain_model_view(m, instance))
    assert model_view(m, Counter(total=3)) is not view


def test_the_switch_swaps_in_the_twins() -> None:
    code = (
        "from pystator import StateMachine; from pystator.runtime import fast_select as f; "
        "print(StateMachine.select is f.plain_select and f.attach is f.carry "
        "and f.model_view is f.plain_model_view)"
    )
    env = dict(os.environ)
    for twins, expected in ((None, "False"), ("fast_select", "True")):
        env.pop("PYSTATOR_PLAIN_TWINS", None)
        if twins is not None:
            env["PYSTATOR_PLAIN_TWINS"] = twins
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
        )
        assert done.stdout.strip() == expected, done.stderr
