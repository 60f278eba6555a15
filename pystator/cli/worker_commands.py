"""``pystator worker``: run the arq worker, queue an event, list and replay dead letters.

The worker meets the outside world (an app module named by ``--app``, Redis, arq), so its
failures become one ``CommandFailed`` line instead of a traceback. What the commands run
(``run_worker``, ``submit_event``, the dead-letter queue) is imported inside them; building
the parser imports only the two modules whose defaults its help shows.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from pystator.cli.arguments import CommandFailed, Parser, UsageError, context_option
from pystator.errors import FSMError


def _redis_url(args: argparse.Namespace) -> str:
    from pystator.worker import default_redis_url

    url: str = args.redis_url or default_redis_url()
    return url


def _cmd_worker(args: argparse.Namespace) -> int:
    try:
        return _run_worker_command(args)
    except (UsageError, FSMError, OSError, KeyboardInterrupt):
        raise
    except Exception as exc:
        # The worker meets the outside world (an app module, Redis): one line, no traceback.
        from pystator.worker import WorkerAppError

        outside = type(exc).__module__.split(".")[0] in {"redis", "arq"}
        if not (outside or isinstance(exc, (WorkerAppError, ImportError, ValueError))):
            raise
        text = f"{type(exc).__name__}: {exc}" if outside else str(exc)
        raise CommandFailed(text) from None


def _run_worker_command(args: argparse.Namespace) -> int:
    action = getattr(args, "worker_func", None)
    if action is not None:
        code: int = action(args)
        return code
    if not args.app:
        raise UsageError(
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

    context = context_option(args.context)
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
        raise UsageError("replay needs dead-letter IDs or --all")

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
                    raise UsageError(f"no dead letter {letter_id!r}") from None
                lines.append(f"{letter_id}: queued again as {submission.job_id}")
            return lines

    lines = asyncio.run(replay())
    print("\n".join(lines) if lines else "no dead letters")
    return 0


def add_worker_parser(sub: Any) -> None:
    """``pystator worker [--app MODULE:NAME] ...`` and its subcommands ``submit``,
    ``dead-letters`` and ``replay``."""
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
    wsub = p.add_subparsers(dest="worker_command", metavar="SUBCOMMAND", parser_class=Parser)

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
