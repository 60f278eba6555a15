"""What a python block of README.md or docs/ imports is installed by the extra it documents.

A block documents ``pip install '.[all]'`` unless its directive names another extra:
``<!-- snippet: extra=api -->`` (``extra=core`` is the package without extras). Each import
statement of the block runs alone, in a fork of a fresh interpreter in which only the modules
of the distributions that extra installs (its requirements in pyproject.toml, followed through
the installed packages' metadata) and the standard library can be imported: what a clean
``pip install '.[EXTRA]'`` would give.

This catches an import that works in the development environment only because a dev tool
brought its dependency: ``from fastapi.testclient import TestClient`` needs ``httpx2``, which
the ``api`` extra must therefore list. Optional imports (``try: import sniffio``) stay
optional: blocked, they fall back as they would in a clean install.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
from functools import cache
from importlib import metadata
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.docs.markdown_snippets import ROOT, Block, all_blocks

PYTHON = [b for b in all_blocks() if b.lang in {"python", "py"}]

# stdin: a JSON list of [statement, [blocked top-level module names]]. Imports the core
# package once (every extra has it; this saves importing it again per statement) and prints
# the top-level modules then loaded; then runs each statement in a fork with the blocked
# modules made unimportable, and prints one JSON line per statement: {} when it imported,
# else the error.
PROBE = r"""
import json, os, sys
at_start = {name.partition(".")[0] for name in sys.modules}
import pystator
print(json.dumps(sorted({name.partition(".")[0] for name in sys.modules} - at_start)))

class NotInstalled:
    def __init__(self, names):
        self.names = names
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

for statement, blocked in json.load(sys.stdin):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        sys.meta_path.insert(0, NotInstalled(set(blocked)))
        try:
            exec(statement, {})
            out = {}
        except ModuleNotFoundError as exc:
            out = {"missing": exc.name, "error": str(exc)}
        except BaseException as exc:
            out = {"error": f"{type(exc).__name__}: {exc}"}
        with os.fdopen(write, "w") as pipe:
            pipe.write(json.dumps(out))
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        print(pipe.read())
    os.waitpid(pid, 0)
"""


# Cases the test needs besides the documentation's: the TestClient, and two that must fail.
CONTROLS = [
    ("from fastapi.testclient import TestClient", "api"),
    ("import redis", "api"),
    ("from pystator.api import create_app", "core"),
]


def import_statements(block: Block) -> list[str]:
    tree = ast.parse(block.code)
    return [
        ast.unparse(node)
        for node in ast.walk(tree)
        if isinstance(node, ast.Import) or (isinstance(node, ast.ImportFrom) and not node.level)
    ]


def documented_extra(block: Block) -> str:
    return block.directives.get("extra", "all")


@cache
def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _requirements_of(name: str, extras: frozenset[str]) -> list[Requirement]:
    """The requirements of an installed distribution (of pystator: from pyproject.toml) that
    apply with ``extras`` on this platform."""
    if name == "pystator":
        project: dict[str, Any] = pyproject()["project"]
        texts = list(project["dependencies"])
        for extra in extras:
            texts += project["optional-dependencies"][extra]
    else:
        try:
            texts = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            return []
    found = []
    for requirement in map(Requirement, texts):
        marker = requirement.marker
        if marker is None or any(marker.evaluate({"extra": e}) for e in {"", *extras}):
            found.append(requirement)
    return found


@cache
def installed_by(extra: str) -> frozenset[str]:
    """Canonical names of every distribution ``pip install '.[extra]'`` installs."""
    todo = [("pystator", frozenset() if extra == "core" else frozenset({extra}))]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        item = todo.pop()
        if item in seen:
            continue
        seen.add(item)
        for requirement in _requirements_of(*item):
            todo.append((requirement.name, frozenset(requirement.extras)))
    return frozenset(canonicalize_name(name) for name, _ in seen)


@cache
def not_installed_by(extra: str) -> tuple[str, ...]:
    """Top-level modules of the environment that ``pip install '.[extra]'`` would not give."""
    installed = installed_by(extra)
    return tuple(
        sorted(
            module
            for module, owners in metadata.packages_distributions().items()
            if module not in sys.stdlib_module_names
            and not {canonicalize_name(o) for o in owners} & installed
        )
    )


@cache
def outcomes() -> dict[tuple[str, str], dict[str, Any]]:
    """For every (import statement, extra) of the documentation: {} or the error."""
    cases = sorted(
        {(s, documented_extra(b)) for b in PYTHON for s in import_statements(b)} | set(CONTROLS)
    )
    completed = subprocess.run(
        [sys.executable, "-c", PROBE],
        input=json.dumps([[s, not_installed_by(extra)] for s, extra in cases]),
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
        cwd=ROOT.parent,  # not the checkout: only what is installed imports
    )
    preloaded, *results = [json.loads(line) for line in completed.stdout.splitlines()]
    return {("import pystator", "(preloaded)"): {"modules": preloaded}} | dict(
        zip(cases, results, strict=True)
    )


def import_problem(statement: str, extra: str) -> str | None:
    """Why ``statement`` fails with only the extra installed (None: it imports)."""
    outcome = outcomes()[(statement, extra)]
    if not outcome:
        return None
    missing = outcome.get("missing")
    if missing is not None and missing.partition(".")[0] not in metadata.packages_distributions():
        return None  # a module of the reader's own project (myproject.worker)
    return outcome["error"]


def test_every_extra_named_by_a_block_exists() -> None:
    extras = set(pyproject()["project"]["optional-dependencies"]) | {"core"}
    for block in PYTHON:
        assert documented_extra(block) in extras, f"{block.id}: no extra {documented_extra(block)}"


def test_the_shared_core_import_loads_the_core_alone() -> None:
    # Every fork starts with pystator imported: that must load nothing of an extra.
    preloaded = outcomes()[("import pystator", "(preloaded)")]["modules"]
    assert "pystator" in preloaded
    assert not set(preloaded) & set(not_installed_by("core")), preloaded


def test_a_module_the_extra_does_not_install_cannot_be_imported() -> None:
    assert "redis" in not_installed_by("api")
    assert "fastapi" not in not_installed_by("api")
    assert "No module named 'redis'" in str(import_problem("import redis", "api"))
    problem = import_problem("from pystator.api import create_app", "core")
    assert problem is not None
    assert "pystator[api]" in problem or "No module named" in problem


@pytest.mark.parametrize("block", PYTHON, ids=[b.id for b in PYTHON])
def test_the_documented_extra_installs_what_the_block_imports(block: Block) -> None:
    extra = documented_extra(block)
    for statement in import_statements(block):
        problem = import_problem(statement, extra)
        assert problem is None, (
            f"{block.id}: `{statement}` fails after pip install '.[{extra}]': {problem}"
        )


def test_the_api_extra_has_what_the_test_client_needs() -> None:
    assert import_problem("from fastapi.testclient import TestClient", "api") is None
    assert "httpx2" in installed_by("api")
