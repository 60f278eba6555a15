"""``pystator lint FILE... [--module MOD]... [--format text|json]``: warnings a CI job can use.

Each file goes through the checks of ``pystator validate`` first; a file that does not
validate gets the same lines as there (``FILE: PATH: message``, on standard error). A valid
one is linted (``pystator.runtime.lint``). Output, on standard output:

* ``text``: one line per finding, ``FILE: PATH: CODE: message`` (grep-able);
* ``json``: one list of ``{file, path, code, severity, message, line?}`` for every file.

``--module`` imports a module (the current directory is importable) for its registrations:
guards and actions found on its module-level registries, machines, executors, orchestrators
and class machines; with it, guards and actions that none of them registers are findings too.

Exit codes: 0 clean, 1 findings, 2 a usage mistake, a module that does not import, or a file
that does not validate (which wins over findings).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from pystator.cli.arguments import UsageError

if TYPE_CHECKING:
    from pystator.runtime.lint import Finding, Registrations

EXIT_CLEAN, EXIT_FINDINGS, EXIT_INVALID = 0, 1, 2


def _import_registrations(modules: list[str]) -> Registrations:
    """The names the ``--module`` modules register; a module that does not import is a
    ``UsageError`` (one line, exit 2)."""
    from pystator.runtime.lint import merge, registrations_of_module

    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    found = []
    for name in modules:
        try:
            # What the module prints while it is imported must not mix with --format json.
            with contextlib.redirect_stdout(sys.stderr):
                module = importlib.import_module(name)
        except (Exception, SystemExit) as exc:  # a module may raise anything as it loads
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise UsageError(f"--module {name}: cannot import it ({reason})") from None
        registrations = registrations_of_module(module)
        if registrations.empty:
            print(
                f"note: --module {name} has no module-level guard or action registrations "
                "(registries, machines, executors, orchestrators or class machines)",
                file=sys.stderr,
            )
        found.append(registrations)
    return merge(found)


def _lint_file(path: str, registrations: Registrations | None) -> list[Finding] | None:
    """The findings of one file, with their lines; ``None`` (and the problems printed as
    ``pystator validate`` prints them) when it does not validate."""
    from pystator.cli.machine_commands import check_file
    from pystator.runtime.lint import lint_definition, with_lines

    checked = check_file(path)
    if checked is None:
        return None
    findings = lint_definition(checked.definition, index=checked.index, registrations=registrations)
    return with_lines(findings, checked.text)


def _cmd_lint(args: argparse.Namespace) -> int:
    registrations = _import_registrations(args.module) if args.module else None
    invalid = False
    report: list[tuple[str, Finding]] = []
    for path in args.files:
        findings = _lint_file(path, registrations)
        if findings is None:
            invalid = True
        else:
            report.extend((path, f) for f in findings)
    if args.format == "json":
        rows: list[dict[str, Any]] = [{"file": path, **f.to_dict()} for path, f in report]
        print(json.dumps(rows, indent=2))
    else:
        for path, f in report:
            print(f"{path}: {f}")
    if invalid:
        return EXIT_INVALID
    return EXIT_FINDINGS if report else EXIT_CLEAN


def add_lint_parser(sub: Any) -> None:
    """``pystator lint FILE... [--module MOD]... [--format text|json]``."""
    p = sub.add_parser(
        "lint",
        help="warn about unreachable states, dead ends, shadowed transitions, triggers and "
        "done events that never fire, and (with --module) unregistered guards and actions",
        description="Lint definition files (YAML or JSON) that validate. One line per "
        "finding: FILE: PATH: CODE: message. Exit status: 0 clean, 1 findings, 2 a usage "
        "error, a module that does not import, or a file that does not validate.",
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument(
        "--module",
        action="append",
        metavar="MOD",
        help="import this module (e.g. myapp.machines; repeatable) and report the guards "
        "and actions that none of its module-level registries, machines or class machines "
        "registers",
    )
    p.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text: one line per finding (default); json: a list of objects",
    )
    p.set_defaults(func=_cmd_lint)
