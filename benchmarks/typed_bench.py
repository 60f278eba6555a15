"""``python -m benchmarks.typed_bench [--quick]``: typed contexts and ``assign`` (issue 13).

Each row times two variants with interleaved repeats (median and best ns per operation):

* ``session send, 3-field model``: a session's ``send`` on a machine with a 3-field context
  model, against the same machine with a plain dict context. Target: at most 2x.
* ``process, assign 1 field``: ``process`` of a transition that assigns one field, against
  the same transition without it. Target: at most 1 us more.
* ``session send, assign 1 field``: the same pair through a session's ``send``.
* ``process, assign 1 field, fresh``: the same pair, both called with a new context dict each
  time (as the orchestrator and the API call ``process``), so both carry their call's context
  in a per-call copy of the shared result: what the assign itself costs. Target: at most 1 us
  more.
* ``process, fresh context each call``: ``process`` with a new dict per call, against the
  same dict every call. A result is built once and shared; carrying the call's context makes
  a per-call copy of it, which the same context object reuses (informative, no target).

These are benchmarks, not tests: a missed target is reported, not an error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from benchmarks.timing import Runner, calibrate, time_ops
from pystator import StateMachine

YAML = """
meta: {machine_name: typed}
states:
  - {name: OPEN, type: initial}
transitions:
  - {trigger: tick, source: OPEN, dest: OPEN}
  - {trigger: add, source: OPEN, dest: OPEN, assign: {total: "total + 1"}}
"""


class Context(BaseModel):
    """Three fields, as in the issue's target."""

    order_qty: int
    total: int = 0
    side: str = "buy"


CONTEXT = {"order_qty": 5, "total": 0, "side": "buy"}


def send_runner(machine: StateMachine, trigger: str) -> Runner:
    session = machine.create(context=dict(CONTEXT))
    send = session.send

    def run(n: int) -> None:
        for _ in range(n):
            send(trigger)

    return run


def process_runner(machine: StateMachine, trigger: str, *, fresh: bool = False) -> Runner:
    process = machine.process
    context = dict(CONTEXT)

    if fresh:

        def run(n: int) -> None:
            for _ in range(n):
                process("OPEN", trigger, {"order_qty": 5, "total": 0, "side": "buy"})

    else:

        def run(n: int) -> None:
            for _ in range(n):
                process("OPEN", trigger, context)

    return run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args(argv)
    min_seconds, repeats = (0.02, 3) if args.quick else (0.1, 9)
    plain = StateMachine.from_yaml_string(YAML)
    typed = StateMachine.from_yaml_string(YAML, context_model=Context)
    rows: dict[str, tuple[Runner, Runner, str, float]] = {
        "session send, 3-field model": (
            send_runner(plain, "tick"),
            send_runner(typed, "tick"),
            "ratio",
            2.0,
        ),
        "process, assign 1 field": (
            process_runner(plain, "tick"),
            process_runner(plain, "add"),
            "extra",
            1000.0,
        ),
        "session send, assign 1 field": (
            send_runner(plain, "tick"),
            send_runner(plain, "add"),
            "extra",
            1000.0,
        ),
        "process, assign 1 field, fresh": (
            process_runner(plain, "tick", fresh=True),
            process_runner(plain, "add", fresh=True),
            "extra",
            1000.0,
        ),
        "process, fresh context": (
            process_runner(plain, "tick"),
            process_runner(plain, "tick", fresh=True),
            "extra",
            float("inf"),
        ),
    }
    print(f"{'row':<32}{'base ns':>10}{'variant ns':>12}{'cost':>12}  target  (best)")
    missed = False
    for label, (base_run, variant_run, kind, limit) in rows.items():
        n = calibrate(base_run, min_seconds)
        samples = time_ops({"base": (base_run, n), "variant": (variant_run, n)}, repeats=repeats)
        base, variant = samples["base"], samples["variant"]
        if kind == "ratio":
            cost: Any = variant.median / base.median
            shown, target = f"{cost:.2f}x", f"<= {limit:g}x"
        else:
            cost = variant.median - base.median
            shown = f"+{cost:.0f} ns"
            target = "-" if limit == float("inf") else f"<= +{limit:.0f} ns"
        missed |= cost > limit
        print(
            f"{label:<32}{base.median:>10.0f}{variant.median:>12.0f}{shown:>12}  {target}"
            f"  ({base.best:.0f}; {variant.best:.0f})"
        )
    print(f"targets: {'not met' if missed else 'met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
