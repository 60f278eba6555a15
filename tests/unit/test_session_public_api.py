"""``runtime/session.py`` drives the machine through its public API only (issue 15, item 5).

An AST scan of the session module: no underscore attribute of a machine (``machine._x``,
``self._machine._x``, ``getattr(machine, "_x")``), and no run-time import of
``runtime/machine.py`` (only the type checker's, so there is no import cycle at run time).
The same scan of ``runtime/classes.py``, which gives the machine its session class through
``use_session_class``. The public entry points are the real definitions (no private name
behind them), and the ones ``send`` reads on every call are plain attributes.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pystator.runtime.classes as classes_module
import pystator.runtime.session as session_module
from pystator import StateMachine

SESSION = Path(session_module.__file__)
CLASSES = Path(classes_module.__file__)


def _is_machine(node: ast.expr) -> bool:
    """``machine`` (a parameter or a local bound to the session's machine) or ``x._machine``."""
    if isinstance(node, ast.Name):
        return node.id == "machine"
    return isinstance(node, ast.Attribute) and node.attr == "_machine"


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_machine_names(source: str) -> list[str]:
    """``line: name`` of every private attribute of a machine that ``source`` reads or writes."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and _private(node.attr) and _is_machine(node.value):
            found.append(f"{node.lineno}: {node.attr}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"getattr", "setattr", "hasattr", "delattr"}
            and len(node.args) >= 2
            and _is_machine(node.args[0])
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and _private(node.args[1].value)
        ):
            found.append(f"{node.lineno}: {node.args[1].value}")
    return sorted(found, key=lambda item: int(item.split(":")[0]))


def run_time_imports(source: str, module: str) -> list[int]:
    """Lines that import ``module`` outside an ``if TYPE_CHECKING:`` block."""
    tree = ast.parse(source)
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.If)
            and isinstance(node.test, ast.Name)
            and node.test.id == "TYPE_CHECKING"
        ):
            type_only.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    lines: list[int] = []
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        if module in names:
            lines.append(node.lineno)
    return lines


def test_the_scan_finds_private_machine_names() -> None:
    source = (
        "def f(self, machine):\n"
        "    machine._select(1)\n"
        "    self._machine._index.states\n"
        "    getattr(machine, '_plain')\n"
        "    machine.select(1)\n"
        "    self._state\n"
        "    machine.__class__\n"
    )
    assert private_machine_names(source) == ["2: _select", "3: _index", "4: _plain"]


def test_session_uses_no_private_name_of_the_machine() -> None:
    assert private_machine_names(SESSION.read_text(encoding="utf-8")) == []


def test_the_scan_finds_run_time_imports() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from pystator.runtime.machine import StateMachine\n"
        "def f():\n"
        "    from pystator.runtime.machine import StateMachine\n"
    )
    assert run_time_imports(source, "pystator.runtime.machine") == [5]


def test_session_imports_the_machine_module_for_type_checking_only() -> None:
    source = SESSION.read_text(encoding="utf-8")
    assert run_time_imports(source, "pystator.runtime.machine") == []


def test_class_machines_write_no_private_name_of_the_machine() -> None:
    assert private_machine_names(CLASSES.read_text(encoding="utf-8")) == []


ENTRY_POINTS = ("select", "select_observed", "send_step", "asend_step", "session_class")
PLAIN_ATTRIBUTES = ("plain", "hooks", "index", "has_context_model", "keeps_runtime")
GONE = ("_select", "_observed", "_process", "_aprocess", "_session_cls", "_index", "_needs_runtime")


def _machine() -> StateMachine:
    return StateMachine.from_dict(
        {"meta": {"machine_name": "m"}, "states": [{"name": "A", "type": "initial"}]}
    )


def test_the_entry_points_are_the_real_definitions() -> None:
    machine = _machine()
    for name in ENTRY_POINTS:
        assert getattr(StateMachine, name).__name__ == name
    assert [name for name in GONE if hasattr(machine, name)] == []


def test_what_send_reads_on_every_call_are_plain_attributes() -> None:
    machine = _machine()
    for name in PLAIN_ATTRIBUTES:
        assert name in vars(machine), name
        assert not hasattr(StateMachine, name), name  # no property, cached or not
