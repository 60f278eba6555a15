"""The size of the values expressions build: ``assign`` cannot grow a context without bound,
however its steps repeat.

A list, tuple or set an expression builds (a display, ``+``, ``*``) holds at most
``MAX_LENGTH`` items and ``MAX_VALUE_CHARACTERS`` characters of strings in all, counted as its
JSON holds them: every nested value each time it appears, so ``[l, l]`` is twice ``l``. A
doubling ``assign`` on an eventless self-loop therefore fails after a dozen steps with a
``context_validation`` result naming the field, instead of building 2**100 leaves that no
store, snapshot or context cap can serialise.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from pystator import ConfigurationError, StateMachine
from pystator.engine.expr import (
    MAX_LENGTH,
    MAX_VALUE_CHARACTERS,
    ExpressionError,
    compile_expression,
    compile_value,
)
from tests.unit.conftest import build, definition

TOO_MANY = f"would hold more than {MAX_LENGTH} items in all (nested items count each time"
TOO_LONG = f"would hold more than {MAX_VALUE_CHARACTERS} characters of strings in all"


def doubling(limit: int = 100, field: str = "l") -> dict[str, Any]:
    """``go`` doubles ``field`` and then an eventless self-loop doubles it up to ``limit``
    times (the engine stops a macrostep after 100 microsteps)."""
    step = {field: f"[{field}, {field}]", "i": "i + 1"}
    return definition(
        [{"name": "A", "type": "initial"}, {"name": "B"}, {"name": "C", "type": "terminal"}],
        [
            {"trigger": "go", "source": "A", "dest": "B", "assign": step},
            {
                "source": "B",
                "dest": "B",
                "auto": True,
                "guards": [{"expr": f"i < {limit}"}],
                "assign": step,
            },
            {"source": "B", "dest": "C", "auto": True},
        ],
    )


def test_a_doubling_assign_on_an_eventless_loop_fails_naming_the_field() -> None:
    m = StateMachine.from_dict(doubling())
    given = {"l": 1, "i": 0}
    result = m.process("A", "go", given)
    assert not result.success
    assert result.target_state is None
    assert result.metadata["reason"] == "context_validation"
    (error,) = result.metadata["errors"]
    assert error.startswith("l: cannot compute '[l, l]' (transitions[1].assign.l): list ")
    assert TOO_MANY in error
    assert result.context is given  # nothing changed
    assert given == {"l": 1, "i": 0}


def test_a_session_keeps_its_state_and_context_when_the_limit_is_hit() -> None:
    m = StateMachine.from_dict(doubling())
    session = m.create(context={"l": 1, "i": 0})
    result = session.send("go")
    assert result.metadata["reason"] == "context_validation"
    assert session.current_state == "A"
    assert session.context == {"l": 1, "i": 0}


def test_a_bounded_doubling_still_works_and_serialises() -> None:
    # 2**10 leaves: far below the limit.
    m = StateMachine.from_dict(doubling(limit=10))
    result = m.process("A", "go", {"l": 1, "i": 0})
    assert result.success
    assert result.target_state == "C"
    depth, value = 0, result.context["l"]
    while isinstance(value, list):
        depth, value = depth + 1, value[0]
    assert depth == 10
    assert '"l":' in result.model_dump_json()


class Holder(BaseModel):
    tree: Any = None
    i: int = 0


class Leaf(BaseModel):
    values: list[int] = [1, 2, 3]


def test_the_limit_holds_for_a_context_model_too() -> None:
    m = StateMachine.from_dict(doubling(field="tree"), context_model=Holder)
    given = Holder(tree=Leaf())
    result = m.process("A", "go", given)
    assert result.metadata["reason"] == "context_validation"
    assert TOO_MANY in result.metadata["errors"][0]
    assert result.metadata["errors"][0].startswith("tree: cannot compute '[tree, tree]'")
    assert result.context is given


def test_an_entry_assign_that_doubles_fails_like_a_transitions() -> None:
    m = build(
        [
            {"name": "A", "type": "initial"},
            {"name": "B", "on_enter": [{"assign": {"l": "[l, l, l, l]"}}]},
        ],
        [
            {"trigger": "go", "source": "A", "dest": "B"},
            {"trigger": "go", "source": "B", "dest": "B"},
        ],
    )
    session = m.create(context={"l": "x"})
    reasons = [session.send("go").metadata.get("reason") for _ in range(12)]
    # Each send enters B again: 4 * (1 + the items of l) items. The seventh (21,844) is
    # refused, and so is every send after it.
    assert reasons[:6] == [None] * 6
    assert set(reasons[6:]) == {"context_validation"}
    assert "states[1].on_enter[0].assign.l" in session.send("go").metadata["errors"][0]


# --------------------------------------------------------------------- every operation
def value(source: str, **context: Any) -> Any:
    return compile_value(source)(context)


def refused(source: str, **context: Any) -> str:
    with pytest.raises(ExpressionError) as info:
        compile_value(source)(context)
    return str(info.value)


def test_displays_count_nested_values_each_time_they_appear() -> None:
    half = list(range(MAX_LENGTH // 2))
    assert TOO_MANY in refused("[l, l]", l=half)
    assert TOO_MANY in refused("(l, l)", l=tuple(half))
    assert TOO_MANY in refused("[[l], [l]]", l=half)
    assert TOO_MANY in refused("len({(t, t)}) == 1", t=tuple(half))
    assert len(value("[l, l]", l=half[:-1])) == 2  # 2 * (1 + 4,999): just fits
    # Dicts count their keys and values.
    record = {n: n for n in range(MAX_LENGTH // 8)}
    assert len(value("[r, r]", r=record)) == 2
    assert TOO_MANY in refused("[r, r, r, r]", r=record)


def test_strings_count_their_characters() -> None:
    text = "x" * MAX_LENGTH
    assert len(value("[s] * 10", s=text)) == 10
    assert TOO_LONG in refused("[s] * 11", s=text)
    assert TOO_LONG in refused("[s, s, s, s, s, s, s, s, s, s, s]", s=text)
    assert TOO_LONG in refused("[[s] * 6, [s] * 5]", s=text)
    assert TOO_LONG in refused("[d] * 11", d={"k": text})
    assert TOO_LONG in refused("[d] * 11", d={text: 1})  # keys count too
    assert TOO_LONG in refused("[s]", s="x" * (MAX_VALUE_CHARACTERS + 1))


def test_concatenation_and_repetition_count_what_they_copy() -> None:
    block = [list(range(1000))]
    assert len(value("b * 9", b=block)) == 9
    assert TOO_MANY in refused("b * 10", b=block)
    assert TOO_MANY in refused("b + b * 9", b=block)
    assert TOO_MANY in refused("t + t", t=(tuple(range(MAX_LENGTH // 2)),))
    assert TOO_LONG in refused("w + w", w=["x" * (MAX_VALUE_CHARACTERS // 2 + 1)])
    assert value("b * 0", b=block) == []
    assert value("b * -3", b=block) == []


def test_a_flat_list_keeps_the_length_limit() -> None:
    items = list(range(MAX_LENGTH - 1))
    assert len(value("items + [1]", items=items)) == MAX_LENGTH
    assert f"longer than {MAX_LENGTH} items" in refused("items + [1, 2]", items=items)


def test_shared_or_self_holding_values_are_walked_within_the_limit() -> None:
    # Built in Python with shared structure: 2**60 leaves in 60 lists. The walk stops at
    # the limit instead of visiting them all.
    shared: Any = 1
    for _ in range(60):
        shared = [shared, shared]
    assert TOO_MANY in refused("[s]", s=shared)
    assert value("len(s)", s=shared) == 2  # reading it is fine
    loop: list[Any] = []
    loop.append(loop)
    assert TOO_MANY in refused("[x]", x=loop)


def test_a_guard_that_builds_too_much_is_false_and_says_why() -> None:
    guard = compile_expression("len([l, l]) == 2")
    assert guard({"l": list(range(100))})
    big = {"l": list(range(MAX_LENGTH // 2))}
    assert not guard(big)
    assert TOO_MANY in (guard.explain(big) or "")
    with pytest.raises(ExpressionError, match="would hold more than"):
        compile_value("len([l, l])")(big)


def test_constants_past_the_limit_are_refused_at_load() -> None:
    with pytest.raises(ConfigurationError, match="characters of strings in all"):
        compile_value("['x' * 5000] * 21")
    data = definition(
        [{"name": "A", "type": "initial"}],
        [
            {
                "trigger": "go",
                "source": "A",
                "dest": "A",
                "assign": {"l": "[[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]] * 1000"},
            }
        ],
    )
    with pytest.raises(ConfigurationError) as info:
        StateMachine.from_dict(data)
    assert info.value.issues[0].path == "transitions[0].assign.l"
    assert "items in all" in str(info.value)
