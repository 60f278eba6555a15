"""Module and function size limits (issue 15, item 6), checked by ``scripts/check_sizes.py``."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "check_sizes.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_sizes", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def branchy(name: str, complexity: int) -> str:
    """A one-line function of the given cyclomatic complexity (each ``and`` adds one)."""
    return f"def {name}(x):\n    return " + " and ".join(["x"] * complexity) + "\n"


def make_package(tmp_path: Path) -> Path:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text('"""A package."""\n', encoding="utf-8")
    (package / "big.py").write_text("x = 1\n" * 501, encoding="utf-8")
    (package / "small.py").write_text("x = 1\n" * 500, encoding="utf-8")
    (package / "logic.py").write_text(
        branchy("tangled", 16) + branchy("fine", 15), encoding="utf-8"
    )
    # A closure counts on its own, under radon's name for it: not added to its method.
    (package / "nested.py").write_text(
        "class Holder:\n    def method(self):\n"
        + textwrap.indent(branchy("inner", 17), " " * 8)
        + "        return inner\n",
        encoding="utf-8",
    )
    return package


def test_pystator_keeps_its_size_limits() -> None:
    proc = run()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("sizes: ok")


def test_oversize_module_and_complex_functions_fail(tmp_path: Path) -> None:
    proc = run("--root", str(make_package(tmp_path)))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == [
        "pkg/big.py: 501 lines (limit 500)",
        "pkg/logic.py:1 tangled: complexity 16 (limit 15)",
        "pkg/nested.py:3 method.inner: complexity 17 (limit 15)",
    ]


def test_allowances_cover_findings_and_must_not_outlive_them(tmp_path: Path) -> None:
    check = load_script().check
    package = make_package(tmp_path)
    covered = check(
        package,
        module_allowances={"KNOWN_OVERSIZE": {"pkg/big.py": "issue 15: to be split"}},
        function_allowances={
            "KNOWN_COMPLEX": {"pkg/logic.py::tangled": "issue 15: to be split"},
            "SPEED_EXEMPT": {"pkg/nested.py::method.inner": "row 1"},
        },
    )
    assert covered == []

    stale = check(
        package,
        max_complexity=16,
        module_allowances={
            "KNOWN_OVERSIZE": {"pkg/small.py": "split already", "pkg/gone.py": "removed"}
        },
        function_allowances={
            "SPEED_EXEMPT": {"pkg/logic.py::fine": "row 1"},
            "KNOWN_COMPLEX": {
                "pkg/logic.py::fine": "split already",
                "pkg/nested.py::method.inner": "",
            },
        },
    )
    assert stale == [
        "pkg/big.py: 501 lines (limit 500)",
        "pkg/gone.py: not found: allowance no longer needed: remove it from KNOWN_OVERSIZE",
        "pkg/small.py: 500 lines (limit 500): allowance no longer needed: "
        "remove it from KNOWN_OVERSIZE",
        "pkg/logic.py::fine: in both SPEED_EXEMPT and KNOWN_COMPLEX: keep one",
        "pkg/nested.py::method.inner: give it a one-line reason in KNOWN_COMPLEX",
        "pkg/logic.py::fine: complexity 15 (limit 16): allowance no longer needed: "
        "remove it from KNOWN_COMPLEX",
    ]
