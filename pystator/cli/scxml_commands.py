"""``pystator export`` and ``pystator import``: definitions to and from SCXML.

* ``export FILE [--format scxml|yaml|json] [-o OUT]``: a definition (YAML, JSON, or SCXML)
  written as SCXML (the default), YAML or JSON, after the checks of ``pystator validate``;
* ``import FILE.scxml [--format yaml|json] [-o OUT] [--name NAME]``: an SCXML document as a
  definition (YAML by default), after the same checks.

Without ``--format`` the format follows the suffix of ``-o`` (``.scxml``/``.xml``, ``.json``,
``.yaml``/``.yml``). A document that cannot be read as a definition (unsafe or malformed
XML, an element PyStator cannot express, a check that fails) prints one line per problem,
each naming the document and its line (``error: light.scxml: line 12: <invoke> is not
supported: ...``), and exits with status 2; a definition file that does not validate exits
with status 1, as everywhere else.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pystator.cli.arguments import CommandFailed, UsageError
from pystator.errors import ConfigurationError

if TYPE_CHECKING:
    from pystator.models.definition import MachineDefinition

EXIT_UNREADABLE = 2
_SCXML_SUFFIXES = (".scxml", ".xml")
_SUFFIX_FORMATS = {".scxml": "scxml", ".xml": "scxml", ".json": "json"} | {
    ".yaml": "yaml",
    ".yml": "yaml",
}


class _Unreadable(Exception):
    """An SCXML document that is not a definition: its problems, one line each (exit 2)."""

    def __init__(self, path: str, exc: ConfigurationError) -> None:
        super().__init__(path)
        self.lines = [f"{path}: {issue}" for issue in exc.issues]


def _read_scxml(path: str, name: str | None) -> MachineDefinition:
    from pystator.loaders.scxml import load_scxml_file
    from pystator.runtime.validation import check_machine

    try:
        return load_scxml_file(path, name=name, check=check_machine)
    except ConfigurationError as exc:
        raise _Unreadable(path, exc) from None


def _read_definition(path: str) -> MachineDefinition:
    """A YAML or JSON definition through the checks of ``pystator validate`` (exit 1 when
    it does not pass them), or an SCXML document (exit 2)."""
    if path.lower().endswith(_SCXML_SUFFIXES):
        return _read_scxml(path, None)
    from pystator.cli.machine_commands import load_checked

    return load_checked(path)


def _text(definition: MachineDefinition, form: str) -> str:
    from pystator.loaders import definition_to_json, definition_to_yaml
    from pystator.loaders.scxml import to_scxml

    if form == "scxml":
        return to_scxml(definition)
    if form == "json":
        return definition_to_json(definition) + "\n"
    return definition_to_yaml(definition)


def _format(args: argparse.Namespace, default: str, allowed: tuple[str, ...]) -> str:
    if args.format is not None:
        return str(args.format)
    suffix = Path(args.output).suffix.lower() if args.output else ""
    form = _SUFFIX_FORMATS.get(suffix, default)
    return form if form in allowed else default


def _write(text: str, output: str | None) -> None:
    if not output:
        sys.stdout.write(text)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CommandFailed(f"-o {output}: cannot write the file: {exc.strerror or exc}") from None


def _run(args: argparse.Namespace, load: Any, default: str, allowed: tuple[str, ...]) -> int:
    try:
        definition = load()
    except _Unreadable as unreadable:
        for line in unreadable.lines:
            print(f"error: {line}", file=sys.stderr)
        return EXIT_UNREADABLE
    _write(_text(definition, _format(args, default, allowed)), args.output)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    return _run(args, lambda: _read_definition(args.file), "scxml", ("scxml", "yaml", "json"))


def _cmd_import(args: argparse.Namespace) -> int:
    if args.name is not None and not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", args.name):
        raise UsageError(
            f"--name {args.name!r}: use letters, digits and '_', starting with a letter"
        )
    return _run(args, lambda: _read_scxml(args.file, args.name), "yaml", ("yaml", "json"))


def add_export_parser(sub: Any) -> None:
    """``pystator export FILE [--format scxml|yaml|json] [-o OUT]``."""
    p = sub.add_parser(
        "export",
        help="write a definition as SCXML (or YAML, JSON)",
        description="Write a definition (YAML, JSON or SCXML) as SCXML, YAML or JSON. SCXML "
        "keeps what it has no element for in PyStator's namespace (urn:pystator:scxml:1), "
        "so pystator import reads it back equal (docs/scxml.md).",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument(
        "--format",
        choices=["scxml", "yaml", "json"],
        help="output format (default: from the suffix of -o, else scxml)",
    )
    p.add_argument("-o", "--output", metavar="OUT", help="write to this file instead of stdout")
    p.set_defaults(func=_cmd_export)


def add_import_parser(sub: Any) -> None:
    """``pystator import FILE.scxml [--format yaml|json] [-o OUT] [--name NAME]``."""
    p = sub.add_parser(
        "import",
        help="read an SCXML document as a definition (YAML or JSON)",
        description="Read an SCXML document as a PyStator definition, with the checks of "
        "pystator validate. Elements PyStator cannot express (<invoke>, <script>, <if>, ...) "
        "are errors naming their line (exit status 2); docs/scxml.md has the mapping.",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument(
        "--format",
        choices=["yaml", "json"],
        help="output format (default: from the suffix of -o, else yaml)",
    )
    p.add_argument("-o", "--output", metavar="OUT", help="write to this file instead of stdout")
    p.add_argument(
        "--name", help="the machine's name when <scxml> has none (default: from the file name)"
    )
    p.set_defaults(func=_cmd_import)
