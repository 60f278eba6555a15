"""``GuardRegistry`` / ``ActionRegistry`` and how a machine binds them."""

from __future__ import annotations

from typing import Any

import pytest

from pystator import ActionRegistry, GuardRegistry, StateMachine
from tests.unit.conftest import build


def machine() -> StateMachine:
    return build(
        [{"name": "A"}, {"name": "B"}],
        [
            {"trigger": "go", "source": "A", "dest": "B", "guards": ["g"], "actions": ["act"]},
        ],
    )


@pytest.mark.parametrize("cls", [GuardRegistry, ActionRegistry])
class TestRegistry:
    def test_register_returns_the_function(self, cls: Any) -> None:
        reg = cls()

        def fn(ctx: Any) -> bool:
            return True

        assert reg.register("fn", fn) is fn
        assert reg.get("fn") is fn
        assert "fn" in reg
        assert list(reg) == ["fn"]
        assert len(reg) == 1
        assert reg.names() == ["fn"]

    def test_register_replaces(self, cls: Any) -> None:
        reg = cls()
        reg.register("x", lambda ctx: 1)
        second = reg.register("x", lambda ctx: 2)
        assert reg.get("x") is second
        assert len(reg) == 1

    def test_decorator_with_and_without_a_name(self, cls: Any) -> None:
        reg = cls()

        @reg.decorator("named")
        def first(ctx: Any) -> None: ...

        @reg.decorator()
        def second(ctx: Any) -> None: ...

        assert reg.get("named") is first
        assert reg.get("second") is second
        assert "first" not in reg
        # The decorator gives the function back unchanged.
        assert first.__name__ == "first"

    @pytest.mark.parametrize("name", ["", None, 3])
    def test_bad_names(self, cls: Any, name: Any) -> None:
        with pytest.raises(TypeError, match="name must be a non-empty string"):
            cls().register(name, lambda ctx: None)

    def test_not_callable(self, cls: Any) -> None:
        with pytest.raises(TypeError, match="must be callable"):
            cls().register("x", 42)

    def test_unregister_and_missing(self, cls: Any) -> None:
        reg = cls()
        reg.register("x", lambda ctx: None)
        reg.unregister("x")
        reg.unregister("never-there")
        assert reg.get("x") is None
        assert "x" not in reg

    def test_update(self, cls: Any) -> None:
        a, b = cls(), cls()
        a.register("x", lambda ctx: 1)
        b.update(a)
        assert b.get("x") is a.get("x")


class TestMachineDecorators:
    def test_guard_and_action_decorators_register_on_the_machine(self) -> None:
        m = machine()

        @m.guard("g")
        def g(ctx: Any) -> bool:
            return bool(ctx.get("ok"))

        @m.action()
        def act(ctx: Any) -> None: ...

        assert m.guard_registry.get("g") is g
        assert m.action_registry.get("act") is act
        assert m.process("A", "go", {"ok": True}).success
        assert not m.process("A", "go", {"ok": False}).success

    def test_late_registration_is_seen(self) -> None:
        m = machine()
        m.guard_registry.register("g", lambda ctx: False)
        assert not m.process("A", "go").success
        m.guard_registry.register("g", lambda ctx: True)
        assert m.process("A", "go").success

    def test_machines_do_not_share_registries(self) -> None:
        a, b = machine(), machine()
        a.guard_registry.register("g", lambda ctx: True)
        assert "g" not in b.guard_registry


class TestBind:
    def test_bind_guards_uses_the_registry(self) -> None:
        m = machine()
        guards = GuardRegistry()
        guards.register("g", lambda ctx: True)
        m.bind_guards(guards)
        assert m.guard_registry is guards
        assert m.process("A", "go").success

    def test_later_registrations_in_a_bound_registry_are_seen(self) -> None:
        m = machine()
        guards = GuardRegistry()
        m.bind_guards(guards)
        guards.register("g", lambda ctx: False)
        assert not m.process("A", "go").success
        guards.unregister("g")
        guards.register("g", lambda ctx: True)
        assert m.process("A", "go").success

    def test_machine_guards_are_copied_unless_the_registry_has_its_own(self) -> None:
        m = machine()
        m.guard_registry.register("g", lambda ctx: False)
        m.guard_registry.register("other", lambda ctx: True)
        guards = GuardRegistry()
        own = guards.register("g", lambda ctx: True)
        m.bind_guards(guards)
        assert guards.get("g") is own
        assert "other" in guards
        assert m.process("A", "go").success

    def test_decorator_after_bind_registers_in_the_bound_registry(self) -> None:
        m = machine()
        guards = GuardRegistry()
        m.bind_guards(guards)

        @m.guard("g")
        def g(ctx: Any) -> bool:
            return True

        assert guards.get("g") is g
        assert m.process("A", "go").success

    def test_bind_actions_feeds_the_executor(self) -> None:
        m = machine()
        m.guard_registry.register("g", lambda ctx: True)
        ran: list[str] = []
        m.action_registry.register("old", lambda ctx: ran.append("old"))
        actions = ActionRegistry()
        actions.register("act", lambda ctx: ran.append("act"))
        m.bind_actions(actions)
        assert m.action_registry is actions
        assert "old" in actions
        assert m.executor.registry is actions
        report = m.executor.execute(m.process("A", "go"), {})
        assert report.success
        assert ran == ["act"]

    def test_one_registry_for_several_machines(self) -> None:
        a, b = machine(), machine()
        guards = GuardRegistry()
        a.bind_guards(guards)
        b.bind_guards(guards)
        guards.register("g", lambda ctx: True)
        assert a.process("A", "go").success
        assert b.process("A", "go").success

    def test_bind_refuses_the_wrong_kind(self) -> None:
        m = machine()
        with pytest.raises(TypeError, match="GuardRegistry"):
            m.bind_guards(ActionRegistry())  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="ActionRegistry"):
            m.bind_actions(GuardRegistry())  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            m.bind_guards({"g": lambda ctx: True})  # type: ignore[arg-type]
