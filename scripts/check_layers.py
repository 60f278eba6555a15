"""Fail when a module of ``pystator`` imports a layer outside of it (imports point inward).

Layers, innermost first; a module may import its own layer and any layer with a lower rank:

    errors < models < engine | loaders < runtime | diagram < stores | scheduler < worker
    < api | ui < cli

``engine`` and ``loaders`` share a rank but may not import each other: the engine knows no
file formats, and loaders know no semantics.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "pystator"

RANKS: dict[str, int] = {
    "_version": 0,
    "_json": 0,
    "_unvalidated": 0,
    "_twins": 0,
    "errors": 0,
    "models": 1,
    "engine": 2,
    "loaders": 2,
    "runtime": 3,
    "mypy": 3,  # the mypy plugin: imports only mypy
    "actions": 3,
    "diagram": 3,
    "stores": 4,
    "scheduler": 4,
    "worker": 5,
    "api": 6,
    "ui": 6,
    "cli": 7,
    "__init__": 8,
    "__main__": 9,
}
FORBIDDEN_PAIRS = {("engine", "loaders"), ("loaders", "engine")}


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
        if len(parts) == 1:
            return "pystator.__init__"
    return ".".join(parts)


def imported_modules(
    tree: ast.AST, current: str, *, package: bool = False
) -> list[tuple[int, str]]:
    """``(line, module)`` of every ``pystator`` import; ``package``: ``current`` is a
    package's ``__init__``, where ``from . import x`` means the package itself."""
    found: list[tuple[int, str]] = []
    here = current.removesuffix(".__init__").split(".")
    if not package:
        here = here[:-1]  # a module's relative imports start from its package
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((node.lineno, target))
    return [(line, name) for line, name in found if name.split(".")[0] == "pystator"]


def check() -> list[str]:
    problems: list[str] = []
    for path in sorted(ROOT.rglob("*.py")):
        current = module_name(path)
        source_layer = layer_of(current)
        if source_layer not in RANKS:
            problems.append(f"{path}: layer '{source_layer}' has no rank in check_layers.py")
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, target in imported_modules(tree, current, package=path.name == "__init__.py"):
            target_layer = layer_of(target)
            if target_layer == source_layer:
                continue
            if target_layer not in RANKS:
                problems.append(f"{path}:{line}: imports unknown layer '{target}'")
            elif (source_layer, target_layer) in FORBIDDEN_PAIRS or (
                RANKS[target_layer] > RANKS[source_layer]
            ):
                problems.append(
                    f"{path}:{line}: '{source_layer}' may not import '{target}' "
                    "(imports must point inward)"
                )
    return problems


def main() -> int:
    problems = check()
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print("layers: ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
