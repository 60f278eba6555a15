"""Configurations: which states are active, what they offer, which a state enters, and the
parallel API.

A configuration is what an entity is in: a state name, or a string such as
``"P(r1=A, r2=Q(x=B))"`` once a parallel state is active (``engine/config.py`` parses it,
once per distinct string). What lives here, each bound as a method of ``StateMachine``:

* ``is_active`` and ``configuration_leaves``: the states active in a configuration;
* the queries on what a configuration offers, guards ignored: ``get_available_transitions``,
  ``get_triggers``, ``is_terminal``;
* ``state_node`` (the node of a state, or ``UndefinedStateError``) and ``resolve_state``
  (the configuration reached by entering a state by default);
* the parallel API in model form: ``enter_parallel_state`` and ``process_parallel``, which
  answer with frozen ``ParallelStateConfig`` models. A configuration string is parsed into
  one once and then shared between callers (``SHARED_CONFIGS``, here), so a step
  costs little more than ``process`` on the string.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pystator.engine import allowed_triggers, configuration, entry_configuration, state_table
from pystator.engine.index import StateNode
from pystator.errors import UndefinedStateError
from pystator.models.checks import suggest
from pystator.models.config import ParallelStateConfig
from pystator.models.definition import TransitionDefinition
from pystator.models.result import TransitionResult

if TYPE_CHECKING:
    from pystator.runtime.machine import StateMachine

MAX_SHARED = 1_024
"""How many configurations ``SHARED_CONFIGS`` keeps; when full it starts again (cleared)."""


class SharedConfigs(dict[str, ParallelStateConfig]):
    """Configuration string -> its ``ParallelStateConfig``, parsed on first use and shared.

    ``StateMachine.process_parallel`` builds its result with ``SHARED_CONFIGS[target]``, so
    that an event reaching a configuration seen before costs a dictionary look-up. Parsing
    is syntax only (no machine), so one cache serves every machine; sharing is safe because
    the model is frozen. Bounded: when it holds ``MAX_SHARED`` entries it starts again.
    """

    def __missing__(self, text: str) -> ParallelStateConfig:
        config = ParallelStateConfig.from_string(text)
        if len(self) >= MAX_SHARED:
            self.clear()
        self[text] = config
        return config


SHARED_CONFIGS = SharedConfigs()
"""Every machine's shared configurations (parsing is syntax only, so one serves all)."""


def is_active(machine: StateMachine, config: str, state: str) -> bool:
    """True when ``state`` is active in configuration ``config``."""
    node = machine.index.states.get(config)
    if node is not None and not node.in_parallel and node.kind != "parallel":
        return state == config or state in node.ancestors
    return state in configuration(machine.index, config).active


def configuration_leaves(machine: StateMachine, config: str) -> tuple[str, ...]:
    """The active leaves of ``config`` in document order (validates it)."""
    return configuration(machine.index, config).leaves


def get_available_transitions(machine: StateMachine, state: str) -> list[TransitionDefinition]:
    """Transitions that may fire from ``state`` (a state or configuration): each active
    leaf's own, then its ancestors', in selection order, ignoring guards."""
    index = machine.index
    leaves = configuration(index, state).leaves
    seen: set[int] = set()
    out: list[TransitionDefinition] = []
    for leaf in leaves:
        per_state = state_table(index, leaf) or {}
        ordered = sorted(
            (c for key, cands in per_state.items() if key for c in cands),
            key=lambda c: (
                (index.states[c.state].ancestors.index(c.source) + 1) if c.source != c.state else 0
            ),
        )
        for cand in ordered:
            if cand.index not in seen:
                seen.add(cand.index)
                out.append(cand.transition)
    return out


def get_triggers(machine: StateMachine, state: str) -> list[str]:
    """Trigger names with at least one transition from ``state`` (guards ignored)."""
    return list(allowed_triggers(machine.index, configuration(machine.index, state)))


def is_terminal(machine: StateMachine, state: str) -> bool:
    """True for a top-level terminal state: no event leaves it."""
    index = machine.index
    return any(index.states[leaf].is_final for leaf in configuration(index, state).leaves)


def state_node(machine: StateMachine, state: str) -> StateNode:
    """The node of ``state``; ``UndefinedStateError`` (with a suggestion) if it has none."""
    node = machine.index.states.get(state)
    if node is None:
        raise UndefinedStateError(
            f"state '{state}' is not defined in machine '{machine.name}'"
            f"{suggest(state, machine.index.states)}"
        )
    return node


def resolve_state(machine: StateMachine, state: str) -> str:
    """The configuration reached by entering ``state`` by default (compound states descend
    to their initial child, parallel states enter every region)."""
    node = state_node(machine, state)
    if node.kind == "atomic" and not node.in_parallel:
        return state
    return entry_configuration(machine.index, state)


def enter_parallel_state(machine: StateMachine, name: str) -> ParallelStateConfig:
    """The configuration reached by entering parallel state ``name`` by default."""
    node = state_node(machine, name)
    if node.kind != "parallel":
        raise UndefinedStateError(f"'{name}' is not a parallel state of machine '{machine.name}'")
    target = machine.start(initial_state=name).target_state or ""
    if "(" not in target:
        raise UndefinedStateError(f"'{target}' is not a parallel configuration")
    return SHARED_CONFIGS[target]


def process_parallel(
    machine: StateMachine,
    config: ParallelStateConfig | str,
    trigger: str,
    context: Mapping[str, Any] | None = None,
) -> tuple[ParallelStateConfig | str, list[TransitionResult]]:
    """Process ``trigger`` in a parallel configuration; every region sees the event.

    Returns the new configuration (a plain state name once the parallel state is left) and
    the results (one per event processed). It costs little more than ``process`` on the
    string: the frozen config keeps its string form (``config.text``), and a new
    configuration is parsed once and then shared (``SHARED_CONFIGS``).
    """
    # ``config.text`` is the string form kept on the config; ``str`` takes the rest (a
    # string, a subclass). A failed result is the one without a target state.
    text = config.text if type(config) is ParallelStateConfig else str(config)
    result = machine.process(text, trigger, context)
    target = result.target_state
    if target is None:
        return config, [result]
    return (SHARED_CONFIGS[target] if "(" in target else target), [result]
