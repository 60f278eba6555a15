"""Import time, measured in fresh interpreters (a warm process would have everything cached)."""

from __future__ import annotations

import subprocess
import sys

_PROBE = """\
import time
started = time.perf_counter_ns()
{statement}
print(time.perf_counter_ns() - started)
"""


def import_time_ns(statement: str) -> int:
    """Nanoseconds ``statement`` takes in a new interpreter (interpreter start-up excluded)."""
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE.format(statement=statement)],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{statement!r} failed: {completed.stderr.strip()[-500:]}")
    return int(completed.stdout.strip().splitlines()[-1])


def import_times(statements: list[str], *, runs: int) -> dict[str, list[int]]:
    """Each statement ``runs`` times, interleaved so that machine noise hits all alike."""
    times: dict[str, list[int]] = {s: [] for s in statements}
    for _ in range(runs):
        for statement in statements:
            times[statement].append(import_time_ns(statement))
    return times
