"""The scenarios: each runs every library on the same shape and returns its rows."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from benchmarks import shapes
from benchmarks.core import PyStator
from benchmarks.imports import import_times
from benchmarks.library import Library, NotExpressible
from benchmarks.results import (
    BYTES,
    MICROSECONDS,
    MILLISECONDS,
    SUBJECT,
    TIMES,
    Figure,
    Role,
    Row,
    Target,
    at_most,
    at_most_and_faster,
    at_most_times_baseline,
)
from benchmarks.timing import (
    Batch,
    LoadCase,
    Runner,
    calibrate,
    memory_per_object,
    time_creation,
    time_each,
    time_ops,
)
from benchmarks.unhappy import unhappy_paths

Progress = Callable[[str], None]

US = 1_000.0
MS = 1_000_000.0
GROWTH_ALLOWANCE = 1.25
"""``process`` "does not grow" if the large machine costs at most this much more: memory
caches make a 1,000-state walk a little slower than a 10-state one; an O(states) cost would
show as about 100 times."""


@dataclass(frozen=True, slots=True)
class Settings:
    """How long to measure; ``QUICK`` is a smoke run whose figures are only indicative."""

    label: str
    min_seconds: float
    """Each timed repeat of a per-call loop lasts at least this long."""
    repeats: int
    sessions: int
    """Live PyStator sessions in the memory scenario."""
    peer_entities: int
    """Live peer entities in the memory scenario (peers are 50 to 300 times slower to make)."""
    load_repeats: int
    load_budget_seconds: float
    import_runs: int
    large_states: int = 1_000
    small_states: int = 10
    fanout: int = 5


FULL = Settings("full", 0.1, 7, 100_000, 5_000, 15, 3.0, 11)
QUICK = Settings("quick", 0.02, 2, 10_000, 500, 2, 1.0, 2)


def _role(library: Library) -> Role:
    return Role.SUBJECT if library.name == SUBJECT else Role.PEER


def _failed(library: Library, exc: Exception) -> Figure:
    if isinstance(exc, NotExpressible):
        return Figure(library.name, None, note=f"n/a: {exc}", role=_role(library))
    return Figure(
        library.name,
        None,
        note=f"n/a: failed with {type(exc).__name__}: {exc}",
        role=_role(library),
        error=True,
    )


def _per_call(
    libraries: Sequence[Library],
    make_runner: Callable[[Library], Runner | Batch],
    settings: Settings,
    progress: Progress,
) -> list[Figure]:
    """Build and calibrate each library's runner, then time them all, interleaved."""
    failed: dict[str, Figure] = {}
    runners: dict[str, tuple[Runner | Batch, int]] = {}
    for library in libraries:
        progress(f"{library.name} (set-up)")
        try:
            run = make_runner(library)
            runners[library.name] = (run, calibrate(run, settings.min_seconds))
        except Exception as exc:
            failed[library.name] = _failed(library, exc)
    progress(f"timing {len(runners)} libraries, {settings.repeats} rounds")
    samples = time_ops(runners, repeats=settings.repeats)
    figures: list[Figure] = []
    for library in libraries:
        if library.name in failed:
            figures.append(failed[library.name])
            continue
        sample = samples[library.name]
        batch = isinstance(runners[library.name][0], tuple)
        what = "entities, one event each" if batch else "calls"
        figures.append(
            Figure(
                library.name,
                sample.best,
                sample.median,
                note=f"{sample.repeats} x {sample.ops:,} {what}",
                role=_role(library),
            )
        )
    return figures


def guarded_process(libraries: Sequence[Library], settings: Settings, p: Progress) -> list[Row]:
    shape = shapes.toggle(guarded=True)
    ctx = shapes.GUARDED_CONTEXT
    row = Row(
        "1",
        "flat process, one passing named guard",
        MICROSECONDS,
        "pystator: machine.process('A', 'go', ctx) with a registered guard "
        "ctx.get('q', 0) >= 1 (stateless: same state every call); peers: the same guard "
        "function on both directions of an A <-> B toggle, one event per call "
        "(transitions: model.go(ctx) with conditions=; python-statemachine: "
        "sm.send('go', ctx=ctx) with cond=; sismic: queue + execute_once, guard calling the "
        "function from the interpreter context)",
        target=Target(
            "<= 1 µs per call and >= 8x faster than the fastest peer",
            at_most_and_faster(1 * US, 8.0),
        ),
    )
    row.figures = _per_call(libraries, lambda lib: lib.guarded_runner(shape, ctx), settings, p)
    return [row]


