"""The one exception tree of PyStator.

Outcomes caused by an event (a guard said no, a trigger that does not apply here, a terminal
state) are *results*: ``process`` returns a failed ``TransitionResult`` that carries one of these
errors in ``result.error``; ``result.raise_for_error()`` raises it. Only programming and data
errors are raised directly (an undefined current state, a named guard that was never registered,
an invalid definition)::

    FSMError                      base of everything PyStator raises; has .code (ErrorCode)
    ├── ConfigurationError        a definition is invalid; .issues lists every problem with its path
    ├── InvalidTransitionError    the event cannot change the state; .current_state   (result)
    │   ├── UndefinedTriggerError the trigger is defined nowhere in the machine       (result)
    │   ├── GuardRejectedError    every candidate's guard said no; .guard_name        (result)
    │   └── TerminalStateError    the entity is in a terminal state                   (result)
    ├── ContextValidationError    the context broke the machine's contract; .errors    (result)
    │   └── ContextTooLargeError  the stored context would pass the size cap; .size   (result)
    ├── PayloadValidationError    an event's payload broke its declared schema; .errors (result)
    ├── UndefinedStateError       the current state is not defined                     (raised)
    ├── GuardNotFoundError        a named guard is not registered (strict mode)        (raised)
    ├── GuardEvaluationError      a guard could not be evaluated (async guard in sync) (raised)
    ├── ActionNotFoundError       an action to run is not registered          (execution report)
    ├── ActionExecutionError      actions failed after the state changed; .report     (raised)
    ├── ActionTimeoutError        an async action ran past its time limit     (execution report)
    ├── IncompatibleSnapshotError a snapshot belongs to another machine or version     (raised)
    ├── LoopLimitError            eventless/done transitions kept firing (a cycle)     (result)
    ├── EntityNotFoundError       no stored entity with that id (orchestrator)         (raised)
    ├── IdempotencyConflictError  an idempotency key reused for another event          (raised)
    ├── StaleVersionError         optimistic locking lost after every retry            (raised)
    └── StoreUnavailableError     a store or scheduler backend is down; .target, .reason,
        │                         .outcome_unknown (a write may have been applied)     (raised)
        └── StoreTimeoutError     it did not connect or answer within its timeout      (raised)

As in pystator 0.0.x, ``except InvalidTransitionError`` catches every event that could not
move the entity (no transition here, an unknown trigger, a guard that said no, a terminal
state); each keeps its own ``code``, so tell them apart by class or by code.

Every class has a stable ``code`` from ``ErrorCode``, which the API and the JSON form of a
result use (``{"code", "type", "message"}``).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Stable machine-readable codes; the string values never change between releases."""

    GUARD_REJECTED = "GUARD_REJECTED"
    VALIDATION_FAILED = "VALIDATION_FAILED"
    INVALID_TRIGGER = "INVALID_TRIGGER"
    INVALID_STATE = "INVALID_STATE"
    TERMINAL_STATE = "TERMINAL_STATE"
    TIMEOUT = "TIMEOUT"
    CONFIG = "CONFIG"
    ACTION_FAILED = "ACTION_FAILED"
    STALE_VERSION = "STALE_VERSION"
    GUARD_NOT_FOUND = "GUARD_NOT_FOUND"
    ACTION_NOT_FOUND = "ACTION_NOT_FOUND"
    UNDEFINED_STATE = "UNDEFINED_STATE"
    UNDEFINED_TRIGGER = "UNDEFINED_TRIGGER"
    GUARD_ERROR = "GUARD_ERROR"
    LOOP_LIMIT = "LOOP_LIMIT"
    ENTITY_NOT_FOUND = "ENTITY_NOT_FOUND"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    STORE_UNAVAILABLE = "STORE_UNAVAILABLE"


