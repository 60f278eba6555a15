"""The error tree and ``ErrorCode``: every code is produced by some real behaviour."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

import pystator
from pystator import (
    ActionExecutionError,
    ActionExecutor,
    ActionNotFoundError,
    ActionRegistry,
    ActionTimeoutError,
    ConfigIssue,
    ConfigurationError,
    ContextValidationError,
    EntityNotFoundError,
    EntitySession,
    ErrorCode,
    FSMError,
    GuardEvaluationError,
    GuardNotFoundError,
    GuardRejectedError,
    IdempotencyConflictError,
    IncompatibleSnapshotError,
    InMemoryStateStore,
    InvalidTransitionError,
    Orchestrator,
    StaleVersionError,
    StateMachine,
    StoreTimeoutError,
    TerminalStateError,
    TransitionResult,
    UndefinedStateError,
    UndefinedTriggerError,
)
from pystator.errors import ERROR_TYPES
from pystator.models.result import fresh_error
from tests.unit.conftest import ORDER, build

SEED_CODES = {
    "GUARD_REJECTED",
    "VALIDATION_FAILED",
    "INVALID_TRIGGER",
    "INVALID_STATE",
    "TERMINAL_STATE",
    "TIMEOUT",
    "CONFIG",
    "ACTION_FAILED",
    "STALE_VERSION",
    "GUARD_NOT_FOUND",
    "ACTION_NOT_FOUND",
    "UNDEFINED_STATE",
}


def test_seed_codes_exist_with_stable_values() -> None:
    for name in SEED_CODES:
        assert ErrorCode[name].value == name
    assert all(member.value == member.name for member in ErrorCode)


def test_every_error_is_an_fsm_error() -> None:
    classes = [
        ConfigurationError,
        InvalidTransitionError,
        UndefinedTriggerError,
        GuardRejectedError,
        TerminalStateError,
        ContextValidationError,
        UndefinedStateError,
        GuardNotFoundError,
        GuardEvaluationError,
        ActionNotFoundError,
        ActionExecutionError,
        ActionTimeoutError,
        IncompatibleSnapshotError,
        StaleVersionError,
    ]
    for cls in classes:
        assert issubclass(cls, FSMError)
        assert isinstance(cls.code, ErrorCode)
    assert issubclass(UndefinedTriggerError, InvalidTransitionError)
    assert issubclass(FSMError, Exception)


def test_the_tree_is_drawn_in_the_module_docstring() -> None:
    import pystator.errors as errors

    doc = errors.__doc__ or ""
    for name in dir(errors):
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, FSMError):
            assert name in doc, f"{name} is missing from the drawn tree"


def test_to_dict_and_equality() -> None:
    error = GuardRejectedError("no", guard_name="g", current_state="A")
    assert error.to_dict() == {
        "code": "GUARD_REJECTED",
        "type": "GuardRejectedError",
        "message": "no",
    }
    assert error == GuardRejectedError("no")
    assert error != GuardRejectedError("other")
    assert error != TerminalStateError("no")
    assert str(error) == "no"
    assert hash(error) == hash(GuardRejectedError("no"))


def test_code_can_be_overridden_per_instance() -> None:
    error = FSMError("context is bad", code=ErrorCode.VALIDATION_FAILED)
    assert error.code is ErrorCode.VALIDATION_FAILED
    assert FSMError("x").code is not ErrorCode.VALIDATION_FAILED


def test_configuration_error_shapes() -> None:
    single = ConfigurationError("broken", source="m.yaml")
    assert str(single) == "invalid machine definition in m.yaml: broken"
    assert single.issues == [ConfigIssue("", "broken")]
    many = ConfigurationError([ConfigIssue("a", "x"), ConfigIssue("b", "y")])
    assert str(many) == "invalid machine definition (2 problems):\n  - a: x\n  - b: y"
    assert many.to_dict()["issues"] == [
        {"path": "a", "message": "x"},
        {"path": "b", "message": "y"},
    ]


def _expect(exc_type: type[BaseException], fn: Callable[[], Any]) -> BaseException:
    with pytest.raises(exc_type) as info:
        fn()
    return info.value


class StaleReads(InMemoryStateStore):
    """A store that keeps answering every load with what it read first (a stale replica)."""

    def __init__(self) -> None:
        super().__init__()
        self.first: dict[tuple[str, str], Any] = {}

    def load(self, machine_name: str, entity_id: str) -> Any:
        key = (machine_name, entity_id)
        if key not in self.first:
            self.first[key] = super().load(machine_name, entity_id)
        record = self.first[key]
        return record.model_copy(deep=True) if record is not None else None


def codes_from_behaviour() -> dict[ErrorCode, str]:
    """Make the library produce each code; map code -> what produced it."""
    seen: dict[ErrorCode, str] = {}

    def note(error: Any, how: str) -> None:
        assert isinstance(error, FSMError), how
        seen.setdefault(error.code, how)

    m = StateMachine.from_dict(ORDER)
    note(_expect(GuardNotFoundError, lambda: m.process("OPEN", "fill")), "unregistered guard")
    m.guard_registry.register("is_full_fill", lambda ctx: False)
    note(m.process("OPEN", "fill").error, "guard rejected")
    note(m.process("PENDING", "fill").error, "trigger not from this state")
    note(m.process("PENDING", "explode").error, "undefined trigger")
    note(m.process("FILLED", "fill").error, "terminal state")
    note(_expect(UndefinedStateError, lambda: m.process("NOPE", "fill")), "undefined state")
    note(
        _expect(ConfigurationError, lambda: StateMachine.from_dict({"meta": {}})), "bad definition"
    )
    note(
        _expect(
            IncompatibleSnapshotError,
            lambda: EntitySession.from_snapshot(m, {"format": 1}),
        ),
        "bad snapshot",
    )

    async_guarded = build(
        [{"name": "A"}, {"name": "B"}],
        [
            {"trigger": "go", "source": "A", "dest": "B", "guards": ["remote"]},
        ],
    )

    async def remote(ctx: Any) -> bool:
        return True

    async_guarded.guard_registry.register("remote", remote)
    note(_expect(GuardEvaluationError, lambda: async_guarded.process("A", "go")), "async guard")

    acting = build(
        [{"name": "A", "type": "initial"}, {"name": "B"}],
        [
            {"trigger": "go", "source": "A", "dest": "B", "actions": ["missing"]},
            {"trigger": "slow", "source": "A", "dest": "B", "actions": ["hang"]},
        ],
    )
    error = _expect(ActionExecutionError, lambda: acting.create().send("go"))
    note(error, "failing action in a session")
    assert isinstance(error, ActionExecutionError)
    seen.setdefault(ErrorCode(error.report.failed[0].error_code), "unregistered action")

    async def hang(ctx: Any) -> None:
        await asyncio.sleep(10)

    registry = ActionRegistry()
    registry.register("hang", hang)
    report = asyncio.run(
        ActionExecutor(registry, timeout=0.01).aexecute(acting.process("A", "slow"))
    )
    seen.setdefault(ErrorCode(report.failed[0].error_code), "async action timeout")

    orders = StateMachine.from_dict(ORDER)
    strict_ids = Orchestrator(orders, InMemoryStateStore(), use_initial_state_when_missing=False)
    note(
        _expect(EntityNotFoundError, lambda: strict_ids.process_event("e1", "exchange_ack")),
        "unknown entity",
    )
    validated = Orchestrator(
        orders, InMemoryStateStore(), context_validator=lambda *_: (False, ["qty is required"])
    )
    note(validated.process_event("e1", "exchange_ack").error, "context validation")
    keyed = Orchestrator(orders, InMemoryStateStore())
    keyed.process_event("e1", "exchange_ack", idempotency_key="k1")
    note(
        _expect(
            IdempotencyConflictError,
            lambda: keyed.process_event("e1", "cancel", idempotency_key="k1"),
        ),
        "idempotency key reused for another event",
    )
    racing = Orchestrator(orders, StaleReads(), max_retries=1, retry_backoff=0)
    racing.process_event("e1", "exchange_ack")
    note(_expect(StaleVersionError, lambda: racing.process_event("e1", "cancel")), "lost race")

    looping = build(
        [{"name": "A"}, {"name": "B"}, {"name": "C"}],
        [
            {"trigger": "go", "source": "A", "dest": "B"},
            {"auto": True, "source": "B", "dest": "C"},
            {"auto": True, "source": "C", "dest": "B"},
        ],
    )
    note(looping.process("A", "go").error, "eventless loop")
    note(_expect(StoreTimeoutError, _commit_while_locked), "a store past its busy timeout")
    return seen


def _commit_while_locked() -> None:
    """An event committed while another connection holds the SQLite file's write lock past
    the store's busy timeout (``StoreTimeoutError``, code ``STORE_UNAVAILABLE``)."""
    import sqlite3
    import tempfile

    from pystator.stores.sql import SQLStateStore

    with tempfile.TemporaryDirectory() as directory:
        path = f"{directory}/locked.db"
        store = SQLStateStore(f"sqlite:///{path}", busy_timeout=0.05)
        holder = sqlite3.connect(path, isolation_level=None)
        try:
            orders = Orchestrator(StateMachine.from_dict(ORDER), store)
            orders.process_event("e1", "exchange_ack")
            holder.execute("BEGIN EXCLUSIVE")
            orders.process_event("e1", "cancel")
        finally:
            holder.close()
            store.close()


