"""The UI's helper endpoints under ``/ui/api``: what the page needs beside the public API.

* ``POST /ui/api/parse``: YAML or JSON text to data, with the line of a syntax error, so the
  page can draw a definition as it is typed (even one that does not validate yet) without a
  YAML parser in the browser.
* ``POST /ui/api/dump``: data back to YAML or JSON text (the visual builder edits data and
  keeps the text in sync).
* ``POST /ui/api/diagram``: Mermaid or DOT text of a definition, the same text as
  ``pystator diagram`` (``pystator.diagram``).
* ``POST /ui/api/inspect``: what the engine says about a state of a definition: the full
  configuration it stands for, the active states, the transitions that may fire from it and
  the named guards they need. The simulator asks this instead of re-implementing the
  semantics in JavaScript; events themselves go through ``POST /api/v1/process``.
* ``GET /ui/api/schema``: the JSON Schema of a machine definition, from which the editor
  completes keys and values and explains keys on hover: the document ``pystator schema``
  prints (``pystator.models.json_schema.machine_schema``).

Nothing here stores anything; validation stays ``POST /api/v1/validate``.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from functools import cache
from typing import Annotated, Any, Literal

import yaml
from fastapi import APIRouter, HTTPException, Request
from fastapi.params import Depends
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from pystator.errors import ConfigurationError, FSMError
from pystator.loaders import definition_from_data, load_yaml_text, parse_json_text
from pystator.models.definition import (
    ActionSpec,
    GuardSpec,
    TransitionDefinition,
    duration_ms,
)
from pystator.models.json_schema import machine_schema
from pystator.runtime.machine import StateMachine

MAX_TEXT = 1_048_576
JSONObject = dict[str, Any]
ParseSlot = Callable[[int], AbstractContextManager[None]]
"""Held while a definition of the given size in bytes is parsed or compiled (the API's
bounded parse slots, so the UI's helpers cannot parse more large definitions at once than
``/api/v1/validate`` may)."""


def no_parse_slot(size: int) -> AbstractContextManager[None]:
    return nullcontext()


async def _body_size(request: Request) -> int:
    """The size of the request's body in bytes (read and kept already to parse it): what a
    helper holds a parse slot for, like the API's routes."""
    return len(await request.body())


