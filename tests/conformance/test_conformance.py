"""Statechart conformance: cases stored as data, run by this one harness.

Every file in ``cases/`` holds one case (or ``cases: [...]``, a few). A case is a machine
``definition`` in the project's own format, the outcome of each named guard, and a ``script``
of events with what must happen after each one::

    name: hierarchy_exit_order          # defaults to the file name
    category: hierarchy                 # one of CATEGORIES
    description: why this case exists
    reference: W3C SCXML category it is modelled on (optional)
    skip: reason / xfail: reason        # optional, for cases the engine cannot run yet
    definition: {meta: ..., states: ..., transitions: ...}
    guards:                             # every named guard of the definition, nothing else
      always: true                      # a fixed outcome
      big: {key: amount, op: ">=", value: 100}   # a rule on the context
      at_least: {key: amount, op: ">=", param: min}  # compared with the guard's params
      ghost: unregistered               # not registered at all
    context: {amount: 0}                # the entity's initial context (optional)
    start: SOME_STATE                   # start here instead of the initial state (optional)
    history: {H: [A]}                   # place the entity with this history memory (optional)
    expect_initial: SOME_LEAF           # machine.get_initial_state() (optional)
    expect_start: {success: true, state: ..., entered: [...], timers_to_arm: [...]}  # optional
    script:
      - event: go                       # an event ...
        entity: main                    # which entity (default main; each starts alike)
        context: {amount: 5}            # payload: merged into the context if a transition fires
        note: free text
        expect:
          success: true                 # or ``raises: ErrorName`` for a programming error
          state: B                      # the configuration after the step (unchanged on failure)
          reason: guard_rejected        # metadata["reason"]; omitted means absent
          error: GuardRejectedError     # class name of result.error; omitted means None
          guard_name: big
          trigger: go                   # optional: result.trigger
          exited: [A]                   # optional: exited_states, innermost first
          entered: [B]                  # optional: entered_states, outermost first
          actions: [a, {name: b, params: {k: 1}}]   # all_actions with params; omitted = []
          exit_actions: [...]           # optional: each bucket on its own
          transition_actions: [...]
          enter_actions: [...]
          guards_called: [big]          # optional: named guards evaluated, in order
          configuration: [P, B]         # optional: every active state (order ignored)
          context: {amount: 5}          # optional: the entity's whole context after the step
          history: {H: [A]}             # optional: the entity's history memory after the step
          timers_to_arm: [B:after:3, {key: B:timeout, delay_ms: 5000, trigger: "timeout:B"}]
          timers_to_cancel: [A:timeout] # optional: keys, innermost state first
          pending: [B:after:3]          # optional: keys of the entity's armed timers (any order)
      - timer: "B:after:3"              # ... or a timer, by key

States are written as configurations: a leaf name outside parallel states, else the canonical
string (``P(r1=A, r2=Q(x=B, y=C))``: every region, in document order, down to its active leaf
or nested parallel state). ``configuration``, ``exited`` and ``entered`` name regions too (a
region is a state of the tree, as a ``<state>`` child of SCXML's ``<parallel>``).

How an entity begins: normally it is *entered*: ``machine.start(context, initial_state=start)``
(default entry, eventless and done transitions, timers armed; ``expect_start`` checks that
result) and ``machine.create(..., clock=ManualClock())`` for a session. With ``history`` given,
or a configuration string as ``start``, it is *placed* there instead (no entry, no timer
armed): the stateless run starts from that configuration and memory, the session is restored
with ``EntitySession.from_snapshot``.

Timers: the stateless run calls ``machine.fire_timer(state, key, context, history=...)`` and
tracks the armed keys itself (a fired timer is consumed; then ``timers_to_cancel`` are removed
and ``timers_to_arm`` added). A session moves its ``ManualClock`` to the timer's due time and
calls ``fire_due_timers()``, which must fire exactly that timer; when the session has no armed
timer with that key it calls ``fire_timer("<key>@stale")``, which must fail as stale.

Each case runs through three loaders: the definition dumped to YAML and read with
``StateMachine.from_yaml``, dumped to JSON and read with ``from_json``, and built from
``MachineDefinition`` / ``StateDefinition`` / ``TransitionDefinition`` (and their parts)
constructed in Python and wrapped with ``from_definition``. Each loader runs the script
through ``machine.process`` / ``fire_timer`` and through an ``EntitySession``; the ``agree``
test checks that all six runs give identical results, states, contexts, guard calls, history
memories and armed timers at every step (a failed timer step of a session is compared by its
success, reason and error type: its message names the session's timer id).
"""

from __future__ import annotations

import copy
import json
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

import pystator
from pystator import (
    ActionSpec,
    EntitySession,
    FSMError,
    GuardSpec,
    MachineDefinition,
    MachineMeta,
    RegionDefinition,
    StateDefinition,
    StateMachine,
    TimeoutSpec,
    TransitionDefinition,
    TransitionResult,
)
from pystator.runtime.clock import ManualClock

CASES_DIR = Path(__file__).parent / "cases"

CATEGORIES = frozenset(
    {
        # modelled on the classic W3C SCXML conformance categories
        "basic",
        "hierarchy",
        "document_order",
        "hierarchy_document_order",
        "internal_transitions",
        "targetless_transitions",
        # PyStator rules from SPEC.md section 5 and the outcome table of section 3
        "priority",
        "self_transitions",
        "wildcard",
        "guards",
        "terminal",
        "strict_lenient",
        "actions",
        # statechart features (issue 3)
        "parallel",
        "parallel_interrupts",
        "history",
        "eventless_transitions",
        "done_events",
        "timers",
    }
)

MIN_CASES = 90

LOADERS = ("yaml", "json", "models")


# ----------------------------------------------------------------------------- case format
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GuardRule(_Strict):
    """``{key, op, value}`` or ``{key, op, param}``: compares ``context[key]`` (a missing key
    makes the guard fail) with a literal or with one of the guard's ``params``."""

    key: str = Field(min_length=1)
    op: Literal["==", "!=", "<", "<=", ">", ">=", "in", "not_in", "truthy", "falsy"]
    value: Any = None
    param: str | None = None

    @model_validator(mode="after")
    def _operand(self) -> GuardRule:
        unary = self.op in ("truthy", "falsy")
        has_value = "value" in self.model_fields_set
        if unary and (has_value or self.param is not None):
            raise ValueError(f"op '{self.op}' takes neither 'value' nor 'param'")
        if not unary and has_value == (self.param is not None):
            raise ValueError(f"op '{self.op}' needs exactly one of 'value' or 'param'")
        return self


