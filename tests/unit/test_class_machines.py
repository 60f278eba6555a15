"""Machines written as Python classes: ``class Order(Machine[OrderContext])``.

The class form must give the very definition the equivalent YAML loads to, behave like it,
bind its methods as guards and actions, and name the class and the attribute in every mistake.
"""

from __future__ import annotations

import asyncio
import textwrap
from typing import Any

import pytest
from pydantic import BaseModel

from pystator import (
    ActionRegistry,
    ActionSpec,
    AssignSpec,
    ConfigurationError,
    ContextSpec,
    EntitySession,
    EventSpec,
    GuardRegistry,
    GuardSpec,
    Machine,
    ManualClock,
    State,
    StateMachine,
    TimeoutSpec,
)
from pystator.loaders import load_yaml_string
from pystator.runtime.classes import History, MachineSession, Region, snake_case


class OrderContext(BaseModel):
    order_qty: int
    filled_qty: int = 0


class Order(Machine[OrderContext]):
    """An exchange order."""

    PENDING = State(initial=True)
    OPEN = State(on_enter=["notify"])
    FILLED = State(terminal=True)
    CANCELLED = State(terminal=True)

    exchange_ack = PENDING.to(OPEN)
    fill = OPEN.to(FILLED, guards=["is_full_fill"])
    cancel = CANCELLED.from_(PENDING, OPEN)

    notified: list[str]

    def __init__(self) -> None:
        self.notified = []

    def is_full_fill(self, ctx: Any) -> bool:
        return _get(ctx, "filled_qty") >= _get(ctx, "order_qty")

    def notify(self, ctx: Any) -> None:
        self.notified.append(f"open {_get(ctx, 'order_qty')}")


def _get(ctx: Any, key: str) -> Any:
    """A context field, from a model instance or a dict."""
    return ctx[key] if isinstance(ctx, dict) else getattr(ctx, key)


ORDER_YAML = """
meta:
  machine_name: order
  description: An exchange order.
states:
  - {name: PENDING, type: initial}
  - {name: OPEN, on_enter: [notify]}
  - {name: FILLED, type: terminal}
  - {name: CANCELLED, type: terminal}
transitions:
  - {trigger: exchange_ack, source: PENDING, dest: OPEN}
  - {trigger: fill, source: OPEN, dest: FILLED, guards: [is_full_fill]}
  - {trigger: cancel, source: [PENDING, OPEN], dest: CANCELLED}
"""


# ---------------------------------------------------------------------- the definition
def test_definition_equals_the_equivalent_yaml() -> None:
    assert Order.definition == load_yaml_string(ORDER_YAML)
    assert load_yaml_string(Order.machine().to_yaml()) == Order.definition
    assert Order.definition.meta.machine_name == "order"
    assert Order.definition.meta.description == "An exchange order."
    assert Order.context_model is OrderContext


def test_machine_is_built_once_with_methods_bound() -> None:
    machine = Order.machine()
    assert machine is Order.machine()
    assert isinstance(machine, StateMachine)
    assert {"is_full_fill"} <= set(machine.guard_registry)
    assert {"notify"} <= set(machine.action_registry)
    assert machine.process("OPEN", "fill", {"order_qty": 5, "filled_qty": 5}).success
    rejected = machine.process("OPEN", "fill", {"order_qty": 5, "filled_qty": 1})
    assert rejected.metadata["reason"] == "guard_rejected"


def test_from_definition_registers_guards_as_usual() -> None:
    machine = StateMachine.from_definition(Order.definition)
    machine.guard("is_full_fill")(lambda ctx: True)
    assert machine.process("OPEN", "fill", {"order_qty": 5}).target_state == "FILLED"


def test_session_is_a_typed_entity_session() -> None:
    order = Order.create(context={"order_qty": 3})
    assert isinstance(order, EntitySession)
    assert isinstance(order, MachineSession)
    assert order.is_pending
    order.exchange_ack()
    assert order.is_open
    assert Order.machine() is order.machine
    assert not order.fill(filled_qty=1).success
    assert order.fill(filled_qty=3).success
    assert order.current_state == "FILLED"
    assert order.is_final


