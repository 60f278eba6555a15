"""The machine's sync fast path, fenced here beside its plain twin: ``select``, and the
copies of shared results that carry a call's context.

Most of a step's speed is the design (``docs/architecture.md``, "The hot path"): results are
built once and shared. What is fenced here goes further, for the calls the benchmarks time:

* ``select`` (``StateMachine.select``) takes the candidates of (state, trigger) from the
  index's fast table (``IndexCaches.fast_table``: the plain states of a machine whose results
  are built once) and answers the first candidate's guards inline, instead of running the
  engine's generator (``macrostep``) under a driver (``guard_drivers.drive``). A step the
  engine settled once (a parallel configuration's step that read no guard,
  ``IndexCaches.settled``) is handed out as it is. Once the first candidate says no,
  ``rejected`` tries the others by the plain rules (``guard_drivers.answer``), then reads the
  shared rejection from ``IndexCaches.failures`` itself, as ``engine.outcomes.reject`` would,
  one call fewer.
* ``Candidate.carried``: a success carrying the call's context is a copy of the candidate's
  shared result; the last copy is kept on the candidate (``accepted``), since a session sends
  with one context object until an event changes it.
* ``attach`` and ``ATTACHED``: the same for a shared failure (and a settled step), the last
  copy kept per shared result.
* ``model_view`` and ``StateMachine._last_view``: the ``ModelView`` expressions read of a
  context model's instance, the last one kept per machine.

Rows (``python -m benchmarks``, ``docs/benchmarks.md``): 1 (flat ``process``, one passing
named guard) and 2 (``EntitySession.send`` round trip) for ``select`` and ``carried``; 10a
to 10e (``process``: guard rejections, no transition, terminal state) and 10g (``send``, a
guard rejection) for the shared failures read here and ``attach``; 10f (``aprocess``, a
guard rejection) for ``attach``; 8 and 9b (a parallel configuration) for the settled step;
``python -m benchmarks.typed_bench``, "session send, 3-field model", for ``model_view``.

Plain twins: ``plain_select``, the general engine (``macrostep`` answered by
``guard_drivers.drive``), which is also the path of a state the fast table has no entry for
(a configuration string, history, eventless transitions); ``carry``, a new copy every call,
for ``attach``; ``plain_model_view``, a new ``ModelView`` every call, for ``model_view``.
``tests/unit/test_fast_select.py`` compares them. For an A/B measure,
``PYSTATOR_PLAIN_TWINS=fast_select`` swaps the twins in at import (``pystator._twins``;
``python -m benchmarks.tricks``).

Two general paths live here because they hand out shared results through ``attach``:
``finish``, where a step the general engine drove gets its context, and ``aselect``, the
async driver of an event (``aprocess``, ``asend``), which has no fast path (a guard may be
awaited) but hands out a settled step and a failure as ``select`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from pystator._twins import use_plain_twin
from pystator.engine import (
    AssignFailed,
    CompiledGuard,
    DataModel,
    History,
    accept,
    context_invalid,
    macrostep,
    no_transition,
    reject,
    state_table,
)
from pystator.engine.datamodel import CompiledAssign, apply_to_dict
from pystator.engine.index import Candidate
from pystator.models.result import TransitionResult, with_context
from pystator.runtime.contract import ModelView
from pystator.runtime.guard_drivers import (
    NO_CONTEXT,
    adrive,
    answer,
    drive,
    truth,
    unregistered_guard,
)

if TYPE_CHECKING:
    from pystator.runtime.machine import StateMachine

Context = Mapping[str, Any]

ATTACHED: dict[int, tuple[TransitionResult, TransitionResult]] = {}
"""id(shared result) -> (it, its last copy with a context). A session sends its events with
the same context object until an event changes it, so the copy made for one call serves the
next ones; the entry holds the shared result, so its id is not reused while it is here."""
MAX_ATTACHED = 4_096
"""Entries ``ATTACHED`` keeps; when full it starts again (cleared)."""


def carry(result: TransitionResult, context: Any) -> TransitionResult:
    """``result`` carrying ``context``: a new copy, never kept (``NO_CONTEXT`` is carried as
    ``None``). The plain twin of ``attach``, and how a result built for one call (a failed
    check, a success of the general engine) gets its context."""
    return with_context(result, None if context is NO_CONTEXT else context)


def attach(result: TransitionResult, context: Any) -> TransitionResult:
    """A shared result (built once, handed to every call) carrying ``context``: ``result``
    itself if it does, else a copy, the last of which is kept per shared result."""
    if context is NO_CONTEXT:
        context = None
    if result.context is context:
        return result
    entry = ATTACHED.get(id(result))
    if entry is not None and entry[0] is result and entry[1].context is context:
        return entry[1]
    copy = with_context(result, context)
    if len(ATTACHED) >= MAX_ATTACHED:
        ATTACHED.clear()
    ATTACHED[id(result)] = (result, copy)
    return copy


def model_view(machine: StateMachine, instance: BaseModel) -> ModelView:
    """The view expressions read of ``instance`` (no payload over it). The last one made is
    kept: a session sends its events with one instance until an event changes it."""
    last = machine._last_view
    if last is not None and last[0] is instance:
        return last[1]
    view = ModelView(instance)
    machine._last_view = (instance, view)
    return view


def plain_model_view(machine: StateMachine, instance: BaseModel) -> ModelView:
    """The plain twin of ``model_view``: a new view every call."""
    return ModelView(instance)


def select(
    machine: StateMachine,
    state: str,
    trigger: str,
    ctx: Any,
    view: Context,
    given: Any,
    history: History | None = None,
) -> TransitionResult:
    """The sync driver of one step, with no hooks called (``StateMachine.select``).

    Named guards receive ``ctx``, expressions read ``view`` (the same object unless the
    context is a model instance); a success carries ``ctx`` (or the context its assigns
    made), a failure ``given``. ``history`` is the entity's history memory.
    """
    per_state = machine._fast_table.get(state)
    if per_state is None:
        settled = machine._settled.get((state, trigger))
        if settled is not None:
            return attach(settled, ctx if settled.success else given)
        return off_table(machine, state, trigger, ctx, view, given, history)
    cands = per_state.get(trigger)
    if cands is None:
        return attach(no_transition(machine.index, state, trigger), given)
    cand = cands[0]
    for g in cand.guards:
        why: str | None = None
        if g.evaluate is None:  # a named guard: the registered function
            fn = machine._guards.get(g.name)  # type: ignore[arg-type]
            if fn is None:
                ok = unregistered_guard(machine, g)
            else:
                value = fn(ctx) if g.params is None else fn(ctx, **g.params)
                ok = value if type(value) is bool else truth(g, value)
        elif g.why_not is not None:  # an ``expr`` guard: ``None`` when it holds
            why = g.why_not(view)
            ok = why is None
        else:  # an ``expr`` guard compiled without ``explain``: no detail to give
            ok = g.evaluate(view)
        if not ok:
            return rejected(machine, state, trigger, cands, g, why, ctx, view, given)
    # ``accepted``'s first test, made here: a success with the context of the last call.
    carried = cand.carried
    if carried is not None and carried.context is (None if ctx is NO_CONTEXT else ctx):
        return carried
    return accepted(machine, state, trigger, cand, ctx, view, given)


def accepted(
    machine: StateMachine,
    state: str,
    trigger: str,
    cand: Candidate,
    ctx: Any,
    view: Context,
    given: Any,
) -> TransitionResult:
    """A candidate whose guards passed: its shared result (built on first use by
    ``engine.accept``) carrying the call's context, the last such copy kept on the candidate
    (``carried``); for a transition with ``assign`` items, a result with the context they
    make."""
    result = cand.result
    if result is None:
        result = accept(machine.index, cand)
    assigns = cand.assigns
    if assigns:
        if ctx is view and machine._contract is None:  # a plain dict context
            try:
                return with_context(result, apply_to_dict(assigns, ctx))
            except AssignFailed as exc:
                return carry(context_invalid(state, trigger, exc.errors), given)
        return assigned(machine, state, trigger, result, assigns, ctx, view, given)
    carries = None if ctx is NO_CONTEXT else ctx
    carried = cand.carried
    if carried is None or carried.context is not carries:
        carried = cand.carried = result if carries is None else with_context(result, carries)
    return carried


def rejected(
    machine: StateMachine,
    state: str,
    trigger: str,
    cands: tuple[Candidate, ...],
    first_no: CompiledGuard,
    detail: str | None,
    ctx: Any,
    view: Context,
    given: Any,
) -> TransitionResult:
    """``select`` once the first candidate's guard ``first_no`` said no (``detail``: why, from
    an ``expr`` guard): the other candidates in order, by the plain rules
    (``guard_drivers.answer``), the first whose guards all pass taken; if none passes, the
    shared rejection naming ``first_no``."""
    tried = len(cands)
    if tried > 1:
        for cand in cands[1:]:
            for g in cand.guards:
                value = answer(machine, g, ctx, view)
                if not (value if type(value) is bool else truth(g, value)):
                    break
            else:
                return accepted(machine, state, trigger, cand, ctx, view, given)
    # Read as ``engine.outcomes.reject`` reads it (one call fewer): a kept rejection whose
    # error was raised (it holds a traceback) is built again.
    shared = machine._failures.get((state, trigger, first_no, tried, detail))
    if shared is None or shared.error.__traceback__ is not None:  # type: ignore[union-attr]
        shared = reject(machine.index, state, trigger, first_no, tried, detail)
    return attach(shared, given)


def off_table(
    machine: StateMachine,
    state: str,
    trigger: str,
    ctx: Any,
    view: Context,
    given: Any,
    history: History | None,
) -> TransitionResult:
    """``select`` for a state the fast table has no entry for, whose step is not settled: a
    plain state's table is made on its first event (then the fast path answers); anything
    else (a configuration string, a state with history or eventless transitions) runs the
    general engine."""
    if state_table(machine.index, state) is not None and state in machine._fast_table:
        return select(machine, state, trigger, ctx, view, given, history)
    return plain_select(machine, state, trigger, ctx, view, given, history)


def assigned(
    machine: StateMachine,
    state: str,
    trigger: str,
    result: TransitionResult,
    assigns: tuple[CompiledAssign, ...],
    ctx: Any,
    view: Context,
    given: Any,
) -> TransitionResult:
    """A transition that assigns to a model instance or a checked context: its items
    applied, the new context validated."""
    try:
        data = DataModel(ctx, view, machine._rebuild)
        data.apply(assigns)
    except AssignFailed as exc:
        return carry(context_invalid(state, trigger, exc.errors), given)
    return finish(machine, state, trigger, result, data, given)


def finish(
    machine: StateMachine,
    state: str,
    trigger: str,
    result: TransitionResult,
    data: DataModel,
    given: Any,
) -> TransitionResult:
    """A driven step's result with its context: ``given`` for a failure, else the step's
    context (checked against the ``context:`` contract when an assign made it)."""
    # A failure is one of the engine's shared ones (``engine.outcomes``); a success of the
    # general engine may be built for this call alone, so it is carried without the cache of
    # ``attach``, which would keep its context alive.
    if not result.success:
        return attach(result, given)
    contract = machine._contract
    if data.assigned and contract is not None and machine._typed is None:
        target = result.target_state or state
        errors = contract.errors(data.context, lambda name: machine.is_active(target, name))
        if errors:
            return carry(context_invalid(state, trigger, errors), given)
    return carry(result, data.context)


def plain_select(
    machine: StateMachine,
    state: str,
    trigger: str,
    ctx: Any,
    view: Context,
    given: Any,
    history: History | None = None,
) -> TransitionResult:
    """The plain twin of ``select``: the general engine, ``macrostep`` answered by
    ``guard_drivers.drive`` (what ``aprocess`` runs, awaiting)."""
    data = DataModel(ctx, view, machine._rebuild)
    step = macrostep(machine.index, state, trigger, history, data=data)
    return finish(machine, state, trigger, drive(machine, step, data), data, given)


async def aselect(
    machine: StateMachine,
    state: str,
    trigger: str,
    ctx: Any,
    view: Context,
    given: Any,
    history: History | None = None,
) -> TransitionResult:
    """The async driver of one step (same arguments as ``select``): a settled step as
    ``select`` hands it out, else the general engine awaiting async guards."""
    settled = machine._settled.get((state, trigger))
    if settled is not None:
        return attach(settled, ctx if settled.success else given)
    data = DataModel(ctx, view, machine._rebuild)
    step = macrostep(machine.index, state, trigger, history, data=data)
    return finish(machine, state, trigger, await adrive(machine, step, data), data, given)


# Measuring only (``pystator._twins``): the plain twins in place of the tricks.
if use_plain_twin("fast_select"):
    select = plain_select
    attach = carry
    model_view = plain_model_view