GuardOutcome = bool | Literal["unregistered"] | GuardRule


class ActionExpectation(_Strict):
    name: str
    params: dict[str, Any] = Field(default_factory=dict)


ActionList = list[str | ActionExpectation]


class TimerExpectation(_Strict):
    """A timer to arm: its key and, optionally, its delay and the trigger it sends."""

    key: str = Field(min_length=1)
    delay_ms: int | None = None
    trigger: str | None = None


class Expectation(_Strict):
    success: bool | None = None
    raises: str | None = None
    state: str
    reason: str | None = None
    error: str | None = None
    guard_name: str | None = None
    trigger: str | None = None
    exited: list[str] | None = None
    entered: list[str] | None = None
    actions: ActionList = Field(default_factory=list)
    exit_actions: ActionList | None = None
    transition_actions: ActionList | None = None
    enter_actions: ActionList | None = None
    guards_called: list[str] | None = None
    configuration: list[str] | None = None
    context: dict[str, Any] | None = None
    history: dict[str, list[str]] | None = None
    timers_to_arm: list[str | TimerExpectation] | None = None
    timers_to_cancel: list[str] | None = None
    pending: list[str] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Expectation:
        if (self.success is None) == (self.raises is None):
            raise ValueError("give exactly one of 'success' or 'raises'")
        if self.success is not True:
            moves = [
                k
                for k in (
                    "exited",
                    "entered",
                    "exit_actions",
                    "transition_actions",
                    "enter_actions",
                    "timers_to_arm",
                    "timers_to_cancel",
                )
                if getattr(self, k)
            ]
            if self.actions or moves:
                raise ValueError(
                    "a failed step runs no action and moves nowhere: drop "
                    + ", ".join(["actions"] * bool(self.actions) + moves)
                )
        if self.success is False and self.error is None:
            raise ValueError("a failed step must name its 'error'")
        if self.error is not None and self.success is not False:
            raise ValueError("'error' only applies to a failed step (success: false)")
        return self


class Step(_Strict):
    event: str | None = Field(default=None, min_length=1)
    timer: str | None = Field(default=None, min_length=1)
    entity: str = Field(default="main", pattern=r"^[a-z][a-z0-9_]*$")
    context: dict[str, Any] = Field(default_factory=dict)
    note: str | None = None
    expect: Expectation

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        if (self.event is None) == (self.timer is None):
            raise ValueError("give exactly one of 'event' or 'timer'")
        if self.timer is not None and self.context:
            raise ValueError("a timer step takes no 'context' (a timer carries no payload)")
        if self.timer is not None and self.expect.success is False and self.expect.trigger:
            raise ValueError("a failed timer step has no 'trigger' to check")
        return self

    @property
    def label(self) -> str:
        return self.event if self.event is not None else f"timer {self.timer}"


