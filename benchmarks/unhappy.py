"""PyStator's unhappy paths: events that do not move the entity, beside the passing transition.

A guard that says no, a trigger the machine does not define (strict mode), a trigger defined
but not from the current state, and an event in a terminal state are everyday traffic (a
partial fill, a declined payment). Each row times one of them and, in the same interleaved
run, the passing transition it is compared with (its reference figure); the ratio of the two
is the row's target: at most 2x.

Every figure comes from the public API: ``machine.process`` on the order machine of
``shapes.order`` (the guard is ``has_quantity``, as a registered function or as the ``expr``
guard ``q >= 1``), ``machine.aprocess``, ``EntitySession.send`` and
``Orchestrator.process_event`` on the in-memory store (on the guarded toggle of row 1, so that
the passing event can be repeated). PyStator only: the peers' rejection paths are not
measured.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from benchmarks import shapes
from benchmarks.core import build, definition_dict
from benchmarks.library import Library, expect
from benchmarks.results import (
    MICROSECONDS,
    SUBJECT,
    Figure,
    Role,
    Row,
    Target,
    at_most_times_baseline,
)
from benchmarks.timing import Runner, calibrate, time_ops
from pystator import InMemoryStateStore, Orchestrator, StateMachine, TransitionResult

if TYPE_CHECKING:
    from benchmarks.scenarios import Settings

Progress = Callable[[str], None]

PASS, NO = shapes.GUARDED_CONTEXT, shapes.REJECTED_CONTEXT
LIMIT = 2.0
"""An unhappy path costs at most this many times its passing transition."""


def _order(expr: bool) -> StateMachine:
    data = definition_dict(shapes.order())
    if not expr:
        machine = StateMachine.from_dict(data)
        machine.guard(shapes.GUARD_NAME)(shapes.has_quantity)
        return machine
    for t in data["transitions"]:
        if "guards" in t:
            t["guards"] = [{"expr": shapes.GUARD_EXPRESSION}]
    return StateMachine.from_dict(data)


def _checked(result: TransitionResult, reason: str | None, error: str | None) -> None:
    """Refuse to time a call that does not give the outcome its row names."""
    if reason is None:
        expect(result.success and result.state_changed, f"expected a transition: {result!r}")
        return
    expect(result.metadata.get("reason") == reason, f"expected {reason}: {result!r}")
    expect(type(result.error).__name__ == error, f"expected {error}: {result!r}")


def _process(expr: bool, state: str, trigger: str, ctx: Mapping[str, Any]) -> Callable[..., Runner]:
    def make(reason: str | None, error: str | None) -> Runner:
        process = _order(expr).process
        _checked(process(state, trigger, ctx), reason, error)

        def run(n: int) -> None:
            for _ in range(n):
                process(state, trigger, ctx)

        return run

    return make


def _aprocess(ctx: Mapping[str, Any]) -> Callable[..., Runner]:
    def make(reason: str | None, error: str | None) -> Runner:
        aprocess = _order(False).aprocess
        _checked(asyncio.run(aprocess("OPEN", "fill", ctx)), reason, error)

        async def many(n: int) -> None:
            for _ in range(n):
                await aprocess("OPEN", "fill", ctx)

        def run(n: int) -> None:
            asyncio.run(many(n))  # one event loop per repeat: its set-up is shared by n calls

        return run

    return make


def _toggle() -> StateMachine:
    return build(shapes.toggle(guarded=True))


def _send(ctx: Mapping[str, Any]) -> Callable[..., Runner]:
    def make(reason: str | None, error: str | None) -> Runner:
        send = _toggle().create(ctx).send
        _checked(send("go"), reason, error)

        def run(n: int) -> None:
            for _ in range(n):
                send("go")

        return run

    return make


def _orchestrated(ctx: Mapping[str, Any]) -> Callable[..., Runner]:
    def make(reason: str | None, error: str | None) -> Runner:
        orchestrator = Orchestrator(_toggle(), InMemoryStateStore())
        orchestrator.create_entity("e1", ctx)
        process_event = orchestrator.process_event
        _checked(process_event("e1", "go"), reason, error)

        def run(n: int) -> None:
            for _ in range(n):
                process_event("e1", "go")

        return run

    return make


@dataclass(frozen=True)
class Case:
    """One timed call: what it is and how to make its runner."""

    label: str
    make: Callable[[str | None, str | None], Runner]
    reason: str | None = None
    """``metadata["reason"]`` of its result; ``None`` for a passing transition."""
    error: str | None = None
    """The type name of its result's error."""

    def runner(self) -> Runner:
        """A runner of this call, once checked that the call gives this outcome."""
        return self.make(self.reason, self.error)


