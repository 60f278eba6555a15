"""Import time, measured in fresh interpreters (a warm process would have everything cached).

Every package is imported from byte-compiled files, as it is once installed: pip compiles a
wheel's modules at install time, but an editable checkout (and ``PYTHONDONTWRITEBYTECODE``)
would leave PyStator to be compiled from source on every import while its peers and Pydantic
are not, which times the compiler instead of the import.
"""

from __future__ import annotations

import compileall
import importlib.util
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


def byte_compile(package: str) -> None:
    """Write ``package``'s ``__pycache__`` files, as installing it from a wheel does."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{package!r} is not an importable package")
    for location in spec.submodule_search_locations:
        if not compileall.compile_dir(location, quiet=1):
            raise RuntimeError(f"byte-compiling {location} failed")


def import_times(statements: list[str], *, runs: int) -> dict[str, list[int]]:
    """Each statement ``runs`` times, interleaved so that machine noise hits all alike."""
    byte_compile("pystator")
    times: dict[str, list[int]] = {s: [] for s in statements}
    for _ in range(runs):
        for statement in statements:
            times[statement].append(import_time_ns(statement))
    return times