class Case(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    category: str
    description: str = Field(min_length=10)
    reference: str | None = None
    skip: str | None = None
    xfail: str | None = None
    definition: dict[str, Any]
    guards: dict[str, GuardOutcome] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
    start: str | None = None
    history: dict[str, list[str]] | None = None
    expect_initial: str | None = None
    expect_start: Expectation | None = None
    script: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _flags(self) -> Case:
        if self.category not in CATEGORIES:
            raise ValueError(
                f"unknown category '{self.category}'; use one of {', '.join(sorted(CATEGORIES))}"
            )
        if self.skip is not None and self.xfail is not None:
            raise ValueError("give at most one of 'skip' and 'xfail'")
        if self.expect_start is not None:
            if self.placed:
                raise ValueError(
                    "'expect_start' checks an entered start: drop it, or 'history' and a "
                    "configuration 'start' (which place the entity without entering)"
                )
            if self.expect_start.success is not True:
                raise ValueError("'expect_start' must describe a successful start")
        return self

    @property
    def placed(self) -> bool:
        """The entity is placed (not entered): history given, or a configuration start."""
        return self.history is not None or (self.start is not None and "(" in self.start)


class CaseError(Exception):
    """A case file that is not a valid case: the message says where and why."""


class _NoDuplicatesLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing duplicate keys (a silent overwrite hides a typo)."""


def _mapping_without_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_NoDuplicatesLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates
)


def _format_validation(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "(case)"
        lines.append(f"  {where}: {error['msg']}")
    return "\n".join(lines)


def _all_states(definition: MachineDefinition) -> list[StateDefinition]:
    """Every state of a definition, those written inside regions included."""
    out: list[StateDefinition] = []

    def visit(state: StateDefinition) -> None:
        out.append(state)
        for region in state.regions:
            for item in region.states:
                if isinstance(item, StateDefinition):
                    visit(item)

    for state in definition.states:
        visit(state)
    return out


def _names_in(definition: MachineDefinition) -> tuple[set[str], set[str]]:
    """(guard names, action names) referenced by a definition."""
    guards: set[str] = set()
    actions: set[str] = set()
    for state in _all_states(definition):
        for ref in (*state.on_enter, *state.on_exit):
            actions.add(ref if isinstance(ref, str) else ref.name)
    for t in definition.transitions:
        for g in t.guards:
            if isinstance(g, str):
                guards.add(g)
            elif g.name is not None:
                guards.add(g.name)
        for a in t.actions:
            actions.add(a if isinstance(a, str) else a.name)
    return guards, actions


# ----------------------------------------------------------------------------- the state tree
@dataclass
class Tree:
    """The harness's own reading of a raw definition: the tree of states and regions.

    Independent of the engine, so that configurations in cases are checked against the
    definition and not against what the engine happens to produce.
    """

    parent: dict[str, str | None]
    kind: dict[str, str]
    """``atomic``, ``compound``, ``parallel``, ``region`` or ``history``."""
    children: dict[str | None, list[str]]
    """Real children (history pseudo-states excluded), in document order."""
    timer_keys: set[str]

    def ancestors(self, name: str) -> list[str]:
        out: list[str] = []
        current = self.parent[name]
        while current is not None:
            out.append(current)
            current = self.parent[current]
        return out


def tree_of(definition: Mapping[str, Any]) -> Tree:
    parent: dict[str, str | None] = {}
    raw_of: dict[str, Mapping[str, Any]] = {}
    regions: set[str] = set()
    order: list[str] = []

    def add_state(raw: Any, region: str | None) -> None:
        raw = {"name": raw} if isinstance(raw, str) else raw
        name = raw["name"]
        parent[name] = region if region is not None else raw.get("parent")
        raw_of[name] = raw
        order.append(name)
        for reg in raw.get("regions", ()):
            parent[reg["name"]] = name
            regions.add(reg["name"])
            order.append(reg["name"])
            for item in reg["states"]:
                add_state(item, reg["name"])

    for raw in definition["states"]:
        add_state(raw, None)
    listed: dict[str | None, list[str]] = {}
    for name in order:
        listed.setdefault(parent[name], []).append(name)
    # Document order is the tree's pre-order: parents before children, siblings as written.
    kind: dict[str, str] = {}
    for name in order:
        raw = raw_of.get(name, {})
        if name in regions:
            kind[name] = "region"
        elif raw.get("type") == "parallel":
            kind[name] = "parallel"
        elif raw.get("type") == "history":
            kind[name] = "history"
        else:
            kind[name] = "compound" if listed.get(name) else "atomic"
    children = {k: [c for c in v if kind[c] != "history"] for k, v in listed.items()}
    timer_keys = {f"{name}:timeout" for name, raw in raw_of.items() if raw.get("timeout")}
    for i, t in enumerate(definition.get("transitions", ())):
        if t.get("after") is not None:
            sources = [t["source"]] if isinstance(t["source"], str) else t["source"]
            timer_keys.update(f"{source}:after:{i}" for source in sources)
    return Tree(parent, kind, children, timer_keys)


_CONFIG_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9_]*|[(),=]|\S")


def parse_configuration(tree: Tree, text: str) -> set[str]:
    """The active states of configuration ``text``; ``ValueError`` if it is not legal and
    canonical (every region once, in document order, down to an atomic or parallel state;
    ``", "`` between regions)."""
    tokens = _CONFIG_TOKEN.findall(text)
    pos = 0
    active: set[str] = set()

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise ValueError(f"'{text}' ends too early")
        pos += 1
        return tokens[pos - 1]

    def within(container: str | None) -> str:
        name = take()
        if name not in tree.kind:
            raise ValueError(f"'{name}' is not a state of the definition")
        kind = tree.kind[name]
        if kind in ("region", "history", "compound"):
            raise ValueError(f"'{name}' is a {kind}; a configuration names leaves")
        ancestors = tree.ancestors(name)
        if container is not None and container not in ancestors:
            raise ValueError(f"'{name}' is not inside '{container}'")
        path = ancestors[: ancestors.index(container)] if container is not None else ancestors
        if any(tree.kind[a] == "parallel" for a in path):
            raise ValueError(f"'{name}' is inside a parallel state: write that one's regions")
        active.add(name)
        active.update(path)
        if kind != "parallel":
            return name
        if take() != "(":
            raise ValueError(f"'{name}' is parallel: write {name}(region=..., ...)")
        parts = []
        for i, region in enumerate(tree.children[name]):
            if i and take() != ",":
                raise ValueError(f"expected ',' before region '{region}'")
            if take() != region or take() != "=":
                raise ValueError(f"expected '{region}=' (regions of '{name}' in document order)")
            active.add(region)
            parts.append(f"{region}={within(region)}")
        if take() != ")":
            raise ValueError(f"expected ')' after the regions of '{name}'")
        return f"{name}({', '.join(parts)})"

    canonical = within(None)
    if pos != len(tokens):
        raise ValueError(f"unexpected text after '{canonical}'")
    if canonical != text:
        raise ValueError(f"'{text}' is not canonical: write '{canonical}'")
    return active


def _check_case(case: Case) -> list[str]:
    """Problems a schema cannot see: the definition, and names that must exist."""
    try:
        definition = MachineDefinition.model_validate(case.definition)
    except (ValidationError, pystator.ConfigurationError) as exc:
        return [f"definition is not a valid machine definition: {exc}"]
    problems: list[str] = []
    tree = tree_of(case.definition)
    names = {n for n, k in tree.kind.items() if k != "history"}
    histories = {n for n, k in tree.kind.items() if k == "history"}
    used_guards, _ = _names_in(definition)
    undeclared = sorted(used_guards - set(case.guards))
    unused = sorted(set(case.guards) - used_guards)
    if undeclared:
        problems.append(f"guards: {', '.join(undeclared)} used by the definition but not declared")
    if unused:
        problems.append(f"guards: {', '.join(unused)} declared but not used by the definition")

    def bad_configuration(label: str, text: str) -> str | None:
        try:
            parse_configuration(tree, text)
        except ValueError as exc:
            return f"{label}: {exc}"
        return None

    if case.start is not None:
        if case.placed:
            problem = bad_configuration("start", case.start)
        elif tree.kind.get(case.start) in (None, "region", "history"):
            problem = f"start: '{case.start}' is not a state of the definition"
        else:
            problem = None
        if problem:
            problems.append(problem)
    if case.expect_initial is not None:
        problem = bad_configuration("expect_initial", case.expect_initial)
        if problem:
            problems.append(problem)

    def check_memory(where: str, memory: Mapping[str, list[str]]) -> None:
        for h, targets in memory.items():
            if h not in histories:
                problems.append(f"{where}: '{h}' is not a history state")
            problems.extend(
                f"{where}: '{t}' is not a state of the definition"
                for t in targets
                if t not in names
            )

    def check_expectation(where: str, e: Expectation) -> None:
        problem = bad_configuration(f"{where} state", e.state)
        if problem:
            problems.append(problem)
        named = [*(e.exited or ()), *(e.entered or ()), *(e.configuration or ())]
        problems.extend(
            f"{where}: '{n}' is not a state of the definition" for n in named if n not in names
        )
        problems.extend(
            f"{where}: '{n}' is not a PyStator error class"
            for n in (e.error, e.raises)
            if n is not None and n not in error_types
        )
        problems.extend(
            f"{where}: guards_called names '{g}', which is not a declared guard"
            for g in e.guards_called or ()
            if g not in case.guards
        )
        keys = [
            *(t if isinstance(t, str) else t.key for t in e.timers_to_arm or ()),
            *(e.timers_to_cancel or ()),
            *(e.pending or ()),
        ]
        problems.extend(
            f"{where}: '{k}' is not a timer of the definition"
            for k in keys
            if k not in tree.timer_keys
        )
        if e.history is not None:
            check_memory(f"{where} history", e.history)

    if case.history is not None:
        check_memory("history", case.history)
    error_types = {n for n in dir(pystator) if n.endswith("Error")}
    if case.expect_start is not None:
        check_expectation("expect_start", case.expect_start)
    for i, step in enumerate(case.script):
        where = f"script[{i}] ({step.label})"
        if step.timer is not None and step.timer not in tree.timer_keys:
            problems.append(f"{where}: '{step.timer}' is not a timer of the definition")
        check_expectation(where, step.expect)
    return problems


def parse_case_file(path: Path) -> list[Case]:
    """Read and validate one case file; raise ``CaseError`` saying what is wrong."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_NoDuplicatesLoader)
    except yaml.YAMLError as exc:
        raise CaseError(f"{path.name}: not valid YAML: {exc}") from None
    return parse_case_data(raw, path.stem, path.name)


def parse_case_data(raw: Any, default_name: str, label: str) -> list[Case]:
    if not isinstance(raw, dict):
        raise CaseError(f"{label}: a case file must be a mapping (a case, or 'cases: [...]')")
    if "cases" in raw:
        if set(raw) != {"cases"} or not isinstance(raw["cases"], list) or not raw["cases"]:
            raise CaseError(f"{label}: 'cases' must be the only key and a non-empty list")
        items = raw["cases"]
        for i, item in enumerate(items):
            if not isinstance(item, dict) or "name" not in item:
                raise CaseError(f"{label}: cases[{i}] must be a mapping with a 'name'")
    else:
        items = [{"name": default_name, **raw}]
    cases = []
    for i, item in enumerate(items):
        where = f"{label}" + (f" cases[{i}]" if "cases" in raw else "")
        try:
            case = Case.model_validate(item)
        except ValidationError as exc:
            raise CaseError(f"{where}: malformed case\n{_format_validation(exc)}") from None
        problems = _check_case(case)
        if problems:
            raise CaseError(f"{where} ({case.name}): " + "\n  ".join(["", *problems]))
        cases.append(case)
    return cases


def _collect() -> tuple[list[Case], dict[str, str]]:
    cases: list[Case] = []
    errors: dict[str, str] = {}
    names: set[str] = set()
    for path in sorted(CASES_DIR.glob("*.yaml")):
        try:
            found = parse_case_file(path)
        except CaseError as exc:
            errors[path.name] = str(exc)
            continue
        for case in found:
            if case.name in names:
                errors[path.name] = f"{path.name}: case name '{case.name}' is used twice"
                continue
            names.add(case.name)
            cases.append(case)
    return cases, errors


CASES, CASE_ERRORS = _collect()
CASE_FILES = sorted(p.name for p in CASES_DIR.glob("*.yaml"))


# ----------------------------------------------------------------------------- loaders
def load_from_yaml(case: Case, tmp_path: Path) -> StateMachine:
    path = tmp_path / f"{case.name}.yaml"
    path.write_text(yaml.safe_dump(case.definition, sort_keys=False), encoding="utf-8")
    return StateMachine.from_yaml(path)


def load_from_json(case: Case, tmp_path: Path) -> StateMachine:
    path = tmp_path / f"{case.name}.json"
    path.write_text(json.dumps(case.definition, indent=2), encoding="utf-8")
    return StateMachine.from_json(path)


def _action_model(ref: Any) -> ActionSpec:
    if isinstance(ref, str):
        return ActionSpec(name=ref)
    return ActionSpec(name=ref["name"], params=ref.get("params", {}))


def _guard_model(ref: Any) -> GuardSpec:
    if isinstance(ref, str):
        return GuardSpec(name=ref)
    return GuardSpec(**ref)


def _state_model(raw: Mapping[str, Any]) -> StateDefinition:
    special = ("on_enter", "on_exit", "regions", "timeout")
    fields = {k: v for k, v in raw.items() if k not in special}
    return StateDefinition(
        **fields,
        on_enter=tuple(_action_model(a) for a in raw.get("on_enter", ())),
        on_exit=tuple(_action_model(a) for a in raw.get("on_exit", ())),
        regions=tuple(
            RegionDefinition(
                **{k: v for k, v in region.items() if k != "states"},
                states=tuple(
                    item if isinstance(item, str) else _state_model(item)
                    for item in region["states"]
                ),
            )
            for region in raw.get("regions", ())
        ),
        timeout=TimeoutSpec(**raw["timeout"]) if raw.get("timeout") is not None else None,
    )


def build_models(data: Mapping[str, Any]) -> MachineDefinition:
    """The definition built part by part in Python, as a user of the models would."""
    states = [_state_model(raw) for raw in data["states"]]
    transitions = []
    for raw in data.get("transitions", ()):
        fields = {k: v for k, v in raw.items() if k not in ("source", "guards", "actions")}
        source = raw["source"]
        transitions.append(
            TransitionDefinition(
                **fields,
                source=source if isinstance(source, str) else tuple(source),
                guards=tuple(_guard_model(g) for g in raw.get("guards", ())),
                actions=tuple(_action_model(a) for a in raw.get("actions", ())),
            )
        )
    return MachineDefinition(
        meta=MachineMeta(**data["meta"]), states=tuple(states), transitions=tuple(transitions)
    )


def load_from_models(case: Case, tmp_path: Path) -> StateMachine:
    return StateMachine.from_definition(build_models(case.definition))


LOAD: dict[str, Callable[[Case, Path], StateMachine]] = {
    "yaml": load_from_yaml,
    "json": load_from_json,
    "models": load_from_models,
}


# ----------------------------------------------------------------------------- running
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "in": lambda a, b: a in b,
    "not_in": lambda a, b: a not in b,
}


