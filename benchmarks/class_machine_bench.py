"""``python -m benchmarks.class_machine_bench [--quick]``.

A machine written as a ``Machine`` class processes exactly as fast as the same machine loaded
from YAML: both are one ``StateMachine`` over an equal definition; the class's guards are bound
methods where the YAML machine's are registered functions. Rows, each timed on both machines
with interleaved repeats (best and median ns per operation, and their ratio):

* ``process`` of a guarded transition (the guard passes);
* ``process`` of a transition whose guard rejects;
* a session's ``send`` of a guarded self-transition.

These are benchmarks, not tests: a ratio above the allowance is reported, not an error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from benchmarks.timing import Runner, calibrate, time_ops
from pystator import Machine, State, StateMachine

ALLOWANCE = 1.05
"""Class / YAML ratio of the best repeats counted as "as fast": the best is what the code
costs; medians carry the noise of other work on a shared machine."""

YAML = """
meta: {machine_name: desk}
states:
  - {name: PENDING, type: initial}
  - {name: OPEN}
  - {name: FILLED, type: terminal}
transitions:
  - {trigger: ack, source: PENDING, dest: OPEN}
  - {trigger: tick, source: OPEN, dest: OPEN, guards: [is_live]}
  - {trigger: fill, source: OPEN, dest: FILLED, guards: [is_full_fill]}
"""


class Desk(Machine):
    PENDING = State(initial=True)
    OPEN = State()
    FILLED = State(terminal=True)

    ack = PENDING.to(OPEN)
    tick = OPEN.to(OPEN, guards=["is_live"])
    fill = OPEN.to(FILLED, guards=["is_full_fill"])

    def is_live(self, ctx: dict[str, Any]) -> bool:
        return bool(ctx["live"])

    def is_full_fill(self, ctx: dict[str, Any]) -> bool:
        return bool(ctx["filled"] >= ctx["qty"])


def yaml_machine() -> StateMachine:
    machine = StateMachine.from_yaml_string(YAML)
    machine.guard("is_live")(lambda ctx: bool(ctx["live"]))
    machine.guard("is_full_fill")(lambda ctx: bool(ctx["filled"] >= ctx["qty"]))
    return machine


def process_runner(machine: StateMachine, context: dict[str, Any]) -> Runner:
    process = machine.process

    def run(n: int) -> None:
        for _ in range(n):
            process("OPEN", "fill", context)

    return run


def send_runner(machine: StateMachine) -> Runner:
    session = machine.create(context={"live": True})
    session.send("ack")
    send = session.send

    def run(n: int) -> None:
        for _ in range(n):
            send("tick")

    return run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args(argv)
    min_seconds, repeats = (0.02, 3) if args.quick else (0.05, 21)
    from_yaml, from_class = yaml_machine(), Desk.machine()
    assert from_yaml.definition.model_dump() == {
        **from_class.definition.model_dump(),
        "meta": from_yaml.definition.meta.model_dump(),
    }
    passes = {"filled": 5, "qty": 5}
    rejects = {"filled": 1, "qty": 5}
    rows = {
        "process, guard passes": (
            process_runner(from_yaml, passes),
            process_runner(from_class, passes),
        ),
        "process, guard rejects": (
            process_runner(from_yaml, rejects),
            process_runner(from_class, rejects),
        ),
        "session send, guarded": (send_runner(from_yaml), send_runner(from_class)),
    }
    print(f"{'row (ns per operation)':<26}{'YAML best':>10}{'class':>10}{'ratio':>8}  (medians)")
    slower = False
    for label, (yaml_run, class_run) in rows.items():
        n = calibrate(yaml_run, min_seconds)
        samples = time_ops({"yaml": (yaml_run, n), "class": (class_run, n)}, repeats=repeats)
        yaml_s, class_s = samples["yaml"], samples["class"]
        ratio = class_s.best / yaml_s.best
        slower |= ratio > ALLOWANCE
        print(
            f"{label:<26}{yaml_s.best:>10.0f}{class_s.best:>10.0f}{ratio:>8.2f}"
            f"  ({yaml_s.median:.0f}; {class_s.median:.0f})"
        )
    verdict = "not met" if slower else "met"
    print(f"target: class machine as fast as YAML (ratio <= {ALLOWANCE}): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
