"""Statechart properties over random machines with compound and parallel states.

The machines are drawn valid by construction: nested compound states, parallel states with
two or three regions (whose states may be compound or parallel again), nested terminal
states, history states, eventless and ``done.state`` transitions. From the entity's start,
random events are processed and every configuration reached is checked against the tree of
the definition, read here independently of the engine:

* it is legal: one top-level state, exactly one active child in every active compound state
  and region, every region of an active parallel state active, only atomic leaves;
* its string is canonical and lossless: our own serialisation of the active set is the
  engine's string, ``configuration_leaves`` gives back the same leaves, a reordered or
  re-spaced spelling parses to the same configuration, ``ParallelStateConfig`` round-trips;
* processing is deterministic, leaves the caller's context alone, and its exits, entries,
  timers and history memory are consistent with the configurations before and after.
"""

from __future__ import annotations

import copy
import itertools
import random
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pystator import (
    LoopLimitError,
    ParallelStateConfig,
    StateMachine,
    TransitionResult,
    UndefinedStateError,
)

SETTINGS = settings(max_examples=100, deadline=None)
TRIGGERS = ("t0", "t1", "t2", "t3")
GUARDS = ("g_true", "g_false", "g_flag")


# ----------------------------------------------------------------------------- the tree
@dataclass
class Tree:
    """Parent, kind and children (document order) of every state and region."""

    parent: dict[str, str | None]
    kind: dict[str, str]
    """``atomic``, ``terminal``, ``compound``, ``parallel``, ``region`` or ``history``."""
    children: dict[str | None, list[str]]

    def ancestors(self, name: str) -> list[str]:
        out: list[str] = []
        current = self.parent[name]
        while current is not None:
            out.append(current)
            current = self.parent[current]
        return out

    def preorder(self) -> list[str]:
        """Document order: parents before children, siblings as written."""
        out: list[str] = []

        def visit(name: str | None) -> None:
            for child in self.children.get(name, ()):
                out.append(child)
                visit(child)

        visit(None)
        return out

    def active_of(self, leaves: tuple[str, ...]) -> set[str]:
        active: set[str] = set()
        for leaf in leaves:
            active.add(leaf)
            active.update(self.ancestors(leaf))
        return active


def tree_of(definition: Mapping[str, Any]) -> Tree:
    parent: dict[str, str | None] = {}
    kind: dict[str, str] = {}
    order: list[str] = []

    def add(raw: Any, region: str | None) -> None:
        raw = {"name": raw} if isinstance(raw, str) else raw
        name = raw["name"]
        parent[name] = region if region is not None else raw.get("parent")
        kind[name] = {"parallel": "parallel", "history": "history", "terminal": "terminal"}.get(
            raw.get("type", ""), "atomic"
        )
        order.append(name)
        for reg in raw.get("regions", ()):
            parent[reg["name"]] = name
            kind[reg["name"]] = "region"
            order.append(reg["name"])
            for item in reg["states"]:
                add(item, reg["name"])

    for raw in definition["states"]:
        add(raw, None)
    children: dict[str | None, list[str]] = {}
    for name in order:
        if kind[name] != "history":
            children.setdefault(parent[name], []).append(name)
    for name, k in kind.items():
        if k == "atomic" and children.get(name):
            kind[name] = "compound"
    return Tree(parent, kind, children)


def legality_problems(tree: Tree, active: set[str], leaves: tuple[str, ...]) -> list[str]:
    problems: list[str] = []
    top = [c for c in tree.children[None] if c in active]
    if len(top) != 1:
        problems.append(f"{len(top)} active top-level states: {top}")
    for name in sorted(active):
        kind = tree.kind[name]
        kids = [c for c in tree.children.get(name, []) if c in active]
        if kind in ("compound", "region") and len(kids) != 1:
            problems.append(f"{kind} {name} has {len(kids)} active children: {kids}")
        if kind == "parallel" and kids != tree.children[name]:
            problems.append(f"parallel {name} has regions {kids} active, not all")
        if kind == "history":
            problems.append(f"history pseudo-state {name} is active")
    problems.extend(
        f"leaf {leaf} is a {tree.kind[leaf]} state"
        for leaf in leaves
        if tree.kind[leaf] not in ("atomic", "terminal")
    )
    return problems