def evaluate_rule(rule: GuardRule, context: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    if rule.key not in context:
        return False
    actual = context[rule.key]
    if rule.op == "truthy":
        return bool(actual)
    if rule.op == "falsy":
        return not actual
    if rule.param is not None:
        if rule.param not in params:
            raise AssertionError(f"guard rule wants param '{rule.param}', got params {params}")
        other = params[rule.param]
    else:
        other = rule.value
    return bool(_OPS[rule.op](actual, other))


@dataclass
class Trace:
    """What the harness sees of one run: guard calls and action runs, per step."""

    guards: list[str] = field(default_factory=list)
    actions: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def install(case: Case, machine: StateMachine, trace: Trace) -> None:
    """Register the case's guards and a recorder for every action of the definition."""

    def make_guard(name: str, outcome: bool | GuardRule) -> Callable[..., bool]:
        def guard(context: Mapping[str, Any], **params: Any) -> bool:
            trace.guards.append(name)
            if isinstance(outcome, GuardRule):
                return evaluate_rule(outcome, context, params)
            return outcome

        return guard

    def make_action(name: str) -> Callable[..., None]:
        def action(context: Mapping[str, Any], **params: Any) -> None:
            trace.actions.append((name, params))

        return action

    for name, outcome in case.guards.items():
        if outcome != "unregistered":
            machine.guard(name)(make_guard(name, outcome))  # type: ignore[arg-type]
    _, actions = _names_in(machine.definition)
    for name in sorted(actions):
        machine.action(name)(make_action(name))


@dataclass
class StepRecord:
    result: dict[str, Any]
    """``result.model_dump(mode="json")``, or ``{"raises": ErrorName}``."""
    state: str
    context: dict[str, Any]
    guards: list[str]
    actions_run: list[tuple[str, dict[str, Any]]]
    history: dict[str, list[str]] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)
    """Keys of the entity's armed timers, sorted."""


