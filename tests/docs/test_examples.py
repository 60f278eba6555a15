"""Every script in examples/ runs from another directory, exits 0 and prints what it promises.

Every YAML file there validates and starts with the ``yaml-language-server`` schema line.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pystator import StateMachine
from tests.conftest import EXAMPLES

SCRIPTS = sorted(EXAMPLES.glob("*.py"))
YAML_FILES = sorted(EXAMPLES.glob("*.yaml"))
SCHEMA_LINE = "# yaml-language-server: $schema=../schemas/machine.schema.json"

# Lines (or parts of lines) each script must print. A script without an entry must still
# exit 0 and print something.
EXPECTED: dict[str, list[str]] = {
    "basic_usage.py": [
        "PENDING --exchange_ack--> OPEN [actions: no actions]",
        "success=True target_state=OPEN",
        "OPEN --execution_report--> PARTIALLY_FILLED [actions: update_positions]",
        "PARTIALLY_FILLED --execution_report--> FILLED [actions: update_positions, notify]",
        "OPEN --execution_report--> failed: guard_rejected (GuardRejectedError)",
        "PENDING --execution_report--> failed: invalid_transition (InvalidTransitionError)",
        "OPEN --teleport--> failed: undefined_trigger (UndefinedTriggerError)",
        "FILLED --cancel--> failed: terminal_state (TerminalStateError)",
        "raise_for_error(): GUARD_REJECTED guard=is_full_fill state=OPEN",
        "action update_positions: book=main order=A-2 filled=10/10",
        "action notify: channel=settlement order=A-2",
        "ran ['update_positions', 'notify'] -> success=True",
        "a failed result runs nothing: outcomes=()",
        "action notify: channel=trading order=A-3",
        "after a partial fill: PARTIALLY_FILLED, context={'order_id': 'A-3', 'order_qty': 100, "
        "'fill_qty': 60}",
        "restored: PARTIALLY_FILLED",
        "a rejected event changes nothing: success=False, still PARTIALLY_FILLED, fill_qty=60",
        "after the last fill: FILLED, is_final=True",
        "total_transitions=4 success_rate=0.75",
        "basic_usage: done",
    ],
    "portfolio_optimization_example.py": [
        "entered (outermost first): ['OPTIMIZING', 'DATA_PREPARATION', 'FETCHING_PRICES']",
        "actions: ['log_event', 'allocate_solver', 'enter_phase']",
        "report_progress(): 25%",
        "exited  (innermost first): ['CLEANING_DATA', 'DATA_PREPARATION']",
        "entered (outermost first): ['MODELLING', 'ESTIMATING_RISK']",
        "is_optimizing=True is_modelling=True is_data_preparation=False",
        "log_event('over the risk budget, modelling again') for GLOBAL_EQUITY",
        "exited  (innermost first): ['VALIDATING', 'OPTIMIZING']",
        "actions: ['exit_phase', 'release_solver', 'notify']",
        "place_orders(algo=twap)",
        "finished in COMPLETED, is_final=True",
        "reached OPTIMIZING > MODELLING > SOLVING with execute_actions=False",
        "exited  (innermost first): ['SOLVING', 'MODELLING']",
        "exited  (innermost first): ['ESTIMATING_RISK', 'MODELLING', 'OPTIMIZING']",
        "finished in ABORTED, is_final=True",
        "SOLVING --solved--> success=False reason=guard_rejected, guard=solution_converged",
        "VALIDATING --validated--> success=False reason=guard_rejected, guard=within_risk_budget",
        "IDLE --approve--> success=False reason=invalid_transition",
        "COMPLETED --fail--> success=False reason=terminal_state",
        "SOLVING --fail--> FAILED via '*'",
        "portfolio_optimization_example: done",
    ],
    "delayed_transitions.py": [
        "A-1: EXPIRED",
        "A-2: CLOSED",
        "A-3: FILLED",
        "at 0.300 s: 1 fired, B-1 EXPIRED",
        "stale timer: success=False reason=stale_timer",
        "delayed_transitions: done",
    ],
    "worker_app.py": ["A-1: PAID", "A-2: EXPIRED", "worker_app: done"],
    "orchestrator_sqlite.py": [
        "exchange_ack: PENDING --> OPEN",
        "retry of f1: OPEN --> PARTIALLY_FILLED (replayed, not applied again)",
        "version after the retry: 2",
        "same key, another payload: IdempotencyConflictError",
        "a rejected event writes nothing: version 3 -> 3",
        "outbox after the crash: ['order_workflow/B-7/1/0']",
        "recover() ran 1 action(s)",
        "recover() again ran 0 action(s)",
        "orders in FILLED: ['A-1'] (total 1)",
        "orchestrator_sqlite: done",
    ],
    "python_defined_machine.py": [
        "YAML and JSON round trips equal: True",
        "after full fill: FILLED final: True",
    ],
    "typed_order.py": [
        "context model: OrderContext order_qty: 10",
        "fill 4: OPEN filled_qty=4 fills=1 adopted=True",
        "bad payload: payload_validation ['qty: Input should be a valid integer",
        "error: PayloadValidationError VALIDATION_FAILED",
        "overfill: guard_rejected - still 4",
        "  announce: order A-1 10/10",
        "fill 6: FILLED filled_qty=10 fills=2 final=True",
        "snapshot context: {'order_id': 'A-1', 'order_qty': 10, 'filled_qty': 10, 'fills': 2}",
        "restored: OrderContext True",
        "process: OPEN OrderContext(order_id='B-2', order_qty=5, filled_qty=3, fills=1)",
        "input unchanged: True",
        "class definition == YAML definition: True",
        "same result from both: True",
        "typed_order: done",
    ],
    "run_examples.py": [
        "##### basic_usage.py #####",
        "##### portfolio_optimization_example.py #####",
        "##### python_defined_machine.py #####",
        "##### typed_order.py #####",
        "basic_usage: done",
        "portfolio_optimization_example: done",
        "typed_order: done",
        "ok",
    ],
}


def run_script(script: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_example_runs_from_any_directory(script: Path, tmp_path: Path) -> None:
    completed = run_script(script, tmp_path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stderr == ""
    assert completed.stdout.strip(), f"{script.name} printed nothing"
    for expected in EXPECTED.get(script.name, []):
        assert expected in completed.stdout, f"{script.name} did not print {expected!r}"


def test_run_examples_counts_every_script(tmp_path: Path) -> None:
    completed = run_script(EXAMPLES / "run_examples.py", tmp_path)
    runnable = len(SCRIPTS) - 1
    assert f"ran {runnable} example(s): {runnable} ok" in completed.stdout


@pytest.mark.parametrize("path", YAML_FILES, ids=[p.name for p in YAML_FILES])
def test_example_yaml_validates_and_names_its_schema(path: Path) -> None:
    first_line = path.read_text(encoding="utf-8").splitlines()[0]
    assert first_line == SCHEMA_LINE
    machine = StateMachine.from_yaml(path)
    assert StateMachine.from_dict(machine.to_dict()).definition == machine.definition
