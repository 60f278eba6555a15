"""The ``pystator`` command line: one readable line and a non-zero exit on any error."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pystator.errors import ConfigurationError, FSMError

if TYPE_CHECKING:
    from pystator.engine import MachineIndex
    from pystator.models.definition import MachineDefinition
    from pystator.runtime.machine import StateMachine


class _UsageError(Exception):
    pass


class _CommandFailed(Exception):
    """A command failed for an outside reason (an app module, Redis): exit 1, one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would print usage and exit 2
        raise _UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _major(version: str) -> str:
    """The major part of a version (``"1"`` of ``"1.4.2"``), as the snapshot check reads it,
    made safe for a URN."""
    from urllib.parse import quote

    return quote(version.split(".")[0].strip() or "0", safe="")


def machine_schema() -> dict[str, Any]:
    """The JSON Schema of a machine definition file.

    Its ``$id`` is a URN, ``urn:pystator:schema:machine:<major version of PyStator>``: it
    names the format wherever the file is stored (a relative id would resolve against the
    file's own place and break once copied under another name) and changes only when the
    definition format breaks.
    """
    from pystator._version import __version__
    from pystator.models.definition import MachineDefinition

    schema = MachineDefinition.model_json_schema()
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"urn:pystator:schema:machine:{_major(__version__)}",
        **{k: v for k, v in schema.items() if k not in {"$schema", "$id"}},
    }


def schema_text() -> str:
    return _json_text(machine_schema())


def _json_text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def machine_data_schemas(machine: StateMachine) -> dict[str, Any]:
    """The JSON Schemas of what a machine's users write: its context and each declared event
    payload, as ``{"context": {...}, "events": {trigger: {...}}}``.

    Each schema is a complete document (``$schema``, a ``title``, and an ``$id``
    ``urn:pystator:machine:<name>:<major version>:context`` or ``...:event:<trigger>``).
    """
    name = machine.name
    base = f"urn:pystator:machine:{name}:{_major(machine.version)}"

    def document(
        schema: dict[str, Any], id_: str, title: str, description: str | None = None
    ) -> dict[str, Any]:
        head: dict[str, Any] = {"$schema": JSON_SCHEMA_DIALECT, "$id": id_, "title": title}
        if description and "description" not in schema:
            head["description"] = description  # editors show it on hover
        return {**head, **{k: v for k, v in schema.items() if k not in {"$schema", "$id"}}}

    events: dict[str, Any] = {}
    for trigger, schema in machine.event_schemas().items():
        spec = machine.definition.events.get(trigger)
        events[trigger] = document(
            schema,
            f"{base}:event:{trigger}",
            f"{name} event {trigger}",
            spec.description if spec is not None else None,
        )
    return {
        "context": document(machine.context_schema(), f"{base}:context", f"{name} context"),
        "events": events,
    }


def _load_checked(path: str) -> MachineDefinition:
    """Load ``path`` through the checks of ``pystator validate``; a bad file is one line
    naming it and its first problem."""
    from pystator.loaders import load_file
    from pystator.runtime.validation import check_machine

    try:
        definition = load_file(path)
        check_machine(definition)
    except ConfigurationError as exc:
        more = f" (and {len(exc.issues) - 1} more; see pystator validate)" if exc.issues[1:] else ""
        raise _CommandFailed(f"{path}: {exc.issues[0]}{more}") from None
    return definition


def _cmd_schema(args: argparse.Namespace) -> int:
    if args.machine is None:
        try:
            _write(schema_text(), args.output)
        except OSError as exc:
            raise _output_failed(args.output, "cannot write the file", exc) from None
        return 0
    from pystator.runtime.machine import StateMachine

    machine = StateMachine.from_definition(_load_checked(args.machine))
    schemas = machine_data_schemas(machine)
    if not args.output:
        sys.stdout.write(_json_text(schemas))
        return 0
    folder = Path(args.output)
    if folder.exists() and not folder.is_dir():
        raise _UsageError(f"-o {args.output}: with --machine, -o names a directory")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _output_failed(args.output, "cannot create the directory", exc) from None
    files = {f"{machine.name}.context.schema.json": schemas["context"]}
    for trigger, schema in schemas["events"].items():
        files[f"{machine.name}.event.{trigger}.schema.json"] = schema
    for filename, schema in files.items():
        try:
            (folder / filename).write_text(_json_text(schema), encoding="utf-8")
        except OSError as exc:
            raise _output_failed(args.output, f"cannot write {filename}", exc) from None
        print(folder / filename)
    return 0