def _specs(result: TransitionResult) -> list[tuple[str, dict[str, Any]]]:
    return [(a.name, dict(a.params)) for a in result.action_specs()]


@dataclass
class Entity:
    """One entity of a run: what the harness expects of it, and its session (if any)."""

    state: str
    context: dict[str, Any]
    history: dict[str, list[str]]
    armed: set[str]
    session: EntitySession | None = None
    clock: ManualClock | None = None

    def memory(self) -> Mapping[str, tuple[str, ...]]:
        return MappingProxyType({k: tuple(v) for k, v in self.history.items()})

    def record(self, result: dict[str, Any], trace: Trace) -> StepRecord:
        return StepRecord(
            result,
            self.state,
            copy.deepcopy(self.context),
            list(trace.guards),
            list(trace.actions),
            copy.deepcopy(self.history),
            sorted(self.armed),
        )


def _memory(history: Mapping[str, tuple[str, ...]] | None) -> dict[str, list[str]]:
    return {k: list(v) for k, v in (history or {}).items()}


def begin(
    case: Case, machine: StateMachine, trace: Trace, *, session: bool
) -> tuple[Entity, TransitionResult | None]:
    """A new entity as the case says: entered with ``machine.start`` (and ``create``), or
    placed (``history`` or a configuration ``start``). Returns the start result if entered."""
    context = copy.deepcopy(case.context)
    if case.placed:
        state = case.start if case.start is not None else machine.get_initial_state()
        entity = Entity(state, context, copy.deepcopy(case.history or {}), set())
        if session:
            entity.clock = ManualClock()
            snapshot = {
                "machine_name": machine.name,
                "machine_version": machine.version,
                "definition_hash": machine.definition_hash,
                "state": state,
                "context": copy.deepcopy(context),
                "history": copy.deepcopy(case.history or {}),
            }
            entity.session = EntitySession.from_snapshot(machine, snapshot, clock=entity.clock)
        return entity, None
    started = machine.start(copy.deepcopy(context), initial_state=case.start)
    assert started.success
    assert started.target_state is not None
    assert not started.timers_to_cancel, f"{case.name}: a start cancels {started}"
    entity = Entity(
        started.target_state,
        context,
        _memory(started.history),
        {t.key for t in started.timers_to_arm},
    )
    if session:
        entity.clock = ManualClock()
        entity.session = machine.create(
            context=copy.deepcopy(context), initial_state=case.start, clock=entity.clock
        )
        assert trace.actions == [], f"{case.name}: creating a session ran {trace.actions}"
    trace.guards.clear()
    return entity, started


def _check_entity(where: str, entity: Entity) -> None:
    """A session must hold what its results say: state, context, memory, armed timers."""
    live = entity.session
    if live is None:
        return
    assert live.current_state == entity.state, (
        f"{where}: session state {live.current_state!r}, its results give {entity.state!r}"
    )
    assert live.context == entity.context, (
        f"{where}: session context {live.context!r}, its results give {entity.context!r}"
    )
    assert _memory(live.history) == entity.history, (
        f"{where}: session history {dict(live.history)!r}, its results give {entity.history!r}"
    )
    pending = sorted(t.key for t in live.pending_timers)
    assert pending == sorted(entity.armed), (
        f"{where}: session timers {pending}, its results give {sorted(entity.armed)}"
    )


def _fire_session_timer(where: str, entity: Entity, key: str) -> TransitionResult:
    """Move the session's clock to the timer's due time and fire what is due: exactly it."""
    live, clock = entity.session, entity.clock
    assert live is not None
    assert clock is not None
    armed = [t for t in live.pending_timers if t.key == key]
    if not armed:
        return live.fire_timer(f"{key}@stale")
    assert len(armed) == 1, f"{where}: the session holds {armed}"
    (timer,) = armed
    if clock.now() < timer.due:
        early = live.fire_timer(timer.id)
        assert not early.success, f"{where}: a timer fired before it was due: {early}"
        assert early.metadata["reason"] == "timer_not_due", f"{where}: {early}"
    clock.set(max(clock.now(), timer.due))
    results = live.fire_due_timers()
    assert len(results) == 1, (
        f"{where}: {len(results)} timers were due at once; make '{key}' due alone"
    )
    assert timer.id not in {t.id for t in live.pending_timers}, f"{where}: not consumed"
    return results[0]