def test_self_is_one_instance_per_machine() -> None:
    class Counted(Machine):
        made = 0

        A = State(initial=True)
        B = State(on_enter=["mark"])
        go = A.to(B)

        def __init__(self) -> None:
            type(self).made += 1
            self.marks = 0

        def mark(self, ctx: Any) -> None:
            self.marks += 1

    for _ in range(3):
        Counted.create().go()
    assert Counted.made == 1
    bound = Counted.machine().action_registry.get("mark")
    assert isinstance(getattr(bound, "__self__", None), Counted)
    assert bound.__self__.marks == 3  # type: ignore[union-attr]


def test_snapshots_restore_typed_sessions() -> None:
    order = Order.create(context={"order_qty": 3})
    order.exchange_ack()
    snap = order.snapshot()
    restored = Order.restore(snap)
    assert isinstance(restored, MachineSession)
    assert restored.current_state == "OPEN"
    again = EntitySession.from_snapshot(Order.machine(), snap)
    assert type(again) is type(restored)
    assert again.fill(filled_qty=3).success


def test_class_keywords_set_meta() -> None:
    class HTTPOrderFlow(Machine, version="2.0.0", strict_mode=False, expr_on_missing="error"):
        A = State(initial=True)

    meta = HTTPOrderFlow.definition.meta
    assert meta.machine_name == "http_order_flow"
    assert (meta.version, meta.strict_mode, meta.expr_on_missing) == ("2.0.0", False, "error")
    assert meta.description is None

    class Named(Machine, name="renamed", description="Given."):
        """Not this."""

        A = State(initial=True)

    assert Named.definition.meta.machine_name == "renamed"
    assert Named.definition.meta.description == "Given."
    assert snake_case("Order") == "order"
    assert snake_case("OrderV2Flow") == "order_v2_flow"


# ---------------------------------------------------------------------- transitions
class Routing(Machine):
    IDLE = State(initial=True)
    FAST = State()
    SLOW = State()
    DONE = State(terminal=True)

    route = IDLE.to(FAST, guards=["is_urgent"]) | IDLE.to(SLOW) | FAST.to(DONE)
    finish = DONE.from_any()

    def is_urgent(self, ctx: dict[str, Any]) -> bool:
        return bool(ctx.get("urgent"))


def test_one_trigger_several_transitions_tried_in_order() -> None:
    transitions = Routing.definition.transitions
    assert [(t.trigger, t.source, t.dest) for t in transitions] == [
        ("route", "IDLE", "FAST"),
        ("route", "IDLE", "SLOW"),
        ("route", "FAST", "DONE"),
        ("finish", "*", "DONE"),
    ]
    machine = Routing.machine()
    assert machine.process("IDLE", "route", {"urgent": True}).target_state == "FAST"
    assert machine.process("IDLE", "route", {}).target_state == "SLOW"
    assert machine.process("FAST", "route", {}).target_state == "DONE"
    assert machine.process("SLOW", "finish").target_state == "DONE"


def test_group_kinds_do_not_mix() -> None:
    a, b = State(), State()
    with pytest.raises(TypeError):
        a.to(b) | a.to(b, auto=True)  # type: ignore[operator]


class Desk(Machine, strict_mode=False):
    """Every feature of the YAML format, written as a class."""

    IDLE = State(initial=True, description="Nothing to do.")
    OPEN = State(on_enter=[ActionSpec(name="log", params={"what": "open"})], on_exit=["log"])
    WORKING = State(parent=OPEN, initial=True, timeout=(30, IDLE))
    PAUSED = State(parent=OPEN, metadata={"colour": "amber"})
    RECALL = History(OPEN, deep=True)
    SHIPPED = State(parent=OPEN, terminal=True)
    MONITORING = State(parallel=True)
    feed = Region(MONITORING)
    risk = Region(MONITORING, description="Risk limits.")
    CONNECTING = State(parent=feed, initial=True)
    STREAMING = State(parent=feed, on_enter=["log"])
    CALM = State(parent=risk)
    ALARM = State(parent=risk)
    CHECKING = State()
    CLOSED = State(terminal=True)

    start = IDLE.to(OPEN, guards=[GuardSpec(name="min_qty", params={"n": 2})])
    pause = WORKING.to(PAUSED, priority=5) | WORKING.to(IDLE)
    resume = IDLE.to(RECALL)
    note = OPEN.to(actions=["log"], internal=True, description="Log only.")
    ship = WORKING.to(SHIPPED)
    shipped = OPEN.done.to(CHECKING)
    settle = CHECKING.to(CLOSED, auto=True, guards=[{"expr": "qty > 1"}])
    expire = PAUSED.to(IDLE, after="5s")
    monitor = IDLE.to(MONITORING)
    connected = CONNECTING.to(STREAMING)
    close = CLOSED.from_any()

    def min_qty(self, ctx: dict[str, Any], n: int) -> bool:
        return int(ctx.get("qty", 0)) >= n

    def log(self, ctx: dict[str, Any], what: str = "-") -> None:
        ctx.setdefault("log", []).append(what)


