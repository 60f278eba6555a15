"""Parallel regions, timers and a done event: one trading day of a desk.

Run it from anywhere:

    python examples/day_trading_example.py

What it shows (see day_trading_fsm.yaml for the machine):

* a parallel state, TRADING_DAY, with three regions active at once (trading, a risk monitor
  and a market data feed); its configuration is a string such as
  ``TRADING_DAY(trading=FLAT, risk=CALM, feed=STREAMING)``;
* every region sees every event: one ``pnl_update`` moves the risk region and stops out the
  trading region in the same step; a region that does not answer an event is left alone;
* timers as data, driven by a ``ManualClock``: the feed's connection timeout, the heartbeat
  delayed transition re-armed by every ``tick`` (a new timer id per entry), a stale timer;
* ``done.state.TRADING_DAY``: when every region reaches its terminal state the desk moves to
  REPORTING in the same call;
* a transition of the parallel state itself (``kill_switch``) exiting every region, innermost
  first; the stateless ``process`` / ``process_parallel`` on configuration strings; a session
  snapshot that keeps the armed timers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pystator import (
    EntitySession,
    ManualClock,
    ParallelStateConfig,
    StateMachine,
    TransitionResult,
)

HERE = Path(__file__).resolve().parent
OPEN_AT = 9 * 3600 + 25 * 60  # 09:25:00, in seconds since midnight


def build_machine() -> StateMachine:
    machine = StateMachine.from_yaml(HERE / "day_trading_fsm.yaml")

    @machine.guard("drawdown_above")
    def drawdown_above(ctx: dict[str, Any], limit: float) -> bool:
        return bool(ctx.get("drawdown", 0.0) > limit)

    @machine.guard("drawdown_below")
    def drawdown_below(ctx: dict[str, Any], limit: float) -> bool:
        return bool(ctx.get("drawdown", 0.0) < limit)

    @machine.action("log_event")
    def log_event(ctx: dict[str, Any], message: str) -> None:
        print(f"    log_event: {message}")

    @machine.action("open_session")
    def open_session(ctx: dict[str, Any]) -> None:
        print(f"    open_session: desk {ctx['desk']}")

    @machine.action("close_session")
    def close_session(ctx: dict[str, Any]) -> None:
        print(f"    close_session: desk {ctx['desk']}")

    @machine.action("place_order")
    def place_order(ctx: dict[str, Any], side: str) -> None:
        print(f"    place_order({side}): {ctx.get('qty')} {ctx['symbol']} @ {ctx.get('price')}")

    @machine.action("flatten_position")
    def flatten_position(ctx: dict[str, Any]) -> None:
        print(f"    flatten_position: {ctx['symbol']}")

    @machine.action("alert")
    def alert(ctx: dict[str, Any], level: str) -> None:
        print(f"    alert: {level}")

    @machine.action("record_pnl")
    def record_pnl(ctx: dict[str, Any]) -> None:
        print(f"    record_pnl: drawdown {ctx.get('drawdown', 0.0):.2%}")

    @machine.action("publish_report")
    def publish_report(ctx: dict[str, Any]) -> None:
        print(f"    publish_report: desk {ctx['desk']}")

    return machine


def hhmmss(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def step(clock: ManualClock, label: str, send: Callable[[], TransitionResult]) -> None:
    """Print the step, take it (the actions print as they run), then show the result."""
    print(f"[{hhmmss(clock.now())}] {label}")
    show(send())


def show(result: TransitionResult) -> None:
    """Where the desk is now, what was exited and entered, and what ran."""
    if not result.success:
        print(f"  refused: {result.metadata['reason']} ({type(result.error).__name__})")
        return
    print(f"  -> {result.target_state}")
    if result.exited_states:
        print(f"  exited:  {list(result.exited_states)}")
    if result.entered_states:
        print(f"  entered: {list(result.entered_states)}")
    print(f"  actions: {list(result.all_actions)}")


def show_timers(clock: ManualClock, session: EntitySession) -> None:
    timers = [f"{t.id} due {hhmmss(t.due)}" for t in session.pending_timers]
    print(f"  timers:  {timers or 'none'}")


def trading_day(machine: StateMachine) -> None:
    print("=== a trading day ===")
    clock = ManualClock(OPEN_AT)
    desk = machine.create(context={"desk": "EQ-1", "symbol": "ACME"}, clock=clock)
    print(f"[{hhmmss(clock.now())}] start: {desk.current_state}")

    step(clock, "market_open", lambda: desk.send("market_open"))
    show_timers(clock, desk)

    clock.advance(4)
    step(clock, "connected", lambda: desk.send("connected"))
    show_timers(clock, desk)

    clock.advance(20)
    label = "tick (re-enters STREAMING, so the heartbeat is armed again)"
    step(clock, label, lambda: desk.send("tick"))
    show_timers(clock, desk)

    clock.advance(60)
    step(clock, "buy 100 @ 101.5", lambda: desk.send("buy", qty=100, price=101.5))

    clock.advance(5)
    print(f"[{hhmmss(clock.now())}] fire_due_timers(): no tick for 30 s")
    for result in desk.fire_due_timers():
        show(result)
    step(clock, "tick (the feed recovers)", lambda: desk.send("tick"))

    snapshot = desk.snapshot()
    print(f"  snapshot: state={snapshot['state']}")
    print(f"  snapshot timers: {[t['id'] for t in snapshot['timers']]}")
    restored = EntitySession.from_snapshot(machine, snapshot, clock=clock)
    same = restored.pending_timers == desk.pending_timers
    print(f"  restored: {restored.current_state}, same timers: {same}")

    step(clock, "pnl_update drawdown=1%", lambda: desk.send("pnl_update", drawdown=0.01))
    step(clock, "pnl_update drawdown=3%", lambda: desk.send("pnl_update", drawdown=0.03))
    label = "pnl_update drawdown=6% (risk and trading both answer)"
    step(clock, label, lambda: desk.send("pnl_update", drawdown=0.06))
    print(f"  is_breached={desk.is_breached} is_flat={desk.is_flat} is_long={desk.is_long}")

    clock.set(16 * 3600 - 10)
    print(f"[{hhmmss(clock.now())}] fire_due_timers(): the heartbeat armed at 09:26:29")
    for result in desk.fire_due_timers():
        show(result)
    step(clock, "tick", lambda: desk.send("tick"))
    show_timers(clock, desk)

    clock.advance(10)
    label = "market_close (every region completes: done.state.TRADING_DAY)"
    step(clock, label, lambda: desk.send("market_close"))
    show_timers(clock, desk)
    step(clock, "report_sent", lambda: desk.send("report_sent"))
    print(f"  is_final={desk.is_final}")


def a_bad_morning(machine: StateMachine) -> None:
    print("=== a bad morning ===")
    clock = ManualClock(OPEN_AT)
    desk = machine.create(context={"desk": "EQ-2", "symbol": "ACME"}, clock=clock)
    desk.send("market_open", execute_actions=False)
    (connecting,) = desk.pending_timers
    clock.advance(10)
    print(f"[{hhmmss(clock.now())}] timer {connecting.id}: no connection within 10 s")
    (timeout,) = desk.fire_due_timers(execute_actions=False)
    show(timeout)
    stale = desk.fire_timer(connecting.id)
    print(f"  firing {connecting.id} again: {stale.metadata['reason']}")
    step(clock, "reconnect", lambda: desk.send("reconnect", execute_actions=False))
    step(clock, "sell", lambda: desk.send("sell", qty=50, price=99.0, execute_actions=False))
    label = "kill_switch (a transition of the parallel state)"
    step(clock, label, lambda: desk.send("kill_switch", execute_actions=False))
    show_timers(clock, desk)


def stateless(machine: StateMachine) -> None:
    print("=== stateless ===")
    config = "TRADING_DAY(trading=FLAT, risk=CALM, feed=STREAMING)"
    result = machine.process(config, "buy", {"symbol": "ACME", "qty": 10, "price": 100.0})
    print(f"process({config!r}, 'buy') -> {result.target_state}")
    refused = machine.process(config, "report_sent")
    reason = refused.metadata["reason"]
    print(f"process(..., 'report_sent') -> success={refused.success} reason={reason}")
    entered = machine.enter_parallel_state("TRADING_DAY")
    print(f"enter_parallel_state('TRADING_DAY') -> {entered.regions}")
    moved, (result,) = machine.process_parallel(entered, "connected")
    assert isinstance(moved, ParallelStateConfig)
    print(f"process_parallel(..., 'connected') -> {moved.regions}")
    armed = [t.key for t in result.timers_to_arm]
    print(f"  timers to arm: {armed}, to cancel: {list(result.timers_to_cancel)}")


def main() -> None:
    machine = build_machine()
    trading_day(machine)
    a_bad_morning(machine)
    stateless(machine)
    print("day_trading_example: done")


if __name__ == "__main__":
    main()