def run_script(case: Case, machine: StateMachine, *, session: bool) -> list[StepRecord]:
    """Run the script statelessly (``process`` / ``fire_timer``; session=False) or through
    ``EntitySession``s (``send`` / a clock and ``fire_due_timers``)."""
    trace = Trace()
    install(case, machine, trace)
    entities: dict[str, Entity] = {}
    for step in case.script:
        if step.entity not in entities:
            entities[step.entity], _ = begin(case, machine, trace, session=session)
            _check_entity(f"{case.name} entity {step.entity}", entities[step.entity])
    records = []
    for i, step in enumerate(case.script):
        where = f"{case.name} step {i} ({step.label})"
        entity = entities[step.entity]
        live = entity.session
        state = entity.state
        trace.guards.clear()
        trace.actions.clear()
        merged = {**entity.context, **copy.deepcopy(step.context)}
        untouched = copy.deepcopy(merged)
        try:
            if step.timer is not None:
                if live is not None:
                    result = _fire_session_timer(where, entity, step.timer)
                else:
                    result = machine.fire_timer(state, step.timer, merged, history=entity.memory())
            elif live is not None:
                result = live.send(step.event or "", **copy.deepcopy(step.context))
            else:
                result = machine.process(state, step.event or "", merged, history=entity.memory())
        except FSMError as exc:
            if step.expect.raises is None:
                raise
            records.append(entity.record({"raises": type(exc).__name__}, trace))
            _check_entity(f"{where}: after raising", entity)
            continue
        assert merged == untouched, f"{where}: the engine mutated the caller's context"
        if live is None:
            calls = len(trace.guards)
            if step.timer is not None:
                again = machine.fire_timer(state, step.timer, merged, history=entity.memory())
            else:
                again = machine.process(state, step.event or "", merged, history=entity.memory())
            assert again == result, f"{where}: the same inputs gave another result"
            del trace.guards[calls:]
        assert result.source_state == state, f"{where}: source_state {result.source_state!r}"
        if step.event is not None:
            assert result.trigger == step.event, f"{where}: trigger {result.trigger!r}"
        if result.metadata.get("reason") == "guard_rejected":
            error = result.model_dump(mode="json")["error"]
            assert error["current_state"] == state, f"{where}: error.current_state {error}"
            assert error["guard_name"] == result.metadata["guard_name"], f"{where}: {error}"
        if step.timer is not None:
            entity.armed.discard(step.timer)  # a fired timer is consumed, whatever it does
        if result.success:
            assert result.target_state is not None, f"{where}: success without a target state"
            if result.metadata.get("reason") != "no_transition":
                # a lenient no-op fires nothing, so nothing is merged
                entity.state = result.target_state
                entity.context = merged
                if result.history is not None:
                    entity.history = _memory(result.history)
                entity.armed -= set(result.timers_to_cancel)
                entity.armed |= {t.key for t in result.timers_to_arm}
        else:
            assert result.target_state is None, f"{where}: a failed result names a target"
            assert not result.all_actions, f"{where}: a failed result carries actions"
            assert result.error is not None, f"{where}: a failed result carries no error"
            assert not result.timers_to_arm, f"{where}: a failed result arms timers"
            assert not result.timers_to_cancel, f"{where}: a failed result cancels timers"
        if live is not None:
            _check_entity(where, entity)
            assert trace.actions == _specs(result), (
                f"{where}: the session ran {trace.actions}, the result lists {_specs(result)}"
            )
        else:
            assert trace.actions == [], f"{where}: process ran actions {trace.actions}"
        records.append(entity.record(result.model_dump(mode="json"), trace))
    return records


# ----------------------------------------------------------------------------- checking
def _expected_specs(items: ActionList) -> list[tuple[str, dict[str, Any]]]:
    return [
        (item, {}) if isinstance(item, str) else (item.name, dict(item.params)) for item in items
    ]


def _dumped_specs(items: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(a["name"], a["params"]) for a in items]


def _timer_view(
    armed: list[dict[str, Any]], wanted: list[str | TimerExpectation]
) -> tuple[list[Any], list[Any]]:
    """(got, want) for ``timers_to_arm``: keys, or the fields an expectation names."""
    got: list[Any] = []
    want: list[Any] = []
    for i, spec in enumerate(armed):
        item = wanted[i] if i < len(wanted) else None
        if isinstance(item, TimerExpectation):
            fields = {"key"} | {k for k in ("delay_ms", "trigger") if getattr(item, k) is not None}
            got.append({k: spec[k] for k in sorted(fields)})
        else:
            got.append(spec["key"])
    for item in wanted:
        if isinstance(item, str):
            want.append(item)
        else:
            want.append(item.model_dump(exclude_none=True))
    return got, want


def check_expectation(
    case: Case, label: str, e: Expectation, record: StepRecord, tree: Tree
) -> None:
    """Compare one record with its expectation; report every mismatch at once."""
    r = record.result
    got: dict[str, Any] = {"state": record.state}
    want: dict[str, Any] = {"state": e.state}
    if e.raises is not None:
        got["raises"] = r.get("raises")
        want["raises"] = e.raises
    else:
        got["success"] = r.get("success")
        want["success"] = e.success
        if "raises" not in r:
            error = r["error"]
            got["reason"] = r["metadata"].get("reason")
            want["reason"] = e.reason
            got["error"] = None if error is None else error["type"]
            want["error"] = e.error
            got["actions"] = _dumped_specs(
                r["on_exit_actions"] + r["actions_to_execute"] + r["on_enter_actions"]
            )
            if r.get("ordered_actions") is not None:
                got["actions"] = _dumped_specs(r["ordered_actions"])
            want["actions"] = _expected_specs(e.actions)
            if [n for n, _ in got["actions"]] != r["all_actions"]:
                got["all_actions"] = r["all_actions"]
                want["all_actions"] = [n for n, _ in got["actions"]]
            if e.guard_name is not None:
                got["guard_name"] = r["metadata"].get("guard_name")
                want["guard_name"] = e.guard_name
            if e.trigger is not None:
                got["trigger"] = r["trigger"]
                want["trigger"] = e.trigger
            for key, field_name in (("exited", "exited_states"), ("entered", "entered_states")):
                if getattr(e, key) is not None:
                    got[key] = r[field_name]
                    want[key] = getattr(e, key)
            for key, field_name in (
                ("exit_actions", "on_exit_actions"),
                ("transition_actions", "actions_to_execute"),
                ("enter_actions", "on_enter_actions"),
            ):
                if getattr(e, key) is not None:
                    got[key] = _dumped_specs(r[field_name])
                    want[key] = _expected_specs(getattr(e, key))
            if e.timers_to_arm is not None:
                got["timers_to_arm"], want["timers_to_arm"] = _timer_view(
                    r["timers_to_arm"], e.timers_to_arm
                )
            if e.timers_to_cancel is not None:
                got["timers_to_cancel"] = r["timers_to_cancel"]
                want["timers_to_cancel"] = e.timers_to_cancel
    if e.guards_called is not None:
        got["guards_called"] = record.guards
        want["guards_called"] = e.guards_called
    if e.context is not None:
        got["context"] = record.context
        want["context"] = e.context
    if e.history is not None:
        got["history"] = record.history
        want["history"] = e.history
    if e.pending is not None:
        got["pending"] = record.pending
        want["pending"] = sorted(e.pending)
    if e.configuration is not None:
        got["configuration"] = sorted(parse_configuration(tree, record.state))
        want["configuration"] = sorted(e.configuration)
    if got != want:
        diff = "\n".join(
            f"    {k}: expected {want.get(k)!r}, got {got.get(k)!r}"
            for k in want
            if got.get(k) != want.get(k)
        )
        message = r.get("error", {}) or {}
        pytest.fail(
            f"{case.name}: {label} from the previous state\n{diff}"
            + (f"\n    error message: {message.get('message')}" if message else ""),
            pytrace=False,
        )