DESK_YAML = """
meta:
  machine_name: desk
  strict_mode: false
  description: Every feature of the YAML format, written as a class.
states:
  - {name: IDLE, type: initial, description: Nothing to do.}
  - name: OPEN
    on_enter: [{name: log, params: {what: open}}]
    on_exit: [log]
  - {name: WORKING, type: initial, parent: OPEN, timeout: {seconds: 30, destination: IDLE}}
  - {name: PAUSED, parent: OPEN, metadata: {colour: amber}}
  - {name: RECALL, type: history, parent: OPEN, history: deep}
  - {name: SHIPPED, type: terminal, parent: OPEN}
  - name: MONITORING
    type: parallel
    regions:
      - name: feed
        states: [{name: CONNECTING, type: initial}, {name: STREAMING, on_enter: [log]}]
      - {name: risk, description: Risk limits., states: [CALM, ALARM]}
  - {name: CHECKING}
  - {name: CLOSED, type: terminal}
transitions:
  - trigger: start
    source: IDLE
    dest: OPEN
    guards: [{name: min_qty, params: {n: 2}}]
  - {trigger: pause, source: WORKING, dest: PAUSED, priority: 5}
  - {trigger: pause, source: WORKING, dest: IDLE}
  - {trigger: resume, source: IDLE, dest: RECALL}
  - {trigger: note, source: OPEN, actions: [log], internal: true, description: Log only.}
  - {trigger: ship, source: WORKING, dest: SHIPPED}
  - {trigger: done.state.OPEN, source: OPEN, dest: CHECKING}
  - {source: CHECKING, dest: CLOSED, auto: true, guards: [{expr: "qty > 1"}]}
  - {trigger: expire, source: PAUSED, dest: IDLE, after: 5s}
  - {trigger: monitor, source: IDLE, dest: MONITORING}
  - {trigger: connected, source: CONNECTING, dest: STREAMING}
  - {trigger: close, source: "*", dest: CLOSED}
"""


def test_every_yaml_feature_gives_the_equivalent_definition() -> None:
    assert Desk.definition == load_yaml_string(DESK_YAML)
    assert load_yaml_string(Desk.machine().to_yaml()) == Desk.definition


def test_nesting_history_and_done_behave() -> None:
    clock = ManualClock()
    desk = Desk.create(context={"qty": 3}, clock=clock)
    assert desk.start().target_state == "WORKING"
    assert desk.is_open
    assert desk.is_working
    assert desk.pause().target_state == "PAUSED"  # priority 5 beats the second 'pause'
    clock.advance(5)
    assert [r.target_state for r in desk.fire_due_timers()] == ["IDLE"]  # 'expire'
    assert desk.resume().target_state == "PAUSED"  # deep history re-enters PAUSED
    desk2 = Desk.create(context={"qty": 3}, clock=ManualClock())
    desk2.start()
    # SHIPPED is final in OPEN: done.state.OPEN -> CHECKING, then 'settle' (auto) -> CLOSED
    assert desk2.ship().target_state == "CLOSED"
    assert desk2.is_final


