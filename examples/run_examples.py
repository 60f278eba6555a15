"""Run every example script in this directory, one after another, and print its output.

    python examples/run_examples.py

``make examples`` runs it. Exits with status 1 if any
example fails (its output and error are still printed).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def example_scripts() -> list[Path]:
    """Every ``*.py`` beside this file except this runner, in name order."""
    return sorted(p for p in HERE.glob("*.py") if p.name != Path(__file__).name)


def main() -> int:
    failed: list[str] = []
    scripts = example_scripts()
    for script in scripts:
        print(f"\n##### {script.name} #####", flush=True)
        completed = subprocess.run(
            [sys.executable, str(script)],
            capture_output=True,
            text=True,
            check=False,
        )
        print(completed.stdout, end="")
        if completed.stderr:
            print(completed.stderr, end="", file=sys.stderr)
        if completed.returncode != 0:
            failed.append(script.name)
            print(f"!!! {script.name} exited with status {completed.returncode}")
    print(f"\nran {len(scripts)} example(s): {len(scripts) - len(failed)} ok", end="")
    print(f", failed: {', '.join(failed)}" if failed else "")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
