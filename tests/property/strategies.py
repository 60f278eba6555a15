"""Hypothesis strategies: small valid machines (flat or hierarchical) and event scripts.

Machines are built to be valid by construction, so a definition that the checks refuse is a
finding, not a discarded example.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from pystator import StateMachine

TRIGGERS = ("t0", "t1", "t2", "t3")
UNDEFINED_TRIGGER = "never_defined"
GUARDS = ("g_true", "g_false", "g_flag")
ACTIONS = ("a0", "a1", "a2")

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
params = st.dictionaries(
    st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True), json_values, max_size=2
)


@st.composite
def action_refs(draw: st.DrawFn) -> list[Any]:
    refs: list[Any] = []
    for name in draw(st.lists(st.sampled_from(ACTIONS), max_size=2)):
        if draw(st.booleans()):
            refs.append(name)
        else:
            refs.append({"name": name, "params": draw(params)})
    return refs


@st.composite
def guard_refs(draw: st.DrawFn) -> list[Any]:
    refs: list[Any] = []
    for name in draw(st.lists(st.sampled_from(GUARDS), max_size=2)):
        if name == "g_flag" and draw(st.booleans()):
            refs.append({"name": name, "params": {"key": draw(st.sampled_from(["flag", "other"]))}})
        else:
            refs.append(name)
    return refs


def _ancestors(parents: list[int | None], i: int) -> list[int]:
    out: list[int] = []
    current = parents[i]
    while current is not None:
        out.append(current)
        current = parents[current]
    return out


@st.composite
def machines(draw: st.DrawFn, hierarchical: bool | None = None) -> dict[str, Any]:
    """A valid definition as plain data: 1 to 7 states and up to 8 transitions."""
    if hierarchical is None:
        hierarchical = draw(st.booleans())
    count = draw(st.integers(min_value=1, max_value=7))
    names = [f"S{i}" for i in range(count)]
    parents: list[int | None] = [None]
    for i in range(1, count):
        parents.append(draw(st.one_of(st.none(), st.integers(0, i - 1))) if hierarchical else None)
    children: dict[int, list[int]] = {}
    for i, parent in enumerate(parents):
        if parent is not None:
            children.setdefault(parent, []).append(i)

    states: list[dict[str, Any]] = []
    terminal: set[int] = set()
    top_initial = draw(st.sampled_from([i for i, p in enumerate(parents) if p is None] + [None]))
    for i, name in enumerate(names):
        state: dict[str, Any] = {"name": name}
        if parents[i] is not None:
            state["parent"] = names[parents[i]]
        if i == top_initial:
            state["type"] = "initial"
        elif i not in children and draw(st.integers(0, 4)) == 0:
            state["type"] = "terminal"
            terminal.add(i)
        if i in children and draw(st.booleans()):
            state["initial_child"] = names[draw(st.sampled_from(children[i]))]
        if draw(st.booleans()):
            state["on_enter"] = draw(action_refs())
        if draw(st.booleans()):
            state["on_exit"] = draw(action_refs())
        if draw(st.integers(0, 5)) == 0:
            state["description"] = draw(st.text(max_size=12))
        states.append(state)

    sources = [i for i in range(count) if i not in terminal]
    transitions: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 8))):
        if not sources:
            break
        transition: dict[str, Any] = {"trigger": draw(st.sampled_from(TRIGGERS))}
        shape = draw(st.sampled_from(["one", "list", "wildcard"]))
        if shape == "wildcard":
            transition["source"] = "*"
            picked: list[int] = []
        elif shape == "one":
            picked = [draw(st.sampled_from(sources))]
            transition["source"] = names[picked[0]]
        else:
            picked = draw(st.lists(st.sampled_from(sources), min_size=1, max_size=3, unique=True))
            transition["source"] = [names[i] for i in picked]
        dest = draw(st.one_of(st.none(), st.integers(0, count - 1)))
        if dest is not None:
            transition["dest"] = names[dest]
        # ``internal`` only where it is legal: targetless, or into every source's subtree.
        legal = dest is None or all(dest == s or s in _ancestors(parents, dest) for s in picked)
        if shape != "wildcard" and draw(st.integers(0, 3)) == 0 and legal:
            transition["internal"] = True
        guards = draw(guard_refs())
        if guards:
            transition["guards"] = guards
        actions = draw(action_refs())
        if actions:
            transition["actions"] = actions
        priority = draw(st.integers(-2, 2))
        if priority:
            transition["priority"] = priority
        transitions.append(transition)

    return {
        "meta": {
            "machine_name": "prop",
            "version": draw(st.sampled_from(["1.0.0", "2.1", "0.1.0-beta"])),
            "strict_mode": draw(st.booleans()),
        },
        "states": states,
        "transitions": transitions,
    }


events = st.lists(st.sampled_from((*TRIGGERS, UNDEFINED_TRIGGER)), max_size=12)
contexts = st.fixed_dictionaries(
    {"flag": st.booleans()},
    optional={
        "other": st.booleans(),
        "nested": st.dictionaries(st.text(max_size=3), json_values, max_size=2),
    },
)


def bind(machine: StateMachine) -> StateMachine:
    """Register the guards every generated machine may name."""
    machine.guard_registry.register("g_true", lambda ctx: True)
    machine.guard_registry.register("g_false", lambda ctx: False)
    machine.guard_registry.register("g_flag", lambda ctx, key="flag": bool(ctx.get(key, False)))
    return machine
