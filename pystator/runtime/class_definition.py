"""Turn the attributes of a ``Machine`` class into its ``MachineDefinition``.

The definition is the one YAML would give: states in the order written (a region's states
inside the region, as ``regions[].states``), transitions in the order written (a group made
with ``|`` in its order). Every problem is a ``ConfigurationError`` whose paths name the class
and the attribute (``Order.fill``), including the problems the definition's own checks find.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from pystator.errors import ConfigIssue, ConfigurationError
from pystator.models.context import ContextSpec, EventSpec
from pystator.models.definition import (
    MachineDefinition,
    MachineMeta,
    RegionDefinition,
    StateDefinition,
    TimeoutSpec,
    TransitionDefinition,
)
from pystator.runtime.class_parts import (
    Delayed,
    Eventless,
    History,
    OnDone,
    Region,
    Rule,
    State,
    TransitionGroup,
)


@dataclass(frozen=True, slots=True)
class BuiltDefinition:
    """A class's definition, its payload models and which attribute wrote each transition."""

    definition: MachineDefinition
    event_models: dict[str, type[BaseModel]]
    transition_owners: tuple[str, ...]


class _Builder:
    def __init__(self, cls: type, members: Mapping[str, Any]) -> None:
        self.cls = cls.__name__
        self.mro = cls.__mro__
        self.issues: list[ConfigIssue] = []
        self.states = {k: v for k, v in members.items() if isinstance(v, State)}
        self.regions = {k: v for k, v in members.items() if isinstance(v, Region)}
        self.groups = {k: v for k, v in members.items() if isinstance(v, TransitionGroup)}
        self.state_ids = {id(s) for s in self.states.values()}
        self.region_ids = {id(r) for r in self.regions.values()}
        # Set by the container's fields: initial children that cannot say so by their type.
        self.initial_child: dict[str, str] = {}
        self.region_initial: dict[str, str] = {}
        self.top_initial: str | None = None

    def add(self, attribute: str, message: str) -> None:
        self.issues.append(ConfigIssue(f"{self.cls}.{attribute}", message))

    def fail_if_any(self) -> None:
        if self.issues:
            raise ConfigurationError(self.issues, source=f"class {self.cls}")

    def known(self, attribute: str, part: object, what: str) -> str | None:
        """The name of ``part`` if it is a state (or region) of this class."""
        ids = self.region_ids if isinstance(part, Region) else self.state_ids
        if isinstance(part, State | Region) and id(part) in ids and part.name is not None:
            return part.name
        label = part.label() if isinstance(part, State | Region) else repr(part)
        self.add(attribute, f"{what} {label} is not a state of {self.cls}")
        return None

    # ------------------------------------------------------------------ names and nesting
    def check_parts(self) -> None:
        """Collect the problems of the class's parts; raise at once when a part belongs to
        another class or has several attribute names, before the checks that name parts."""
        self.check_ownership()
        self.fail_if_any()
        self.check_regions()
        self.check_state_flags()
        self.check_initials()

    def check_ownership(self) -> None:
        """Each part is declared in this class (or a base) and assigned to one attribute."""
        for group in (self.states, self.regions, self.groups):
            for key, part in group.items():
                owner = part.owner
                if owner is not None and owner not in self.mro:
                    where = f"{owner.__name__}.{part.name}"
                    self.add(key, f"is {where}, declared in another class: declare a new one")
                elif part.name == key and part.aliases:
                    names = ", ".join([key, *part.aliases])
                    self.add(key, f"one object is assigned to several attributes: {names}")

    def check_regions(self) -> None:
        """Each region belongs to a parallel state of this class."""
        for key, region in self.regions.items():
            parallel = self.known(key, region.state, "the parallel state")
            if parallel is not None and not region.state.parallel:
                self.add(key, f"Region({parallel}): {parallel} is not a State(parallel=True)")

    def check_state_flags(self) -> None:
        """Each state's parent and history default are states of this class, and its flags
        agree with each other."""
        for key, state in self.states.items():
            if state.parent is not None:
                self.known(key, state.parent, "parent")
            if state.initial and state.terminal:
                self.add(key, "a state cannot be both initial and terminal")
            if state.parallel and (state.terminal or isinstance(state, History)):
                self.add(key, "a parallel state cannot be terminal or history")
            if isinstance(state, History) and state.default is not None:
                self.known(key, state.default, "default")

    def check_initials(self) -> None:
        initials: dict[str, list[str]] = {}
        for key, state in self.states.items():
            if state.initial:
                parent = state.parent
                where = parent.label() if parent is not None else "the machine"
                initials.setdefault(where, []).append(key)
        for where, keys in initials.items():
            if len(keys) > 1:
                self.add(
                    keys[1],
                    f"two initial states of {where}: {', '.join(keys)} (mark one initial=True)",
                )

    # ------------------------------------------------------------------ states
    def container_initials(self) -> None:
        """Initial states whose type cannot say so (parallel, history): the container's field."""
        for key, state in self.states.items():
            if not state.initial or not (state.parallel or isinstance(state, History)):
                continue
            parent = state.parent
            if parent is None:
                self.top_initial = key
            elif isinstance(parent, Region):
                self.region_initial[parent.label()] = key
            else:
                self.initial_child[parent.label()] = key

    def state_type(self, state: State) -> str:
        if isinstance(state, History):
            return "history"
        if state.parallel:
            return "parallel"
        if state.terminal:
            return "terminal"
        return "initial" if state.initial else "stable"

    def state_fields(self, key: str, state: State, nested: bool) -> dict[str, Any]:
        """The ``StateDefinition`` fields of ``state``, those at their default left out."""
        fields: dict[str, Any] = {"name": key}
        self.add_placement(fields, key, state, nested)
        self.add_content(fields, key, state)
        if isinstance(state, History):
            if state.deep:
                fields["history"] = "deep"
            if state.default is not None:
                fields["default"] = state.default.label()
        if state.parallel:
            fields["regions"] = self.regions_of(state)
        return fields

    def add_placement(self, fields: dict[str, Any], key: str, state: State, nested: bool) -> None:
        """Its type, its parent (unless it is written inside its region) and initial child."""
        kind = self.state_type(state)
        if kind != "stable":
            fields["type"] = kind
        if state.parent is not None and not nested:
            fields["parent"] = state.parent.label()
        initial_child = self.initial_child.get(key, state.initial_child)
        if initial_child is not None:
            fields["initial_child"] = initial_child

    def add_content(self, fields: dict[str, Any], key: str, state: State) -> None:
        """Its actions, description, metadata and timeout."""
        for name in ("on_enter", "on_exit", "description"):
            value = getattr(state, name)
            if value:
                fields[name] = value
        if state.metadata:
            fields["metadata"] = state.metadata
        if state.timeout is not None:
            fields["timeout"] = self.timeout(key, state.timeout)

    def regions_of(self, state: State) -> tuple[RegionDefinition, ...]:
        """The regions of the parallel ``state``, in the order written; broken ones left out."""
        regions = [
            self.region(rkey, region)
            for rkey, region in self.regions.items()
            if region.state is state
        ]
        return tuple(r for r in regions if r is not None)

    def timeout(self, key: str, timeout: Any) -> Any:
        if isinstance(timeout, TimeoutSpec):
            return timeout
        if isinstance(timeout, tuple) and len(timeout) == 2:
            seconds, dest = timeout
            if isinstance(dest, State):
                dest = self.known(key, dest, "timeout destination") or dest.label()
            return {"seconds": seconds, "destination": dest}
        self.add(key, "timeout must be (seconds, destination) or a TimeoutSpec")
        return None

    def state(self, key: str, state: State, nested: bool = False) -> StateDefinition | None:
        try:
            return StateDefinition(**self.state_fields(key, state, nested))
        except ValidationError as exc:
            for problem in _problems(exc):
                self.add(key, problem)
            return None

    def region(self, key: str, region: Region) -> RegionDefinition | None:
        entries: list[str | StateDefinition] = []
        for skey, state in self.states.items():
            if state.parent is region:
                built = self.state(skey, state, nested=True)
                if built is not None:
                    entries.append(skey if built == StateDefinition(name=skey) else built)
        if not entries:
            self.add(key, f"region '{key}' has no states: add State(parent={key})")
            return None
        fields: dict[str, Any] = {"name": key, "states": tuple(entries)}
        if key in self.region_initial:
            fields["initial"] = self.region_initial[key]
        if region.description:
            fields["description"] = region.description
        try:
            return RegionDefinition(**fields)
        except ValidationError as exc:
            for problem in _problems(exc):
                self.add(key, problem)
            return None

    def top_states(self) -> list[tuple[str, StateDefinition | None]]:
        return [
            (key, self.state(key, state))
            for key, state in self.states.items()
            if not isinstance(state.parent, Region)
        ]

    # ------------------------------------------------------------------ transitions
    def transitions(self) -> list[tuple[str, TransitionDefinition | None]]:
        out: list[tuple[str, TransitionDefinition | None]] = []
        for key, group in self.groups.items():
            for rule in group.rules:
                out.append((key, self.transition(key, group, rule)))
        return out

    def transition(
        self, key: str, group: TransitionGroup, rule: Rule
    ) -> TransitionDefinition | None:
        fields: dict[str, Any] = {}
        self.add_event(fields, key, group, rule)
        self.add_endpoints(fields, key, rule)
        for name in ("guards", "actions"):
            value = tuple(getattr(rule, name))
            if value:
                fields[name] = value
        if rule.assign:
            fields["assign"] = dict(rule.assign)
        for name, default in (("priority", 0), ("internal", False), ("description", None)):
            value = getattr(rule, name)
            if value != default:
                fields[name] = value
        try:
            return TransitionDefinition(**fields)
        except ValidationError as exc:
            for problem in _problems(exc):
                self.add(key, problem)
            return None

    def add_event(
        self, fields: dict[str, Any], key: str, group: TransitionGroup, rule: Rule
    ) -> None:
        """What fires the rule: eventless, ``done.state.<state>``, or the attribute's name as
        its trigger (with a delay for ``Delayed``)."""
        if isinstance(group, Eventless):
            fields["auto"] = True
        elif isinstance(group, OnDone):
            assert rule.done_of is not None
            fields["trigger"] = f"done.state.{self.known(key, rule.done_of, 'done state')}"
        else:
            fields["trigger"] = key
        if isinstance(group, Delayed):
            fields["after"] = rule.after

    def add_endpoints(self, fields: dict[str, Any], key: str, rule: Rule) -> None:
        """Its source (states by name, or ``"*"``) and its target."""
        source = rule.source
        if isinstance(source, tuple):
            fields["source"] = tuple(self.known(key, s, "source") or "?" for s in source)
        elif isinstance(source, State):
            fields["source"] = self.known(key, source, "source") or "?"
        else:
            fields["source"] = source
        if rule.dest is not None:
            fields["dest"] = self.known(key, rule.dest, "target")

    def events(self) -> tuple[dict[str, EventSpec], dict[str, type[BaseModel]]]:
        specs: dict[str, EventSpec] = {}
        models: dict[str, type[BaseModel]] = {}
        seen: dict[str, Any] = {}
        for key, group in self.groups.items():
            for rule in group.rules:
                event = rule.event
                if event is None:
                    continue
                if key in seen and seen[key] is not event and seen[key] != event:
                    self.add(key, f"trigger '{key}' is given two different event payloads")
                    continue
                seen[key] = event
                if isinstance(event, EventSpec):
                    specs[key] = event
                elif isinstance(event, type) and issubclass(event, BaseModel):
                    models[key] = event
                else:
                    self.add(key, "event must be a Pydantic model class or an EventSpec")
        return specs, models


