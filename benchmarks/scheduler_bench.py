"""``python -m benchmarks.scheduler_bench``: timers armed and fired per second, and lateness.

For each scheduler (``AsyncioScheduler``; ``RedisScheduler`` and ``ArqScheduler`` when Redis
answers at ``--redis-url``), in this one process:

* **arm**: ``schedule()`` calls per second (one timer each, ``--concurrency`` in flight), and
  the same for cancelling them;
* **burst**: ``--timers`` timers due at the same instant: fired per second (from the due time
  to the last firing) and the lateness of each firing (p50, p99);
* **steady**: timers due at ``--rate`` per second for ``--seconds``: lateness p50, p99, max.

Firing goes to a recording target (no orchestrator, no store), so the figures are the
scheduler's own cost; an orchestrator's load and commit come on top. ``ArqScheduler`` runs an
arq worker in this process (``worker_settings()``: poll delay 0.1 s, 50 jobs at once).
Timings are wall-clock and depend on the machine and on Redis; they are printed, not checked.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import socket
import sys
import time
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from pystator.models.snapshot import TimerSnapshot

MACHINE = "bench"


class Recorder:
    """A ``TimerTarget`` that notes when each timer fired."""

    machine_name = MACHINE

    def __init__(self) -> None:
        self.fired: dict[str, float] = {}
        self.done = asyncio.Event()
        self.expected = 0

    def expect(self, count: int) -> None:
        self.fired = {}
        self.expected = count
        self.done = asyncio.Event()

    def fire_timer(self, entity_id: str, timer_id: str) -> None:
        self._note(entity_id)

    async def afire_timer(self, entity_id: str, timer_id: str) -> None:
        self._note(entity_id)

    def _note(self, entity_id: str) -> None:
        self.fired.setdefault(entity_id, time.time())
        if len(self.fired) >= self.expected:
            self.done.set()


@dataclass
class Figures:
    name: str
    armed_per_s: float = 0.0
    cancelled_per_s: float = 0.0
    burst_per_s: float = 0.0
    burst_p50: float = 0.0
    burst_p99: float = 0.0
    steady_p50: float = 0.0
    steady_p99: float = 0.0
    steady_max: float = 0.0
    note: str = ""


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def timer(due: float) -> TimerSnapshot:
    return TimerSnapshot(id="W:after:0@1", key="W:after:0", trigger="after:0", due=due)


async def in_flight(jobs: Sequence[Callable[[], Awaitable[Any]]], concurrency: int) -> float:
    """Run ``jobs`` with ``concurrency`` in flight; returns the seconds it took."""
    started = time.perf_counter()
    queue = list(reversed(jobs))

    async def lane() -> None:
        while queue:
            await queue.pop()()

    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return time.perf_counter() - started


async def measure(
    name: str,
    scheduler: Any,
    recorder: Recorder,
    args: argparse.Namespace,
    start: Callable[[], Awaitable[None]],
) -> Figures:
    figures = Figures(name)
    n = args.timers

    def arm(i: int, due: float) -> Callable[[], Awaitable[Any]]:
        return lambda: scheduler.aschedule(MACHINE, f"e{i}", [timer(due)], [])

    def cancel(i: int) -> Callable[[], Awaitable[Any]]:
        return lambda: scheduler.aschedule(MACHINE, f"e{i}", [], ["W:after:0@1"])

    # arm and cancel, due in an hour (after a warm-up that opens the connections)
    far = time.time() + 3600
    warm = range(n * 10, n * 10 + args.concurrency)
    await in_flight([arm(i, far) for i in warm], args.concurrency)
    await in_flight([cancel(i) for i in warm], args.concurrency)
    seconds = await in_flight([arm(i, far) for i in range(n)], args.concurrency)
    figures.armed_per_s = n / seconds
    seconds = await in_flight([cancel(i) for i in range(n)], args.concurrency)
    figures.cancelled_per_s = n / seconds
    await start()

    # burst: every timer due at one instant, far enough ahead to arm them all first
    lead = 1.5 * n / figures.armed_per_s + 0.5
    due = time.time() + lead
    recorder.expect(n)
    await in_flight([arm(n + i, due) for i in range(n)], args.concurrency)
    await asyncio.wait_for(recorder.done.wait(), timeout=lead + 120)
    late = [at - due for at in recorder.fired.values()]
    figures.burst_per_s = n / max(1e-9, max(recorder.fired.values()) - due)
    figures.burst_p50, figures.burst_p99 = percentile(late, 0.5), percentile(late, 0.99)

    # steady: `rate` timers per second for `seconds`
    count = int(args.rate * args.seconds)
    lead = 1.5 * count / figures.armed_per_s + 0.5
    first = time.time() + lead
    dues = {f"e{2 * n + i}": first + i / args.rate for i in range(count)}
    recorder.expect(count)
    await in_flight([arm(2 * n + i, dues[f"e{2 * n + i}"]) for i in range(count)], args.concurrency)
    await asyncio.wait_for(recorder.done.wait(), timeout=lead + args.seconds + 120)
    late = [at - dues[e] for e, at in recorder.fired.items()]
    figures.steady_p50 = percentile(late, 0.5)
    figures.steady_p99 = percentile(late, 0.99)
    figures.steady_max = max(late)
    if figures.burst_per_s < args.rate:
        figures.note = f"overloaded: fires {figures.burst_per_s:,.0f}/s < {args.rate:g}/s due"
    return figures


async def bench_asyncio(args: argparse.Namespace) -> Figures:
    from pystator.scheduler import AsyncioScheduler

    scheduler = AsyncioScheduler(autostart=False)
    recorder = Recorder()
    scheduler.register(recorder)
    try:
        return await measure("AsyncioScheduler", scheduler, recorder, args, scheduler.start)
    finally:
        await scheduler.aclose()


async def bench_redis(args: argparse.Namespace, prefix: str) -> Figures:
    from pystator.scheduler import RedisScheduler

    scheduler = RedisScheduler(args.redis_url, prefix=prefix, autostart=False)
    recorder = Recorder()
    scheduler.register(recorder)
    try:
        figures = await measure("RedisScheduler", scheduler, recorder, args, scheduler.start)
        figures.note = figures.note or f"poll {scheduler.poll_interval}s, batch {scheduler.batch}"
        return figures
    finally:
        await scheduler.clear(MACHINE)
        await scheduler.aclose()


async def bench_arq(args: argparse.Namespace, prefix: str) -> Figures:
    import arq.worker

    from pystator.scheduler import ArqScheduler

    scheduler = ArqScheduler(args.redis_url, prefix=prefix, queue_name=prefix + "queue")
    recorder = Recorder()
    scheduler.register(recorder)
    worker = arq.worker.Worker(**scheduler.worker_settings(handle_signals=False, log_results=False))
    task: asyncio.Task[None] | None = None

    async def start() -> None:
        nonlocal task
        task = asyncio.get_running_loop().create_task(worker.async_run())

    try:
        figures = await measure("ArqScheduler", scheduler, recorder, args, start)
        figures.note = figures.note or "arq poll 0.1s, 50 jobs at once"
        return figures
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with warnings.catch_warnings():  # arq calls redis-py's deprecated close()
            warnings.simplefilter("ignore", DeprecationWarning)
            await worker.close()
        await scheduler.clear(MACHINE)
        await scheduler.aclose()


def redis_up(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), 2):
            return True
    except OSError:
        return False


def render(rows: list[Figures], args: argparse.Namespace) -> str:
    head = (
        f"{'scheduler':<17} {'armed/s':>9} {'cancel/s':>9} {'fired/s':>9} "
        f"{'burst p50':>10} {'burst p99':>10} {'steady p50':>11} {'steady p99':>11} "
        f"{'steady max':>11}"
    )
    lines = [
        f"timers: burst of {args.timers}, steady {args.rate:g}/s for {args.seconds:g}s; "
        f"{args.concurrency} schedule() calls in flight; lateness in ms",
        head,
        "-" * len(head),
    ]
    for r in rows:
        lines.append(
            f"{r.name:<17} {r.armed_per_s:>9,.0f} {r.cancelled_per_s:>9,.0f} "
            f"{r.burst_per_s:>9,.0f} {r.burst_p50 * 1e3:>10.1f} {r.burst_p99 * 1e3:>10.1f} "
            f"{r.steady_p50 * 1e3:>11.1f} {r.steady_p99 * 1e3:>11.1f} "
            f"{r.steady_max * 1e3:>11.1f}" + (f"   ({r.note})" if r.note else "")
        )
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> list[Figures]:
    rows: list[Figures] = []
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    if "asyncio" in chosen:
        rows.append(await bench_asyncio(args))
    wants_redis = [s for s in chosen if s in {"redis", "arq"}]
    if wants_redis and not redis_up(args.redis_url):
        print(f"Redis is not reachable at {args.redis_url}: skipped {', '.join(wants_redis)}")
        return rows
    prefix = f"pystator-bench:{secrets.token_hex(4)}:"
    try:
        if "redis" in chosen:
            rows.append(await bench_redis(args, prefix + "redis:"))
        if "arq" in chosen:
            rows.append(await bench_arq(args, prefix + "arq:"))
    finally:
        await forget(args.redis_url, prefix)
    return rows


async def forget(url: str, prefix: str) -> None:
    """Delete every key that holds ``prefix`` (timer records, arq queue, jobs, retries)."""
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"*{prefix}*", count=1000)]
        for start in range(0, len(keys), 500):
            await client.delete(*keys[start : start + 500])
    finally:
        await client.aclose()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.scheduler_bench",
        description="Timers armed and fired per second with each scheduler, and lateness.",
    )
    parser.add_argument("--timers", type=int, default=2000, help="timers of the burst")
    parser.add_argument("--rate", type=float, default=500, help="timers due per second (steady)")
    parser.add_argument("--seconds", type=float, default=4, help="length of the steady load")
    parser.add_argument("--concurrency", type=int, default=50, help="schedule() calls in flight")
    parser.add_argument("--only", default="asyncio,redis,arq", help="schedulers to measure")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("PYSTATOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.timers, args.rate, args.seconds = 200, 100, 1
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    rows = asyncio.run(run(args))
    print(render(rows, args))
    print(f"({time.perf_counter() - started:.1f}s; load average {os.getloadavg()[0]:.2f})")
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
