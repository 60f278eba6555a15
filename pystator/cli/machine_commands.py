"""The commands that work on a definition file, with the parsers that declare them.

* ``schema``: the JSON Schema of definition files, or of one machine's context and event
  payloads (the documents come from ``pystator.cli.schemas``).
* ``validate``: the checks of ``StateMachine.from_*``, one line per file.
* ``process``: one transition computed and printed as JSON; named guards are answered by
  ``--guard NAME=BOOL``.
* ``diagram``: Mermaid or Graphviz DOT, with ``--state`` a configuration highlighted.

Each ``add_*_parser`` adds its subcommand; ``pystator.cli.build_parser`` calls them in the
order ``pystator --help`` lists them.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pystator.cli.arguments import CommandFailed, UsageError, context_option
from pystator.cli.schemas import json_text, machine_data_schemas, schema_text
from pystator.errors import ConfigurationError

if TYPE_CHECKING:
    from pystator.engine import MachineIndex
    from pystator.models.definition import MachineDefinition


def load_checked(path: str) -> MachineDefinition:
    """Load ``path`` through the checks of ``pystator validate``; a bad file is one line
    naming it and its first problem."""
    from pystator.loaders import load_file
    from pystator.runtime.validation import check_machine

    try:
        definition = load_file(path)
        check_machine(definition)
    except ConfigurationError as exc:
        more = f" (and {len(exc.issues) - 1} more; see pystator validate)" if exc.issues[1:] else ""
        raise CommandFailed(f"{path}: {exc.issues[0]}{more}") from None
    return definition


def _write(text: str, output: str | None) -> None:
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def _output_failed(output: str, what: str, exc: OSError) -> CommandFailed:
    """``-o PATH: cannot ...: Not a directory``: one line naming the option and its path."""
    reason = exc.strerror or str(exc)
    return CommandFailed(f"-o {output}: {what}: {reason}")


# ----------------------------------------------------------------------------------- schema
def _cmd_schema(args: argparse.Namespace) -> int:
    if args.machine is None:
        try:
            _write(schema_text(), args.output)
        except OSError as exc:
            raise _output_failed(args.output, "cannot write the file", exc) from None
        return 0
    from pystator.runtime.machine import StateMachine

    machine = StateMachine.from_definition(load_checked(args.machine))
    schemas = machine_data_schemas(machine)
    if not args.output:
        sys.stdout.write(json_text(schemas))
        return 0
    folder = Path(args.output)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"-o {args.output}: with --machine, -o names a directory")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _output_failed(args.output, "cannot create the directory", exc) from None
    files = {f"{machine.name}.context.schema.json": schemas["context"]}
    for trigger, schema in schemas["events"].items():
        files[f"{machine.name}.event.{trigger}.schema.json"] = schema
    for filename, schema in files.items():
        try:
            (folder / filename).write_text(json_text(schema), encoding="utf-8")
        except OSError as exc:
            raise _output_failed(args.output, f"cannot write {filename}", exc) from None
        print(folder / filename)
    return 0


def add_schema_parser(sub: Any) -> None:
    """``pystator schema [--machine FILE] [-o PATH]``."""
    p = sub.add_parser(
        "schema",
        help="print the JSON Schema of a machine definition (or of one machine's context "
        "and event payloads)",
        description="Without --machine: the JSON Schema of definition files. With --machine "
        "FILE: the JSON Schemas of that machine's context and of each payload declared in its "
        "'events:' section, as one JSON document, or with -o DIR one file per schema "
        "(<machine>.context.schema.json, <machine>.event.<trigger>.schema.json).",
    )
    p.add_argument(
        "--machine",
        metavar="FILE",
        help="a definition (YAML or JSON): give the schemas of its context and event payloads",
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="write to this file (with --machine: into this directory) instead of standard output",
    )
    p.set_defaults(func=_cmd_schema)


# --------------------------------------------------------------------------------- validate
@dataclass(frozen=True, slots=True)
class CheckedFile:
    """A definition file that passed the checks, with its text (for line numbers)."""

    text: str
    definition: MachineDefinition
    index: MachineIndex


def check_file(path: str) -> CheckedFile | None:
    """Read ``path`` (``.json`` as JSON, anything else as YAML) through the checks of
    ``StateMachine.from_*``, the API and its machines directory; ``None`` when it does not
    validate, each problem printed on standard error as ``FILE: PATH: message``."""
    from pystator.loaders import DEFAULT_MAX_BYTES, load_json_string, load_yaml_string
    from pystator.loaders.files import read_text
    from pystator.runtime.validation import check_machine

    try:
        text = read_text(path, DEFAULT_MAX_BYTES)
        load = load_json_string if path.lower().endswith(".json") else load_yaml_string
        definition = load(text, source=path)
        index = check_machine(definition).index
    except ConfigurationError as exc:
        for issue in exc.issues:
            print(f"{path}: {issue}", file=sys.stderr)
        return None
    return CheckedFile(text, definition, index)


def _cmd_validate(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.files:
        checked = check_file(path)
        if checked is None:
            failed += 1
            continue
        definition = checked.definition
        print(
            f"{path}: ok ({definition.meta.machine_name} v{definition.meta.version}, "
            f"{_count_states(checked.index)}, {_plural(len(definition.transitions), 'transition')})"
        )
    return 1 if failed else 0


def _count_states(index: MachineIndex) -> str:
    """``"16 states (4 top-level)"``: every state, nested ones and history states included
    (regions are not states); ``"3 states"`` when none is nested."""
    from pystator.engine import ROOT

    nodes = [n for n in index.states.values() if n.kind != "region"]
    top = sum(1 for n in nodes if n.parent == ROOT)
    return _plural(len(nodes), "state") + (f" ({top} top-level)" if top != len(nodes) else "")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def add_validate_parser(sub: Any) -> None:
    """``pystator validate FILE...``."""
    p = sub.add_parser("validate", help="validate definition files (YAML or JSON)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=_cmd_validate)


# ---------------------------------------------------------------------------------- process
def _parse_guard(text: str) -> tuple[str, bool]:
    name, sep, value = text.partition("=")
    lowered = value.strip().lower()
    if not sep or lowered not in {"true", "false", "1", "0", "yes", "no"}:
        raise UsageError(f"--guard expects NAME=true or NAME=false, got {text!r}")
    return name.strip(), lowered in {"true", "1", "yes"}


def _cmd_process(args: argparse.Namespace) -> int:
    from pystator.loaders import load_file
    from pystator.runtime.machine import StateMachine

    machine = StateMachine.from_definition(load_file(args.file))
    context = context_option(args.context)
    outcomes = dict(_parse_guard(g) for g in args.guard or ())
    for name in {
        g if isinstance(g, str) else (g.name or "")
        for t in machine.definition.transitions
        for g in t.guards
    } - {""}:
        value = outcomes.get(name)
        machine.guard_registry.register(name, _fixed_guard(name, value))
    result = machine.process(args.state, args.trigger, context)
    print(result.model_dump_json(indent=2))
    return 0 if result.success else 1


def _fixed_guard(name: str, value: bool | None) -> Any:
    def guard(ctx: Any, **_: Any) -> bool:
        if value is None:
            raise UsageError(
                f"the transition needs guard '{name}': pass --guard {name}=true or =false"
            )
        return value

    return guard


def add_process_parser(sub: Any) -> None:
    """``pystator process FILE STATE TRIGGER [--context JSON] [--guard NAME=BOOL]...``."""
    p = sub.add_parser("process", help="compute one transition and print the result as JSON")
    p.add_argument("file", metavar="FILE")
    p.add_argument("state", metavar="STATE")
    p.add_argument("trigger", metavar="TRIGGER")
    p.add_argument("--context", help="the context as a JSON object")
    p.add_argument("--guard", action="append", metavar="NAME=BOOL", help="outcome of a named guard")
    p.set_defaults(func=_cmd_process)


# ---------------------------------------------------------------------------------- diagram
def _cmd_diagram(args: argparse.Namespace) -> int:
    from pystator.diagram import render

    definition = load_checked(args.file)  # draw only what every other command accepts
    try:
        text = render(definition, args.format, state=args.state)
    except ValueError as exc:  # a configuration that is not legal in this machine
        raise UsageError(f"--state: {exc}") from None
    _write(text, args.output)
    return 0


def add_diagram_parser(sub: Any) -> None:
    """``pystator diagram FILE [--format mermaid|dot] [--state CONFIG] [-o FILE]``."""
    p = sub.add_parser(
        "diagram", help="draw a definition as Mermaid or Graphviz DOT (nested states as boxes)"
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--format", choices=["mermaid", "dot"], default="mermaid")
    p.add_argument(
        "--state",
        metavar="CONFIG",
        help="highlight this configuration: a state, or e.g. 'P(r1=A, r2=B)' in a parallel "
        "state (every active state of every region, and their ancestors)",
    )
    p.add_argument("-o", "--output", help="write to this file instead of standard output")
    p.set_defaults(func=_cmd_diagram)
