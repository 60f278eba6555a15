"""Sessions of class-defined machines are typed: mypy (with the ``pystator.mypy`` plugin)
rejects a misspelt trigger method or ``is_<state>`` property and knows the context model.

The case file ``typing_cases/sessions.py`` marks each expected message at the end of its line
(``# E: ...`` for an error, ``# N: ...`` for a note); every other line must pass
``mypy --strict``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CASES = Path(__file__).resolve().parent / "typing_cases"
MARK = re.compile(r"#\s*([EN]):\s*(.+?)\s*$")
CONFIG = """\
[mypy]
strict = True
plugins = pydantic.mypy, pystator.mypy
mypy_path = {root}
# Errors inside pystator are the package's own mypy run's business, not this test's.
[mypy-pystator.*]
follow_imports = silent
"""


def expected(case: Path) -> list[str]:
    out: list[str] = []
    for number, line in enumerate(case.read_text(encoding="utf-8").splitlines(), start=1):
        match = MARK.search(line)
        if match is not None:
            kind = "error" if match.group(1) == "E" else "note"
            out.append(f"{case.name}:{number}: {kind}: {match.group(2)}")
    return out


def run_mypy(case: Path, tmp_path: Path) -> list[str]:
    """mypy's messages for a copy of ``case`` in ``tmp_path`` (a top-level module there)."""
    (tmp_path / case.name).write_text(case.read_text(encoding="utf-8"), encoding="utf-8")
    config = tmp_path / "mypy.ini"
    config.write_text(CONFIG.format(root=ROOT), encoding="utf-8")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(config),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--no-error-summary",
            "--hide-error-context",
            "--no-pretty",
            case.name,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert not proc.stderr, proc.stderr
    return proc.stdout.splitlines()


@pytest.mark.slow
def test_misspelt_triggers_and_state_properties_are_mypy_errors(tmp_path: Path) -> None:
    case = CASES / "sessions.py"
    assert run_mypy(case, tmp_path) == expected(case)