def test_timers_and_timeouts_fire() -> None:
    clock = ManualClock()
    desk = Desk.create(context={"qty": 3}, clock=clock)
    desk.start()
    desk.pause()
    clock.advance(5)
    fired = desk.fire_due_timers()
    assert [r.trigger for r in fired] == ["expire"]
    assert desk.current_state == "IDLE"
    desk.start()
    clock.advance(30)
    desk.fire_due_timers()
    assert desk.current_state == "IDLE"  # WORKING timed out


def test_parallel_regions() -> None:
    desk = Desk.create(context={"qty": 3})
    assert desk.monitor().target_state == "MONITORING(feed=CONNECTING, risk=CALM)"
    desk.connected()
    assert desk.is_streaming
    assert desk.is_calm
    assert desk.is_monitoring


def test_named_params_reach_methods_as_keywords() -> None:
    machine = Desk.machine()
    assert machine.process("IDLE", "start", {"qty": 2}).success
    assert machine.process("IDLE", "start", {"qty": 1}).metadata["guard_name"] == "min_qty"


def test_an_initial_parallel_state_is_meta_initial() -> None:
    class Boot(Machine):
        RUN = State(parallel=True, initial=True)
        a = Region(RUN)
        A1 = State(parent=a)
        OUTER = State()
        INNER = State(parent=OUTER)

    assert Boot.definition.meta.initial == "RUN"
    assert Boot.machine().get_initial_state() == "RUN(a=A1)"


def test_an_initial_history_state_is_its_parents_initial_child() -> None:
    class Boot(Machine):
        OUTER = State(initial=True)
        INNER = State(parent=OUTER)
        BACK = History(OUTER, initial=True)

    outer = Boot.definition.states[0]
    assert outer.initial_child == "BACK"
    assert Boot.machine().get_initial_state() == "INNER"


def test_subclasses_add_states_and_methods() -> None:
    class Base(Machine):
        def is_ok(self, ctx: dict[str, Any]) -> bool:
            return True

    class Child(Base):
        A = State(initial=True)
        B = State()
        go = A.to(B, guards=["is_ok"])

    class Grandchild(Child):
        C = State()
        on = Child.B.to(C)

    assert not hasattr(Base, "definition")
    assert [s.name for s in Grandchild.definition.states] == ["A", "B", "C"]
    assert Grandchild.machine().process("A", "go").success
    assert Child.machine() is not Grandchild.machine()


# ---------------------------------------------------------------------- guards and actions
def test_async_methods_work_with_asend() -> None:
    class Remote(Machine):
        A = State(initial=True)
        B = State(on_enter=["record"])
        go = A.to(B, guards=["check"])

        async def check(self, ctx: dict[str, Any]) -> bool:
            await asyncio.sleep(0)
            return bool(ctx.get("allowed"))

        async def record(self, ctx: dict[str, Any]) -> None:
            await asyncio.sleep(0)
            ctx["recorded"] = True

    async def run() -> tuple[bool, bool, str]:
        session = Remote.create()
        refused = await session.asend("go")
        result = await session.asend("go", allowed=True)
        return refused.success, result.success, session.current_state

    assert asyncio.run(run()) == (False, True, "B")


def test_registered_guards_fill_names_without_a_method() -> None:
    registry = GuardRegistry()
    registry.register("external", lambda ctx: True)

    class Uses(Machine, guards=registry):
        A = State(initial=True)
        B = State()
        go = A.to(B, guards=["external"])

    machine = Uses.machine()
    assert machine.process("A", "go").success
    registry.register("external", lambda ctx: False)  # the registry is bound: later ones count
    assert not machine.process("A", "go").success


def test_a_guard_with_no_method_and_no_registration_fails_when_built() -> None:
    class Typo(Machine):
        A = State(initial=True)
        B = State(on_enter=["nottify"])
        go = A.to(B, guards=["is_redy"])

        def is_ready(self, ctx: Any) -> bool:
            return True

        def notify(self, ctx: Any) -> None:
            return None

    with pytest.raises(ConfigurationError) as info:
        Typo.machine()
    paths = {issue.path: issue.message for issue in info.value.issues}
    assert paths == {
        "Typo.go": "guard 'is_redy' is neither a method of Typo nor registered; "
        "did you mean 'is_ready'?",
        "Typo.B": "action 'nottify' is neither a method of Typo nor registered; "
        "did you mean 'notify'?",
    }
    assert "class Typo" in str(info.value)


