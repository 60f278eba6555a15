"""Pure context updates: ``assign`` on transitions, ``on_enter`` and ``on_exit``."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest
from pydantic import BaseModel

from pystator import ConfigurationError, StateMachine
from pystator.diagram import to_dot, to_mermaid
from tests.unit.conftest import build, definition


def log(item: str) -> dict[str, Any]:
    return {"assign": {"trail": f"trail + ['{item}']"}}


def traced_machine() -> StateMachine:
    """A -> B inside P: every exit, transition and entry item appends to ``trail``."""
    return build(
        [
            {"name": "P", "type": "initial", "initial_child": "A", "on_exit": [log("exit P")]},
            {"name": "A", "parent": "P", "on_exit": [log("exit A")]},
            {"name": "Q", "on_enter": [log("enter Q"), "notify"]},
            {"name": "B", "parent": "Q", "on_enter": [log("enter B")]},
        ],
        [
            {
                "trigger": "go",
                "source": "A",
                "dest": "B",
                "assign": {"trail": "trail + ['transition']"},
                "actions": [log("action item"), "act"],
            }
        ],
    )


def test_scxml_order_and_the_input_is_never_mutated() -> None:
    m = traced_machine()
    given = {"trail": []}
    before = copy.deepcopy(given)
    result = m.process("A", "go", given)
    assert result.context == {
        "trail": ["exit A", "exit P", "transition", "action item", "enter Q", "enter B"]
    }
    assert given == before
    # Assign items are not actions.
    assert result.all_actions == ("act", "notify")


def test_nothing_assigned_carries_the_input_itself() -> None:
    m = build(
        [{"name": "A", "type": "initial"}, {"name": "B"}],
        [{"trigger": "go", "source": "A", "dest": "B"}],
    )
    given = {"x": 1}
    assert m.process("A", "go", given).context is given
    failed = m.process("B", "nope", given)
    assert not failed.success
    assert failed.context is given


def test_one_item_reads_the_context_before_it_the_next_item_after() -> None:
    m = build(
        [{"name": "A", "type": "initial"}, {"name": "B"}],
        [
            {
                "trigger": "go",
                "source": "A",
                "dest": "B",
                "actions": [{"assign": {"x": "y", "y": "x"}}, {"assign": {"z": "x + y"}}],
            }
        ],
    )
    assert m.process("A", "go", {"x": 1, "y": 2}).context == {"x": 2, "y": 1, "z": 3}


def test_eventless_follow_ups_see_the_updated_context() -> None:
    m = build(
        [{"name": "A", "type": "initial"}, {"name": "B"}, {"name": "BIG"}, {"name": "SMALL"}],
        [
            {"trigger": "add", "source": "A", "dest": "B", "assign": {"n": "n + qty"}},
            {"source": "B", "dest": "BIG", "auto": True, "guards": [{"expr": "n >= 10"}]},
            {"source": "B", "dest": "SMALL", "auto": True, "assign": {"n": "n * 2"}},
        ],
    )
    big = m.process("A", "add", {"n": 5, "qty": 5})
    assert big.target_state == "BIG"
    assert big.context == {"n": 10, "qty": 5}
    small = m.process("A", "add", {"n": 1, "qty": 2})
    assert small.target_state == "SMALL"
    assert small.context == {"n": 6, "qty": 2}


def test_the_session_adopts_the_context_and_actions_see_it() -> None:
    m = traced_machine()
    seen: list[Any] = []
    m.action("act")(lambda ctx: seen.append(list(ctx["trail"])))
    m.action("notify")(lambda ctx: None)
    session = m.create(context={"trail": []})
    session.send("go")
    assert session.context["trail"][-1] == "enter B"
    assert seen == [session.context["trail"]]  # actions run with the context after the step


def test_a_payload_is_readable_and_merged() -> None:
    m = build(
        [{"name": "A", "type": "initial"}],
        [{"trigger": "add", "source": "A", "dest": "A", "assign": {"total": "total + qty"}}],
    )
    session = m.create(context={"total": 1})
    session.send("add", qty=4)
    assert session.context == {"total": 5, "qty": 4}
    assert asyncio.run(session.asend("add", qty=1)).context == {"total": 6, "qty": 1}


def test_entry_assigns_apply_on_create_and_start() -> None:
    m = build(
        [{"name": "A", "type": "initial", "on_enter": [{"assign": {"count": "count + 1"}}]}],
        [],
    )
    assert m.start({"count": 0}).context == {"count": 1}
    assert m.create(context={"count": 0}).context == {"count": 1}


def test_an_assign_that_cannot_compute_fails_and_changes_nothing() -> None:
    m = build(
        [{"name": "A", "type": "initial"}, {"name": "B"}],
        [{"trigger": "go", "source": "A", "dest": "B", "assign": {"x": "missing + 1"}}],
    )
    session = m.create(context={"x": 0})
    result = session.send("go")
    assert not result.success
    assert result.metadata["reason"] == "context_validation"
    assert "missing" in result.metadata["errors"][0]
    assert "transitions[0].assign.x" in result.metadata["errors"][0]
    assert session.current_state == "A"
    assert session.context == {"x": 0}


def test_bad_expressions_are_refused_at_load_with_their_path() -> None:
    with pytest.raises(ConfigurationError) as info:
        build(
            [
                {"name": "A", "type": "initial"},
                {"name": "B", "on_enter": ["x", {"assign": {"y": "__import__('os')"}}]},
            ],
            [
                {"trigger": "a", "source": "A", "dest": "B"},
                {"trigger": "b", "source": "A", "dest": "B"},
                {"trigger": "c", "source": "A", "dest": "B", "assign": {"total": "1 +"}},
            ],
        )
    paths = [issue.path for issue in info.value.issues]
    assert "transitions[2].assign.total" in paths
    assert "states[1].on_enter[1].assign.y" in paths


class Counter(BaseModel):
    total: int = 0
    label: str = ""


def test_with_a_context_model_the_result_is_a_new_validated_instance() -> None:
    data = definition(
        [{"name": "A", "type": "initial"}],
        [
            {"trigger": "add", "source": "A", "dest": "A", "assign": {"total": "total + qty"}},
            {"trigger": "bad", "source": "A", "dest": "A", "assign": {"total": "'text'"}},
        ],
    )
    m = StateMachine.from_dict(data, context_model=Counter)
    given = Counter(total=1)
    result = m.process("A", "add", {"total": 1, "qty": 2})
    assert result.context == Counter(total=3)
    session = m.create(context=given)
    session.send("add", qty=5)
    assert session.context == Counter(total=6)
    assert given.total == 1
    bad = session.send("bad")
    assert bad.metadata["reason"] == "context_validation"
    assert bad.metadata["errors"][0].startswith("total:")
    assert session.context == Counter(total=6)


def test_assigning_a_field_the_model_lacks_is_refused_at_load() -> None:
    data = definition(
        [{"name": "A", "type": "initial"}],
        [{"trigger": "add", "source": "A", "dest": "A", "assign": {"totl": "1"}}],
    )
    with pytest.raises(ConfigurationError) as info:
        StateMachine.from_dict(data, context_model=Counter)
    assert str(info.value.issues[0]).startswith(
        "transitions[0].assign.totl: 'totl' is not a field of context model Counter"
    )


def test_the_validate_context_contract_checks_the_assigned_context() -> None:
    data = definition(
        [{"name": "A", "type": "initial"}],
        [{"trigger": "add", "source": "A", "dest": "A", "assign": {"n": "'x'"}}],
        validate_context=True,
    )
    data["context"] = {"fields": {"n": {"type": "integer"}}}
    m = StateMachine.from_dict(data)
    result = m.process("A", "add", {"n": 1})
    assert result.metadata["reason"] == "context_validation"
    assert result.context == {"n": 1}


def test_diagrams_show_assigns() -> None:
    m = traced_machine()
    assert "trail := trail + ['transition']" in to_mermaid(m.definition)
    assert "act" in to_dot(m.definition)
