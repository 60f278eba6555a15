"""Checks of each transition against the tree, and of the internal events that actions raise.

``check_transitions`` lets most transitions through with a few set lookups (one ordinary
state to another on a named trigger): loading a large machine is a benchmark row (row 4), and
those are nearly all of its transitions. The others get one phase per part of a transition:
what starts it (trigger, ``after`` or ``auto``), its sources, a ``done.state.X`` trigger,
``region:`` (0.0.x) and its destination. ``check_raises`` runs last: every ``{raise: EVENT}``
must name an event some transition takes (SCXML 4.2 ``<raise>``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pystator.models.checker import Checker, suggest

if TYPE_CHECKING:
    from pystator.models.definition import TransitionDefinition


def check_transitions(c: Checker, transition_list: Sequence[TransitionDefinition | None]) -> None:
    """Report the problems of every transition, in document order (``None``: an item that
    failed field validation, reported elsewhere)."""
    # Most transitions go from one ordinary state to another: check those with two set
    # lookups and give the rest (lists, "*", internal, delays, done events) the full check.
    plain = _plain_sources(c)
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


def _plain_sources(c: Checker) -> set[str]:
    """Names a transition may leave with no further check: every node but terminal and
    history states."""
    return {
        name
        for name, node in c.nodes.items()
        if node.state is None or node.state.type not in {"terminal", "history"}
    }


def _check_transition(c: Checker, base: str, t: TransitionDefinition) -> None:
    """Every check of one transition (not a plain one); ``base`` is its path."""
    _check_start(c, base, t)
    _check_sources(c, base, t)
    if t.trigger is not None and t.trigger.startswith("done.state."):
        _check_done_event(c, base, t.trigger.removeprefix("done.state."))
    if t.region is not None:
        _check_region(c, base, t, t.region)
    if t.dest is not None:
        _check_dest(c, base, t, t.dest)


def _check_start(c: Checker, base: str, t: TransitionDefinition) -> None:
    """What starts the transition: a trigger, an ``after`` delay (a valid duration), or
    ``auto`` alone (an eventless transition, SCXML 3.5)."""
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


def _check_sources(c: Checker, base: str, t: TransitionDefinition) -> None:
    """Each source is a defined state that can be left (not terminal, not history), listed
    once; ``"*"`` takes no delay (a timer needs its states)."""
    if t.source == "*":
        if t.after is not None:
            c.add(f"{base}.source", "a delayed transition needs explicit source states, not '*'")
        return
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


def _check_done_event(c: Checker, base: str, done_of: str) -> None:
    """``done.state.X`` names a state that completes: a compound or parallel state, or a
    region (SCXML 3.7, ``done.state.id``)."""
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


def _check_region(c: Checker, base: str, t: TransitionDefinition, region: str) -> None:
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


def _region_of(c: Checker, name: str) -> str:
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


def _check_dest(c: Checker, base: str, t: TransitionDefinition, dest: str) -> None:
    """The destination is defined, and an internal transition stays inside its source
    (SCXML 3.5, ``type="internal"``): from ``"*"`` it may have no destination at all."""
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


def check_raises(c: Checker, transition_list: Sequence[TransitionDefinition | None]) -> None:
    """Every ``{raise: EVENT}`` names the trigger of some transition (not a delayed one): an
    internal event no transition takes would be dropped without a trace."""
    raised = _raised_events(c, transition_list)
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


def _raised_events(
    c: Checker, transition_list: Sequence[TransitionDefinition | None]
) -> list[tuple[str, str]]:
    """(path, event) of every ``raise`` action, transitions first, then states' ``on_enter``
    and ``on_exit``, in document order."""
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
    return raised