# ---------------------------------------------------------------------- mistakes
def _issues(build: Any) -> dict[str, str]:
    with pytest.raises(ConfigurationError) as info:
        build()
    return {issue.path: issue.message for issue in info.value.issues}


def test_target_that_is_not_a_state_of_the_class() -> None:
    elsewhere = State()

    def build() -> None:
        class Bad(Machine):
            A = State(initial=True)
            go = A.to(elsewhere)

    assert _issues(build) == {"Bad.go": "target <unnamed state> is not a state of Bad"}

    def build_other() -> None:
        class Bad(Machine):
            A = State(initial=True)
            go = A.to(Order.OPEN)

    assert _issues(build_other) == {"Bad.go": "target OPEN is not a state of Bad"}

    def build_borrowed() -> None:
        class Bad(Machine):
            A = State(initial=True)
            OPEN = Order.OPEN

    assert _issues(build_borrowed) == {
        "Bad.OPEN": "is Order.OPEN, declared in another class: declare a new one"
    }


def test_two_initial_states() -> None:
    def build() -> None:
        class Bad(Machine):
            A = State(initial=True)
            B = State(initial=True)

    assert _issues(build) == {
        "Bad.B": "two initial states of the machine: A, B (mark one initial=True)"
    }


def test_one_state_under_two_names() -> None:
    def build() -> None:
        class Bad(Machine):
            A = B = State(initial=True)

    assert _issues(build) == {"Bad.A": "one object is assigned to several attributes: A, B"}


def test_reserved_names() -> None:
    def build() -> None:
        class Bad(Machine):
            A = State(initial=True)
            create = A.to(A)

    assert _issues(build) == {
        "Bad.create": "'create' is a name of Machine's own API: choose another name"
    }


def test_region_without_states_and_bad_parallel() -> None:
    def build() -> None:
        class Bad(Machine):
            P = State(parallel=True, initial=True)
            r = Region(P)
            Q = State()
            q = Region(Q)
            X = State(parent=q)

    assert _issues(build) == {
        "Bad.q": "Region(Q): Q is not a State(parallel=True)",
    }

    def build_empty() -> None:
        class Bad(Machine):
            P = State(parallel=True, initial=True)
            r = Region(P)

    assert _issues(build_empty) == {"Bad.r": "region 'r' has no states: add State(parent=r)"}


def test_definition_checks_name_the_attribute() -> None:
    def build() -> None:
        class Bad(Machine):
            A = State(initial=True)
            END = State(terminal=True)
            back = END.to(A)

    assert _issues(build) == {"Bad.back.source": "'END' is terminal: no transition can leave it"}

    def build_names() -> None:
        class Bad(Machine):
            A = State(initial=True)
            go = A.to(A, guards=[{"expr": "x >"}], priority=10**9)

    issues = _issues(build_names)
    assert list(issues) == ["Bad.go"]
    assert "priority" in issues["Bad.go"]


def test_abstract_class_is_not_a_machine() -> None:
    class Abstract(Machine):
        pass

    assert _issues(Abstract.machine) == {"Abstract": "declares no states: it is not a machine"}


# ---------------------------------------------------------------------- events and context
class FillEvent(BaseModel):
    qty: int


def test_event_specs_go_into_the_definition() -> None:
    spec = EventSpec.model_validate({"fields": {"qty": {"type": "integer", "required": True}}})

    class Filled(Machine):
        A = State(initial=True)
        B = State()
        fill = A.to(B, event=spec)

    assert Filled.definition.events == {"fill": spec}
    assert Filled.event_models == {}


def test_event_models_and_conflicts() -> None:
    def build() -> None:
        class Bad(Machine):
            A = State(initial=True)
            B = State()
            fill = A.to(B, event=FillEvent) | B.to(A, event=OrderContext)

    assert _issues(build) == {"Bad.fill": "trigger 'fill' is given two different event payloads"}

    class Filled(Machine):
        A = State(initial=True)
        B = State()
        fill = A.to(B, event=FillEvent) | B.to(A, event=FillEvent)

    assert Filled.event_models == {"fill": FillEvent}