def _problems(exc: ValidationError) -> list[str]:
    return [
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" if e["loc"] else e["msg"]
        for e in exc.errors(include_url=False)
    ]


_PATH = re.compile(r"^(states|transitions)\[(\d+)\](.*)$")


def _renamed(
    issues: list[ConfigIssue], cls: str, states: list[str], transitions: list[str]
) -> list[ConfigIssue]:
    """The definition's own problems, with ``states[i]``/``transitions[i]`` paths replaced by
    the class attribute that wrote them."""
    out: list[ConfigIssue] = []
    for issue in issues:
        match = _PATH.match(issue.path)
        path = f"{cls}.{issue.path}" if issue.path else cls
        if match is not None:
            owners = states if match.group(1) == "states" else transitions
            index = int(match.group(2))
            if index < len(owners):
                path = f"{cls}.{owners[index]}{match.group(3)}"
        out.append(ConfigIssue(path, issue.message))
    return out


def build_definition(
    cls: type,
    members: Mapping[str, Any],
    meta: Mapping[str, Any],
    context: ContextSpec | None,
) -> BuiltDefinition:
    """The ``MachineDefinition`` of a class's states, regions and transition groups.

    Raises ``ConfigurationError`` with every problem, each path naming the attribute.
    """
    class_name = cls.__name__
    b = _Builder(cls, members)
    b.check_parts()
    b.fail_if_any()
    b.container_initials()
    states = b.top_states()
    transitions = b.transitions()
    specs, models = b.events()
    b.fail_if_any()
    meta_fields = {**meta, **({"initial": b.top_initial} if b.top_initial else {})}
    fields: dict[str, Any] = {
        "states": tuple(s for _, s in states),
        "transitions": tuple(t for _, t in transitions),
    }
    if context is not None:
        fields["context"] = context
    if specs:
        fields["events"] = specs
    owners = [k for k, _ in transitions]
    try:
        definition = MachineDefinition(meta=MachineMeta(**meta_fields), **fields)
    except ConfigurationError as exc:
        raise ConfigurationError(
            _renamed(exc.issues, class_name, [k for k, _ in states], owners),
            source=f"class {class_name}",
        ) from None
    except ValidationError as exc:
        raise ConfigurationError(
            [ConfigIssue(class_name, p) for p in _problems(exc)], source=f"class {class_name}"
        ) from None
    return BuiltDefinition(definition, models, tuple(owners))