# The passing transitions the rows compare with.
REFERENCES = {
    "process": Case(
        "process('OPEN', 'fill', ctx), named guard passes", _process(False, "OPEN", "fill", PASS)
    ),
    "process-expr": Case(
        "process('OPEN', 'fill', ctx), expr guard passes", _process(True, "OPEN", "fill", PASS)
    ),
    "aprocess": Case("await aprocess('OPEN', 'fill', ctx), named guard passes", _aprocess(PASS)),
    "send": Case("session.send('go'), guard passes (toggle)", _send(PASS)),
    "orchestrator": Case(
        "orchestrator.process_event(id, 'go'), guard passes, memory store", _orchestrated(PASS)
    ),
}


@dataclass(frozen=True)
class Unhappy:
    key: str
    title: str
    case: Case
    reference: str


ROWS = [
    Unhappy(
        "10a",
        "guard rejection, named guard (process)",
        Case(
            "process('OPEN', 'fill', ctx), has_quantity says no",
            _process(False, "OPEN", "fill", NO),
            "guard_rejected",
            "GuardRejectedError",
        ),
        "process",
    ),
    Unhappy(
        "10b",
        "guard rejection, expr guard (process)",
        Case(
            f"process('OPEN', 'fill', ctx), expr '{shapes.GUARD_EXPRESSION}' says no",
            _process(True, "OPEN", "fill", NO),
            "guard_rejected",
            "GuardRejectedError",
        ),
        "process-expr",
    ),
    Unhappy(
        "10c",
        "undefined trigger, strict mode (process)",
        Case(
            "process('OPEN', 'explode', ctx)",
            _process(False, "OPEN", "explode", PASS),
            "undefined_trigger",
            "UndefinedTriggerError",
        ),
        "process",
    ),
    Unhappy(
        "10d",
        "invalid transition: trigger defined, not from this state (process)",
        Case(
            "process('OPEN', 'ack', ctx)",
            _process(False, "OPEN", "ack", PASS),
            "invalid_transition",
            "InvalidTransitionError",
        ),
        "process",
    ),
    Unhappy(
        "10e",
        "event in a terminal state (process)",
        Case(
            "process('FILLED', 'fill', ctx)",
            _process(False, "FILLED", "fill", PASS),
            "terminal_state",
            "TerminalStateError",
        ),
        "process",
    ),
    Unhappy(
        "10f",
        "guard rejection, named guard (aprocess)",
        Case(
            "await aprocess('OPEN', 'fill', ctx), has_quantity says no",
            _aprocess(NO),
            "guard_rejected",
            "GuardRejectedError",
        ),
        "aprocess",
    ),
    Unhappy(
        "10g",
        "guard rejection (EntitySession.send)",
        Case(
            "session.send('go'), guard says no (toggle)",
            _send(NO),
            "guard_rejected",
            "GuardRejectedError",
        ),
        "send",
    ),
    Unhappy(
        "10h",
        "guard rejection (Orchestrator.process_event, memory store)",
        Case(
            "orchestrator.process_event(id, 'go'), guard says no, memory store",
            _orchestrated(NO),
            "guard_rejected",
            "GuardRejectedError",
        ),
        "orchestrator",
    ),
]


def unhappy_paths(libraries: Sequence[Library], settings: Settings, p: Progress) -> list[Row]:
    """Rows 10a to 10h: each unhappy path and its passing transition, timed interleaved."""
    if not any(lib.name == SUBJECT for lib in libraries):
        return []
    cases = {**REFERENCES, **{row.key: row.case for row in ROWS}}
    runners: dict[str, tuple[Runner, int]] = {}
    for name, case in cases.items():
        p(f"{name} (set-up)")
        run = case.runner()
        runners[name] = (run, calibrate(run, settings.min_seconds))
    p(f"timing {len(runners)} calls, {settings.repeats} rounds")
    samples = time_ops(runners, repeats=settings.repeats)

    def figure(name: str, library: str, role: Role) -> Figure:
        sample = samples[name]
        note = f"{sample.repeats} x {sample.ops:,} calls"
        if role is Role.REFERENCE:
            note = f"the passing transition, {cases[name].label}; {note}"
        return Figure(library, sample.best, sample.median, note=note, role=role)

    rows: list[Row] = []
    for unhappy in ROWS:
        row = Row(
            unhappy.key,
            unhappy.title,
            MICROSECONDS,
            f"pystator: {unhappy.case.label}; reference (same run, interleaved): "
            f"{REFERENCES[unhappy.reference].label}",
            target=Target(
                f"<= {LIMIT:g}x the passing transition in the same run",
                at_most_times_baseline(LIMIT),
            ),
            versus_reference=True,
        )
        row.figures = [
            figure(unhappy.key, SUBJECT, Role.SUBJECT),
            figure(unhappy.reference, "passing", Role.REFERENCE),
        ]
        rows.append(row)
    return rows