def canonical(tree: Tree, active: set[str]) -> str:
    """The configuration string of ``active``, written from the definition's tree."""

    def below(name: str) -> str:
        while tree.kind[name] in ("compound", "region"):
            name = next(c for c in tree.children[name] if c in active)
        if tree.kind[name] == "parallel":
            inner = ", ".join(f"{r}={below(r)}" for r in tree.children[name])
            return f"{name}({inner})"
        return name

    return below(next(c for c in tree.children[None] if c in active))


def respelled(tree: Tree, active: set[str], rng: random.Random) -> str:
    """The same configuration with regions in a random order and odd spacing."""

    def below(name: str) -> str:
        while tree.kind[name] in ("compound", "region"):
            name = next(c for c in tree.children[name] if c in active)
        if tree.kind[name] == "parallel":
            regions = list(tree.children[name])
            rng.shuffle(regions)
            inner = " ,".join(f" {r} = {below(r)} " for r in regions)
            return f"{name} ({inner})"
        return name

    return below(next(c for c in tree.children[None] if c in active))


# ----------------------------------------------------------------------------- machines
@st.composite
def statecharts(draw: st.DrawFn) -> dict[str, Any]:
    """A valid definition with compound, parallel, terminal and history states."""
    counter = itertools.count()
    budget = [draw(st.integers(min_value=3, max_value=12))]
    top: list[dict[str, Any]] = []
    parent_of: dict[str, str | None] = {}
    kind_of: dict[str, str] = {}

    def new(prefix: str) -> str:
        return f"{prefix}{next(counter)}"

    def state(parent: str | None, in_region: bool, depth: int) -> dict[str, Any] | str:
        name = new("S")
        parent_of[name] = parent
        budget[0] -= 1
        options = ["atomic"]
        if depth < 3 and budget[0] > 1:
            options += ["compound", "parallel"]
        kind = draw(st.sampled_from(options))
        if kind == "atomic" and parent is not None and draw(st.integers(0, 4)) == 0:
            kind = "terminal"
        kind_of[name] = kind
        raw: dict[str, Any] = {"name": name}
        if not in_region:
            if parent is not None:
                raw["parent"] = parent
            top.append(raw)
        if kind == "terminal":
            raw["type"] = "terminal"
        elif kind == "compound":
            children = [state(name, False, depth + 1) for _ in range(draw(st.integers(1, 3)))]
            names = [c if isinstance(c, str) else c["name"] for c in children]
            if len(names) > 1 and draw(st.booleans()):
                raw["initial_child"] = draw(st.sampled_from(names))
            if draw(st.integers(0, 3)) == 0:
                history = new("H")
                parent_of[history] = name
                kind_of[history] = "history"
                top.append(
                    {
                        "name": history,
                        "type": "history",
                        "parent": name,
                        "history": draw(st.sampled_from(["shallow", "deep"])),
                    }
                )
        elif kind == "parallel":
            raw["type"] = "parallel"
            regions = []
            for _ in range(draw(st.integers(2, 3))):
                region = new("R")
                parent_of[region] = name
                kind_of[region] = "region"
                members = [state(region, True, depth + 1) for _ in range(draw(st.integers(1, 2)))]
                regions.append({"name": region, "states": members})
            raw["regions"] = regions
        if in_region and raw.keys() == {"name"}:
            return name  # a simple region state may be written as its name
        return raw

    count = 0
    while budget[0] > 0 or count == 0:
        state(None, False, 0)
        count += 1

    def descendants(name: str) -> list[str]:
        return [n for n in parent_of if _has_ancestor(parent_of, n, name)]

    real = [n for n, k in kind_of.items() if k not in ("region", "history")]
    sources = [n for n in real if kind_of[n] != "terminal"]
    targets = [n for n, k in kind_of.items() if k != "region"]
    completable = [n for n, k in kind_of.items() if k in ("compound", "parallel", "region")]
    transitions: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 14))):
        if not sources:
            break
        source = draw(st.sampled_from(sources))
        how = draw(st.sampled_from(["event", "event", "event", "event", "auto", "done"]))
        t: dict[str, Any] = {"source": source}
        if how == "auto":
            t["auto"] = True
        elif how == "done" and completable:
            t["trigger"] = f"done.state.{draw(st.sampled_from(completable))}"
        else:
            t["trigger"] = draw(st.sampled_from(TRIGGERS))
        if how == "auto":
            # Forward, outside the source: most eventless chains end (some still loop).
            forward = [
                n
                for n in targets[targets.index(source) + 1 :]
                if not _has_ancestor(parent_of, n, source)
            ]
            if not forward:
                continue
            t["dest"] = draw(st.sampled_from(forward))
        elif draw(st.integers(0, 4)) > 0:
            t["dest"] = draw(st.sampled_from(targets))
        inner = descendants(source)
        if ("dest" not in t or t["dest"] in inner) and draw(st.integers(0, 3)) == 0:
            t["internal"] = True
        guards = draw(st.lists(st.sampled_from(GUARDS), max_size=2)) if draw(st.booleans()) else []
        if how == "auto" and not guards:
            guards = ["g_flag"]  # keeps most eventless cycles from looping on every event
        if guards:
            t["guards"] = guards
        if draw(st.booleans()):
            t["actions"] = ["a0"]
        if draw(st.integers(0, 5)) == 0:
            t["priority"] = draw(st.integers(-2, 2))
        transitions.append(t)
    return {"meta": {"machine_name": "chart"}, "states": top, "transitions": transitions}


