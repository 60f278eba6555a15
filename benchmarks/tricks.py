"""``python -m benchmarks.tricks [--quick] [--only NAME,...] [--rounds N]``: what each speed
trick gains on the benchmark row that justifies it.

Every speed trick in PyStator lives in one named module beside a plain twin that computes the
same thing the obvious way (``pystator._twins`` lists them). For each trick this runs its
rows in fresh processes, alternately as shipped and with ``PYSTATOR_PLAIN_TWINS=<trick>``
(the twin swapped in at import), keeps each process's best nanoseconds per operation, and
prints the median over the rounds of both sides and the gain: how much slower the row is
with the twin. A trick that gains under 5% on its row is removed (issue 15); the table in
``docs/benchmarks.md`` ("Speed tricks against their plain twins") records the last run.

The rows are the ones named in each trick module's docstring, measured here with the same
code the other benchmarks use (``benchmarks.stores_bench.orchestrated``,
``benchmarks.typed_bench``, ``benchmarks.expr_bench``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass

from benchmarks.timing import Runner, calibrate, time_ops

THRESHOLD = 0.05
"""A trick gaining less than this on its row goes."""


def _orchestrated_memory(record_cache: int = 0) -> Callable[[ExitStack], Runner]:
    def make(stack: ExitStack) -> Runner:
        from benchmarks.stores_bench import orchestrated
        from pystator.stores.memory import InMemoryStateStore

        return orchestrated(InMemoryStateStore(), 1, record_cache)

    return make


def _orchestrated_sqlite(record_cache: int = 0) -> Callable[[ExitStack], Runner]:
    def make(stack: ExitStack) -> Runner:
        from benchmarks.stores_bench import orchestrated
        from pystator.stores.sql import SQLStateStore

        folder = stack.enter_context(tempfile.TemporaryDirectory())
        store = SQLStateStore(f"sqlite:///{folder}/tricks.db")
        stack.callback(store.close)
        return orchestrated(store, 1, record_cache)

    return make


def _orchestrated_redis(record_cache: int = 0) -> Callable[[ExitStack], Runner]:
    def make(stack: ExitStack) -> Runner:
        from benchmarks.stores_bench import REDIS_URL, orchestrated
        from pystator.stores import RedisStateStore

        prefix = f"pystator-tricks:{os.getpid()}:"
        store = RedisStateStore(REDIS_URL, prefix=prefix)
        stack.callback(store.close)
        stack.callback(store.clear)
        return orchestrated(store, 1, record_cache)

    return make


def _orchestrated_postgres(stack: ExitStack) -> Runner:
    from benchmarks.stores_bench import orchestrated, postgres_database
    from pystator.stores.sql import SQLStateStore

    url, _ = stack.enter_context(postgres_database())
    store = SQLStateStore(url)
    stack.callback(store.close)
    return orchestrated(store, 1)


def _typed_process(trigger: str) -> Callable[[ExitStack], Runner]:
    def make(stack: ExitStack) -> Runner:
        from benchmarks.typed_bench import YAML, process_runner
        from pystator import StateMachine

        return process_runner(StateMachine.from_yaml_string(YAML), trigger)

    return make


def _expr_process(case: str) -> Callable[[ExitStack], Runner]:
    def make(stack: ExitStack) -> Runner:
        from benchmarks.expr_bench import CASES, machines

        process = machines()[1].process
        context = CASES[case]

        def run(n: int) -> None:
            for _ in range(n):
                process("OPEN", "fill", context)

        return run

    return make


def _session_send(stack: ExitStack) -> Runner:
    from pystator import StateMachine

    machine = StateMachine.from_dict(
        {
            "meta": {"machine_name": "toggle"},
            "states": [{"name": "off", "type": "initial"}, {"name": "on"}],
            "transitions": [
                {"trigger": "flip", "source": "off", "dest": "on"},
                {"trigger": "flip", "source": "on", "dest": "off"},
            ],
        }
    )
    send = machine.create().send

    def run(n: int) -> None:
        for _ in range(n):
            send("flip")

    return run


@dataclass(frozen=True)
class Trick:
    name: str
    rows: dict[str, Callable[[ExitStack], Runner]]


TRICKS: tuple[Trick, ...] = (
    Trick(
        "construct",
        {
            "stores_bench memory/1 entity": _orchestrated_memory(),
            "stores_bench memory/1 entity, cached": _orchestrated_memory(10_000),
        },
    ),
    Trick(
        "field_copier",
        {
            "typed_bench process, assign 1 field": _typed_process("add"),
            "stores_bench memory/1 entity": _orchestrated_memory(),
        },
    ),
    Trick(
        "compact_json",
        {
            "stores_bench sqlite/1 entity": _orchestrated_sqlite(),
            "stores_bench memory/1 entity, cached": _orchestrated_memory(10_000),
        },
    ),
    Trick("frozen_records", {"stores_bench memory/1 entity": _orchestrated_memory()}),
    Trick("private_copy", {"stores_bench memory/1 entity, cached": _orchestrated_memory(10_000)}),
    Trick(
        "result_json",
        {
            "stores_bench memory/1 entity": _orchestrated_memory(),
            "stores_bench memory/1 entity, cached": _orchestrated_memory(10_000),
        },
    ),
    Trick("held_connections", {"stores_bench redis/1 entity": _orchestrated_redis()}),
    Trick("psycopg_cursor", {"stores_bench postgres/1 entity": _orchestrated_postgres}),
    Trick(
        "fast_expr",
        {
            "expr_bench int, rejects (row 10b)": _expr_process("int, rejects"),
            "expr_bench int, passes": _expr_process("int, passes"),
            "typed_bench process, assign 1 field": _typed_process("add"),
        },
    ),
    Trick("fast_select", {"row 2, session send": _session_send}),
)


def child(name: str, min_seconds: float, repeats: int) -> dict[str, float]:
    """In a process started by ``main``: the best ns per operation of each row of ``name``."""
    trick = next(t for t in TRICKS if t.name == name)
    best: dict[str, float] = {}
    with ExitStack() as stack:
        for row, make in trick.rows.items():
            run = make(stack)
            n = calibrate(run, min_seconds)
            best[row] = time_ops({row: (run, n)}, repeats=repeats)[row].best
    return best


def _run_child(name: str, plain: bool, quick: bool) -> dict[str, float]:
    env = dict(os.environ)
    env.pop("PYSTATOR_PLAIN_TWINS", None)
    if plain:
        env["PYSTATOR_PLAIN_TWINS"] = name
    command = [sys.executable, "-m", "benchmarks.tricks", "--child", name]
    if quick:
        command.append("--quick")
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{name} ({'twin' if plain else 'trick'}) failed:\n{done.stderr}")
    figures: dict[str, float] = json.loads(done.stdout)
    return figures


@dataclass(frozen=True)
class Gain:
    trick: str
    row: str
    trick_ns: float
    twin_ns: float

    @property
    def gain(self) -> float:
        return self.twin_ns / self.trick_ns - 1


def measure(names: Sequence[str], rounds: int, quick: bool) -> list[Gain]:
    """Alternate processes with and without each trick's twin, ``rounds`` pairs each."""
    gains: list[Gain] = []
    for name in names:
        samples: dict[bool, list[dict[str, float]]] = {False: [], True: []}
        for i in range(rounds):
            for plain in (False, True) if i % 2 == 0 else (True, False):
                samples[plain].append(_run_child(name, plain, quick))
        rows = samples[False][0].keys()
        for row in rows:
            trick_ns = statistics.median(s[row] for s in samples[False])
            twin_ns = statistics.median(s[row] for s in samples[True])
            gains.append(Gain(name, row, trick_ns, twin_ns))
    return gains