def check_records(case: Case, records: list[StepRecord]) -> None:
    """Compare a run with the case's expectations, step by step."""
    assert len(records) == len(case.script)
    tree = tree_of(case.definition)
    for i, (step, record) in enumerate(zip(case.script, records, strict=True)):
        who = f" of entity {step.entity}" if step.entity != "main" else ""
        check_expectation(case, f"script[{i}] {step.label}{who}", step.expect, record, tree)


def check_start(case: Case, machine: StateMachine) -> None:
    """``expect_start``: the result of ``machine.start`` (how an entity begins)."""
    if case.expect_start is None:
        return
    trace = Trace()
    install(case, machine, trace)
    context = copy.deepcopy(case.context)
    result = machine.start(context, initial_state=case.start)
    assert context == case.context, "start mutated the context"
    entity = Entity(
        result.target_state or "",
        context,
        _memory(result.history),
        {t.key for t in result.timers_to_arm},
    )
    record = entity.record(result.model_dump(mode="json"), trace)
    check_expectation(case, "start", case.expect_start, record, tree_of(case.definition))


# ----------------------------------------------------------------------------- tests
def _marks(case: Case, *, strict: bool) -> list[pytest.MarkDecorator]:
    if case.skip is not None:
        return [pytest.mark.skip(reason=case.skip)]
    if case.xfail is not None:
        return [pytest.mark.xfail(reason=case.xfail, strict=strict)]
    return []


def _params(modes: tuple[str, ...], *, strict: bool = True) -> list[Any]:
    """One param per case and mode; an ``xfail`` case must fail its expectations (strict),
    while its loaders may well agree on the wrong answer (``strict=False``)."""
    return [
        pytest.param(case, mode, id=f"{case.name}-{mode}", marks=_marks(case, strict=strict))
        for case in CASES
        for mode in modes
    ]


@pytest.mark.parametrize("filename", CASE_FILES)
def test_case_file_is_valid(filename: str) -> None:
    """Every case file parses, fits the case format and names only things that exist."""
    if filename in CASE_ERRORS:
        pytest.fail(CASE_ERRORS[filename], pytrace=False)


def test_suite_covers_the_categories() -> None:
    assert len(CASES) >= MIN_CASES, f"only {len(CASES)} conformance cases"
    required = set(CATEGORIES)
    missing = required - {c.category for c in CASES}
    assert not missing, f"no case for: {', '.join(sorted(missing))}"


@pytest.mark.parametrize(("case", "loader"), _params(LOADERS))
def test_process(case: Case, loader: str, tmp_path: Path) -> None:
    """The script through ``machine.process`` matches the case, for each loader."""
    machine = LOAD[loader](case, tmp_path)
    if case.expect_initial is not None:
        assert machine.get_initial_state() == case.expect_initial
    check_start(case, machine)
    check_records(case, run_script(case, machine, session=False))


@pytest.mark.parametrize(("case", "mode"), _params(("session",)))
def test_session(case: Case, mode: str, tmp_path: Path) -> None:
    """The script through ``EntitySession.send`` matches the case and runs the actions."""
    machine = load_from_models(case, tmp_path)
    records = run_script(case, machine, session=True)
    check_records(case, records)
    for i, (step, record) in enumerate(zip(case.script, records, strict=True)):
        if step.expect.success:
            assert record.actions_run == _expected_specs(step.expect.actions), (
                f"{case.name}: script[{i}] ran {record.actions_run}"
            )


@pytest.mark.parametrize(("case", "mode"), _params(("agree",), strict=False))
def test_loaders_and_session_agree(case: Case, mode: str, tmp_path: Path) -> None:
    """YAML, JSON and Python models, through process and send, give identical records."""
    runs: dict[str, list[StepRecord]] = {}
    for loader in LOADERS:
        for session in (False, True):
            machine = LOAD[loader](case, tmp_path)
            runs[f"{loader}/{'send' if session else 'process'}"] = run_script(
                case, machine, session=session
            )
    reference_name = "yaml/process"
    reference = runs[reference_name]
    for name, records in runs.items():
        for i, (ref, rec) in enumerate(zip(reference, records, strict=True)):
            vs = f"{name} vs {reference_name}: step {i}"
            if case.script[i].timer is not None and not ref.result.get("success", True):
                assert _outcome(rec.result) == _outcome(ref.result), f"{vs} result"
            else:
                assert rec.result == ref.result, f"{vs} result"
            assert rec.state == ref.state, f"{vs} state"
            assert rec.context == ref.context, f"{vs} context"
            assert rec.guards == ref.guards, f"{vs} guards"
            assert rec.history == ref.history, f"{vs} history"
            assert rec.pending == ref.pending, f"{vs} pending timers"


def _outcome(result: dict[str, Any]) -> tuple[Any, ...]:
    error = result.get("error") or {}
    return (result.get("success"), result["metadata"].get("reason"), error.get("type"))


