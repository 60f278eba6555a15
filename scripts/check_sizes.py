"""Fail when a module of ``pystator`` is over 500 lines or a function is over complexity 15.

The limits are the house style's (issue 15, item 6): past 500 lines a module is split; a
function over a cyclomatic complexity of 15 is split into named phases. Complexity is radon's
own figure, what ``radon cc --show-closures`` prints, so the check and the tool a reader runs
agree: each function, method and nested function (``outer.inner``) counts on its own, a
closure's branches are not added to the function around it (radon does not look into a class
defined inside a function body). Lines are physical lines.

A finding that is known and accepted is named in one of the allowance lists below, each entry
with a one-line reason. An entry that is no longer needed is itself a finding, so the lists
only shrink: when a split lands, its entry goes.

    python scripts/check_sizes.py            # exit 1 on a finding no allowance covers
    python scripts/check_sizes.py --strict   # ignore the allowances: show every finding
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent / "pystator"
MAX_LINES = 500
MAX_COMPLEXITY = 15

# Modules allowed over MAX_LINES, by path from the repository root.
KNOWN_OVERSIZE: dict[str, str] = {}

# Functions kept over MAX_COMPLEXITY on purpose, because splitting them costs speed on a hot
# path; the reason names the benchmark row that shows it ("path::qualified.name": reason).
SPEED_EXEMPT: dict[str, str] = {}

# Functions over MAX_COMPLEXITY that are still to be split ("path::qualified.name": reason).
KNOWN_COMPLEX: dict[str, str] = {}


class Measure(NamedTuple):
    """One module's length or one function's complexity."""

    key: str  # as an allowance names it: "pystator/x.py" or "pystator/x.py::name"
    where: str  # as a finding names it: "pystator/x.py" or "pystator/x.py:12 name"
    text: str  # "1063 lines", "complexity 71"
    value: int


def physical_lines(path: Path) -> int:
    data = path.read_bytes()
    return data.count(b"\n") + (bool(data) and not data.endswith(b"\n"))


def complexities(source: str) -> list[tuple[int, str, int]]:
    """``(line, qualified name, complexity)`` of every function, method and closure."""
    from radon.complexity import add_inner_blocks, cc_visit  # type: ignore[import-untyped]
    from radon.visitors import Function  # type: ignore[import-untyped]

    return sorted(
        (block.lineno, block.fullname, block.complexity)
        for block in add_inner_blocks(cc_visit(source))
        if isinstance(block, Function)
    )


def measure(root: Path) -> tuple[list[Measure], list[Measure]]:
    """The length of every module under ``root``, and the complexity of every function."""
    modules: list[Measure] = []
    functions: list[Measure] = []
    for path in sorted(root.rglob("*.py")):
        name = path.relative_to(root.parent).as_posix()
        lines = physical_lines(path)
        modules.append(Measure(name, name, f"{lines} lines", lines))
        functions.extend(
            Measure(f"{name}::{function}", f"{name}:{line} {function}", f"complexity {cc}", cc)
            for line, function, cc in complexities(path.read_text(encoding="utf-8"))
        )
    return modules, functions


def _allowed(lists: Mapping[str, Mapping[str, str]]) -> tuple[dict[str, str], list[str]]:
    """Each allowed key with the name of its list; a key in two lists, or without a one-line
    reason, is a finding."""
    list_of: dict[str, str] = {}
    problems: list[str] = []
    for list_name, entries in lists.items():
        for key, reason in entries.items():
            if not reason.strip() or "\n" in reason:
                problems.append(f"{key}: give it a one-line reason in {list_name}")
            if key in list_of:
                problems.append(f"{key}: in both {list_of[key]} and {list_name}: keep one")
            list_of[key] = list_name
    return list_of, problems


def _judge(
    measures: list[Measure], limit: int, lists: Mapping[str, Mapping[str, str]]
) -> list[str]:
    """Measures over ``limit`` that no list allows, then allowances that are not needed."""
    list_of, problems = _allowed(lists)
    largest: dict[str, Measure] = {}
    for m in measures:
        if m.value > limit and m.key not in list_of:
            problems.append(f"{m.where}: {m.text} (limit {limit})")
        if m.key not in largest or m.value > largest[m.key].value:
            largest[m.key] = m
    for key, list_name in sorted(list_of.items()):
        found = largest.get(key)
        if found is None or found.value <= limit:
            state = "not found" if found is None else f"{found.text} (limit {limit})"
            problems.append(
                f"{key}: {state}: allowance no longer needed: remove it from {list_name}"
            )
    return problems


def check(
    root: Path = ROOT,
    *,
    max_lines: int = MAX_LINES,
    max_complexity: int = MAX_COMPLEXITY,
    module_allowances: Mapping[str, Mapping[str, str]] | None = None,
    function_allowances: Mapping[str, Mapping[str, str]] | None = None,
) -> list[str]:
    """Every finding under ``root`` that no allowance covers, and every allowance not needed.

    Args:
        root: the package directory; paths are reported from its parent.
        max_lines: the module limit.
        max_complexity: the function limit.
        module_allowances: allowed modules by the name of their list
            (``{"KNOWN_OVERSIZE": {"pystator/x.py": reason}}``); ``None`` allows none.
        function_allowances: the same for functions, keyed ``"pystator/x.py::name"``.
    """
    modules, functions = measure(root)
    return _judge(modules, max_lines, module_allowances or {}) + _judge(
        functions, max_complexity, function_allowances or {}
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check the module and function size limits.")
    parser.add_argument(
        "--strict", action="store_true", help="ignore the allowance lists: show every finding"
    )
    parser.add_argument(
        "--root",
        type=Path,
        help="check this package directory instead of pystator (without the allowance lists)",
    )
    args = parser.parse_args(argv)
    if importlib.util.find_spec("radon") is None:
        print("check_sizes.py needs radon: pip install -e '.[dev]'", file=sys.stderr)
        return 2
    plain = args.strict or args.root is not None
    problems = check(
        args.root or ROOT,
        module_allowances=None if plain else {"KNOWN_OVERSIZE": KNOWN_OVERSIZE},
        function_allowances=None
        if plain
        else {"SPEED_EXEMPT": SPEED_EXEMPT, "KNOWN_COMPLEX": KNOWN_COMPLEX},
    )
    for problem in problems:
        print(problem)
    if not problems:
        allowed = len(KNOWN_OVERSIZE) + len(SPEED_EXEMPT) + len(KNOWN_COMPLEX)
        print("sizes: ok" if plain else f"sizes: ok ({allowed} findings allowed by name)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
