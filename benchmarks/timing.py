"""Timing and memory probes: ``perf_counter_ns`` loops, repeated, best and median kept.

As ``timeit`` does, the cyclic garbage collector is paused while a timed region runs, so a
collection triggered by one library's garbage is not billed to the next loop; it is re-enabled
(and run) between repeats.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

Runner = Callable[[int], object]
"""``run(n)`` performs ``n`` operations in the library's own tight loop."""

Batch = tuple[Callable[[int], Any], Callable[[Any], object]]
"""``(prepare, run)``: ``prepare(n)`` makes what ``n`` operations need (``n`` live entities in
the right state, not timed); ``run(prepared)`` performs the ``n`` operations (timed). For an
operation a stateful library cannot repeat on one entity without undoing it."""


@dataclass(frozen=True, slots=True)
class Sample:
    """A figure measured several times: ``best`` and ``median`` per operation, in ``unit``."""

    best: float
    median: float
    repeats: int
    ops: int
    """Operations per repeat."""
    unit: str


@contextmanager
def _gc_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _timed(run: Runner | Batch, n: int) -> int:
    if isinstance(run, tuple):
        prepare, act = run
        prepared = prepare(n)
        gc.collect()  # the garbage of preparing is not billed to the operations
        with _gc_paused():
            started = time.perf_counter_ns()
            act(prepared)
            elapsed = time.perf_counter_ns() - started
        del prepared
        return elapsed
    with _gc_paused():
        started = time.perf_counter_ns()
        run(n)
        return time.perf_counter_ns() - started


def calibrate(run: Runner | Batch, min_seconds: float) -> int:
    """The smallest n in 1, 2, 5, 10, 20, 50, ... for which ``run(n)`` takes ``min_seconds``
    (for a ``Batch``: its ``n`` timed operations, preparing them is not counted)."""
    target = int(min_seconds * 1e9)
    n = 1
    while True:
        for factor in (1, 2, 5):
            if _timed(run, n * factor) >= target:
                return n * factor
        n *= 10


def time_ops(
    runners: Mapping[str, tuple[Runner | Batch, int]], *, repeats: int
) -> dict[str, Sample]:
    """Nanoseconds per operation of each ``(run, n)`` (``n`` from ``calibrate``); a ``Batch``
    is prepared afresh before each of its repeats.

    Repeats are interleaved across runners (a, b, c, a, b, c, ...), so a burst of other work
    on the machine hits every library alike instead of all repeats of one.
    """
    per_op: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(repeats):
        for name, (run, n) in runners.items():
            gc.collect()
            per_op[name].append(_timed(run, n) / n)
    return {
        name: Sample(min(v), statistics.median(v), repeats, runners[name][1], "ns")
        for name, v in per_op.items()
    }


LoadCase = tuple[Callable[[], Any], Callable[[Any], object]]
"""``(prepare, action)``: ``action(prepare())`` is one timed call; ``prepare`` is not timed."""


def time_each(
    cases: Mapping[str, LoadCase], *, repeats: int, budget_seconds: float
) -> dict[str, Sample]:
    """Nanoseconds per ``action(prepare())`` of each case, interleaved like ``time_ops``.

    A case stops early (after at least one run) once it has spent ``budget_seconds`` of timed
    work, so a peer that takes a second per call does not stretch the whole run.
    """
    times: dict[str, list[float]] = {name: [] for name in cases}
    spent: dict[str, int] = dict.fromkeys(cases, 0)
    for _ in range(repeats):
        for name, (prepare, action) in cases.items():
            if times[name] and spent[name] >= budget_seconds * 1e9:
                continue
            arg = prepare()
            gc.collect()
            with _gc_paused():
                started = time.perf_counter_ns()
                action(arg)
                elapsed = time.perf_counter_ns() - started
            del arg
            times[name].append(elapsed)
            spent[name] += elapsed
    return {
        name: Sample(min(v), statistics.median(v), len(v), 1, "ns") for name, v in times.items()
    }


def time_creation(
    new_factory: Callable[[], Callable[[], object]],
    *,
    count: int,
    repeats: int,
    budget_seconds: float,
) -> Sample:
    """Nanoseconds to create one object while ``count`` of them are kept alive.

    Each repeat uses a fresh factory (``new_factory()``, untimed), so objects of an earlier
    repeat never weigh on a later one; stops early once ``budget_seconds`` are spent.
    """
    per_op: list[float] = []
    spent = 0
    while len(per_op) < repeats and (not per_op or spent < budget_seconds * 1e9):
        make = new_factory()
        gc.collect()
        with _gc_paused():
            started = time.perf_counter_ns()
            items = [make() for _ in range(count)]
            elapsed = time.perf_counter_ns() - started
        per_op.append(elapsed / count)
        spent += elapsed
        del items, make
    return Sample(min(per_op), statistics.median(per_op), len(per_op), count, "ns")


def memory_per_object(make: Callable[[], object], *, count: int) -> float:
    """Bytes kept alive per object while ``count`` objects made by ``make`` are held.

    Traced with ``tracemalloc``: what is still allocated after ``count`` calls (and a full
    collection), minus the list that holds them, divided by ``count``.
    """
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        items = [make() for _ in range(count)]
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    held = after - before - sys.getsizeof(items)
    del items
    return held / count