# ----------------------------------------------------------------------------- the format
_GOOD = {
    "category": "basic",
    "description": "a minimal valid case",
    "definition": {
        "meta": {"machine_name": "m"},
        "states": [{"name": "A", "type": "initial"}, {"name": "B"}],
        "transitions": [{"trigger": "go", "source": "A", "dest": "B", "guards": ["ok"]}],
    },
    "guards": {"ok": True},
    "script": [{"event": "go", "expect": {"success": True, "state": "B"}}],
}


def _with(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(_GOOD)
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return data


_DELETE = object()


def test_good_case_parses() -> None:
    (case,) = parse_case_data(copy.deepcopy(_GOOD), "good", "good.yaml")
    assert case.name == "good"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(_with("script.0.expct", {}), "script.0.expct: Extra inputs", id="unknown-key"),
        pytest.param(_with("script.0.expect", _DELETE), "script.0.expect: Field", id="no-expect"),
        pytest.param(_with("script.0.expect.exitted", []), "exitted", id="unknown-expect-key"),
        pytest.param(_with("category", "parallell"), "unknown category", id="bad-category"),
        pytest.param(_with("script", []), "script", id="empty-script"),
        pytest.param(
            _with("script.0.expect.success", _DELETE), "exactly one of 'success'", id="no-outcome"
        ),
        pytest.param(
            _with("script.0.expect", {"success": False, "state": "A"}),
            "must name its 'error'",
            id="failure-without-error",
        ),
        pytest.param(
            _with(
                "script.0.expect", {"success": False, "state": "A", "error": "X", "actions": ["a"]}
            ),
            "runs no action",
            id="failure-with-actions",
        ),
        pytest.param(_with("script.0.expect.state", "C"), "'C' is not a state", id="bad-state"),
        pytest.param(_with("guards", {}), "ok used by the definition", id="undeclared-guard"),
        pytest.param(
            _with("guards", {"ok": True, "extra": False}), "extra declared", id="unused-guard"
        ),
        pytest.param(
            _with("guards.ok", {"key": "x", "op": "~", "value": 1}), "guards.ok", id="bad-rule-op"
        ),
        pytest.param(
            _with("guards.ok", {"key": "x", "op": ">="}),
            "exactly one of 'value'",
            id="rule-operand",
        ),
        pytest.param(
            _with("definition.transitions.0.dest", "C"), "not a valid machine", id="bad-definition"
        ),
        pytest.param(
            _with("script.0.expect.error", "NoSuchError"), "'error' only applies", id="error-on-ok"
        ),
        pytest.param(_with("start", "NOWHERE"), "start: 'NOWHERE'", id="bad-start"),
        pytest.param(
            {"cases": [copy.deepcopy(_GOOD)]}, "must be a mapping with a 'name'", id="unnamed"
        ),
        pytest.param(["not", "a", "mapping"], "must be a mapping", id="not-a-mapping"),
        pytest.param(
            _with("script.0.timer", "A:after:0"), "exactly one of 'event' or 'timer'", id="both"
        ),
        pytest.param(
            _with("script", [{"timer": "A:timeout", "expect": {"success": True, "state": "A"}}]),
            "'A:timeout' is not a timer",
            id="unknown-timer",
        ),
        pytest.param(
            _with("script.0.expect.pending", ["B:after:0"]),
            "'B:after:0' is not a timer",
            id="unknown-pending-timer",
        ),
        pytest.param(_with("script.0.expect.state", "A(x=B)"), "unexpected text", id="bad-config"),
        pytest.param(_with("start", "B(r=A)"), "start: unexpected text", id="bad-config-start"),
        pytest.param(_with("history", {"B": ["A"]}), "'B' is not a history state", id="history"),
        pytest.param(
            {**_with("history", {}), "expect_start": {"success": True, "state": "A"}},
            "'expect_start' checks an entered start",
            id="placed-expect-start",
        ),
        pytest.param(
            _with("script.0.expect.history", {"H": ["A"]}),
            "'H' is not a history state",
            id="expected-history",
        ),
    ],
)
def test_malformed_case_is_reported(data: Any, message: str) -> None:
    with pytest.raises(CaseError) as info:
        parse_case_data(data, "bad", "bad.yaml")
    assert message in str(info.value), str(info.value)
    assert "bad.yaml" in str(info.value)


_PARALLEL = {
    "meta": {"machine_name": "p"},
    "states": [
        {
            "name": "P",
            "type": "parallel",
            "regions": [{"name": "r1", "states": ["A", "B"]}, {"name": "r2", "states": ["C"]}],
        },
        {"name": "Q", "initial_child": "Q1"},
        {"name": "Q1", "parent": "Q"},
    ],
}


@pytest.mark.parametrize(
    ("text", "active"),
    [
        ("P(r1=A, r2=C)", {"P", "r1", "A", "r2", "C"}),
        ("P(r1=B, r2=C)", {"P", "r1", "B", "r2", "C"}),
        ("Q1", {"Q", "Q1"}),
    ],
)
def test_the_harness_reads_configurations(text: str, active: set[str]) -> None:
    assert parse_configuration(tree_of(_PARALLEL), text) == active


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("P(r2=C, r1=A)", "expected 'r1='"),
        ("P(r1=A,r2=C)", "not canonical: write 'P(r1=A, r2=C)'"),
        ("P(r1=A)", "expected ','"),
        ("A", "inside a parallel state"),
        ("Q", "is a compound"),
        ("r1", "is a region"),
        ("P(r1=A, r2=C) P", "unexpected text"),
        ("P(r1=C, r2=C)", "'C' is not inside 'r1'"),
    ],
)
def test_the_harness_refuses_illegal_configurations(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_configuration(tree_of(_PARALLEL), text)


def test_duplicate_keys_in_a_case_file_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("category: basic\ncategory: hierarchy\n", encoding="utf-8")
    with pytest.raises(CaseError, match="duplicate key 'category'"):
        parse_case_file(path)


def test_guard_rules() -> None:
    rule = GuardRule(key="qty", op=">=", param="min")
    assert evaluate_rule(rule, {"qty": 3}, {"min": 3})
    assert not evaluate_rule(rule, {"qty": 2}, {"min": 3})
    assert not evaluate_rule(rule, {}, {"min": 3}), "a missing key fails the guard"
    assert evaluate_rule(GuardRule(key="tag", op="in", value=["a", "b"]), {"tag": "a"}, {})
    assert evaluate_rule(GuardRule(key="flag", op="falsy"), {"flag": 0}, {})
