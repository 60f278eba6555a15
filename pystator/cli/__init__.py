"""The ``pystator`` command line: one readable line and a non-zero exit on any error.

``main`` runs it (the ``pystator`` script and ``python -m pystator``); ``build_parser``
declares every command. The modules, one concept each:

* ``arguments``: the argparse ``Parser``, the ``UsageError``/``CommandFailed`` failures
  ``main`` turns into exit codes, and the shared ``--context`` reader.
* ``schemas``: the JSON Schema documents ``pystator schema`` prints (``machine_schema``,
  ``schema_text``, ``machine_data_schemas``).
* ``machine_commands``: ``schema``, ``validate``, ``process`` and ``diagram``, the commands
  that read a definition file.
* ``worker_commands``: ``worker`` and its ``submit``, ``dead-letters`` and ``replay``.
* ``api_commands``: ``api`` and ``hash-password``.
* ``scxml_commands``: ``export`` and ``import``, definitions to and from SCXML.
* ``lint_commands``: ``lint``, warnings about definitions that validate.

Exit codes: 0 success; 1 a failure (an invalid definition, a refused transition, an outside
error); 2 a usage mistake, or no command; 130 interrupted. Two commands read them for a CI
job: ``lint`` exits 1 for findings and 2 for a file that does not validate, and ``import``
exits 2 for a document it cannot read as a definition. What a command runs (the loaders,
the API, the worker) is imported inside it, so ``import pystator.cli`` stays cheap.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pystator.cli.api_commands import add_api_parser, add_hash_password_parser
from pystator.cli.arguments import CommandFailed, Parser, UsageError
from pystator.cli.lint_commands import add_lint_parser
from pystator.cli.machine_commands import (
    add_diagram_parser,
    add_process_parser,
    add_schema_parser,
    add_validate_parser,
)
from pystator.cli.schemas import (
    JSON_SCHEMA_DIALECT,
    machine_data_schemas,
    machine_schema,
    schema_text,
)
from pystator.cli.scxml_commands import add_export_parser, add_import_parser
from pystator.cli.worker_commands import add_worker_parser
from pystator.errors import ConfigurationError, FSMError

__all__ = [
    "JSON_SCHEMA_DIALECT",
    "build_parser",
    "machine_data_schemas",
    "machine_schema",
    "main",
    "schema_text",
]

# In the order ``pystator --help`` lists the commands.
_COMMANDS = (
    add_schema_parser,
    add_validate_parser,
    add_lint_parser,
    add_process_parser,
    add_worker_parser,
    add_api_parser,
    add_diagram_parser,
    add_export_parser,
    add_import_parser,
    add_hash_password_parser,
)


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``pystator`` and every command."""
    from pystator._version import __version__

    parser = Parser(prog="pystator", description="PyStator statechart tools.")
    parser.add_argument("--version", action="version", version=f"pystator {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for add_parser in _COMMANDS:
        add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if getattr(args, "func", None) is None:
            parser.print_help()
            return 2
        code: int = args.func(args)
        return code
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ConfigurationError, OSError, CommandFailed) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except FSMError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
