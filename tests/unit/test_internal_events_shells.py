"""Internal events (``{raise: EVENT}``) and history in parallel states, through the shells
around the engine: ``StateMachine.process``/``aprocess``, ``EntitySession``, class machines,
the diagrams and the command line.

The engine's own semantics are tested elsewhere (``test_scxml_fidelity.py``); here each
shell must honour what the engine's result says: which internal events ran, in what order the
actions go, that raise items are not actions, the history memory, and a raise loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pystator import (
    ConfigurationError,
    EntitySession,
    LoggingHook,
    LoopLimitError,
    Machine,
    RaiseSpec,
    State,
    StateMachine,
)
from pystator.diagram import to_dot, to_mermaid
from pystator.errors import GuardEvaluationError
from pystator.loaders import definition_from_data, load_file
from pystator.runtime.classes import History, Region
from pystator.runtime.clock import ManualClock
from tests.conftest import ROOT

# A retry flow: ``start`` raises ``bump`` from its actions, entering TRYING raises ``check``
# before its own entry action. The internal queue runs ``bump`` (targetless: ``count``), then
# ``check`` (guarded by ``ok``: DONE, else FAILED).
RETRY: dict[str, Any] = {
    "meta": {"machine_name": "retry", "version": "1.0.0"},
    "states": [
        {"name": "IDLE", "type": "initial"},
        {
            "name": "TRYING",
            "on_enter": [{"raise": "check"}, "log_enter"],
            "on_exit": ["log_exit"],
        },
        {"name": "DONE", "type": "terminal"},
        {"name": "FAILED"},
    ],
    "transitions": [
        {
            "trigger": "start",
            "source": "IDLE",
            "dest": "TRYING",
            "actions": ["log_start", {"raise": "bump"}],
        },
        {"trigger": "bump", "source": "TRYING", "actions": ["count"]},
        {
            "trigger": "check",
            "source": "TRYING",
            "dest": "DONE",
            "guards": ["ok"],
            "actions": ["log_done"],
        },
        {"trigger": "check", "source": "TRYING", "dest": "FAILED"},
        {"trigger": "reset", "source": "FAILED", "dest": "IDLE"},
    ],
}
RETRY_ORDER = ("log_start", "log_enter", "count", "log_exit", "log_done")
"""The actions of ``start`` when ``ok`` passes, in SCXML's order across the macrostep."""

# History directly in a parallel state (deep) and a compound state whose initial child is
# its (shallow) history.
HISTORY: dict[str, Any] = {
    "meta": {"machine_name": "recall", "version": "1.0.0"},
    "states": [
        {"name": "IDLE", "type": "initial"},
        {
            "name": "P",
            "type": "parallel",
            "regions": [
                {"name": "left", "initial": "L1", "states": ["L1", "L2"]},
                {"name": "right", "initial": "R1", "states": ["R1", "R2"]},
            ],
        },
        {"name": "H", "parent": "P", "type": "history", "history": "deep"},
        {"name": "OUTER", "initial_child": "BACK"},
        {"name": "IN1", "parent": "OUTER"},
        {"name": "IN2", "parent": "OUTER"},
        {"name": "BACK", "parent": "OUTER", "type": "history"},
    ],
    "transitions": [
        {"trigger": "enter", "source": "IDLE", "dest": "P"},
        {"trigger": "step_left", "source": "L1", "dest": "L2"},
        {"trigger": "step_right", "source": "R1", "dest": "R2"},
        {"trigger": "leave", "source": "P", "dest": "IDLE"},
        {"trigger": "again", "source": "IDLE", "dest": "H"},
        {"trigger": "out", "source": "IDLE", "dest": "OUTER"},
        {"trigger": "next", "source": "IN1", "dest": "IN2"},
        {"trigger": "back", "source": "OUTER", "dest": "IDLE"},
    ],
}