def render(gains: Sequence[Gain], markdown: bool) -> str:
    lines: list[str] = []
    if markdown:
        lines.append("| trick | row | trick ns | plain twin ns | gain |")
        lines.append("|---|---|---:|---:|---:|")
    for g in gains:
        verdict = "" if g.gain >= THRESHOLD else "  under 5%"
        if markdown:
            lines.append(
                f"| `{g.trick}` | {g.row} | {g.trick_ns:,.0f} | {g.twin_ns:,.0f} "
                f"| {g.gain:+.0%}{verdict} |"
            )
        else:
            lines.append(
                f"{g.trick:<15}{g.row:<42}{g.trick_ns:>10,.0f}{g.twin_ns:>12,.0f}"
                f"{g.gain:>+8.0%}{verdict}"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--only", help="comma-separated trick names")
    parser.add_argument("--rounds", type=int, default=0, help="pairs of processes per trick")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    min_seconds, repeats = (0.01, 2) if args.quick else (0.1, 5)
    if args.child:
        print(json.dumps(child(args.child, min_seconds, repeats)))
        return 0
    known = [t.name for t in TRICKS]
    names = args.only.split(",") if args.only else known
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error(f"unknown trick(s) {', '.join(unknown)}; the tricks are: {', '.join(known)}")
    rounds = args.rounds or (1 if args.quick else 5)
    gains = measure(names, rounds, args.quick)
    if not args.markdown:
        print(f"{'trick':<15}{'row':<42}{'trick ns':>10}{'twin ns':>12}{'gain':>8}")
    print(render(gains, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["TRICKS", "Gain", "main", "measure"]