def session_send(libraries: Sequence[Library], settings: Settings, p: Progress) -> list[Row]:
    shape = shapes.toggle(guarded=False)
    row = Row(
        "2",
        "EntitySession.send round trip",
        MICROSECONDS,
        "session.send('go') on an A <-> B toggle, the entity changes state every call "
        "(transitions: model.go(); python-statemachine: sm.send('go'); sismic: queue + "
        "execute_once)",
        target=Target("<= 2 µs per send", at_most(2 * US)),
    )
    row.figures = _per_call(libraries, lambda lib: lib.send_runner(shape), settings, p)
    return [row]


def hierarchical(libraries: Sequence[Library], settings: Settings, p: Progress) -> list[Row]:
    shape = shapes.nested()
    row = Row(
        "3",
        "hierarchical transition through the least common ancestor",
        MICROSECONDS,
        "TOP > P1 > P1a > L1 to TOP > P2 > P2a > L2: exits 3 states and enters 3 "
        "(pystator: machine.process('L1', 'go'); peers: a live entity toggling L1 <-> L2; "
        "transitions: HierarchicalMachine)",
        target=Target("<= 1.5 µs per transition", at_most(1.5 * US)),
    )
    row.figures = _per_call(libraries, lambda lib: lib.hierarchical_runner(shape), settings, p)
    return [row]


_PEER_EVENTS = (
    "transitions: model.<event>() on a HierarchicalMachine with parallel=; "
    "python-statemachine: sm.send('<event>') on a StateChart with a parallel state; sismic: "
    "queue + execute_once with 'parallel states'"
)


def parallel_region(libraries: Sequence[Library], settings: Settings, p: Progress) -> list[Row]:
    shape = shapes.parallel()
    row = Row(
        "8",
        "event moving one region of a 3-region parallel state",
        MICROSECONDS,
        "'go' moves region r1 of P(r1=A1, r2=B1, r3=C1) to A2, r2 and r3 stay (pystator: "
        "machine.process('P(r1=A1, r2=B1, r3=C1)', 'go'), stateless: same configuration every "
        f"call; peers: a live entity in P toggling A1 <-> A2, one event per call; {_PEER_EVENTS})",
        target=Target("<= 3 µs per process", at_most(3 * US)),
    )
    row.figures = _per_call(libraries, lambda lib: lib.region_runner(shape), settings, p)
    return [row]


PARALLEL_API_LIMIT = 2.0
"""Row 8b: ``process_parallel`` costs at most this many times ``process`` on the same
configuration string."""


def parallel_api(libraries: Sequence[Library], settings: Settings, p: Progress) -> list[Row]:
    """Row 8b: the seed's parallel API beside ``process`` on the same configuration, timed
    interleaved (PyStator only: the peers have no such API)."""
    subject = next((lib for lib in libraries if lib.name == SUBJECT), None)
    if not isinstance(subject, PyStator):
        return []
    shape = shapes.parallel()
    row = Row(
        "8b",
        "row 8's event through the parallel API (process_parallel)",
        MICROSECONDS,
        "pystator: config = machine.enter_parallel_state('P'), then "
        "machine.process_parallel(config, 'go') every call (stateless, as row 8); reference "
        "(same run, interleaved): machine.process('P(r1=A1, r2=B1, r3=C1)', 'go'), row 8's call",
        target=Target(
            f"<= {PARALLEL_API_LIMIT:g}x process on the same configuration in the same run",
            at_most_times_baseline(PARALLEL_API_LIMIT),
        ),
        versus_reference=True,
    )
    runners: dict[str, tuple[Runner | Batch, int]] = {}
    for name, make in (("api", subject.parallel_api_runner), ("process", subject.region_runner)):
        p(f"{name} (set-up)")
        run = make(shape)
        runners[name] = (run, calibrate(run, settings.min_seconds))
    p(f"timing 2 calls, {settings.repeats} rounds")
    samples = time_ops(runners, repeats=settings.repeats)
    api, process = samples["api"], samples["process"]
    row.figures = [
        Figure(
            SUBJECT,
            api.best,
            api.median,
            note=f"{api.repeats} x {api.ops:,} calls",
            role=Role.SUBJECT,
        ),
        Figure(
            "process",
            process.best,
            process.median,
            note=f"process on the same configuration string; {process.repeats} x "
            f"{process.ops:,} calls",
            role=Role.REFERENCE,
        ),
    ]
    return [row]


def parallel_enter(libraries: Sequence[Library], settings: Settings, p: Progress) -> list[Row]:
    shape = shapes.parallel()
    row = Row(
        "9a",
        "enter a 3-region parallel state from an outside state",
        MICROSECONDS,
        "'enter': OUTSIDE to P, entering P, its 3 regions and their first leaves (7 states) "
        "(pystator: machine.process('OUTSIDE', 'enter'), stateless; peers: n live entities "
        "brought to OUTSIDE beforehand, not timed, then one 'enter' to each, since an entity "
        f"cannot enter again without leaving; {_PEER_EVENTS})",
    )
    row.figures = _per_call(libraries, lambda lib: lib.enter_runner(shape), settings, p)
    return [row]