def test_every_error_code_is_produced_by_some_behaviour() -> None:
    seen = codes_from_behaviour()
    missing = set(ErrorCode) - set(seen)
    assert not missing, f"codes no behaviour produces: {sorted(missing)}"


def test_all_errors_are_exported() -> None:
    import pystator.errors as errors

    for name in dir(errors):
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, FSMError):
            assert getattr(pystator, name) is obj


def error_examples() -> dict[str, FSMError]:
    """One instance of every error type, by name, with its attributes set."""
    report = ActionExecutor(ActionRegistry()).execute(
        StateMachine.from_dict(ORDER).process("PENDING", "exchange_ack")
    )
    examples: list[FSMError] = [
        FSMError("custom", code=ErrorCode.TIMEOUT),
        ConfigurationError([ConfigIssue("states[0]", "bad"), ConfigIssue("meta", "worse")]),
        InvalidTransitionError("not from here", current_state="A", trigger="go"),
        UndefinedTriggerError("nowhere", current_state="A", trigger="nope"),
        GuardRejectedError("no", guard_name="g", current_state="A"),
        TerminalStateError("done"),
        ContextValidationError("bad context", errors=["qty is required"]),
        ActionExecutionError("failed", report=report),
        StaleVersionError("lost", entity_id="e1", expected_version=1, actual_version=2),
    ]
    by_name: dict[str, FSMError] = {type(e).__name__: e for e in examples}
    for name, cls in ERROR_TYPES.items():
        by_name.setdefault(name, cls("an example"))  # every error takes a message first
    return by_name