BodySize = Annotated[int, Depends(_body_size)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ParseRequest(_In):
    text: str = Field(max_length=MAX_TEXT, description="A definition as YAML or JSON text.")
    format: Literal["auto", "yaml", "json"] = Field(
        default="auto", description="'auto': JSON when the text starts with '{', else YAML."
    )


class SyntaxProblem(_Out):
    message: str
    line: int | None = None
    column: int | None = None


class ParseResponse(_Out):
    format: Literal["yaml", "json"]
    data: JSONObject | None = Field(description="The parsed mapping; null on a syntax error.")
    error: SyntaxProblem | None = None


class DumpRequest(_In):
    config: JSONObject
    format: Literal["yaml", "json"] = "yaml"


class DumpResponse(_Out):
    text: str


class DiagramRequest(_In):
    config: JSONObject
    format: Literal["mermaid", "dot"] = "mermaid"


class DiagramResponse(_Out):
    format: Literal["mermaid", "dot"]
    text: str


class InspectRequest(_In):
    config: JSONObject
    state: Annotated[str, StringConstraints(min_length=1, max_length=10_000)] | None = Field(
        default=None,
        description="A state name or configuration; a compound or parallel state is entered "
        "by default. Null: the machine's initial state.",
    )


class GuardInfo(_Out):
    label: str
    name: str | None = Field(description="Set for a named guard (its outcome is supplied).")
    expr: str | None = Field(description="Set for an inline expression (evaluated).")


class TransitionInfo(_Out):
    index: int = Field(description="Position in the definition's transitions.")
    trigger: str | None
    sources: list[str]
    dest: str | None
    guards: list[GuardInfo]
    actions: list[str]
    delay_ms: int | None = Field(description="Delay of a delayed ('after') transition.")
    auto: bool
    internal: bool


class InspectResponse(_Out):
    initial_state: str
    state: str = Field(description="The full configuration.")
    leaves: list[str]
    active: list[str] = Field(description="Every active state and region.")
    terminal: bool
    triggers: list[str] = Field(description="Triggers that can be sent from here.")
    transitions: list[TransitionInfo]


_LINE = re.compile(r"line (\d+)(?:, column (\d+))?")


def _syntax_problem(exc: ConfigurationError) -> SyntaxProblem:
    issue = exc.issues[0]
    found = _LINE.search(issue.path or "") or _LINE.search(issue.message)
    return SyntaxProblem(
        message=issue.message,
        line=int(found.group(1)) if found else None,
        column=int(found.group(2)) if found and found.group(2) else None,
    )


@cache
def definition_schema() -> JSONObject:
    """The JSON Schema of a machine definition (built once: it is the same for the life of
    the process)."""
    return machine_schema()


def parse_text(text: str, fmt: str) -> ParseResponse:
    """Parse ``text`` as YAML or JSON (``auto`` looks at its first character)."""
    kind: Literal["yaml", "json"]
    if fmt == "auto":
        kind = "json" if text.lstrip().startswith(("{", "[")) else "yaml"
    else:
        kind = "json" if fmt == "json" else "yaml"
    if not text.strip():
        return ParseResponse(format=kind, data=None, error=SyntaxProblem(message="empty text"))
    try:
        data = parse_json_text(text) if kind == "json" else load_yaml_text(text).data
    except ConfigurationError as exc:
        return ParseResponse(format=kind, data=None, error=_syntax_problem(exc))
    if not isinstance(data, dict):
        problem = SyntaxProblem(
            message="a machine definition is a mapping with meta, states and transitions",
            line=1,
        )
        return ParseResponse(format=kind, data=None, error=problem)
    return ParseResponse(format=kind, data=data)


class _Dumper(yaml.SafeDumper):
    """Block style, except short lists of plain values (``[a, b]``), and the words YAML 1.1
    readers take for booleans (``on``, ``no``...) quoted."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if value.lower() in {"on", "off", "yes", "no", "y", "n", "true", "false", "null", "~"}:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    return dumper.represent_str(value)


def _represent_list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.SequenceNode:
    plain = all(isinstance(v, str | int | float | bool) for v in value)
    short = plain and sum(len(str(v)) + 2 for v in value) <= 60
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=short)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(list, _represent_list)


def dump_text(config: JSONObject, fmt: str) -> str:
    """``config`` as YAML (keys in the order given) or as indented JSON."""
    if fmt == "json":
        return json.dumps(config, indent=2, ensure_ascii=False) + "\n"
    text: str = yaml.dump(config, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return text


class _Machines:
    """Compiled machines by the canonical JSON of their definition (small LRU): the
    simulator asks about the same definition at every step."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._items: OrderedDict[str, StateMachine] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, config: JSONObject) -> StateMachine:
        key = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        machine = StateMachine.from_definition(definition_from_data(config))
        with self._lock:
            self._items[key] = machine
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return machine


def _transition_info(index: int, transition: TransitionDefinition) -> TransitionInfo:
    guards = []
    for guard in transition.guards:
        if isinstance(guard, str):
            guards.append(GuardInfo(label=guard, name=guard, expr=None))
        elif isinstance(guard, GuardSpec):
            guards.append(GuardInfo(label=guard.label, name=guard.name, expr=guard.expr))
    # ``assign`` and ``raise`` items are not actions: the engine runs them, not an executor.
    actions = [
        a if isinstance(a, str) else a.name
        for a in transition.actions
        if isinstance(a, str | ActionSpec)
    ]
    return TransitionInfo(
        index=index,
        trigger=transition.trigger,
        sources=list(transition.sources),
        dest=transition.dest,
        guards=guards,
        actions=actions,
        delay_ms=duration_ms(transition.after) if transition.after is not None else None,
        auto=transition.auto,
        internal=transition.internal,
    )


def inspect_state(machine: StateMachine, state: str | None) -> InspectResponse:
    """The configuration ``state`` stands for and what may happen there."""
    initial = machine.get_initial_state()
    wanted = initial if state is None else state
    if wanted in machine.states:
        wanted = machine.resolve_state(wanted)
    leaves = machine.configuration_leaves(wanted)
    positions = {id(t): i for i, t in enumerate(machine.definition.transitions)}
    transitions = [
        _transition_info(positions[id(t)], t) for t in machine.get_available_transitions(wanted)
    ]
    return InspectResponse(
        initial_state=initial,
        state=wanted,
        leaves=list(leaves),
        active=[name for name in machine.states if machine.is_active(wanted, name)],
        terminal=machine.is_terminal(wanted),
        triggers=machine.get_triggers(wanted),
        transitions=transitions,
    )


def build_router(
    dependencies: Sequence[Depends] = (),
    route_class: type[APIRoute] = APIRoute,
    parse_slot: ParseSlot = no_parse_slot,
) -> APIRouter:
    """The ``/ui/api`` router, guarded by ``dependencies`` (the API's authentication).

    Parsing text and compiling a definition hold ``parse_slot`` for the request body's size.
    """
    router = APIRouter(
        prefix="/ui/api",
        tags=["ui"],
        dependencies=list(dependencies),
        route_class=route_class,
        include_in_schema=False,
    )
    machines = _Machines()

    @router.post("/parse", response_model=ParseResponse)
    def parse(body: ParseRequest, size: BodySize) -> ParseResponse:
        with parse_slot(size):
            return parse_text(body.text, body.format)

    @router.get("/schema")
    def schema() -> JSONObject:
        return definition_schema()

    @router.post("/dump", response_model=DumpResponse)
    def dump(body: DumpRequest) -> DumpResponse:
        return DumpResponse(text=dump_text(body.config, body.format))

    def compiled(config: JSONObject, size: int) -> StateMachine:
        # Every check of StateMachine.from_* (and `pystator validate`), in a parse slot held
        # for the request body's size.
        try:
            with parse_slot(size):
                return machines.get(config)
        except ConfigurationError as exc:
            raise HTTPException(422, f"invalid machine definition: {exc.issues[0]}") from None

    @router.post("/diagram", response_model=DiagramResponse)
    def diagram(body: DiagramRequest, size: BodySize) -> DiagramResponse:
        # The same text as `pystator diagram --format mermaid|dot`.
        from pystator.diagram import render

        definition = compiled(body.config, size).definition
        return DiagramResponse(format=body.format, text=render(definition, body.format))

    @router.post("/inspect", response_model=InspectResponse)
    def inspect(body: InspectRequest, size: BodySize) -> InspectResponse:
        machine = compiled(body.config, size)
        try:
            return inspect_state(machine, body.state)
        except FSMError as exc:
            raise HTTPException(422, exc.message) from None

    return router
