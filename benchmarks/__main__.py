"""``python -m benchmarks [--quick] [--only NAME,...] [--markdown FILE]``.

Runs every scenario on PyStator and on each installed peer, prints every figure with its ratio
to the fastest peer and whether PyStator's targets are met. Exits 1 only when a library failed
in a way its scenario did not expect; a missed target is reported, not an error (these are
benchmarks, not tests).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from importlib.util import find_spec
from pathlib import Path

from benchmarks.core import PyStator
from benchmarks.library import Library
from benchmarks.peers import PEERS
from benchmarks.report import load_average, render_markdown, render_text
from benchmarks.results import Row
from benchmarks.scenarios import FULL, QUICK, SCENARIOS

_MODULES = {"transitions": "transitions", "python-statemachine": "statemachine", "sismic": "sismic"}


def libraries() -> tuple[list[Library], list[str]]:
    """PyStator and every peer that is installed; the names of the missing ones."""
    found: list[Library] = [PyStator()]
    missing: list[str] = []
    for peer in PEERS:
        if find_spec(_MODULES[peer.name]) is None:
            missing.append(peer.name)
        else:
            found.append(peer())
    return found, missing


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated scenarios to run (of: {', '.join(SCENARIOS)})",
    )
    parser.add_argument("--markdown", type=Path, help="also write the figures as a Markdown table")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = QUICK if args.quick else FULL
    chosen = [s.strip() for s in args.only.split(",") if s.strip()] or list(SCENARIOS)
    unknown = [s for s in chosen if s not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    libs, missing = libraries()
    if missing:
        print(
            f"peers not installed, left out: {', '.join(missing)} "
            "(pip install -e '.[bench]' installs them)",
            file=sys.stderr,
        )

    load_at_start = load_average()
    started = time.perf_counter()
    rows: list[Row] = []
    for name in chosen:

        def progress(message: str, scenario: str = name) -> None:
            elapsed = time.perf_counter() - started
            print(f"  [{elapsed:6.1f}s] {scenario}: {message}", file=sys.stderr)

        rows.extend(SCENARIOS[name](libs, settings, progress))

    print(render_text(rows, libs, settings.label, load_at_start))
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    if args.markdown is not None:
        args.markdown.write_text(render_markdown(rows, libs) + "\n", encoding="utf-8")
    return 1 if any(f.error for row in rows for f in row.figures) else 0


if __name__ == "__main__":
    sys.exit(main())