class FSMError(Exception):
    """Base of every PyStator error; ``code`` says which kind it is."""

    code: ErrorCode = ErrorCode.INVALID_STATE

    def __init__(self, message: str, *, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used in results and API responses."""
        return {"code": self.code.value, "type": type(self).__name__, "message": self.message}

    def __eq__(self, other: object) -> bool:
        # Results are compared by value (determinism tests, round trips); so are their errors.
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, FSMError)
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.message))


class ConfigIssue:
    """One problem in a definition: where it is and what is wrong."""

    __slots__ = ("message", "path")

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def __repr__(self) -> str:
        return f"ConfigIssue({self.path!r}, {self.message!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ConfigIssue):
            return NotImplemented
        return (self.path, self.message) == (other.path, other.message)

    def __hash__(self) -> int:
        return hash((self.path, self.message))

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class ConfigurationError(FSMError):
    """A definition (or a loader input) is invalid; ``issues`` holds every problem found."""

    code = ErrorCode.CONFIG

    def __init__(self, message: str | Sequence[ConfigIssue], *, source: str | None = None) -> None:
        if isinstance(message, str):
            issues: list[ConfigIssue] = [ConfigIssue("", message)]
        else:
            issues = list(message)
        self.issues = issues
        self.source = source
        head = f"invalid machine definition{f' in {source}' if source else ''}"
        if len(issues) == 1:
            text = f"{head}: {issues[0]}"
        else:
            body = "\n".join(f"  - {issue}" for issue in issues)
            text = f"{head} ({len(issues)} problems):\n{body}"
        super().__init__(text)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["issues"] = [issue.to_dict() for issue in self.issues]
        return data


class InvalidTransitionError(FSMError):
    """The event cannot change the state: the trigger is defined in the machine but not from
    the current state. Base of the other refusals of an event (an undefined trigger, a guard
    rejection, a terminal state), as in pystator 0.0.x."""

    code = ErrorCode.INVALID_TRIGGER

    def __init__(self, message: str, *, current_state: str = "", trigger: str = "") -> None:
        super().__init__(message)
        self.current_state = current_state
        self.trigger = trigger


class UndefinedTriggerError(InvalidTransitionError):
    """The trigger is not defined anywhere in the machine."""

    code = ErrorCode.UNDEFINED_TRIGGER


class GuardRejectedError(InvalidTransitionError):
    """Every candidate transition had a guard that said no; ``guard_name`` is the one
    that rejected the first candidate."""

    code = ErrorCode.GUARD_REJECTED

    def __init__(
        self, message: str, *, guard_name: str = "", current_state: str = "", trigger: str = ""
    ) -> None:
        super().__init__(message, current_state=current_state, trigger=trigger)
        self.guard_name = guard_name


class TerminalStateError(InvalidTransitionError):
    """The entity is in a terminal state, which no event leaves."""

    code = ErrorCode.TERMINAL_STATE


class ContextValidationError(FSMError):
    """The context does not satisfy the machine's context contract; ``errors`` lists why."""

    code = ErrorCode.VALIDATION_FAILED

    def __init__(self, message: str, *, errors: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.errors = list(errors)


class PayloadValidationError(FSMError):
    """An event's payload does not satisfy the trigger's declared payload (``events:`` or
    an event model); ``errors`` lists why, as ``"field: message"``."""

    code = ErrorCode.VALIDATION_FAILED

    def __init__(self, message: str, *, errors: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.errors = list(errors)


class ContextTooLargeError(ContextValidationError):
    """The entity's context would be larger than the orchestrator's ``max_context_bytes``
    (its size as compact JSON, in bytes); ``size`` and ``limit`` say by how much."""

    def __init__(self, message: str, *, size: int = 0, limit: int = 0) -> None:
        super().__init__(message, errors=[message])
        self.size = size
        self.limit = limit


class UndefinedStateError(FSMError):
    """A state name (or configuration) that the machine does not define."""

    code = ErrorCode.UNDEFINED_STATE


class GuardNotFoundError(FSMError):
    """A transition names a guard that is not registered (strict mode)."""

    code = ErrorCode.GUARD_NOT_FOUND


class GuardEvaluationError(FSMError):
    """A guard could not be evaluated, e.g. an async guard met by the sync ``process``."""

    code = ErrorCode.GUARD_ERROR


class ActionNotFoundError(FSMError):
    """An action to run is not registered."""

    code = ErrorCode.ACTION_NOT_FOUND


class ActionExecutionError(FSMError):
    """One or more actions failed; the state change they belong to stands.

    ``report`` is the ``ExecutionReport`` with the outcome of every action.
    """

    code = ErrorCode.ACTION_FAILED

    def __init__(self, message: str, *, report: Any = None) -> None:
        super().__init__(message)
        self.report = report


class ActionTimeoutError(FSMError):
    """An async action ran longer than the executor's ``timeout``."""

    code = ErrorCode.TIMEOUT


class IncompatibleSnapshotError(FSMError):
    """A snapshot does not belong to this machine, or to a compatible version of it."""

    code = ErrorCode.INVALID_STATE


class LoopLimitError(FSMError):
    """Eventless or done transitions kept firing after one event: the machine loops."""

    code = ErrorCode.LOOP_LIMIT


class EntityNotFoundError(FSMError):
    """The orchestrator has no entity with that id (and may not create one)."""

    code = ErrorCode.ENTITY_NOT_FOUND


class IdempotencyConflictError(FSMError):
    """An idempotency key already applied to another trigger or payload."""

    code = ErrorCode.IDEMPOTENCY_CONFLICT


class StaleVersionError(FSMError):
    """Optimistic locking lost: the entity changed under us on every retry."""

    code = ErrorCode.STALE_VERSION

    def __init__(
        self,
        message: str,
        *,
        entity_id: str = "",
        expected_version: int | None = None,
        actual_version: int | None = None,
    ) -> None:
        super().__init__(message)
        self.entity_id = entity_id
        self.expected_version = expected_version
        self.actual_version = actual_version


_UNKNOWN_OUTCOME_ADVICE = (
    "the write may or may not have been applied: retry it with the same idempotency key"
)


class StoreUnavailableError(FSMError):
    """A store (or a scheduler's Redis) could not be reached or did not answer: retry later.

    ``target`` names the backend without credentials (``"PostgreSQL at 127.0.0.1:5432"``) and
    ``reason`` says what happened (``"refused the connection"``). ``outcome_unknown`` is true
    when a write was sent and its answer was lost (a timeout or a dropped connection during a
    commit): it may or may not have been applied. Retry such an event with the same
    idempotency key: if it was applied, the retry returns the stored result instead of
    applying it again. The message is one line and holds no password.
    """

    code = ErrorCode.STORE_UNAVAILABLE

    def __init__(
        self,
        message: str = "",
        *,
        target: str = "",
        reason: str = "",
        outcome_unknown: bool = False,
    ) -> None:
        if not message:
            advice = _UNKNOWN_OUTCOME_ADVICE if outcome_unknown else "retry later"
            message = f"store unavailable: {target or 'the store'} {reason or 'failed'}; {advice}"
        super().__init__(message)
        self.target = target
        self.reason = reason
        self.outcome_unknown = outcome_unknown


class StoreTimeoutError(StoreUnavailableError):
    """The store did not accept a connection or answer within its configured timeout (a
    frozen or overloaded server, a network that drops packets)."""


ERROR_TYPES: dict[str, type[FSMError]] = {
    cls.__name__: cls
    for cls in (
        FSMError,
        ConfigurationError,
        InvalidTransitionError,
        UndefinedTriggerError,
        GuardRejectedError,
        TerminalStateError,
        ContextValidationError,
        ContextTooLargeError,
        PayloadValidationError,
        UndefinedStateError,
        GuardNotFoundError,
        GuardEvaluationError,
        ActionNotFoundError,
        ActionExecutionError,
        ActionTimeoutError,
        IncompatibleSnapshotError,
        LoopLimitError,
        EntityNotFoundError,
        IdempotencyConflictError,
        StaleVersionError,
        StoreUnavailableError,
        StoreTimeoutError,
    )
}
