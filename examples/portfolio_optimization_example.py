"""Hierarchical states: a portfolio optimisation workflow with nested phases.

Run it from anywhere:

    python examples/portfolio_optimization_example.py

What it shows (see portfolio_optimization_fsm.yaml for the machine):

* entering a compound state descends through its initial children (IDLE -> OPTIMIZING lands in
  FETCHING_PRICES, entering OPTIMIZING, DATA_PREPARATION and FETCHING_PRICES, outermost first);
* leaving states exits innermost first, up to the least common compound ancestor of the
  source and the target, then runs the transition's actions, then the entry actions;
* ``on_enter`` / ``on_exit`` actions with ``params`` from the YAML;
* guards with ``params``, and two candidate transitions for one trigger (document order);
* a transition defined on a compound state applies in every state nested inside it;
* an internal targetless transition runs only its actions; an external self-transition exits
  and re-enters;
* the wildcard source ``"*"``, and results (not exceptions) for events that cannot fire.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pystator import EntitySession, StateMachine, TransitionResult

HERE = Path(__file__).resolve().parent


def build_machine() -> StateMachine:
    machine = StateMachine.from_yaml(HERE / "portfolio_optimization_fsm.yaml")

    @machine.guard("solution_converged")
    def solution_converged(ctx: dict[str, Any]) -> bool:
        return bool(ctx.get("converged", False))

    @machine.guard("within_risk_budget")
    def within_risk_budget(ctx: dict[str, Any], max_volatility: float) -> bool:
        return bool(ctx.get("volatility", 1.0) <= max_volatility)

    @machine.guard("retries_left")
    def retries_left(ctx: dict[str, Any], max_retries: int) -> bool:
        return bool(ctx.get("attempt", 1) < max_retries)

    @machine.guard("is_authorized")
    def is_authorized(ctx: dict[str, Any]) -> bool:
        return ctx.get("user_role") in {"portfolio_manager", "cio"}

    def show(text: str) -> None:
        print(f"      | {text}")

    @machine.action("allocate_solver")
    def allocate_solver(ctx: dict[str, Any], cores: int) -> None:
        show(f"allocate_solver(cores={cores})")

    @machine.action("release_solver")
    def release_solver(ctx: dict[str, Any], pool: str) -> None:
        show(f"release_solver(pool={pool})")

    @machine.action("enter_phase")
    def enter_phase(ctx: dict[str, Any], phase: str) -> None:
        show(f"enter_phase(phase={phase})")

    @machine.action("exit_phase")
    def exit_phase(ctx: dict[str, Any], phase: str) -> None:
        show(f"exit_phase(phase={phase})")

    @machine.action("log_event")
    def log_event(ctx: dict[str, Any], message: str) -> None:
        show(f"log_event({message!r}) for {ctx['portfolio']}")

    @machine.action("notify")
    def notify(ctx: dict[str, Any], channel: str) -> None:
        show(f"notify(channel={channel}): volatility {ctx.get('volatility')}")

    @machine.action("place_orders")
    def place_orders(ctx: dict[str, Any], algo: str) -> None:
        show(f"place_orders(algo={algo})")

    @machine.action("report_progress")
    def report_progress(ctx: dict[str, Any]) -> None:
        show(f"report_progress(): {ctx.get('progress', 0)}%")

    @machine.action("record_failure")
    def record_failure(ctx: dict[str, Any], severity: str) -> None:
        show(f"record_failure(severity={severity}): {ctx.get('error')}")

    return machine


def active_path(machine: StateMachine, state: str) -> str:
    """``OPTIMIZING > MODELLING > SOLVING``: the active state and its ancestors."""
    parents = {s.name: s.parent for s in machine.definition.states}
    path = [state]
    while parents[path[-1]] is not None:
        path.append(parents[path[-1]])  # type: ignore[arg-type]
    return " > ".join(reversed(path))


def step(session: EntitySession, trigger: str, **payload: Any) -> TransitionResult:
    """Send one event and print what happened, in the order it happened."""
    shown = f" {payload}" if payload else ""
    print(f"  > {trigger}{shown}")
    result = session.send(trigger, **payload)
    if not result.success:
        print(f"    failed: {result.metadata['reason']}: {result.error}")
        return result
    print(f"    exited  (innermost first): {list(result.exited_states)}")
    print(f"    entered (outermost first): {list(result.entered_states)}")
    print(f"    actions: {list(result.all_actions)}")
    print(f"    now: {active_path(session.machine, session.current_state)}")
    return result


def happy_path(machine: StateMachine) -> None:
    print("\n=== 1. A run with one re-modelling round, then approval and rebalancing ===")
    run = machine.create(context={"portfolio": "GLOBAL_EQUITY"})
    print(f"  start in {run.current_state}")
    step(run, "start")
    step(run, "prices_loaded")
    step(run, "progress", progress=25)
    step(run, "data_ready")
    print(
        f"  is_optimizing={run.is_optimizing} is_modelling={run.is_modelling} "
        f"is_data_preparation={run.is_data_preparation}"
    )
    step(run, "risk_estimated")
    step(run, "solved", converged=True)
    step(run, "validated", volatility=0.22, attempt=1)
    step(run, "risk_estimated")
    step(run, "solved")
    step(run, "validated", volatility=0.12, attempt=2)
    step(run, "approve", user_role="portfolio_manager")
    step(run, "rebalanced")
    print(f"  finished in {run.current_state}, is_final={run.is_final}")


def abort_from_deep_inside(machine: StateMachine) -> None:
    print("\n=== 2. Self-transition and abort from a nested phase ===")
    run = machine.create(context={"portfolio": "CREDIT_CORE"})
    for trigger in ("start", "prices_loaded", "data_ready", "risk_estimated"):
        run.send(trigger, execute_actions=False)  # move without running actions
    print(f"  reached {active_path(machine, run.current_state)} with execute_actions=False")
    step(run, "restart_modelling")
    step(run, "abort")
    print(f"  finished in {run.current_state}, is_final={run.is_final}")


def events_that_cannot_fire(machine: StateMachine) -> None:
    print("\n=== 3. Events that cannot fire are results, not exceptions ===")
    checks = [
        ("SOLVING", "solved", {"converged": False}),
        ("VALIDATING", "validated", {"volatility": 0.3, "attempt": 2}),
        ("AWAITING_APPROVAL", "approve", {"user_role": "analyst"}),
        ("IDLE", "approve", {}),
        ("COMPLETED", "fail", {}),
    ]
    for state, trigger, context in checks:
        result = machine.process(state, trigger, context)
        extra = result.metadata.get("guard_name")
        guard = f", guard={extra}" if extra else ""
        print(
            f"  {state} --{trigger}--> success={result.success} "
            f"reason={result.metadata['reason']}{guard}"
        )
    wildcard = machine.process("SOLVING", "fail", {"error": "solver crashed"})
    print(
        f"  SOLVING --fail--> {wildcard.target_state} via '*': "
        f"exits {list(wildcard.exited_states)}, actions {list(wildcard.all_actions)}"
    )


def main() -> None:
    machine = build_machine()
    print(f"loaded {machine!r}; initial state {machine.get_initial_state()}")
    happy_path(machine)
    abort_from_deep_inside(machine)
    events_that_cannot_fire(machine)
    print("\nportfolio_optimization_example: done")


if __name__ == "__main__":
    main()