def parallel_exit(libraries: Sequence[Library], settings: Settings, p: Progress) -> list[Row]:
    shape = shapes.parallel()
    row = Row(
        "9b",
        "leave a 3-region parallel state (every region) for an outside state",
        MICROSECONDS,
        "'leave', a transition of P itself: P(r1=A1, r2=B1, r3=C1) to OUTSIDE, exiting 7 states "
        "(pystator: machine.process('P(r1=A1, r2=B1, r3=C1)', 'leave'), stateless; peers: n "
        "live entities brought into P beforehand, not timed, then one 'leave' to each; "
        f"{_PEER_EVENTS})",
    )
    row.figures = _per_call(libraries, lambda lib: lib.exit_runner(shape), settings, p)
    return [row]


def parallel_round_trip(libraries: Sequence[Library], settings: Settings, p: Progress) -> list[Row]:
    shape = shapes.parallel()
    row = Row(
        "9c",
        "round trip: enter the 3-region parallel state, then leave it (two events)",
        MICROSECONDS,
        "one operation is 'enter' then 'leave' (9a + 9b on one entity, every event fires; "
        "pystator: process('OUTSIDE', 'enter') then process('P(r1=A1, r2=B1, r3=C1)', "
        f"'leave'); peers: one live entity toggling OUTSIDE <-> P; {_PEER_EVENTS})",
    )
    row.figures = _per_call(libraries, lambda lib: lib.round_trip_runner(shape), settings, p)
    return [row]


def load_large(libraries: Sequence[Library], settings: Settings, p: Progress) -> list[Row]:
    shape = shapes.ring(settings.large_states, settings.fanout)
    n_states, n_transitions = len(shape.states), len(shape.transitions)
    row = Row(
        "4",
        f"load a {n_states:,}-state, {n_transitions:,}-transition machine from a dict",
        MILLISECONDS,
        "fresh plain data each time, converting it is not timed (pystator: "
        "StateMachine.from_dict, fully validated and compiled; transitions: Machine(states=, "
        "transitions=, initial=, auto_transitions=False); python-statemachine: "
        "create_machine_class_from_definition; sismic: io.datadict.import_from_dict, "
        "schema check and validate())",
        target=Target("<= 12 ms", at_most(12 * MS)),
    )
    cases: dict[str, LoadCase] = {}
    failed: dict[str, Figure] = {}
    for library in libraries:
        p(f"{library.name} (set-up)")
        try:
            library.load(library.load_input(shape))  # warm-up, and proof that it loads
        except Exception as exc:
            failed[library.name] = _failed(library, exc)
            continue
        cases[library.name] = (partial(library.load_input, shape), library.load)
    p(f"timing {len(cases)} libraries, up to {settings.load_repeats} rounds")
    samples = time_each(
        cases, repeats=settings.load_repeats, budget_seconds=settings.load_budget_seconds
    )
    for library in libraries:
        if library.name in failed:
            row.figures.append(failed[library.name])
            continue
        sample = samples[library.name]
        row.figures.append(
            Figure(
                library.name,
                sample.best,
                sample.median,
                note=f"{sample.repeats} loads",
                role=_role(library),
            )
        )
    return [row]


def entities(libraries: Sequence[Library], settings: Settings, p: Progress) -> list[Row]:
    shape = shapes.toggle(guarded=False)
    ctx = shapes.SMALL_CONTEXT
    memory = Row(
        "5a",
        "memory per live entity with a small context",
        BYTES,
        f"tracemalloc over {settings.sessions:,} live pystator sessions "
        f"(machine.create(ctx), ctx = {dict(ctx)}, copied per session) and "
        f"{settings.peer_entities:,} live peer entities with the same context copy "
        "(transitions: a model object registered on one shared Machine; "
        "python-statemachine: an instance of the generated StateChart class; sismic: an "
        "Interpreter, entered); the list holding them is not counted",
        target=Target("<= 500 bytes per session", at_most(500)),
    )
    creation = Row(
        "5b",
        "create one live entity",
        MICROSECONDS,
        "time per entity while all of them are kept alive (same counts and objects as 5a; "
        "transitions' add_model checks the models already registered, so it slows as "
        "entities accumulate)",
        target=Target("<= 2 µs per session", at_most(2 * US)),
    )
    for library in libraries:
        p(library.name)
        count = settings.sessions if library.name == SUBJECT else settings.peer_entities
        try:
            per_entity = memory_per_object(library.entity_factory(shape, ctx), count=count)
            sample = time_creation(
                partial(library.entity_factory, shape, ctx),
                count=count,
                repeats=max(2, settings.repeats - 2),
                budget_seconds=settings.load_budget_seconds,
            )
        except Exception as exc:
            memory.figures.append(_failed(library, exc))
            creation.figures.append(_failed(library, exc))
            continue
        memory.figures.append(
            Figure(library.name, per_entity, note=f"{count:,} entities", role=_role(library))
        )
        creation.figures.append(
            Figure(
                library.name,
                sample.best,
                sample.median,
                note=f"{sample.repeats} x {count:,} entities",
                role=_role(library),
            )
        )
    return [memory, creation]