def test_event_models_reach_the_state_machine() -> None:
    class Filled(Machine):
        A = State(initial=True)
        B = State()
        fill = A.to(B, event=FillEvent)

    machine = Filled.machine()
    assert machine.event_model("fill") is FillEvent  # type: ignore[attr-defined]
    bad = Filled.create().fill(qty="many")
    assert bad.metadata["reason"] == "payload_validation"
    assert Filled.create().fill(qty=2).success


def test_typed_context_reaches_methods_and_session() -> None:
    seen: list[Any] = []

    class Typed(Machine[OrderContext]):
        A = State(initial=True)
        B = State()
        go = A.to(B, guards=["check"], assign={"filled_qty": "filled_qty + 1"})

        def check(self, ctx: OrderContext) -> bool:
            seen.append(ctx)
            return True

    session = Typed.create(context={"order_qty": "5"})
    assert isinstance(session.context, OrderContext)
    assert session.go().success
    assert isinstance(seen[0], OrderContext)
    assert seen[0].order_qty == 5
    assert session.context == OrderContext(order_qty=5, filled_qty=1)
    restored = Typed.restore(session.snapshot())
    assert restored.context == session.context


def test_the_yaml_of_a_class_machine_reads_back_as_text() -> None:
    text = Order.machine().to_yaml()
    assert "machine_name: order" in text
    assert load_yaml_string(textwrap.dedent(text)) == Order.definition


def test_context_spec_assign_and_timeout_spec_keywords() -> None:
    contract = ContextSpec.model_validate({"fields": {"n": {"type": "integer", "required": True}}})

    class Counter(Machine, context=contract, validate_context=True):
        A = State(initial=True, on_exit=[AssignSpec(assign={"n": "n + 1"})])
        B = State(timeout=TimeoutSpec(seconds=2, destination="A"))
        go = A.to(B)
        back = B.to(A)

    assert Counter.definition == load_yaml_string(
        """
        meta: {machine_name: counter, validate_context: true}
        context: {fields: {n: {type: integer, required: true}}}
        states:
          - {name: A, type: initial, on_exit: [{assign: {n: n + 1}}]}
          - {name: B, timeout: {seconds: 2, destination: A}}
        transitions:
          - {trigger: go, source: A, dest: B}
          - {trigger: back, source: B, dest: A}
        """
    )
    session = Counter.create(context={"n": 1})
    session.go()
    assert session.context == {"n": 2}
    assert Counter.machine().process("A", "go", {"n": "x"}).metadata["reason"] == (
        "context_validation"
    )


def test_registered_actions_and_a_state_both_initial_and_terminal() -> None:
    actions = ActionRegistry()
    calls: list[str] = []
    actions.register("ping", lambda ctx: calls.append("ping"))

    class Pinger(Machine, actions=actions):
        A = State(initial=True)
        B = State(on_enter=["ping"])
        go = A.to(B)

    Pinger.create().go()
    assert calls == ["ping"]

    def build() -> None:
        class Bad(Machine):
            A = State(initial=True, terminal=True)

    assert _issues(build) == {"Bad.A": "a state cannot be both initial and terminal"}


def test_history_directly_in_a_parallel_state() -> None:
    class Split(Machine):
        IDLE = State(initial=True)
        P = State(parallel=True)
        left = Region(P)
        L1 = State(parent=left)
        L2 = State(parent=left)
        BACK = History(P, deep=True)
        enter = IDLE.to(P)
        step = L1.to(L2)
        leave = P.to(IDLE)
        again = IDLE.to(BACK)

    session = Split.create()
    session.enter()
    session.step()
    session.leave()
    assert session.again().target_state == "P(left=L2)"


def test_subclasses_keep_meta_switches_but_not_the_name() -> None:
    class Strict(Machine, version="3.1.0", strict_mode=False):
        """The parent."""

        A = State(initial=True)

    class Child(Strict):
        B = State()

    meta = Child.definition.meta
    assert (meta.machine_name, meta.version, meta.strict_mode) == ("child", "3.1.0", False)
    assert meta.description is None