def _output_failed(output: str, what: str, exc: OSError) -> _CommandFailed:
    """``-o PATH: cannot ...: Not a directory``: one line naming the option and its path."""
    reason = exc.strerror or str(exc)
    return _CommandFailed(f"-o {output}: {what}: {reason}")


def _write(text: str, output: str | None) -> None:
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def _cmd_validate(args: argparse.Namespace) -> int:
    from pystator.loaders import load_file
    from pystator.runtime.validation import check_machine

    failed = 0
    for path in args.files:
        try:
            # The same checks as StateMachine.from_*, the API and its machines directory.
            definition = load_file(path)
            index = check_machine(definition).index
        except ConfigurationError as exc:
            failed += 1
            for issue in exc.issues:
                print(f"{path}: {issue}", file=sys.stderr)
            continue
        print(
            f"{path}: ok ({definition.meta.machine_name} v{definition.meta.version}, "
            f"{_count_states(index)}, {_plural(len(definition.transitions), 'transition')})"
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


def _context_option(text: str | None) -> dict[str, Any]:
    """The ``--context`` JSON object (empty when not given)."""
    from pystator.loaders import parse_json_text

    if not text:
        return {}
    try:
        context = parse_json_text(text)
    except ConfigurationError as exc:
        raise _UsageError(f"--context is not valid JSON: {exc.issues[0]}") from None
    if not isinstance(context, dict):
        raise _UsageError("--context must be a JSON object")
    return context


def _parse_guard(text: str) -> tuple[str, bool]:
    name, sep, value = text.partition("=")
    lowered = value.strip().lower()
    if not sep or lowered not in {"true", "false", "1", "0", "yes", "no"}:
        raise _UsageError(f"--guard expects NAME=true or NAME=false, got {text!r}")
    return name.strip(), lowered in {"true", "1", "yes"}


def _cmd_process(args: argparse.Namespace) -> int:
    from pystator.loaders import load_file
    from pystator.runtime.machine import StateMachine

    machine = StateMachine.from_definition(load_file(args.file))
    context = _context_option(args.context)
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


def _redis_url(args: argparse.Namespace) -> str:
    from pystator.worker import default_redis_url

    url: str = args.redis_url or default_redis_url()
    return url


def _cmd_worker(args: argparse.Namespace) -> int:
    try:
        return _run_worker_command(args)
    except (_UsageError, FSMError, OSError, KeyboardInterrupt):
        raise
    except Exception as exc:
        # The worker meets the outside world (an app module, Redis): one line, no traceback.
        from pystator.worker import WorkerAppError

        outside = type(exc).__module__.split(".")[0] in {"redis", "arq"}
        if not (outside or isinstance(exc, (WorkerAppError, ImportError, ValueError))):
            raise
        text = f"{type(exc).__name__}: {exc}" if outside else str(exc)
        raise _CommandFailed(text) from None


def _run_worker_command(args: argparse.Namespace) -> int:
    action = getattr(args, "worker_func", None)
    if action is not None:
        code: int = action(args)
        return code
    if not args.app:
        raise _UsageError(
            "worker needs --app MODULE:NAME (the orchestrators to serve); "
            "see docs/guides/schedulers.md"
        )
    import logging

    from pystator.worker import import_target, run_worker

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    target = import_target(args.app)
    run_worker(target, redis_url=args.redis_url, burst=args.burst, rearm=args.rearm)
    return 0


def _cmd_worker_submit(args: argparse.Namespace) -> int:
    import asyncio

    from pystator.worker import submit_event

    context = _context_option(args.context)
    submission = asyncio.run(
        submit_event(
            args.machine,
            args.entity,
            args.trigger,
            context,
            idempotency_key=args.key,
            delay=args.delay,
            redis_url=_redis_url(args),
            queue_name=args.queue,
        )
    )
    state = "queued" if submission.enqueued else "already queued or applied"
    print(f"{submission.job_id}: {state} (idempotency key {submission.idempotency_key})")
    return 0


def _cmd_worker_dead_letters(args: argparse.Namespace) -> int:
    import asyncio

    from pystator.worker import list_dead_letters

    letters = asyncio.run(
        list_dead_letters(
            redis_url=_redis_url(args), limit=args.limit, dead_letter_prefix=args.prefix
        )
    )
    if args.json:
        print(json.dumps([letter.model_dump(mode="json") for letter in letters], indent=2))
        return 0
    if not letters:
        print("no dead letters")
    for letter in letters:
        print(
            f"{letter.id}  {letter.machine_name}/{letter.entity_id} {letter.trigger} "
            f"tries={letter.attempts}: {letter.error}"
        )
    return 0


def _cmd_worker_replay(args: argparse.Namespace) -> int:
    import asyncio

    from pystator.worker import EventQueue

    if not args.ids and not args.all:
        raise _UsageError("replay needs dead-letter IDs or --all")

    async def replay() -> list[str]:
        async with EventQueue(
            _redis_url(args), queue_name=args.queue, dead_letter_prefix=args.prefix
        ) as queue:
            ids = list(args.ids)
            if args.all:
                ids += [d.id for d in await queue.dead_letters(limit=10_000) if d.id not in ids]
            lines = []
            for letter_id in ids:
                try:
                    submission = await queue.replay(letter_id)
                except KeyError:
                    raise _UsageError(f"no dead letter {letter_id!r}") from None
                lines.append(f"{letter_id}: queued again as {submission.job_id}")
            return lines

    lines = asyncio.run(replay())
    print("\n".join(lines) if lines else "no dead letters")
    return 0


def _add_worker_parser(sub: Any) -> None:
    from pystator.scheduler.arq_scheduler import DEFAULT_QUEUE_NAME
    from pystator.worker.app import DEAD_LETTER_PREFIX

    prefix_help = f"prefix of the dead-letter keys (default {DEAD_LETTER_PREFIX})"
    redis_help = "the Redis server (default: $PYSTATOR_REDIS_URL or redis://127.0.0.1:6379/0)"
    p = sub.add_parser(
        "worker",
        help="run the worker that fires timers and applies queued events",
        description=(
            "Run an arq worker for the orchestrators named by --app MODULE:NAME (a "
            "WorkerApp, a mapping of machine names to Orchestrators, or a callable returning "
            "one). It fires timers of ArqScheduler and RedisScheduler, applies events queued "
            "with pystator.worker.submit_event, retries failing ones with backoff and keeps "
            "the ones that keep failing as dead letters. Subcommands queue an event, list "
            "and replay dead letters."
        ),
    )
    p.add_argument("--app", metavar="MODULE:NAME", help="the orchestrators to serve")
    p.add_argument("--redis-url", metavar="URL", help=redis_help)
    p.add_argument("--burst", action="store_true", help="stop when the queue is empty")
    p.add_argument(
        "--rearm",
        action="store_true",
        help="at start-up, arm again every timer recorded on the entities in the stores "
        "(after Redis lost its data)",
    )
    p.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="logging level (default: info)",
    )
    p.set_defaults(func=_cmd_worker, worker_func=None)
    wsub = p.add_subparsers(dest="worker_command", metavar="SUBCOMMAND", parser_class=_Parser)

    s = wsub.add_parser("submit", help="queue an event for the worker")
    s.add_argument("machine", metavar="MACHINE")
    s.add_argument("entity", metavar="ENTITY_ID")
    s.add_argument("trigger", metavar="TRIGGER")
    s.add_argument("--context", help="the event's payload as a JSON object")
    s.add_argument("--key", help="idempotency key: the event is applied at most once")
    s.add_argument("--delay", type=float, metavar="SECONDS", help="apply it this much later")
    s.add_argument("--redis-url", metavar="URL", help=redis_help, default=argparse.SUPPRESS)
    s.add_argument("--queue", default=DEFAULT_QUEUE_NAME, help="the worker's queue")
    s.set_defaults(worker_func=_cmd_worker_submit)

    s = wsub.add_parser("dead-letters", help="list events that kept failing")
    s.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    s.add_argument("--json", action="store_true", help="print them as JSON")
    s.add_argument("--redis-url", metavar="URL", help=redis_help, default=argparse.SUPPRESS)
    s.add_argument("--prefix", default=DEAD_LETTER_PREFIX, help=prefix_help)
    s.set_defaults(worker_func=_cmd_worker_dead_letters)

    s = wsub.add_parser("replay", help="queue dead letters again (and forget them)")
    s.add_argument("ids", nargs="*", metavar="ID", help="dead-letter ids")
    s.add_argument("--all", action="store_true", help="replay every dead letter")
    s.add_argument("--redis-url", metavar="URL", help=redis_help, default=argparse.SUPPRESS)
    s.add_argument("--queue", default=DEFAULT_QUEUE_NAME, help="the worker's queue")
    s.add_argument("--prefix", default=DEAD_LETTER_PREFIX, help=prefix_help)
    s.set_defaults(worker_func=_cmd_worker_replay)


