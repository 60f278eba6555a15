"""The public surface: ``__all__``, light imports, the committed schema, import layering."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

import pystator
from tests.conftest import ROOT

# The curated public names. Adding a name to ``pystator.__all__`` is a decision: make it here
# too (and in the API reference).
EXPECTED = {
    # machine, sessions, guards and actions
    "StateMachine",
    "EntitySession",
    "GuardRegistry",
    "ActionRegistry",
    "ActionExecutor",
    # machines as Python classes
    "Machine",
    "State",
    # hooks
    "TransitionObserver",
    "TransitionHook",
    "LoggingHook",
    "MetricsCollector",
    # results and reports
    "TransitionResult",
    "ExecutionReport",
    "ActionOutcome",
    "SessionSnapshot",
    "ParallelStateConfig",
    "TimerSpec",
    "PendingTimer",
    # persistence
    "Orchestrator",
    "ContextValidatorFn",
    "RetryPolicy",
    "StateStore",
    "InMemoryStateStore",
    # time
    "Clock",
    "ManualClock",
    # definition models
    "MachineDefinition",
    "MachineMeta",
    "StateDefinition",
    "TransitionDefinition",
    "GuardSpec",
    "ActionSpec",
    "RegionDefinition",
    "TimeoutSpec",
    "ContextSpec",
    "ContextField",
    "AssignSpec",
    "RaiseSpec",
    "EventSpec",
    # errors
    "FSMError",
    "ErrorCode",
    "ConfigIssue",
    "ConfigurationError",
    "InvalidTransitionError",
    "UndefinedTriggerError",
    "GuardRejectedError",
    "TerminalStateError",
    "ContextValidationError",
    "ContextTooLargeError",
    "PayloadValidationError",
    "UndefinedStateError",
    "GuardNotFoundError",
    "GuardEvaluationError",
    "ActionNotFoundError",
    "ActionExecutionError",
    "ActionTimeoutError",
    "IncompatibleSnapshotError",
    "LoopLimitError",
    "EntityNotFoundError",
    "IdempotencyConflictError",
    "StaleVersionError",
    "StoreUnavailableError",
    "StoreTimeoutError",
    "__version__",
}

HEAVY = ("fastapi", "sqlmodel", "sqlalchemy", "redis", "arq")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=ROOT, timeout=120
    )


def test_all_is_exactly_the_curated_set() -> None:
    names = list(pystator.__all__)
    assert len(names) == len(set(names)), "duplicates in __all__"
    assert set(names) == EXPECTED, (
        f"added: {sorted(set(names) - EXPECTED)}, missing: {sorted(EXPECTED - set(names))}"
    )


def test_every_public_name_is_importable() -> None:
    namespace: dict[str, object] = {}
    exec("from pystator import *", namespace)
    for name in pystator.__all__:
        assert getattr(pystator, name) is namespace[name]


def test_every_part_of_a_definition_is_public() -> None:
    """``MachineDefinition`` and every model it is made of can be imported from ``pystator``."""
    seen: set[type[BaseModel]] = set()

    def models_in(annotation: object) -> list[type[BaseModel]]:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return [annotation]
        return [m for arg in typing.get_args(annotation) for m in models_in(arg)]

    todo: list[type[BaseModel]] = [pystator.MachineDefinition]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for field in model.model_fields.values():
            todo.extend(models_in(field.annotation))
    for model in seen:
        assert getattr(pystator, model.__name__, None) is model, model.__name__


def test_actions_module() -> None:
    from pystator.actions import ActionExecutor, ActionRegistry

    assert ActionExecutor is pystator.ActionExecutor
    registry = ActionRegistry()
    ran: list[str] = []
    registry.register("notify", lambda ctx, **kw: ran.append(ctx["id"]))
    machine = pystator.StateMachine.from_dict(
        {
            "meta": {"machine_name": "m"},
            "states": [{"name": "A"}, {"name": "B"}],
            "transitions": [{"trigger": "go", "source": "A", "dest": "B", "actions": ["notify"]}],
        }
    )
    report = ActionExecutor(registry).execute(machine.process("A", "go"), {"id": "x"})
    assert report.success
    assert ran == ["x"]


def test_version() -> None:
    assert isinstance(pystator.__version__, str)
    assert pystator.__version__.count(".") >= 1


def test_py_typed_marker() -> None:
    assert (Path(pystator.__file__).parent / "py.typed").is_file()


def test_import_loads_no_optional_dependency() -> None:
    code = (
        "import sys, json, pystator\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} "
        "if any(k == m or k.startswith(m + '.') for k in sys.modules))))\n"
    )
    proc = run("-c", code)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


# Modules ``import pystator`` leaves to first use: the import-time target counts every
# millisecond (logging and json cost about 2.4 and 1.3 ms).
DEFERRED = ("logging", "json", "asyncio", "hashlib")


def test_import_defers_the_standard_modules_it_does_not_need_yet() -> None:
    # Against a baseline that defines a Pydantic model, so what Pydantic itself imports for
    # a model (hashlib, through pydantic.types) is not counted.
    code = (
        "import sys\n"
        "import pydantic, yaml\n"
        "class M(pydantic.BaseModel):\n"
        "    x: int = pydantic.Field(default=0, ge=0)\n"
        "baseline = set(sys.modules)\n"
        "import pystator\n"
        f"print(sorted(m for m in {DEFERRED!r} if m in sys.modules and m not in baseline))\n"
    )
    proc = run("-c", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_committed_schema_is_fresh() -> None:
    proc = run("-m", "pystator", "schema")
    assert proc.returncode == 0, proc.stderr
    committed = (ROOT / "schemas" / "machine.schema.json").read_text(encoding="utf-8")
    assert json.loads(committed) == json.loads(proc.stdout), (
        "schemas/machine.schema.json is stale: run `make schemas` and commit the result"
    )
    assert committed == proc.stdout, (
        "schemas/machine.schema.json is not formatted as `make schemas` writes it: "
        "run `make schemas`"
    )


def test_schema_describes_the_definition_model() -> None:
    schema = json.loads((ROOT / "schemas" / "machine.schema.json").read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == pystator.MachineDefinition.model_json_schema()["title"]


def test_import_layers() -> None:
    proc = run(str(ROOT / "scripts" / "check_layers.py"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "layers: ok"


@pytest.mark.parametrize(
    ("source", "current", "package", "expected"),
    [
        ("from .x import y", "pystator.cli", True, "pystator.cli.x"),
        ("from .x import y", "pystator.cli.machine", False, "pystator.cli.x"),
        ("from ..models import y", "pystator.cli.machine", False, "pystator.models"),
        ("from .errors import y", "pystator.__init__", True, "pystator.errors"),
        ("from pystator.models import y", "pystator.cli", True, "pystator.models"),
    ],
)
def test_the_layer_check_resolves_relative_imports(
    source: str, current: str, package: bool, expected: str
) -> None:
    """In a package's ``__init__``, ``from .x`` is a module of that package, not a sibling."""
    spec = importlib.util.spec_from_file_location(
        "check_layers", ROOT / "scripts" / "check_layers.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found = module.imported_modules(ast.parse(source), current, package=package)
    assert [name for _, name in found] == [expected]