@pytest.mark.parametrize("name", sorted(ERROR_TYPES))
def test_fresh_error_is_an_equal_new_exception(name: str) -> None:
    # ``raise_for_error`` raises this copy, never the error a shared result holds.
    error = error_examples()[name]
    error.add_note("a note")
    try:
        raise error
    except FSMError:
        pass
    assert error.__traceback__ is not None
    copied = fresh_error(error)
    assert type(copied) is type(error)
    assert copied == error
    assert copied is not error
    assert copied.args == error.args
    assert str(copied) == str(error)
    assert copied.code is error.code
    assert vars(copied) == vars(error)
    assert copied.to_dict() == error.to_dict()
    assert copied.__traceback__ is None
    assert copied.__context__ is None
    assert copied.__cause__ is None
    # Lists (notes, a contract's errors, a definition's issues) are the copy's own.
    for key, value in vars(error).items():
        if type(value) is list:
            assert vars(copied)[key] is not value
    copied.add_note("another")
    assert error.__notes__ == ["a note"]


def test_raise_for_error_of_a_stored_result_raises_a_copy() -> None:
    # A result read back from its JSON (an idempotent replay) carries a rebuilt error.
    m = StateMachine.from_dict(ORDER)
    m.guard_registry.register("is_full_fill", lambda ctx: False)
    stored = TransitionResult.model_validate_json(m.process("OPEN", "fill").model_dump_json())
    with pytest.raises(GuardRejectedError) as info:
        stored.raise_for_error()
    assert info.value == stored.error
    assert info.value is not stored.error
    assert info.value.guard_name == "is_full_fill"
    assert info.value.current_state == "OPEN"