# ----------------------------------------------------------------------------- api, diagram
def _cmd_api(args: argparse.Namespace) -> int:
    try:
        from pystator.api.server import ServeError, serve
    except ImportError:
        raise _CommandFailed(
            "pystator api needs the api extra: pip install 'pystator[api]'"
        ) from None
    try:
        return serve(
            host=args.host,
            port=args.port,
            allow_insecure_bind=args.allow_insecure_bind,
            log_level=args.log_level,
        )
    except ServeError as exc:
        raise _CommandFailed(str(exc)) from None


def _cmd_diagram(args: argparse.Namespace) -> int:
    from pystator.diagram import render

    definition = _load_checked(args.file)  # draw only what every other command accepts
    _write(render(definition, args.format), args.output)
    return 0


def _cmd_hash_password(args: argparse.Namespace) -> int:
    from pystator.api.passwords import hash_password

    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise _CommandFailed("the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        print(hash_password(password, iterations=args.iterations))
    except ValueError as exc:
        raise _CommandFailed(str(exc)) from None
    return 0


def _add_api_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "api",
        help="run the HTTP API (FastAPI, docs at /docs)",
        description="Run the HTTP API with uvicorn. Settings come from PYSTATOR_* variables "
        "and .env (see docs/tutorial-api.md). Without PYSTATOR_AUTH_SECRET it listens on "
        "loopback only.",
    )
    p.add_argument("--host", help="address to listen on (default 127.0.0.1, PYSTATOR_HOST)")
    p.add_argument("--port", type=int, help="port to listen on (default 8000, PYSTATOR_PORT)")
    p.add_argument(
        "--allow-insecure-bind",
        action="store_true",
        help="listen on a non-loopback address without authentication",
    )
    p.add_argument(
        "--log-level", choices=["critical", "error", "warning", "info", "debug"], default=None
    )
    p.set_defaults(func=_cmd_api)

    p = sub.add_parser(
        "diagram", help="draw a definition as Mermaid or Graphviz DOT (nested states as boxes)"
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--format", choices=["mermaid", "dot"], default="mermaid")
    p.add_argument("-o", "--output", help="write to this file instead of standard output")
    p.set_defaults(func=_cmd_diagram)

    p = sub.add_parser(
        "hash-password",
        help="hash a password for PYSTATOR_USERS (reads it from standard input)",
    )
    p.add_argument("--iterations", type=int, default=600_000, help="PBKDF2 iterations")
    p.set_defaults(func=_cmd_hash_password)


def build_parser() -> argparse.ArgumentParser:
    from pystator._version import __version__

    parser = _Parser(prog="pystator", description="PyStator statechart tools.")
    parser.add_argument("--version", action="version", version=f"pystator {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

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

    _add_worker_parser(sub)
    _add_api_parsers(sub)
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
    except _CommandFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
