"""Cross-reference checks of a definition: everything a field validator cannot see alone.

All problems are collected and raised together as one ``ConfigurationError``, each with the
path of the offending field and, for a misspelled name, the closest defined name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from pystator.errors import ConfigIssue, ConfigurationError
from pystator.models.tree import TreeNode, flatten

if TYPE_CHECKING:
    from pystator.models.definition import (
        MachineDefinition,
        MachineMeta,
        StateDefinition,
        TransitionDefinition,
    )


MAX_STATE_DEPTH = 1000
"""Levels a state may be nested: a top-level state is level 1, its child level 2; regions
count as a level. The engine keeps every state's ancestors, so deeper trees cost memory that
grows with the square of the depth (``docs/configuration.md``, "Limits")."""
MAX_REGION_NESTING = 10
"""Regions a state may sit in as written (``regions[].states[].regions[]...``): each level
nests the document four levels deeper, and a definition must stay a document every loader
reads back."""
REGIONS_TOO_DEEP = (
    f"regions nested more than {MAX_REGION_NESTING} deep: put the states of inner parallel "
    "states in the flat 'states' list with 'parent' instead"
)
_LOOP = -1


def suggest(name: str, known: Iterable[str]) -> str:
    """Return ``"; did you mean 'X'?"`` for the closest known name, or ``""``."""
    candidates = list(known)
    import difflib  # only error messages need it

    match = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    if not match:
        lowered = {c.lower(): c for c in candidates}
        if name.lower() in lowered:
            match = [lowered[name.lower()]]
    return f"; did you mean '{match[0]}'?" if match else ""


class _Checker:
    def __init__(self, nodes: list[TreeNode], partial: set[str]) -> None:
        self.issues: list[ConfigIssue] = []
        self.partial = partial
        self.nodes: dict[str, TreeNode] = {}
        for node in nodes:
            first = self.nodes.get(node.name)
            if first is not None:
                self.issues.append(_duplicate(self, first, node))
            else:
                self.nodes[node.name] = node
        self.children: dict[str | None, list[TreeNode]] = {}
        self.depth: dict[str, int] = {}
        """Level of each node (top level: 1), ``_LOOP`` in or below a parent cycle."""
        self.spans: dict[str, tuple[int, int]] | None = None
        self.too_deep = False
        """The tree passes a depth limit: the per-state checks are skipped (their cost
        would grow with the depth)."""

    def add(self, path: str, message: str) -> None:
        self.issues.append(ConfigIssue(path, message))

    def undefined(self, name: str) -> str:
        return f"state '{name}' is not defined{suggest(name, self.nodes)}"

    def known(self, name: str) -> bool:
        """Defined, or a state whose own definition failed validation (reported elsewhere)."""
        return name in self.nodes or name in self.partial

    def type_of(self, name: str) -> str:
        node = self.nodes[name]
        if node.kind == "region":
            return "region"
        assert node.state is not None
        return node.state.type

    def is_self_or_descendant(self, name: str, ancestor: str) -> bool:
        """``name`` is ``ancestor`` or inside it; O(1) with the numbering of the tree."""
        if name == ancestor:
            return True
        if self.spans is None:
            self.spans = _spans(self)
        inner = self.spans.get(name)
        outer = self.spans.get(ancestor)
        if inner is not None and outer is not None:
            return outer[0] < inner[0] < outer[1]
        # A node in or below a parent cycle (reported on its own): walk, once round at most.
        seen: set[str] = set()
        current = self.nodes[name].parent if name in self.nodes else None
        while current is not None and current in self.nodes and current not in seen:
            if current == ancestor:
                return True
            seen.add(current)
            current = self.nodes[current].parent
        return False


def _duplicate(c: _Checker, first: TreeNode, second: TreeNode) -> ConfigIssue:
    """The problem of a name written twice, naming both places when a region is involved.

    A region member listed by name and declared once in the flat list is merged by
    ``flatten`` when the declaration's parent fits (the 0.0.x form); what reaches here is
    everything else.
    """
    name = second.name
    if first.kind == "region" or second.kind == "region":
        what = "region" if second.kind == "region" else "state"
        return ConfigIssue(f"{second.path}.name", f"{what} '{name}' is defined twice")
    if first.by_name and second.by_name:
        return ConfigIssue(
            second.path, f"state '{name}' is listed in two regions (also at {first.path})"
        )
    listing, other = (first, second) if first.by_name else (second, first)
    declared = other.state.parent if other.state is not None else None
    region = listing.parent
    parallel = c.nodes[region].parent if region in c.nodes else None
    if (
        listing.by_name
        and other.inside is None
        and other.listed_at is None
        and declared is not None
        and declared not in (region, parallel)
    ):
        return ConfigIssue(
            f"{other.path}.parent",
            f"'{name}' is listed by name in region '{region}' (at {listing.path}): declared "
            f"here too, it takes no parent, '{parallel}' or '{region}' as parent, not "
            f"'{declared}'",
        )
    in_region = first.nesting or second.nesting or first.by_name or second.by_name
    if not in_region and first.listed_at is None and second.listed_at is None:
        return ConfigIssue(f"{second.path}.name", f"state '{name}' is defined twice")
    return ConfigIssue(
        f"{second.path}.name", f"state '{name}' is defined twice (also at {first.path})"
    )


def _spans(c: _Checker) -> dict[str, tuple[int, int]]:
    """Each node (outside parent cycles) -> (its number, the number after its subtree) in a
    depth-first numbering of the tree: X is inside Y when Y's span holds X's number."""
    below: dict[str | None, list[str]] = {}
    for node in c.nodes.values():
        if c.depth.get(node.name, _LOOP) != _LOOP:
            parent = node.parent if node.parent in c.nodes else None
            below.setdefault(parent, []).append(node.name)
    spans: dict[str, tuple[int, int]] = {}
    first: dict[str, int] = {}
    count = 0
    todo: list[tuple[str, bool]] = [(name, False) for name in reversed(below.get(None, []))]
    while todo:
        name, finished = todo.pop()
        if finished:
            spans[name] = (first[name], count)
            continue
        first[name] = count
        count += 1
        todo.append((name, True))
        todo.extend((child, False) for child in reversed(below.get(name, [])))
    return spans


def collect_issues(
    state_list: Sequence[StateDefinition | None],
    transition_list: Sequence[TransitionDefinition | None],
    *,
    partial_names: Iterable[str] = (),
    meta: MachineMeta | None = None,
) -> list[ConfigIssue]:
    """Every cross-reference problem, in document order.

    ``None`` entries stand for items that failed field validation (their own errors are
    reported elsewhere); ``partial_names`` are the names of such states, so references to them
    are not reported as undefined too.
    """
    c = _Checker(flatten(state_list), set(partial_names))
    _check_tree(c)
    if not c.too_deep:
        _check_states(c)
    if meta is not None and meta.initial is not None:
        if not c.known(meta.initial):
            c.add("meta.initial", c.undefined(meta.initial))
        elif meta.initial in c.nodes and c.nodes[meta.initial].parent is not None:
            c.add("meta.initial", f"'{meta.initial}' is not a top-level state")
    # Most transitions go from one ordinary state to another: check those with two set
    # lookups and give the rest (lists, "*", internal, delays, done events) the full check.
    plain = {
        name
        for name, node in c.nodes.items()
        if node.state is None or node.state.type not in {"terminal", "history"}
    }
    names = c.nodes.keys()
    for t_index, transition in enumerate(transition_list):
        if transition is None:
            continue
        # The fields straight from the model's ``__dict__``: this loop runs once per transition
        # of every loaded machine, and attribute lookup on a model costs twice as much.
        fields = transition.__dict__
        trigger = fields["trigger"]
        dest = fields["dest"]
        if (
            trigger is not None
            and fields["source"] in plain  # a plain state; never a list or "*"
            and (dest is None or dest in names)
            and not fields["internal"]
            and fields["after"] is None
            and fields["region"] is None
            and not fields["auto"]
            and "." not in trigger  # triggers are names, or done.state.<name>
        ):
            continue
        _check_transition(c, f"transitions[{t_index}]", transition)
    _check_raises(c, transition_list)
    return c.issues


def _check_raises(c: _Checker, transition_list: Sequence[TransitionDefinition | None]) -> None:
    """Every ``{raise: EVENT}`` names the trigger of some transition (not a delayed one): an
    internal event no transition takes would be dropped without a trace."""
    from pystator.models.definition import RaiseSpec

    raised: list[tuple[str, str]] = []
    for t_index, t in enumerate(transition_list):
        if t is not None and t.__dict__["actions"]:
            raised.extend(
                (f"transitions[{t_index}].actions[{j}].raise", item.event)
                for j, item in enumerate(t.actions)
                if isinstance(item, RaiseSpec)
            )
    for node in c.nodes.values():
        state = node.state
        if state is not None and (state.on_enter or state.on_exit):
            for key, items in (("on_enter", state.on_enter), ("on_exit", state.on_exit)):
                raised.extend(
                    (f"{node.path}.{key}[{j}].raise", item.event)
                    for j, item in enumerate(items)
                    if isinstance(item, RaiseSpec)
                )
    if not raised:
        return
    triggers = {
        t.trigger
        for t in transition_list
        if t is not None and t.trigger is not None and t.after is None
    }
    for path, event in raised:
        if event not in triggers:
            c.add(
                path,
                f"no transition has trigger '{event}': the internal event would be dropped"
                f"{suggest(event, sorted(triggers))}",
            )


def _check_tree(c: _Checker) -> None:
    for node in c.nodes.values():
        parent = node.parent
        if parent is None:
            c.children.setdefault(None, []).append(node)
            continue
        if parent in c.partial and parent not in c.nodes:
            continue
        if parent not in c.nodes:
            c.add(f"{node.path}.parent", c.undefined(parent))
            continue
        if parent == node.name:
            c.add(f"{node.path}.parent", "a state cannot be its own parent")
            continue
        parent_type = c.type_of(parent)
        if node.kind == "state" and node.state is not None and node.state.parent is not None:
            # A top-level state that names its parent: a region or a plain state may take it.
            if parent_type == "terminal":
                c.add(f"{node.path}.parent", f"'{parent}' is terminal and cannot contain states")
            elif parent_type == "parallel" and node.state.type != "history":
                c.add(
                    f"{node.path}.parent",
                    f"'{parent}' is a parallel state: put '{node.name}' in one of its regions "
                    "(regions[].states, or parent: <region name>)",
                )
            elif parent_type == "history":
                c.add(f"{node.path}.parent", f"'{parent}' is a history state and has no children")
            elif node.nesting and node.state.parent != parent:
                c.add(
                    f"{node.path}.parent", "a state listed in a region takes the region as parent"
                )
        c.children.setdefault(parent, []).append(node)

    _check_depth(c)

    top = c.children.get(None, [])
    top_initials = [n.name for n in top if n.state is not None and n.state.type == "initial"]
    if len(top_initials) > 1:
        c.add(
            "states",
            "more than one top-level state has type 'initial': " + ", ".join(top_initials),
        )
    # With no valid state at all, the field errors already say what is wrong.
    if not top and c.nodes and not c.partial:
        c.add("states", "no top-level state (every state has a parent)")


def _depths(c: _Checker) -> dict[str, int]:
    """The level of every node (a top-level state is 1), or ``_LOOP`` when its parent chain
    runs into a cycle. Linear: each chain is walked once, up to the first node already known
    (no recursion: chains can be thousands long)."""
    nodes = c.nodes
    depth: dict[str, int] = {}
    for name, node in nodes.items():
        if name in depth:
            continue
        parent = node.parent
        if parent is None or parent not in nodes:
            depth[name] = 1  # top level, or an undefined parent (reported on its own)
            continue
        known = depth.get(parent)
        if known is not None:
            depth[name] = known + 1 if known != _LOOP else _LOOP
            continue
        chain = [name]
        on_chain = {name}
        while True:
            if parent is None or parent not in nodes:
                level = 0
                break
            if parent in depth:
                level = depth[parent]
                break
            if parent in on_chain:
                level = _LOOP
                break
            chain.append(parent)
            on_chain.add(parent)
            parent = nodes[parent].parent
        for name in reversed(chain):
            if level != _LOOP:
                level += 1
            depth[name] = level
    return depth


def _check_depth(c: _Checker) -> None:
    """Parent chains must end at the top level (a cycle would make ancestry infinite), and a
    state may not sit deeper than ``MAX_STATE_DEPTH`` levels or inside more than
    ``MAX_REGION_NESTING`` regions as written."""
    depth = c.depth = _depths(c)
    too_deep: TreeNode | None = None
    regions_too_deep: TreeNode | None = None
    for name, node in c.nodes.items():
        level = depth[name]
        if level == _LOOP:
            if node.parent != name:  # a state that is its own parent is reported above
                c.add(f"{node.path}.parent", f"parent chain of '{name}' loops")
        elif level == MAX_STATE_DEPTH + 1 and too_deep is None:
            too_deep = node
        if node.nesting > MAX_REGION_NESTING and regions_too_deep is None:
            regions_too_deep = node
    if too_deep is not None:
        c.too_deep = True
        # One problem, where the chain first passes the limit (not one per deeper state).
        where = too_deep.path + (".parent" if too_deep.state and too_deep.state.parent else "")
        c.add(
            where,
            f"'{too_deep.name}' is nested {MAX_STATE_DEPTH + 1} levels deep: a state may be "
            f"nested at most {MAX_STATE_DEPTH} levels (parents and regions count)",
        )
    if regions_too_deep is not None:
        # The first node past the limit is a region (regions come before their states).
        c.too_deep = True
        c.add(regions_too_deep.path, REGIONS_TOO_DEEP)


def _check_states(c: _Checker) -> None:
    for node in c.nodes.values():
        below = c.children.get(node.name)
        if below is None and node.region is None:
            state = node.state
            assert state is not None
            if (
                state.type == "stable" or state.type == "terminal" or state.type == "initial"
            ) and not (
                state.regions
                or state.timeout is not None
                or state.initial_child is not None
                or state.history != "shallow"
                or state.default is not None
            ):
                continue  # a plain leaf: none of the checks below can fail for it
                # (keep this condition in step with them when adding a per-state check)
        kids = [k for k in below or () if k.kind == "state"]
        real_kids = [k for k in kids if k.state is not None and k.state.type != "history"]
        typed_initial = [k.name for k in kids if k.state is not None and k.state.type == "initial"]
        if len(typed_initial) > 1:
            c.add(
                node.path,
                f"more than one child of '{node.name}' has type 'initial': "
                + ", ".join(typed_initial),
            )
        if node.kind == "region":
            region = node.region
            assert region is not None
            if region.initial is not None and not any(k.name == region.initial for k in kids):
                if region.initial in c.nodes:
                    c.add(
                        f"{node.path}.initial", f"'{region.initial}' is not in region '{node.name}'"
                    )
                elif not c.known(region.initial):
                    c.add(f"{node.path}.initial", c.undefined(region.initial))
            elif (
                region.initial is not None
                and typed_initial
                and typed_initial[0] != region.initial
                and c.type_of(region.initial) != "history"
            ):
                c.add(
                    f"{node.path}.initial",
                    f"conflicts with state '{typed_initial[0]}' of type 'initial'",
                )
            if not real_kids:
                c.add(
                    f"{node.path}.states", "a region needs at least one state that is not history"
                )
            continue
        state = node.state
        assert state is not None
        path = node.path
        if state.type == "parallel":
            if not state.regions:
                c.add(f"{path}.regions", "a parallel state needs at least one region")
            if state.initial_child is not None:
                c.add(
                    f"{path}.initial_child",
                    "a parallel state enters all its regions: drop initial_child",
                )
        elif state.regions:
            c.add(f"{path}.regions", "only a state of type 'parallel' has regions")
        if state.type == "history":
            _check_history(c, node, state)
            continue
        if state.history != "shallow" or state.default is not None:
            c.add(path, "'history' and 'default' apply only to a state of type 'history'")
        if state.type == "terminal" and state.timeout is not None:
            c.add(f"{path}.timeout", "a terminal state cannot time out")
        if state.timeout is not None and not c.known(state.timeout.destination):
            c.add(f"{path}.timeout.destination", c.undefined(state.timeout.destination))
        if state.initial_child is not None and state.type != "parallel":
            ipath = f"{path}.initial_child"
            if state.initial_child in c.partial and state.initial_child not in c.nodes:
                pass
            elif state.initial_child not in c.nodes:
                c.add(ipath, c.undefined(state.initial_child))
            elif not any(k.name == state.initial_child for k in kids):
                c.add(ipath, f"'{state.initial_child}' is not a child of '{state.name}'")
            elif c.type_of(state.initial_child) == "history":
                pass  # entered through its history; a child of type 'initial' is its fallback
            elif typed_initial and typed_initial[0] != state.initial_child:
                c.add(ipath, f"conflicts with child '{typed_initial[0]}' of type 'initial'")
        if kids and not real_kids and state.type != "parallel":
            c.add(path, f"'{state.name}' has only history children: add a real child state")


def _check_history(c: _Checker, node: TreeNode, state: StateDefinition) -> None:
    path = node.path
    parent = node.parent
    if parent is None:
        c.add(f"{path}.parent", "a history state needs the compound state it remembers as parent")
        return
    if state.on_enter or state.on_exit or state.timeout is not None or state.initial_child:
        c.add(path, "a history state is a pseudo-state: no on_enter, on_exit, timeout or children")
    if state.default is not None:
        if not c.known(state.default):
            c.add(f"{path}.default", c.undefined(state.default))
        elif state.default in c.nodes and (
            state.default == parent or not c.is_self_or_descendant(state.default, parent)
        ):
            c.add(f"{path}.default", f"'{state.default}' is not inside '{parent}'")
        elif state.default in c.nodes and c.type_of(state.default) == "history":
            c.add(
                f"{path}.default",
                f"'{state.default}' is a history state: a default names a real state to enter",
            )


def _check_transition(c: _Checker, base: str, t: TransitionDefinition) -> None:
    if t.auto and (t.trigger is not None or t.after is not None):
        c.add(base, "an 'auto' transition has no trigger and no 'after'")
    elif not t.auto and t.trigger is None and t.after is None:
        c.add(base, "a transition needs a 'trigger', an 'after' delay or 'auto: true'")
    if t.after is not None:
        from pystator.models.definition import duration_ms

        try:
            duration_ms(t.after)
        except ValueError as exc:
            c.add(f"{base}.after", str(exc))
    if t.source == "*":
        if t.after is not None:
            c.add(f"{base}.source", "a delayed transition needs explicit source states, not '*'")
    else:
        sources = t.sources
        for s_index, source in enumerate(sources):
            path = f"{base}.source" if isinstance(t.source, str) else f"{base}.source[{s_index}]"
            if source in c.partial and source not in c.nodes:
                continue
            if source not in c.nodes:
                c.add(path, c.undefined(source))
                continue
            kind = c.type_of(source)
            if kind == "terminal":
                c.add(path, f"'{source}' is terminal: no transition can leave it")
            elif kind == "history":
                c.add(path, f"'{source}' is a history pseudo-state and cannot be a source")
        if len(set(sources)) != len(sources):
            c.add(f"{base}.source", "lists the same state twice")
    if t.trigger is not None and t.trigger.startswith("done.state."):
        done_of = t.trigger.removeprefix("done.state.")
        if done_of not in c.nodes:
            if not c.known(done_of):
                c.add(
                    f"{base}.trigger",
                    f"done event of an undefined state{suggest(done_of, c.nodes)}",
                )
        elif c.type_of(done_of) not in {"parallel", "region"} and not any(
            k.kind == "state" for k in c.children.get(done_of, [])
        ):
            c.add(
                f"{base}.trigger",
                f"'{done_of}' has no children, so it never completes: done events belong to "
                "compound and parallel states",
            )
    if t.region is not None:
        _check_region(c, base, t, t.region)
    dest = t.dest
    if dest is None:
        return
    if dest in c.partial and dest not in c.nodes:
        return
    if dest not in c.nodes:
        c.add(f"{base}.dest", c.undefined(dest))
        return
    if t.internal and t.source == "*":
        c.add(
            f"{base}.internal",
            "an internal transition from '*' cannot have a dest (it would leave most of its "
            "sources); drop dest to run only the actions",
        )
    elif t.internal:
        for source in t.sources:
            if source in c.nodes and not c.is_self_or_descendant(dest, source):
                c.add(
                    f"{base}.internal",
                    f"an internal transition must stay inside its source: '{dest}' is not "
                    f"'{source}' or one of its descendants",
                )
                break


def _check_region(c: _Checker, base: str, t: TransitionDefinition, region: str) -> None:
    """``region:`` (0.0.x) must name a region that holds every source of the transition."""
    path = f"{base}.region"
    node = c.nodes.get(region)
    if node is None:
        regions = [n for n, x in c.nodes.items() if x.kind == "region"]
        c.add(path, f"region '{region}' is not defined{suggest(region, regions)}")
        return
    if node.kind != "region":
        c.add(path, f"'{region}' is a state, not a region")
        return
    if t.source == "*":
        c.add(path, "a transition from '*' has no single region: list its source states")
        return
    for source in t.sources:
        if source in c.nodes and not c.is_self_or_descendant(source, region):
            c.add(path, f"source '{source}' is not in region '{region}' ({_region_of(c, source)})")
            return


def _region_of(c: _Checker, name: str) -> str:
    """Where a state sits, for a message: ``"it is in region 'R'"`` or ``"it is in no
    region"`` (walks up once; only error messages need it)."""
    seen: set[str] = set()
    current = c.nodes[name].parent
    while current is not None and current in c.nodes and current not in seen:
        if c.nodes[current].kind == "region":
            return f"it is in region '{current}'"
        seen.add(current)
        current = c.nodes[current].parent
    return "it is in no region"


def check_definition(definition: MachineDefinition) -> None:
    """Raise ``ConfigurationError`` listing every cross-reference problem, if there is any."""
    issues = collect_issues(definition.states, definition.transitions, meta=definition.meta)
    if definition.context is not None:
        names = {n.name for n in flatten(definition.states)}
        for state in definition.context.required_in_states:
            if state not in names:
                issues.append(
                    ConfigIssue(
                        f"context.required_in_states.{state}",
                        f"state '{state}' is not defined{suggest(state, names)}",
                    )
                )
    if definition.events:
        triggers = {t.trigger for t in definition.transitions if t.trigger is not None}
        for trigger in definition.events:
            if trigger not in triggers:
                issues.append(
                    ConfigIssue(
                        f"events.{trigger}",
                        f"trigger '{trigger}' is not used by any transition"
                        f"{suggest(trigger, sorted(triggers))}",
                    )
                )
    if issues:
        raise ConfigurationError(issues)