def _ring_row(
    key: str,
    shape: shapes.Shape,
    libraries: Sequence[Library],
    settings: Settings,
    p: Progress,
) -> Row:
    n = len(shape.states)
    row = Row(
        key,
        f"process on a {n:,}-state machine",
        MICROSECONDS,
        f"'t0' moves one step around a ring of states with {len(shape.transitions):,} "
        "transitions (pystator: state = machine.process(state, 't0').target_state; peers: "
        "one event to a live entity)",
    )

    def make_runner(library: Library) -> Runner:
        return library.ring_runner(shape)

    def progress(message: str) -> None:
        p(f"{message}, {n:,} states")

    row.figures = _per_call(libraries, make_runner, settings, progress)
    return row


def machine_size(libraries: Sequence[Library], settings: Settings, p: Progress) -> list[Row]:
    small = shapes.ring(settings.small_states, settings.fanout)
    large = shapes.ring(settings.large_states, settings.fanout)
    rows = [
        _ring_row("6a", small, libraries, settings, p),
        _ring_row("6b", large, libraries, settings, p),
    ]
    growth = Row(
        "6c",
        f"growth of process cost, {len(large.states):,} states / {len(small.states)} states",
        TIMES,
        "6b divided by 6a (best by best, median by median)",
        target=Target(
            f"does not grow (<= {GROWTH_ALLOWANCE}x, cache effects only)",
            at_most(GROWTH_ALLOWANCE),
        ),
    )
    for a, b in zip(rows[0].figures, rows[1].figures, strict=True):
        if a.best is None or b.best is None:
            growth.figures.append(Figure(a.library, None, note=a.note or b.note, role=a.role))
            continue
        median = b.median / a.median if a.median and b.median else None
        growth.figures.append(Figure(a.library, b.best / a.best, median, role=a.role))
    return [*rows, growth]


BASELINE = "import pydantic, yaml"


def import_time(libraries: Sequence[Library], settings: Settings, p: Progress) -> list[Row]:
    p("fresh interpreters")
    statements = [BASELINE, *(lib.import_statement for lib in libraries)]
    times = import_times(statements, runs=settings.import_runs)
    row = Row(
        "7a",
        "import time in a fresh interpreter",
        MILLISECONDS,
        f"{settings.import_runs} fresh interpreters per statement, interleaved, every package "
        "byte-compiled as installed; best is the minimum (statements: "
        + ", ".join(f"'{s}'" for s in statements)
        + ")",
    )
    row.figures.append(
        Figure(
            "(pydantic + yaml)",
            min(times[BASELINE]),
            statistics.median(times[BASELINE]),
            note=f"'{BASELINE}', for scale",
            role=Role.REFERENCE,
        )
    )
    for library in libraries:
        sample = times[library.import_statement]
        row.figures.append(
            Figure(
                library.name,
                min(sample),
                statistics.median(sample),
                note=f"'{library.import_statement}'",
                role=_role(library),
            )
        )
    extra = Row(
        "7b",
        f"import pystator minus {BASELINE}",
        MILLISECONDS,
        "7a's pystator figure minus its (pydantic + yaml) figure (minimum by minimum, median "
        "by median)",
        target=Target("<= 60 ms more than 'import pydantic, yaml'", at_most(60 * MS)),
    )
    subject = next((lib for lib in libraries if lib.name == SUBJECT), None)
    if subject is not None:
        mine = times[subject.import_statement]
        extra.figures.append(
            Figure(
                SUBJECT,
                min(mine) - min(times[BASELINE]),
                statistics.median(mine) - statistics.median(times[BASELINE]),
                role=Role.SUBJECT,
            )
        )
    return [row, extra]


Scenario = Callable[[Sequence[Library], Settings, Progress], list[Row]]

SCENARIOS: dict[str, Scenario] = {
    "guard": guarded_process,
    "send": session_send,
    "hierarchy": hierarchical,
    "load": load_large,
    "entities": entities,
    "size": machine_size,
    "import": import_time,
    "region": parallel_region,
    "parallel-api": parallel_api,
    "enter": parallel_enter,
    "exit": parallel_exit,
    "roundtrip": parallel_round_trip,
    "unhappy": unhappy_paths,
}