def loop_definition(kind: str, *, at_start: bool = False) -> dict[str, Any]:
    """A machine that loops after ``go`` (or as soon as it starts): eventless transitions
    (``kind == "auto"``) or two states raising events at each other (``"raise"``)."""
    first = "B" if at_start else "A"
    states: list[dict[str, Any]] = [{"name": "A"}, {"name": "B"}, {"name": "C"}]
    transitions: list[dict[str, Any]] = [{"trigger": "go", "source": "A", "dest": "B"}]
    if kind == "auto":
        transitions += [
            {"auto": True, "source": "B", "dest": "C"},
            {"auto": True, "source": "C", "dest": "B"},
        ]
    else:
        states[1]["on_enter"] = [{"raise": "ping"}, "never"]
        states[2]["on_enter"] = [{"raise": "pong"}]
        transitions += [
            {"trigger": "ping", "source": "B", "dest": "C"},
            {"trigger": "pong", "source": "C", "dest": "B"},
        ]
    return {
        "meta": {"machine_name": f"loop_{kind}", "version": "1", "initial": first},
        "states": states,
        "transitions": transitions,
    }


def retry_machine(ok: bool = True) -> tuple[StateMachine, list[str]]:
    """The retry machine with ``ok`` answering ``ok`` and every action recorded in order.

    Actions named like the raised events (``bump``, ``check``) are registered too: they
    must never run, since a raise item is not an action.
    """
    machine = StateMachine.from_dict(RETRY)
    calls: list[str] = []
    machine.guard("ok")(lambda ctx: calls.append("guard ok") or ok)
    for name in (*RETRY_ORDER, "bump", "check"):
        machine.action(name)(lambda ctx, _name=name: calls.append(_name))
    return machine, calls