def _has_ancestor(parent_of: Mapping[str, str | None], name: str, ancestor: str) -> bool:
    current = parent_of.get(name)
    while current is not None:
        if current == ancestor:
            return True
        current = parent_of.get(current)
    return False


def bind(machine: StateMachine) -> StateMachine:
    machine.guard("g_true")(lambda ctx: True)
    machine.guard("g_false")(lambda ctx: False)
    machine.guard("g_flag")(lambda ctx: bool(ctx.get("flag")))
    machine.action("a0")(lambda ctx: None)
    return machine


@st.composite
def charts(draw: st.DrawFn) -> tuple[dict[str, Any], list[str]]:
    """A machine and a script of events, mostly triggers the machine defines."""
    data = draw(statecharts())
    defined = sorted(
        {t["trigger"] for t in data["transitions"] if t.get("trigger") in TRIGGERS}
    ) or list(TRIGGERS)
    script = draw(st.lists(st.sampled_from(defined) | st.sampled_from(TRIGGERS), max_size=8))
    return data, script


contexts = st.fixed_dictionaries({"flag": st.booleans(), "n": st.integers(-3, 3)})


@dataclass
class Step:
    before: str
    trigger: str
    result: TransitionResult
    history: Mapping[str, tuple[str, ...]]


def walk(
    machine: StateMachine, script: list[str], context: dict[str, Any]
) -> tuple[str, list[Step]] | None:
    """Start an entity and process ``script``; ``None`` if the start itself loops."""
    try:
        started = machine.start(context)
    except LoopLimitError:
        return None
    assert started.success
    assert started.target_state is not None
    state = started.target_state
    memory: Mapping[str, tuple[str, ...]] = started.history or MappingProxyType({})
    steps: list[Step] = []
    for trigger in script:
        result = machine.process(state, trigger, context, history=memory)
        steps.append(Step(state, trigger, result, memory))
        if result.success and result.metadata.get("reason") is None:
            assert result.target_state is not None
            state = result.target_state
            if result.history is not None:
                memory = result.history
    return started.target_state, steps


def configurations(start: str, steps: list[Step]) -> list[str]:
    return [start, *(s.result.target_state for s in steps if s.result.target_state)]


# ----------------------------------------------------------------------------- properties
@SETTINGS
@given(chart=charts(), context=contexts)
def test_every_reached_configuration_is_legal(
    chart: tuple[dict[str, Any], list[str]], context: dict[str, Any]
) -> None:
    data, script = chart
    machine = bind(StateMachine.from_dict(data))
    tree = tree_of(data)
    initial = machine.get_initial_state()
    walked = walk(machine, script, context)
    reached = [initial] + (configurations(*walked) if walked else [])
    for config in reached:
        leaves = machine.configuration_leaves(config)
        active = tree.active_of(leaves)
        problems = legality_problems(tree, active, leaves)
        assert not problems, f"{config}: {problems}"
        for name in tree.kind:
            assert machine.is_active(config, name) == (name in active), (config, name)


