"""The ``pystator`` command line: one readable line and a non-zero exit on any error."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pystator.errors import ConfigurationError, FSMError


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would print usage and exit 2
        raise _UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def machine_schema() -> dict[str, Any]:
    """The JSON Schema of a machine definition file."""
    from pystator.models.definition import MachineDefinition

    schema = MachineDefinition.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def schema_text() -> str:
    return json.dumps(machine_schema(), indent=2, sort_keys=False) + "\n"


def _cmd_schema(args: argparse.Namespace) -> int:
    text = schema_text()
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from pystator.loaders import load_file

    failed = 0
    for path in args.files:
        try:
            definition = load_file(path)
        except ConfigurationError as exc:
            failed += 1
            for issue in exc.issues:
                print(f"{path}: {issue}", file=sys.stderr)
            continue
        print(
            f"{path}: ok ({definition.meta.machine_name} v{definition.meta.version}, "
            f"{len(definition.states)} states, {len(definition.transitions)} transitions)"
        )
    return 1 if failed else 0


def _parse_guard(text: str) -> tuple[str, bool]:
    name, sep, value = text.partition("=")
    lowered = value.strip().lower()
    if not sep or lowered not in {"true", "false", "1", "0", "yes", "no"}:
        raise _UsageError(f"--guard expects NAME=true or NAME=false, got {text!r}")
    return name.strip(), lowered in {"true", "1", "yes"}


def _cmd_process(args: argparse.Namespace) -> int:
    from pystator.loaders import load_file, parse_json_text
    from pystator.runtime.machine import StateMachine

    machine = StateMachine.from_definition(load_file(args.file))
    context: Any = {}
    if args.context:
        try:
            context = parse_json_text(args.context)
        except ConfigurationError as exc:
            raise _UsageError(f"--context is not valid JSON: {exc.issues[0]}") from None
        if not isinstance(context, dict):
            raise _UsageError("--context must be a JSON object")
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
            raise _UsageError(
                f"the transition needs guard '{name}': pass --guard {name}=true or =false"
            )
        return value

    return guard


def build_parser() -> argparse.ArgumentParser:
    from pystator._version import __version__

    parser = _Parser(prog="pystator", description="PyStator statechart tools.")
    parser.add_argument("--version", action="version", version=f"pystator {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("schema", help="print the JSON Schema of a machine definition")
    p.add_argument("-o", "--output", help="write to this file instead of standard output")
    p.set_defaults(func=_cmd_schema)

    p = sub.add_parser("validate", help="validate definition files (YAML or JSON)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("process", help="compute one transition and print the result as JSON")
    p.add_argument("file", metavar="FILE")
    p.add_argument("state", metavar="STATE")
    p.add_argument("trigger", metavar="TRIGGER")
    p.add_argument("--context", help="the context as a JSON object")
    p.add_argument("--guard", action="append", metavar="NAME=BOOL", help="outcome of a named guard")
    p.set_defaults(func=_cmd_process)
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
    except _UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except FSMError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