# ----------------------------------------------------------------------------- process
class TestProcess:
    def test_the_result_lists_the_internal_events_and_the_actions_in_order(self) -> None:
        machine, calls = retry_machine(ok=True)
        result = machine.process("IDLE", "start")
        assert result.success
        assert result.target_state == "DONE"
        assert result.internal_events == ("bump", "check")
        assert result.all_actions == RETRY_ORDER
        assert [a.name for a in result.action_specs()] == list(RETRY_ORDER)
        assert calls == ["guard ok"]  # the guard of the internal event's transition ran

    def test_a_guard_of_an_internal_event_decides_where_the_step_ends(self) -> None:
        machine, calls = retry_machine(ok=False)
        result = machine.process("IDLE", "start")
        assert result.target_state == "FAILED"
        assert result.internal_events == ("bump", "check")
        assert "log_done" not in result.all_actions
        assert calls == ["guard ok"]

    def test_a_guard_of_an_internal_event_reads_the_context_the_step_assigned(self) -> None:
        data = json.loads(json.dumps(RETRY))
        data["transitions"][0]["assign"] = {"tries": "tries + 1"}
        data["transitions"][2]["guards"] = [{"expr": "tries >= 2"}]
        machine = StateMachine.from_dict(data)
        assert machine.process("IDLE", "start", {"tries": 0}).target_state == "FAILED"
        result = machine.process("IDLE", "start", {"tries": 1})
        assert result.target_state == "DONE"
        assert result.context == {"tries": 2}

    def test_aprocess_awaits_an_async_guard_of_an_internal_event(self) -> None:
        machine = StateMachine.from_dict(RETRY)
        asked: list[Any] = []

        @machine.guard("ok")
        async def ok(ctx: dict[str, Any]) -> bool:
            await asyncio.sleep(0)
            asked.append(ctx.get("allowed"))
            return bool(ctx.get("allowed"))

        passed = asyncio.run(machine.aprocess("IDLE", "start", {"allowed": True}))
        refused = asyncio.run(machine.aprocess("IDLE", "start", {"allowed": False}))
        assert (passed.target_state, refused.target_state) == ("DONE", "FAILED")
        assert passed.internal_events == refused.internal_events == ("bump", "check")
        assert asked == [True, False]
        # The sync driver never takes a coroutine for true.
        with pytest.raises(GuardEvaluationError, match="'ok' is async"):
            machine.process("IDLE", "start", {"allowed": True})

    def test_the_logging_hook_names_the_internal_events(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        machine, _ = retry_machine()
        machine.add_hook(LoggingHook())
        with caplog.at_level(logging.INFO, logger="pystator"):
            machine.process("IDLE", "start")
            machine.process("FAILED", "reset")
        messages = [r.getMessage() for r in caplog.records]
        assert messages[0].startswith("IDLE --start--> DONE via internal events bump, check (")
        assert messages[1].startswith("FAILED --reset--> IDLE (")

    @pytest.mark.parametrize("kind", ["auto", "raise"])
    def test_a_raise_loop_is_a_failed_result_like_an_eventless_loop(self, kind: str) -> None:
        machine = StateMachine.from_dict(loop_definition(kind))
        result = machine.process("A", "go")
        assert not result.success
        assert result.metadata["reason"] == "loop_limit"
        assert isinstance(result.error, LoopLimitError)
        assert result.target_state is None
        assert result.internal_events == ()
        with pytest.raises(LoopLimitError):
            result.raise_for_error()


# ----------------------------------------------------------------------------- sessions
class TestSession:
    def test_send_runs_the_actions_in_the_results_order_and_never_a_raise(self) -> None:
        machine, calls = retry_machine()
        session = machine.create()
        result = session.send("start")
        assert session.current_state == "DONE"
        assert calls == ["guard ok", *RETRY_ORDER]  # not 'bump' nor 'check'
        assert result.internal_events == ("bump", "check")

    def test_asend_runs_async_actions_in_the_results_order(self) -> None:
        machine = StateMachine.from_dict(RETRY)
        calls: list[str] = []
        machine.guard("ok")(lambda ctx: True)
        for name in (*RETRY_ORDER, "bump", "check"):

            async def action(ctx: Any, _name: str = name) -> None:
                await asyncio.sleep(0)
                calls.append(_name)

            machine.action(name)(action)
        session = machine.create()
        result = asyncio.run(session.asend("start"))
        assert result.target_state == session.current_state == "DONE"
        assert calls == list(RETRY_ORDER)

    def test_execute_actions_false_runs_nothing(self) -> None:
        machine, calls = retry_machine()
        session = machine.create()
        session.send("start", execute_actions=False)
        assert session.current_state == "DONE"
        assert calls == ["guard ok"]

    @pytest.mark.parametrize("kind", ["auto", "raise"])
    def test_a_loop_changes_nothing_and_runs_nothing(self, kind: str) -> None:
        machine = StateMachine.from_dict(loop_definition(kind))
        ran: list[str] = []
        machine.action("never")(lambda ctx: ran.append("never"))
        session = machine.create({"n": 1})
        result = session.send("go", extra=2)
        assert result.metadata["reason"] == "loop_limit"
        assert (session.current_state, session.context) == ("A", {"n": 1})
        assert ran == []
        with pytest.raises(LoopLimitError):
            result.raise_for_error()

    @pytest.mark.parametrize("kind", ["auto", "raise"])
    def test_a_loop_on_entering_the_initial_state_raises(self, kind: str) -> None:
        machine = StateMachine.from_dict(loop_definition(kind, at_start=True))
        with pytest.raises(LoopLimitError, match="the machine loops"):
            machine.create()

    def test_a_timer_whose_transition_raises(self) -> None:
        machine = StateMachine.from_dict(
            {
                "meta": {"machine_name": "waiter"},
                "states": [{"name": "WAIT", "type": "initial"}, {"name": "LATE"}, {"name": "GONE"}],
                "transitions": [
                    {
                        "after": "5s",
                        "source": "WAIT",
                        "dest": "LATE",
                        "actions": [{"raise": "give_up"}],
                    },
                    {"trigger": "give_up", "source": "LATE", "dest": "GONE", "actions": ["leave"]},
                ],
            }
        )
        ran: list[str] = []
        machine.action("leave")(lambda ctx: ran.append("leave"))
        clock = ManualClock()
        session = machine.create(clock=clock)
        clock.advance(5)
        [result] = session.fire_due_timers()
        assert (result.target_state, result.internal_events) == ("GONE", ("give_up",))
        assert (session.current_state, ran) == ("GONE", ["leave"])

    def test_history_directly_in_a_parallel_state_is_kept_in_the_snapshot(self) -> None:
        machine = StateMachine.from_dict(HISTORY)
        session = machine.create()
        for trigger in ("enter", "step_left", "step_right", "leave"):
            session.send(trigger)
        snap = session.snapshot()
        assert sorted(snap["history"]["H"]) == ["L2", "R2"]
        json.dumps(snap)  # JSON-ready
        restored = EntitySession.from_snapshot(machine, json.loads(json.dumps(snap)))
        assert restored.history == session.history
        assert restored.send("again").target_state == "P(left=L2, right=R2)"
        # Without memory the history enters every region by default.
        fresh = machine.create()
        assert fresh.send("again").target_state == "P(left=L1, right=R1)"

    def test_an_initial_child_that_is_a_history_state(self) -> None:
        machine = StateMachine.from_dict(HISTORY)
        session = machine.create()
        assert session.send("out").target_state == "IN1"  # no memory: the first real child
        session.send("next")
        session.send("back")
        restored = EntitySession.from_snapshot(machine, session.snapshot())
        assert restored.history["BACK"] == ("IN2",)
        assert restored.send("out").target_state == "IN2"


# ----------------------------------------------------------------------------- class machines
class_calls: list[str] = []
"""What the methods of ``Retry`` ran, in order."""


class Retry(Machine):
    """The retry flow written as a class: raise items as dicts and as ``RaiseSpec``."""

    IDLE = State(initial=True)
    TRYING = State(on_enter=[RaiseSpec(event="check"), "log_enter"], on_exit=["log_exit"])
    DONE = State(terminal=True)
    FAILED = State()

    start = IDLE.to(TRYING, actions=["log_start", {"raise": "bump"}])
    bump = TRYING.to(None, actions=["count"])
    check = TRYING.to(DONE, guards=["ok"], actions=["log_done"]) | TRYING.to(FAILED)
    reset = FAILED.to(IDLE)

    def ok(self, ctx: dict[str, Any]) -> bool:
        return bool(ctx.get("allowed", True))

    def log_start(self, ctx: dict[str, Any]) -> None:
        class_calls.append("log_start")

    def log_enter(self, ctx: dict[str, Any]) -> None:
        class_calls.append("log_enter")

    def count(self, ctx: dict[str, Any]) -> None:
        class_calls.append("count")

    def log_exit(self, ctx: dict[str, Any]) -> None:
        class_calls.append("log_exit")

    def log_done(self, ctx: dict[str, Any]) -> None:
        class_calls.append("log_done")


class TestClassMachines:
    def test_raise_items_give_the_definition_yaml_gives(self) -> None:
        expected = definition_from_data(
            {**RETRY, "meta": {**RETRY["meta"], "description": Retry.__doc__}}
        )
        assert Retry.definition.states == expected.states
        assert Retry.definition.transitions == expected.transitions
        assert Retry.definition.states[1].on_enter[0] == RaiseSpec(event="check")

    def test_a_session_runs_the_methods_in_order_and_reports_the_events(self) -> None:
        class_calls.clear()
        session = Retry.create()
        result = session.start()
        assert result.internal_events == ("bump", "check")
        assert session.is_done
        assert class_calls == list(RETRY_ORDER)

    def test_on_exit_takes_a_raise_dict_too(self) -> None:
        class Exit(Machine):
            A = State(initial=True, on_exit=[{"raise": "left"}])
            B = State()
            C = State()
            go = A.to(B)
            left = B.to(C)

        result = Exit.create().go()
        assert (result.target_state, result.internal_events) == ("C", ("left",))

    def test_an_unknown_raised_event_names_the_attribute(self) -> None:
        with pytest.raises(ConfigurationError) as info:

            class Bad(Machine):
                A = State(initial=True, on_enter=[{"raise": "gox"}])
                B = State()
                start = A.to(B, actions=[RaiseSpec(event="stat")])
                go = B.to(A)

        found = {(i.path, i.message) for i in info.value.issues}
        assert found == {
            (
                "Bad.start.actions[0].raise",
                "no transition has trigger 'stat': the internal event would be dropped; "
                "did you mean 'start'?",
            ),
            (
                "Bad.A.on_enter[0].raise",
                "no transition has trigger 'gox': the internal event would be dropped; "
                "did you mean 'go'?",
            ),
        }

    def test_history_in_a_parallel_state_and_as_an_initial_child(self) -> None:
        class Recall(Machine):
            IDLE = State(initial=True)
            P = State(parallel=True)
            left = Region(P)
            L1 = State(parent=left, initial=True)
            L2 = State(parent=left)
            H = History(P, deep=True)
            OUTER = State()
            IN1 = State(parent=OUTER)
            IN2 = State(parent=OUTER)
            BACK = History(OUTER, initial=True)
            enter = IDLE.to(P)
            step = L1.to(L2)
            leave = P.to(IDLE)
            again = IDLE.to(H)
            out = IDLE.to(OUTER)
            next = IN1.to(IN2)
            back = OUTER.to(IDLE)

        session = Recall.create()
        for trigger in ("enter", "step", "leave"):
            session.send(trigger)
        assert session.send("again").target_state == "P(left=L2)"
        session.send("leave")
        for trigger in ("out", "next", "back"):
            session.send(trigger)
        assert session.send("out").target_state == "IN2"
        restored = Recall.restore(session.snapshot())
        assert restored.history == session.history


# ----------------------------------------------------------------------------- diagrams
def block_of(text: str, name: str) -> str:
    """The lines of Mermaid composite state ``name``, its closing brace included."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == f"state {name} {{")
    depth = 0
    for end in range(start, len(lines)):
        depth += lines[end].count("{") - lines[end].count("}")
        if depth == 0:
            return "\n".join(lines[start : end + 1])
    raise AssertionError(f"state {name} is not closed")


class TestDiagrams:
    def test_raise_items_are_labelled(self) -> None:
        definition = definition_from_data(RETRY)
        mermaid = to_mermaid(definition)
        assert "    IDLE --> TRYING : start / log_start, raise bump\n" in mermaid
        dot = to_dot(definition)
        assert '"IDLE" -> "TRYING" [label="start / log_start, raise bump"];' in dot

    def test_mermaid_draws_a_history_state_inside_its_parallel_state(self) -> None:
        text = to_mermaid(definition_from_data(HISTORY))
        box = block_of(text, "P")
        assert 'state "H*" as H' in box
        # Each region, then the history, in sections of their own.
        assert box.count("\n        --\n") == 2
        assert box.index("state right {") < box.index('--\n        state "H*" as H')
        assert text.count("as H\n") == 1
        assert text.count("{") == text.count("}")

    def test_mermaid_starts_a_compound_state_at_its_history_initial_child(self) -> None:
        box = block_of(to_mermaid(definition_from_data(HISTORY)), "OUTER")
        assert "[*] --> BACK" in box
        assert 'state "H" as BACK' in box

    def test_dot_draws_both_inside_their_clusters(self) -> None:
        text = to_dot(definition_from_data(HISTORY))
        cluster = text[text.index('subgraph "cluster_P"') : text.index('subgraph "cluster_OUTER"')]
        assert '"H" [shape=circle, label="H*", width=0.3];' in cluster
        outer = text[text.index('subgraph "cluster_OUTER"') :]
        assert '"__start__OUTER" -> "BACK";' in outer
        assert '"BACK" [shape=circle, label="H", width=0.3];' in outer


# ----------------------------------------------------------------------------- loaders, CLI
def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pystator", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def misspelled_raise() -> dict[str, Any]:
    data = json.loads(json.dumps(RETRY))
    data["transitions"][0]["actions"][1] = {"raise": "bmup"}
    return data


MISSPELLED_PATH = "transitions[0].actions[1].raise"
MISSPELLED_MESSAGE = (
    "no transition has trigger 'bmup': the internal event would be dropped; did you mean 'bump'?"
)


class TestEntryPoints:
    def test_every_loader_accepts_raise_items_and_history_in_parallel(self, tmp_path: Path) -> None:
        for data in (RETRY, HISTORY):
            machine = StateMachine.from_dict(data)
            yaml_path = tmp_path / "m.yaml"
            yaml_path.write_text(machine.to_yaml(), encoding="utf-8")
            json_path = tmp_path / "m.json"
            json_path.write_text(machine.to_json(), encoding="utf-8")
            for loaded in (
                StateMachine.from_yaml(yaml_path).definition,
                StateMachine.from_json(json_path).definition,
                load_file(yaml_path),
                load_file(json_path),
            ):
                assert loaded == machine.definition

    def test_every_loader_refuses_an_unknown_raise_with_one_path_and_message(
        self, tmp_path: Path
    ) -> None:
        data = misspelled_raise()
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        yaml_path = tmp_path / "bad.yaml"
        yaml_path.write_text(json.dumps(data, indent=1), encoding="utf-8")  # JSON is YAML
        # A YAML source adds the line of the item to the message.
        line = yaml_path.read_text().splitlines().index('     "raise": "bmup"') + 1
        for load, suffix in (
            (lambda: StateMachine.from_dict(data), ""),
            (lambda: StateMachine.from_json(path), ""),
            (lambda: load_file(path), ""),
            (lambda: StateMachine.from_yaml(yaml_path), f" (line {line})"),
            (lambda: load_file(yaml_path), f" (line {line})"),
        ):
            with pytest.raises(ConfigurationError) as info:
                load()
            [issue] = info.value.issues
            assert (issue.path, issue.message) == (MISSPELLED_PATH, MISSPELLED_MESSAGE + suffix)

    def test_validate_accepts_them(self, tmp_path: Path) -> None:
        for data in (RETRY, HISTORY):
            path = tmp_path / f"{data['meta']['machine_name']}.json"
            path.write_text(json.dumps(data), encoding="utf-8")
            proc = cli("validate", path)
            assert proc.returncode == 0, proc.stderr
            assert proc.stdout.startswith(f"{path}: ok ")

    def test_validate_refuses_an_unknown_raise_in_one_line(self, tmp_path: Path) -> None:
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(misspelled_raise()), encoding="utf-8")
        proc = cli("validate", path)
        assert proc.returncode == 1
        assert "Traceback" not in proc.stderr
        assert proc.stderr.strip().splitlines() == [
            f"{path}: {MISSPELLED_PATH}: {MISSPELLED_MESSAGE}"
        ]

    def test_diagram_command_draws_both(self, tmp_path: Path) -> None:
        path = tmp_path / "recall.json"
        path.write_text(json.dumps(HISTORY), encoding="utf-8")
        proc = cli("diagram", path)
        assert proc.returncode == 0, proc.stderr
        assert 'state "H*" as H' in block_of(proc.stdout, "P")
        path = tmp_path / "retry.json"
        path.write_text(json.dumps(RETRY), encoding="utf-8")
        proc = cli("diagram", path, "--format", "dot")
        assert proc.returncode == 0, proc.stderr
        assert "raise bump" in proc.stdout

    def test_process_command_prints_the_internal_events(self, tmp_path: Path) -> None:
        path = tmp_path / "retry.json"
        path.write_text(json.dumps(RETRY), encoding="utf-8")
        proc = cli("process", path, "IDLE", "start", "--guard", "ok=false")
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout)
        assert result["target_state"] == "FAILED"
        assert result["internal_events"] == ["bump", "check"]
        assert re.search(r'"all_actions": \[\s*"log_start"', proc.stdout)