@SETTINGS
@given(chart=charts(), context=contexts, seed=st.integers(0, 2**16))
def test_configuration_strings_are_canonical_and_lossless(
    chart: tuple[dict[str, Any], list[str]], context: dict[str, Any], seed: int
) -> None:
    data, script = chart
    machine = bind(StateMachine.from_dict(data))
    tree = tree_of(data)
    rng = random.Random(seed)
    walked = walk(machine, script, context)
    reached = [machine.get_initial_state()] + (configurations(*walked) if walked else [])
    for config in reached:
        leaves = machine.configuration_leaves(config)
        active = tree.active_of(leaves)
        assert canonical(tree, active) == config, "the engine's string is not canonical"
        # parse(serialize(x)) == x: the leaves read back are the configuration's leaves
        assert set(leaves) == {n for n in active if not tree.children.get(n)}
        assert list(leaves) == sorted(leaves, key=tree.preorder().index), "document order"
        other = respelled(tree, active, rng)
        assert machine.configuration_leaves(other) == leaves, other
        assert machine.get_triggers(other) == machine.get_triggers(config)
        if "(" in config:
            model = ParallelStateConfig.from_string(config)
            assert str(model) == config
            assert ParallelStateConfig.model_validate_json(model.model_dump_json()) == model


@SETTINGS
@given(chart=charts(), context=contexts)
def test_processing_is_deterministic_and_leaves_the_context_alone(
    chart: tuple[dict[str, Any], list[str]], context: dict[str, Any]
) -> None:
    data, script = chart
    before = copy.deepcopy(context)
    first = walk(bind(StateMachine.from_dict(data)), script, context)
    second = walk(bind(StateMachine.from_dict(copy.deepcopy(data))), script, context)
    assert first == second
    assert context == before
    if first is None:
        return
    machine = bind(StateMachine.from_dict(data))
    for step in first[1]:
        again = machine.process(step.before, step.trigger, context, history=step.history)
        assert again == step.result
        assert again == machine.process(step.before, step.trigger, context, history=step.history)
    assert context == before


@SETTINGS
@given(chart=charts(), context=contexts)
def test_results_agree_with_the_configurations(
    chart: tuple[dict[str, Any], list[str]], context: dict[str, Any]
) -> None:
    """Exits were active, the new configuration is what was kept plus what was entered,
    timers belong to the states entered and exited, history names history states."""
    data, script = chart
    machine = bind(StateMachine.from_dict(data))
    tree = tree_of(data)
    walked = walk(machine, script, context)
    if walked is None:
        return
    for step in walked[1]:
        result = step.result
        if not result.success or result.metadata.get("reason") is not None:
            assert result.target_state in (None, step.before)
            assert not result.exited_states
            assert not result.entered_states
            continue
        assert result.target_state is not None
        before = tree.active_of(machine.configuration_leaves(step.before))
        after = tree.active_of(machine.configuration_leaves(result.target_state))
        exited, entered = set(result.exited_states), set(result.entered_states)
        assert exited <= before | entered, "exited a state that was never active"
        assert before - after <= exited, "a state left the configuration without an exit"
        assert after <= (before - exited) | entered, "a state became active without an entry"
        assert not entered & {n for n, k in tree.kind.items() if k == "history"}
        for spec in result.timers_to_arm:
            assert spec.state in after
            assert spec.state in entered
        for key in result.timers_to_cancel:
            assert key.split(":", 1)[0] in before & exited
        for history, remembered in (result.history or {}).items():
            assert tree.kind[history] == "history"
            home = tree.parent[history]
            assert all(home in tree.ancestors(s) for s in remembered), (history, remembered)


@SETTINGS
@given(chart=charts(), context=contexts)
def test_a_session_follows_the_stateless_run(
    chart: tuple[dict[str, Any], list[str]], context: dict[str, Any]
) -> None:
    data, script = chart
    machine = bind(StateMachine.from_dict(data))
    walked = walk(machine, script, context)
    if walked is None:
        with pytest.raises(LoopLimitError):
            machine.create(context=dict(context))
        return
    start, steps = walked
    session = machine.create(context=dict(context))
    assert session.current_state == start
    for step in steps:
        result = session.send(step.trigger)
        assert result == step.result
        if result.success and result.metadata.get("reason") is None:
            assert session.current_state == result.target_state
        assert session.is_in(session.current_state.split("(")[0])
    restored = type(session).from_snapshot(machine, session.snapshot())
    assert restored.current_state == session.current_state
    assert dict(restored.history) == dict(session.history)


def test_a_leaf_inside_a_parallel_state_is_not_a_configuration() -> None:
    data = {
        "meta": {"machine_name": "chart"},
        "states": [
            {
                "name": "P",
                "type": "parallel",
                "regions": [{"name": "R1", "states": ["A"]}, {"name": "R2", "states": ["B"]}],
            }
        ],
    }
    machine = StateMachine.from_dict(data)
    with pytest.raises(UndefinedStateError, match=r"P\(R1=A, R2=B\)"):
        machine.configuration_leaves("A")
