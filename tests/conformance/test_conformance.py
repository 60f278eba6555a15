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
    start: SOME_LEAF                    # start here instead of the initial state (optional)
    expect_initial: SOME_LEAF           # the machine's initial (leaf) state (optional)
    script:
      - event: go
        context: {amount: 5}            # payload: merged into the context if a transition fires
        note: free text
        expect:
          success: true                 # or ``raises: ErrorName`` for a programming error
          state: B                      # the state after the step (unchanged on failure)
          reason: guard_rejected        # metadata["reason"]; omitted means absent
          error: GuardRejectedError     # class name of result.error; omitted means None
          guard_name: big
          exited: [A]                   # optional: exited_states, innermost first
          entered: [B]                  # optional: entered_states, outermost first
          actions: [a, {name: b, params: {k: 1}}]   # all_actions with params; omitted = []
          exit_actions: [...]           # optional: each bucket on its own
          transition_actions: [...]
          enter_actions: [...]
          guards_called: [big]          # optional: named guards evaluated, in order
          configuration: [P, B]         # optional: every active state (order ignored)
          context: {amount: 5}          # optional: the entity's whole context after the step

Each case runs through three loaders: the definition dumped to YAML and read with
``StateMachine.from_yaml``, dumped to JSON and read with ``from_json``, and built from
``MachineDefinition`` / ``StateDefinition`` / ``TransitionDefinition`` (and their parts)
constructed in Python and wrapped with ``from_definition``. Each loader runs the script
through ``machine.process`` and through ``EntitySession.send``; the ``agree`` test checks that
all six runs give identical results, states, contexts and guard calls at every step.
"""

from __future__ import annotations

import copy
import json
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
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
    StateDefinition,
    StateMachine,
    TransitionDefinition,
    TransitionResult,
)

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
        # statechart features of the next issue: add cases, the harness needs no change
        "parallel",
        "parallel_interrupts",
        "history",
        "eventless_transitions",
        "done_events",
        "timers",
    }
)

MIN_CASES = 30

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


class Expectation(_Strict):
    success: bool | None = None
    raises: str | None = None
    state: str
    reason: str | None = None
    error: str | None = None
    guard_name: str | None = None
    exited: list[str] | None = None
    entered: list[str] | None = None
    actions: ActionList = Field(default_factory=list)
    exit_actions: ActionList | None = None
    transition_actions: ActionList | None = None
    enter_actions: ActionList | None = None
    guards_called: list[str] | None = None
    configuration: list[str] | None = None
    context: dict[str, Any] | None = None

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
    event: str = Field(min_length=1)
    context: dict[str, Any] = Field(default_factory=dict)
    note: str | None = None
    expect: Expectation


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
    expect_initial: str | None = None
    script: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _flags(self) -> Case:
        if self.category not in CATEGORIES:
            raise ValueError(
                f"unknown category '{self.category}'; use one of {', '.join(sorted(CATEGORIES))}"
            )
        if self.skip is not None and self.xfail is not None:
            raise ValueError("give at most one of 'skip' and 'xfail'")
        return self


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


def _names_in(definition: MachineDefinition) -> tuple[set[str], set[str]]:
    """(guard names, action names) referenced by a definition."""
    guards: set[str] = set()
    actions: set[str] = set()
    for state in definition.states:
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


def _check_case(case: Case) -> list[str]:
    """Problems a schema cannot see: the definition, and names that must exist."""
    try:
        definition = MachineDefinition.model_validate(case.definition)
    except (ValidationError, pystator.ConfigurationError) as exc:
        return [f"definition is not a valid machine definition: {exc}"]
    problems: list[str] = []
    states = {s.name for s in definition.states}
    parents = {s.parent for s in definition.states if s.parent is not None}
    used_guards, _ = _names_in(definition)
    undeclared = sorted(used_guards - set(case.guards))
    unused = sorted(set(case.guards) - used_guards)
    if undeclared:
        problems.append(f"guards: {', '.join(undeclared)} used by the definition but not declared")
    if unused:
        problems.append(f"guards: {', '.join(unused)} declared but not used by the definition")
    for label, name in (("start", case.start), ("expect_initial", case.expect_initial)):
        if name is not None and name not in states:
            problems.append(f"{label}: '{name}' is not a state of the definition")
        elif name is not None and name in parents:
            problems.append(f"{label}: '{name}' is a compound state; name a leaf")
    error_types = {n for n in dir(pystator) if n.endswith("Error")}
    for i, step in enumerate(case.script):
        where = f"script[{i}] ({step.event})"
        e = step.expect
        named = [e.state, *(e.exited or ()), *(e.entered or ()), *(e.configuration or ())]
        problems.extend(
            f"{where}: '{n}' is not a state of the definition" for n in named if n not in states
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


def build_models(data: Mapping[str, Any]) -> MachineDefinition:
    """The definition built part by part in Python, as a user of the models would."""
    states = []
    for raw in data["states"]:
        fields = {k: v for k, v in raw.items() if k not in ("on_enter", "on_exit")}
        states.append(
            StateDefinition(
                **fields,
                on_enter=tuple(_action_model(a) for a in raw.get("on_enter", ())),
                on_exit=tuple(_action_model(a) for a in raw.get("on_exit", ())),
            )
        )
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


def _specs(result: TransitionResult) -> list[tuple[str, dict[str, Any]]]:
    return [(a.name, dict(a.params)) for a in result.action_specs()]


def run_script(case: Case, machine: StateMachine, *, session: bool) -> list[StepRecord]:
    """Run the script with ``machine.process`` (session=False) or ``EntitySession.send``."""
    trace = Trace()
    install(case, machine, trace)
    state = case.start if case.start is not None else machine.get_initial_state()
    context = copy.deepcopy(case.context)
    entity: EntitySession | None = None
    if session:
        entity = machine.create(context=copy.deepcopy(case.context), initial_state=case.start)
        assert entity.current_state == state
    records = []
    for i, step in enumerate(case.script):
        where = f"{case.name} step {i} ({step.event})"
        trace.guards.clear()
        trace.actions.clear()
        merged = {**context, **copy.deepcopy(step.context)}
        untouched = copy.deepcopy(merged)
        try:
            if entity is not None:
                result = entity.send(step.event, **copy.deepcopy(step.context))
            else:
                result = machine.process(state, step.event, merged)
        except FSMError as exc:
            if step.expect.raises is None:
                raise
            records.append(
                StepRecord(
                    {"raises": type(exc).__name__},
                    state,
                    copy.deepcopy(context),
                    list(trace.guards),
                    list(trace.actions),
                )
            )
            if entity is not None:
                assert entity.current_state == state, f"{where}: a raising send moved the entity"
                assert entity.context == context, f"{where}: a raising send changed the context"
            continue
        assert merged == untouched, f"{where}: the engine mutated the caller's context"
        if entity is None:
            calls = len(trace.guards)
            again = machine.process(state, step.event, merged)
            assert again == result, f"{where}: the same inputs gave another result"
            del trace.guards[calls:]
        assert result.source_state == state, f"{where}: source_state {result.source_state!r}"
        assert result.trigger == step.event, f"{where}: trigger {result.trigger!r}"
        if result.metadata.get("reason") == "guard_rejected":
            error = result.model_dump(mode="json")["error"]
            assert error["current_state"] == state, f"{where}: error.current_state {error}"
            assert error["guard_name"] == result.metadata["guard_name"], f"{where}: {error}"
        if result.success:
            assert result.target_state is not None, f"{where}: success without a target state"
            state = result.target_state
            if result.metadata.get("reason") != "no_transition":
                context = merged  # a lenient no-op fires nothing, so nothing is merged
        else:
            assert result.target_state is None, f"{where}: a failed result names a target"
            assert not result.all_actions, f"{where}: a failed result carries actions"
            assert result.error is not None, f"{where}: a failed result carries no error"
        if entity is not None:
            assert entity.current_state == state, (
                f"{where}: session state {entity.current_state!r}, process gives {state!r}"
            )
            assert entity.context == context, (
                f"{where}: session context {entity.context!r}, process gives {context!r}"
            )
            assert trace.actions == _specs(result), (
                f"{where}: the session ran {trace.actions}, the result lists {_specs(result)}"
            )
        else:
            assert trace.actions == [], f"{where}: process ran actions {trace.actions}"
        records.append(
            StepRecord(
                result.model_dump(mode="json"),
                state,
                copy.deepcopy(context),
                list(trace.guards),
                list(trace.actions),
            )
        )
    return records


# ----------------------------------------------------------------------------- checking
def _expected_specs(items: ActionList) -> list[tuple[str, dict[str, Any]]]:
    return [
        (item, {}) if isinstance(item, str) else (item.name, dict(item.params)) for item in items
    ]


def _dumped_specs(items: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(a["name"], a["params"]) for a in items]


def configuration(definition: Mapping[str, Any], leaf: str) -> set[str]:
    """The active states for ``leaf``: it and its ancestors, read from the raw definition."""
    parent = {s["name"]: s.get("parent") for s in definition["states"]}
    active = set()
    current: str | None = leaf
    while current is not None:
        active.add(current)
        current = parent[current]
    return active


def check_records(case: Case, records: list[StepRecord]) -> None:
    """Compare a run with the case's expectations; report every mismatch of a step at once."""
    assert len(records) == len(case.script)
    for i, (step, record) in enumerate(zip(case.script, records, strict=True)):
        e = step.expect
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
                want["actions"] = _expected_specs(e.actions)
                if [n for n, _ in got["actions"]] != r["all_actions"]:
                    got["all_actions"] = r["all_actions"]
                    want["all_actions"] = [n for n, _ in got["actions"]]
                if e.guard_name is not None:
                    got["guard_name"] = r["metadata"].get("guard_name")
                    want["guard_name"] = e.guard_name
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
        if e.guards_called is not None:
            got["guards_called"] = record.guards
            want["guards_called"] = e.guards_called
        if e.context is not None:
            got["context"] = record.context
            want["context"] = e.context
        if e.configuration is not None:
            got["configuration"] = sorted(configuration(case.definition, record.state))
            want["configuration"] = sorted(e.configuration)
        if got != want:
            diff = "\n".join(
                f"    {k}: expected {want.get(k)!r}, got {got.get(k)!r}"
                for k in want
                if got.get(k) != want.get(k)
            )
            message = r.get("error", {}) or {}
            pytest.fail(
                f"{case.name}: script[{i}] event '{step.event}' from the previous state\n{diff}"
                + (f"\n    error message: {message.get('message')}" if message else ""),
                pytrace=False,
            )


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
    required = {
        "basic",
        "hierarchy",
        "document_order",
        "hierarchy_document_order",
        "internal_transitions",
        "targetless_transitions",
        "priority",
        "self_transitions",
        "wildcard",
        "guards",
        "terminal",
        "strict_lenient",
        "actions",
    }
    missing = required - {c.category for c in CASES}
    assert not missing, f"no case for: {', '.join(sorted(missing))}"


@pytest.mark.parametrize(("case", "loader"), _params(LOADERS))
def test_process(case: Case, loader: str, tmp_path: Path) -> None:
    """The script through ``machine.process`` matches the case, for each loader."""
    machine = LOAD[loader](case, tmp_path)
    if case.expect_initial is not None:
        assert machine.get_initial_state() == case.expect_initial
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
            assert rec.result == ref.result, f"{name} vs {reference_name}: step {i} result"
            assert rec.state == ref.state, f"{name} vs {reference_name}: step {i} state"
            assert rec.context == ref.context, f"{name} vs {reference_name}: step {i} context"
            assert rec.guards == ref.guards, f"{name} vs {reference_name}: step {i} guards"


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
    ],
)
def test_malformed_case_is_reported(data: Any, message: str) -> None:
    with pytest.raises(CaseError) as info:
        parse_case_data(data, "bad", "bad.yaml")
    assert message in str(info.value), str(info.value)
    assert "bad.yaml" in str(info.value)


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
