"""SCXML interchange (issue 16, item 6): ``to_scxml`` / ``from_scxml`` and their rules.

* Round trips are lossless: every example machine (``examples/*.yaml`` and every machine the
  ``examples/*.py`` scripts define) and every conformance case reads back equal, and the
  conformance scripts pass on the machines read back.
* Each construct is exported as the SCXML it should be, and read back.
* The exported document means the same to a plain SCXML reader: with PyStator's namespace
  stripped, generated statecharts still behave the same (Hypothesis).
* Documents written by hand (no PyStator namespace) import and run.
* Everything the definition format cannot express is refused with its element and line;
  unsafe and malformed XML is refused.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pystator import (
    ConfigurationError,
    GuardSpec,
    LoopLimitError,
    MachineDefinition,
    StateMachine,
)
from pystator.loaders import definition_from_data, load_yaml_file, load_yaml_string
from pystator.loaders.scxml import PYSTATOR_NS, from_scxml, read_scxml, to_scxml
from pystator.loaders.scxml.xml_io import MAX_XML_DEPTH, parse_xml, write_xml
from pystator.runtime.validation import check_machine
from tests.conformance.test_conformance import CASES, Case, check_records, check_start, run_script
from tests.conftest import ROOT
from tests.property.strategies import machines
from tests.property.test_scxml_reference import TRIGGERS, statecharts

EXAMPLES = ROOT / "examples"
NO_MACHINE = {"run_examples.py"}
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""Characters XML 1.0 cannot hold."""
"""Example scripts that define no machine of their own."""


def round_trip(definition: MachineDefinition) -> MachineDefinition:
    return from_scxml(to_scxml(definition), check=check_machine)


def refusal(text: str, **kwargs: Any) -> list[str]:
    """The problems ``from_scxml`` reports, as strings."""
    with pytest.raises(ConfigurationError) as caught:
        from_scxml(text, check=check_machine, **kwargs)
    return [str(issue) for issue in caught.value.issues]


def doc(body: str, **attrs: str) -> str:
    """An SCXML document (no PyStator namespace) around ``body``."""
    attrs.setdefault("name", "m")
    head = " ".join(f'{k}="{v}"' for k, v in attrs.items())
    return (
        f'<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" {head}>\n{body}\n</scxml>\n'
    )


# ------------------------------------------------------------------------ example machines
def _example_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"scxml_example_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # not __main__: the scripts only define things
    return module


def _machines_of(module: ModuleType) -> list[tuple[str, MachineDefinition]]:
    """Every machine a script defines at module level: definitions, dicts, YAML texts,
    class machines, and functions that build a ``StateMachine`` without arguments."""
    found: list[tuple[str, MachineDefinition]] = []
    for name, value in vars(module).items():
        if name.startswith("_"):
            continue
        if isinstance(value, MachineDefinition):
            found.append((name, value))
        elif isinstance(value, dict) and {"meta", "states"} <= value.keys():
            found.append((name, definition_from_data(value)))
        elif isinstance(value, str) and re.search(r"^meta:", value, re.MULTILINE):
            found.append((name, load_yaml_string(value)))
        elif isinstance(value, type) and value.__module__ == module.__name__:
            class_definition = getattr(value, "definition", None)  # a class machine's
            if isinstance(class_definition, MachineDefinition):
                found.append((name, class_definition))
        elif inspect.isfunction(value) and value.__module__ == module.__name__:
            signature = inspect.signature(value)
            takes_none = all(p.default is not p.empty for p in signature.parameters.values())
            if takes_none and signature.return_annotation in ("StateMachine", StateMachine):
                found.append((f"{name}()", value().definition))
    return found


def example_machines() -> list[Any]:
    params = [
        pytest.param(load_yaml_file(path), id=path.name) for path in sorted(EXAMPLES.glob("*.yaml"))
    ]
    for path in sorted(EXAMPLES.glob("*.py")):
        if path.name not in NO_MACHINE:
            for name, definition in _machines_of(_example_module(path)):
                params.append(pytest.param(definition, id=f"{path.name}:{name}"))
    return params


EXAMPLE_MACHINES = example_machines()


def test_every_example_script_defines_a_machine_found_here() -> None:
    scripts = {p.name for p in EXAMPLES.glob("*.py")} - NO_MACHINE
    covered = {str(p.id).split(":")[0] for p in EXAMPLE_MACHINES}
    assert scripts <= covered, f"no machine found in {sorted(scripts - covered)}"
    assert len(EXAMPLE_MACHINES) >= 12


@pytest.mark.parametrize("definition", EXAMPLE_MACHINES)
def test_every_example_machine_round_trips(definition: MachineDefinition, tmp_path: Path) -> None:
    text = to_scxml(definition)
    assert from_scxml(text, check=check_machine).model_dump() == definition.model_dump()
    path = tmp_path / "machine.scxml"
    path.write_text(text, encoding="utf-8")
    machine = StateMachine.from_scxml(path)
    assert machine.definition == definition
    assert machine.to_scxml() == text


def test_a_document_without_a_name_is_named_after_its_file_by_every_entry_point(
    tmp_path: Path,
) -> None:
    """``StateMachine.from_scxml`` and ``pystator import`` (``load_scxml_file``) agree."""
    import subprocess
    import sys

    path = tmp_path / "traffic-light.scxml"
    path.write_text(
        '<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" initial="red">'
        '<state id="red"><transition event="go" target="green"/></state>'
        '<state id="green"/></scxml>',
        encoding="utf-8",
    )
    assert StateMachine.from_scxml(path).name == "traffic_light"
    out = subprocess.run(
        [sys.executable, "-m", "pystator", "import", str(path), "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert '"machine_name": "traffic_light"' in out


def _case_param(case: Case) -> Any:
    marks = [pytest.mark.skip(reason=case.skip)] if case.skip else []
    if case.xfail:
        marks.append(pytest.mark.xfail(reason=case.xfail, strict=True))
    return pytest.param(case, id=case.name, marks=marks)


@pytest.mark.parametrize("case", [_case_param(c) for c in CASES])
def test_every_conformance_case_round_trips_and_runs(case: Case) -> None:
    """The conformance cases (the W3C categories) through SCXML: equal, and the script's
    expectations hold on the machine read back."""
    definition = definition_from_data(case.definition)
    imported = round_trip(definition)
    assert imported.model_dump() == definition.model_dump()
    machine = StateMachine.from_definition(imported)
    if case.expect_initial is not None:
        assert machine.get_initial_state() == case.expect_initial
    check_start(case, machine)
    check_records(case, run_script(case, machine, session=False))


# ------------------------------------------------------------------------ each construct
CONSTRUCTS: list[tuple[str, str, list[str]]] = [
    (
        "compound_initial_child",
        """
states:
  - {name: A, initial_child: A2}
  - {name: A1, parent: A}
  - {name: A2, parent: A}
""",
        ['<state id="A" initial="A2">', '<state id="A1"/>'],
    ),
    (
        "typed_initial_not_first",
        """
states:
  - {name: A}
  - {name: B, type: initial}
""",
        ['initial="B" ps:initial="implied"', '<state id="B" ps:type="initial"/>'],
    ),
    (
        "parallel_history_final",
        """
states:
  - name: P
    type: parallel
    regions:
      - {name: r1, initial: b, states: [a, b, {name: done, type: terminal}]}
      - {name: r2, states: [{name: RH, type: history, history: deep}, c]}
  - {name: H, type: history, parent: P}
  - {name: OUT}
transitions:
  - {trigger: done.state.P, source: P, dest: OUT}
  - {trigger: back, source: OUT, dest: H}
""",
        [
            '<parallel id="P">',
            '<state id="r1" initial="b">',
            '<final id="done"/>',
            '<history id="RH" type="deep" ps:default="implied">',
            '<history id="H" type="shallow" ps:default="implied">',
            '<transition target="r1 r2"/>',
            '<transition event="done.state.P" target="OUT"',
        ],
    ),
    (
        "history_default",
        """
states:
  - {name: OUT, type: initial}
  - {name: C}
  - {name: H, parent: C, type: history, default: B}
  - {name: A, parent: C}
  - {name: B, parent: C}
transitions: [{trigger: back, source: OUT, dest: H}]
""",
        ['<history id="H" type="shallow">', '<transition target="B"/>'],
    ),
    (
        "eventless_targetless_internal",
        """
states:
  - {name: A, initial_child: A1}
  - {name: A1, parent: A}
  - {name: A2, parent: A}
  - {name: B}
transitions:
  - {source: A1, dest: B, auto: true, guards: [{expr: "n > 2"}]}
  - {trigger: tick, source: A, actions: [count]}
  - {trigger: poke, source: A, dest: A, internal: true}
  - {trigger: down, source: A, dest: A2, internal: true}
""",
        [
            '<transition cond="n &gt; 2" target="B"',
            '<transition event="tick"',
            '<transition event="poke" type="internal" ps:dest="A"',
            '<transition event="down" type="internal" target="A2"',
            '<ps:action name="count"/>',
        ],
    ),
    (
        "raise_assign",
        """
states:
  - {name: A, on_enter: [{raise: go}, {assign: {n: "0"}}]}
  - {name: B, on_exit: [{assign: {a: "1", b: "2"}}]}
transitions:
  - trigger: go
    source: A
    dest: B
    assign: {n: "n + 1"}
    actions: [log, {name: notify, params: {channel: email}}, {name: plain}]
""",
        [
            '<raise event="go"/>',
            '<assign location="n" expr="0"/>',
            '<assign location="b" expr="2" ps:with-previous="true"/>',
            '<assign location="n" expr="n + 1" ps:assign-key="true"/>',
            """<ps:action name="notify" params='{"channel":"email"}'/>""",
            '<ps:action name="plain" params="{}"/>',
        ],
    ),
    (
        "delays_and_timeouts",
        """
states:
  - {name: A, timeout: {seconds: 2.5, destination: C}}
  - {name: B}
  - {name: C}
transitions:
  - {after: "5s", source: A, dest: B}
  - {after: 5000, trigger: expire, source: A, dest: C}
  - {after: "1.5m", source: [A, B], dest: C}
""",
        [
            '<send event="_after.A.0" delay="5s" id="_after.A.0"/>',
            '<send event="_after.A.1" delay="5s" id="_after.A.1" ps:after="5000"/>',
            '<send event="_after.B.2" delay="90s" id="_after.B.2" ps:after="1.5m"/>',
            '<send event="_timeout.A" delay="2500ms" id="_timeout.A"/>',
            '<cancel sendid="_after.A.0"/>',
            '<transition event="_after.A.1" target="C" ps:trigger="expire"',
            '<transition event="_timeout.A" target="C" ps:timeout="2.5"/>',
        ],
    ),
    (
        "guards_priority_sources",
        """
states:
  - {name: A}
  - {name: B}
  - {name: Z, type: terminal}
transitions:
  - trigger: go
    source: A
    dest: B
    guards: [ready, {expr: "n > 1"}, {name: big, params: {min: 3}}]
  - {trigger: go, source: A, dest: Z, priority: 5, description: first}
  - {trigger: stop, source: "*", dest: Z}
  - {trigger: hop, source: [A, B], dest: A}
""",
        [
            'ps:guards=\'["ready",{"expr":"n &gt; 1"},{"name":"big","params":{"min":3}}]\'',
            'cond="n &gt; 1"',
            'ps:priority="5" ps:description="first"',
            'ps:source="*"',
            """ps:source='["A","B"]'""",
        ],
    ),
    (
        "meta_context_events_metadata",
        """
meta:
  machine_name: m
  version: "2.1"
  strict_mode: false
  description: "a <machine>"
  expr_on_missing: error
  validate_context: true
context:
  fields: {n: {type: integer, required: true}}
events:
  go: {fields: {qty: {type: integer, minimum: 1}}}
states:
  - {name: A, description: "first\\nstate", metadata: {x: [1, 2.5, null]}}
transitions: [{trigger: go, source: A, dest: A}]
""",
        [
            'ps:version="2.1" ps:strict-mode="false" ps:description="a &lt;machine&gt;"',
            'ps:expr-on-missing="error" ps:validate-context="true"',
            '<ps:context>{"fields":{"n":{"type":"integer","required":true}}}</ps:context>',
            "<ps:events>",
            'ps:description="first&#10;state"',
            """ps:metadata='{"x":[1,2.5,null]}'""",
        ],
    ),
    (
        "legacy_region_forms",
        """
states:
  - name: P
    type: parallel
    regions:
      - {name: r1, states: [A, B]}
      - {name: r2, states: [C]}
  - {name: B, parent: P, on_enter: [hello]}
  - {name: C}
  - {name: D, parent: r2}
transitions:
  - {trigger: go, source: A, dest: B, region: r1}
""",
        [
            '<state id="A" ps:form="name">',
            '<state id="B" ps:form="listed" ps:parent="P"',
            '<state id="C" ps:form="listed" ps:parent=""',
            '<state id="D" ps:form="flat"',
            'ps:region="r1"',
        ],
    ),
]


@pytest.mark.parametrize(("text", "expected"), [pytest.param(t, e, id=n) for n, t, e in CONSTRUCTS])
def test_each_construct_is_exported_and_read_back(text: str, expected: list[str]) -> None:
    if "meta:" not in text:
        text = "meta: {machine_name: m}\n" + text
    definition = load_yaml_string(text)
    check_machine(definition)
    scxml = to_scxml(definition)
    for fragment in expected:
        assert fragment in scxml, f"{fragment!r} not in:\n{scxml}"
    assert round_trip(definition).model_dump() == definition.model_dump()


def test_state_order_and_transition_order_are_kept() -> None:
    """A flat list whose order is not the tree's, transitions written away from document
    order: ``ps:pos`` and ``ps:index`` bring both back; without reordering, neither is
    written."""
    definition = load_yaml_string("""
meta: {machine_name: m}
states:
  - {name: A1, parent: A}
  - {name: B}
  - {name: A, type: initial}
transitions:
  - {trigger: y, source: A1, dest: B}
  - {trigger: x, source: B, dest: A}
""")
    scxml = to_scxml(definition)
    assert 'ps:pos="0"' in scxml
    assert 'ps:index="1"' in scxml
    assert round_trip(definition) == definition
    plain = load_yaml_string(
        "meta: {machine_name: m}\nstates: [{name: A}, {name: B}]\n"
        "transitions: [{trigger: x, source: A, dest: B}]"
    )
    assert "ps:pos" not in to_scxml(plain)
    assert "ps:index" not in to_scxml(plain)


# ------------------------------------------------------------ the plain SCXML reading
_EXPR = {"g_true": "True", "g_false": "False", "g_flag": "flag"}


def strip_pystator(text: str) -> str:
    """The document as a processor that ignores PyStator's namespace reads it."""
    root = parse_xml(text)
    todo = [root]
    while todo:
        element = todo.pop()
        element.ps.clear()
        element.children = [c for c in element.children if c.space != "ps"]
        todo.extend(element.children)
    return write_xml(root)


def _run(machine: StateMachine, events: list[str], context: dict[str, Any]) -> list[Any]:
    """The configuration after the start and after each event, with the internal events
    of each successful step."""
    try:
        result = machine.start(dict(context))
    except LoopLimitError:
        return ["loop"]
    state, history = result.target_state, result.history
    seen: list[Any] = [(state, result.internal_events)]
    for event in events:
        result = machine.process(state or "", event, dict(context), history=history)
        if result.success:
            # A lenient no-op carries no memory (None): the entity keeps its own.
            state = result.target_state
            history = history if result.history is None else result.history
        seen.append((state, result.internal_events if result.success else None))
    return seen


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    statecharts(),
    st.lists(st.sampled_from((*TRIGGERS, "h_in", "h_out", "h_back")), max_size=10),
    st.booleans(),
)
def test_the_plain_scxml_reading_behaves_the_same(
    data: dict[str, Any], events: list[str], flag: bool
) -> None:
    """Generated statecharts (compound, parallel, history, eventless, internal, targetless,
    prioritised and guarded transitions, raised events) exported, stripped of PyStator's
    namespace and read back: the same configurations and internal events after every event.
    (Their guards are written as expressions: named guards have no SCXML form. Strictness
    has none either, so only successful steps' internal events are compared.)"""
    for t in data["transitions"]:
        if "guards" in t:
            t["guards"] = [{"expr": _EXPR[g]} for g in t["guards"]]
    definition = definition_from_data(data)
    check_machine(definition)
    plain = from_scxml(strip_pystator(to_scxml(definition)), check=check_machine)
    triggers = {t.trigger for t in definition.transitions}
    events = [e for e in events if e in triggers]
    context = {"flag": flag}
    ours = _run(StateMachine.from_definition(definition), events, context)
    theirs = _run(StateMachine.from_definition(plain), events, context)
    assert [s[0] if isinstance(s, tuple) else s for s in ours] == [
        s[0] if isinstance(s, tuple) else s for s in theirs
    ]
    for mine, other in zip(ours, theirs, strict=True):
        if isinstance(mine, tuple) and mine[1] is not None and other[1] is not None:
            assert mine[1] == other[1]


# ------------------------------------------------------------ documents written by hand
TRAFFIC_LIGHT = doc(
    """
  <state id="red">
    <onentry><send event="timer" delay="30s" id="red_timer"/></onentry>
    <onexit><cancel sendid="red_timer"/></onexit>
    <transition event="timer" target="green"/>
  </state>
  <state id="green">
    <onentry><send event="timer" delay=".5s" id="green_timer"/></onentry>
    <onexit><cancel sendid="green_timer"/></onexit>
    <transition event="timer" target="yellow"/>
    <transition event="emergency" target="red"/>
  </state>
  <state id="yellow">
    <onentry><send event="timer" delay="5000ms" id="yellow_timer"/></onentry>
    <onexit><cancel sendid="yellow_timer"/></onexit>
    <transition event="timer" target="red"/>
  </state>""",
    name="traffic_light",
    initial="red",
)


def test_a_hand_written_traffic_light_runs_on_its_timers() -> None:
    machine = StateMachine.from_definition(from_scxml(TRAFFIC_LIGHT))
    delays = [(t.source, t.after, t.trigger) for t in machine.definition.transitions if t.after]
    assert delays == [
        ("red", "30s", "timer"),
        ("green", 500, "timer"),
        ("yellow", "5000ms", "timer"),
    ]
    start = machine.start()
    assert [(t.key, t.delay_ms) for t in start.timers_to_arm] == [("red:after:0", 30000)]
    assert machine.fire_timer("red", "red:after:0").target_state == "green"
    green = machine.process("red", "timer")
    assert green.metadata["reason"] == "invalid_transition"  # only the timer takes it
    assert machine.process("green", "emergency").target_state == "red"


PLAYER = doc(
    """
  <state id="off"><transition event="power" target="last"/></state>
  <parallel id="on">
    <transition event="power" target="off"/>
    <state id="playback" initial="stopped">
      <history id="last" type="shallow"/>
      <state id="stopped"><transition event="play" target="playing"/></state>
      <state id="playing"><transition event="stop" target="stopped"/></state>
    </state>
    <state id="volume">
      <state id="normal"><transition event="louder" target="loud"/></state>
      <state id="loud">
        <onentry><raise event="warn"/></onentry>
        <transition event="warn" cond="warnings &lt; 3" type="internal">
          <assign location="warnings" expr="warnings + 1"/>
        </transition>
        <transition event="quieter" target="normal"/>
      </state>
    </state>
  </parallel>""",
    name="player",
    initial="off",
)


def test_a_hand_written_parallel_machine_with_history_and_raise_runs() -> None:
    machine = StateMachine.from_definition(from_scxml(PLAYER, check=check_machine))
    session = machine.create({"warnings": 0})
    seen = []
    for event in ["power", "play", "louder", "power", "power"]:
        session.send(event)
        seen.append((session.current_state, session.context["warnings"]))
    assert seen == [
        ("on(playback=stopped, volume=normal)", 0),
        ("on(playback=playing, volume=normal)", 0),
        ("on(playback=playing, volume=loud)", 1),
        ("off", 1),
        ("on(playback=playing, volume=normal)", 1),
    ]
    regions = machine.definition.states[1].regions
    assert [r.name for r in regions] == ["playback", "volume"]
    assert regions[0].initial == "stopped"


def test_hand_written_forms_read_as_their_meaning() -> None:
    text = doc(
        """
  <state id="A">
    <initial><transition target="A2"/></initial>
    <state id="A1"/>
    <state id="A2">
      <transition event="go.* stop" target="B"/>
      <transition cond="n &gt; 1" target="A1"/>
      <transition event="self" type="internal" target="A2"/>
      <transition event="inside" type="internal" target="A1"/>
    </state>
    <transition event="down" type="internal" target="A1"/>
    <transition event="done.state.A" target="B"/>
  </state>
  <state id="B" xmlns:qt="http://www.qt.io/2015/02/scxml-ext">
    <qt:editorinfo geometry="0;0;10;10"/>
  </state>""",
        initial="A",
    )
    definition = from_scxml(text, check=check_machine)
    assert definition.states[0].initial_child == "A2"
    plain = [(t.trigger, t.source, t.dest, t.internal, t.auto) for t in definition.transitions]
    assert plain == [
        ("go", "A2", "B", False, False),
        ("stop", "A2", "B", False, False),
        (None, "A2", "A1", False, True),
        ("self", "A2", "A2", False, False),  # SCXML: an atomic source is exited anyway
        ("inside", "A2", "A1", False, False),  # not inside A2: external
        ("down", "A", "A1", True, False),  # a proper descendant of A: internal
        ("done.state.A", "A", "B", False, False),
    ]
    assert definition.transitions[2].guards == (GuardSpec(expr="n > 1"),)


def test_a_w3c_send_without_cancel_is_a_delayed_transition() -> None:
    text = doc(
        """
  <state id="wait">
    <onentry><send event="late" delay="2s"/></onentry>
    <transition event="late" target="gone"/>
  </state>
  <final id="gone"/>"""
    )
    (transition,) = from_scxml(text).transitions
    assert (transition.trigger, transition.after, transition.dest) == ("late", "2s", "gone")


def test_a_history_default_naming_every_region_is_the_plain_default() -> None:
    text = doc(
        """
  <state id="out"><transition event="back" target="h"/></state>
  <parallel id="p">
    <history id="h"><transition target="r2 r1"/></history>
    <state id="r1"><state id="a"/></state>
    <state id="r2"><state id="b"/></state>
  </parallel>"""
    )
    (history,) = [s for s in from_scxml(text).states if s.name == "h"]
    assert (history.type, history.default) == ("history", None)


def test_a_document_without_namespace_or_name() -> None:
    definition = from_scxml("<scxml><state id='a'/></scxml>", name="fallback")
    assert definition.meta.machine_name == "fallback"
    assert refusal("<scxml><state id='a'/></scxml>") == [
        "line 1: <scxml> needs a name: PyStator machines are named"
    ]


# ------------------------------------------------------------------------ what is refused
REFUSED = [
    ("<state id='a'><invoke src='x.scxml'/></state>", "line 2: <invoke> is not supported"),
    (
        "<state id='a'><onentry><script>x = 1</script></onentry></state>",
        "line 2: <script> is not supported",
    ),
    ("<state id='a'><onentry><log expr='1'/></onentry></state>", "line 2: <log> is not supported"),
    ("<state id='a'><onexit><if cond='x'/></onexit></state>", "line 2: <if> is not supported"),
    (
        "<state id='a'><onentry><foreach array='x' item='i'/></onentry></state>",
        "line 2: <foreach> is not supported",
    ),
    (
        "<datamodel><data id='x' expr='0'/></datamodel><state id='a'/>",
        "line 2: <datamodel> is not supported",
    ),
    (
        "<final id='a'><donedata><content expr='1'/></donedata></final>",
        "line 2: <donedata> is not supported",
    ),
    (
        "<state id='a'><onentry><send event='x' target='#_parent'/></onentry></state>",
        "line 2: <send> is not supported: attribute 'target'",
    ),
    (
        "<state id='a'><onentry><send event='x'/></onentry></state>",
        "line 2: <send> is not supported: a <send> without both event and delay",
    ),
    (
        "<state id='a'><transition event='go'><send event='x' delay='1s'/></transition></state>",
        "line 2: <send> is not supported: only a <send event delay> in a state's <onentry>",
    ),
    (
        "<state id='a'><onentry><cancel sendid='x'/></onentry></state>",
        "line 2: <cancel> is not supported",
    ),
    (
        "<state id='a'><transition event='*' target='a'/></state>",
        "line 2: <transition event='*'> is not supported",
    ),
    (
        "<state id='a'><transition event='error.execution' target='a'/></state>",
        "line 2: <transition event='error.execution'> is not supported: PyStator raises no "
        "such event",
    ),
    (
        "<state id='a'><transition event='done.state' target='a'/></state>",
        "line 2: <transition event='done.state'> is not supported: it matches every done event",
    ),
    (
        "<state id='a'><transition event='a.b' target='a'/></state>",
        "line 2: <transition event='a.b'> is not supported",
    ),
    (
        "<state id='a'/><state id='b'><transition event='go' target='a b'/></state>",
        "line 2: <transition target='a b'> is not supported",
    ),
    (
        "<state id='a'><transition event='go' cond='_event.data.x' target='a'/></state>",
        "line 2: cond reads _event",
    ),
    (
        "<state id='a'><transition event='go' cond=\"In('a')\" target='a'/></state>",
        "line 2: cond calls In()",
    ),
    (
        "<state id='a'><onentry><assign location='a.b' expr='1'/></onentry></state>",
        "line 2: <assign location='a.b'> is not supported",
    ),
    ("<state><transition event='go'/></state>", "line 2: <state> needs an id"),
    (
        "<final id='a'><transition event='go' target='a'/></final>",
        "line 2: <transition> is not supported",
    ),
    (
        "<parallel id='p'><state id='r'/></parallel>",
        "line 2: region 'r' of <parallel id='p'> holds no state",
    ),
    (
        "<parallel id='p'><final id='f'/></parallel>",
        "line 2: <final> is not supported: directly in <parallel id='p'>",
    ),
    (
        "<parallel id='p'><state id='r'><onentry/><state id='a'/></state></parallel>",
        "line 2: <onentry> is not supported: region 'r'",
    ),
    (
        "<state id='a'><history id='h'><transition target='a'><raise event='x'/></transition>"
        "</history></state>",
        "line 2: <transition> is not supported: a history default names one state",
    ),
    ("<state id='a' src='x.scxml'/>", "line 2: <state> attribute 'src' is not supported"),
    (
        "<state id='a' initial='b c'><state id='b'/><state id='c'/></state>",
        "line 2: <state> is not supported: initial 'b c' names several states",
    ),
    ("<state id='a'/><state id='a'/>", "line 2: id 'a' is used twice"),
]


@pytest.mark.parametrize(
    ("body", "message"), REFUSED, ids=[re.sub(r"\W+", "_", m)[:48] for _, m in REFUSED]
)
def test_what_cannot_be_expressed_is_refused_naming_the_element_and_line(
    body: str, message: str
) -> None:
    problems = refusal(doc(body))
    assert any(p.startswith(message) for p in problems), problems


def test_a_datamodel_other_than_null_or_ecmascript_is_refused() -> None:
    (problem,) = refusal(doc("<state id='a'/>", datamodel="xpath"))
    assert problem.startswith("line 1: <scxml> is not supported: datamodel 'xpath'")


def test_every_problem_is_reported_at_once_in_document_order() -> None:
    text = doc("<state id='a'><invoke/>\n<onentry><log/></onentry></state>\n<script/>")
    problems = refusal(text)
    assert [p.split(" is not supported")[0] for p in problems] == [
        "line 2: <invoke>",
        "line 3: <log>",
        "line 4: <script>",
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            """<state id='a'><onentry><send event='t' delay='1s'/></onentry>
            <transition event='t' target='b'/></state>
            <state id='b'><transition event='t' target='a'/></state>""",
            "is also taken by the transition at line 4 (state 'b')",
        ),
        (
            """<state id='a'><onentry><send event='t' delay='1s'/></onentry>
            <transition event='t' target='b'/><transition event='t' target='a'/></state>
            <state id='b'/>""",
            "is taken by 2 transitions of state 'a'",
        ),
        (
            """<state id='a'><onentry><send event='t.x' delay='1s'/></onentry>
            <transition event='t' target='b'/></state><state id='b'/>""",
            "is also taken by the transition at line 3",
        ),
        (
            """<state id='a'><onentry><send event='t' delay='1s'/><raise event='t'/></onentry>
            <transition event='t' target='b'/></state><state id='b'/>""",
            "is also raised with <raise>",
        ),
        (
            """<state id='a'><onentry><send event='t' delay='1s'/></onentry>
            <transition event='t' target='b'/></state>
            <state id='b'><onentry><send event='t' delay='2s'/></onentry>
            <transition event='t' target='a'/></state>""",
            "is sent with a delay by several states ('a', 'b') without a <cancel>",
        ),
        (
            """<parallel id='p'>
            <state id='r1'><state id='a'><onentry><send event='t' delay='1s' id='s1'/></onentry>
            <onexit><cancel sendid='s1'/></onexit><transition event='t' target='a'/></state></state>
            <state id='r2'><state id='b'><onentry><send event='t' delay='1s' id='s2'/></onentry>
            <onexit><cancel sendid='s2'/></onexit><transition event='t' target='b'/></state></state>
            </parallel>""",
            "which can be active together",
        ),
        (
            "<state id='a'><onexit><cancel sendid='nope'/></onexit></state>",
            "<cancel sendid='nope'> cancels no <send>",
        ),
        (
            """<state id='a'><onentry><send event='t' delay='5'/></onentry>
            <transition event='t' target='a'/></state>""",
            "delay '5' is not a time",
        ),
    ],
)
def test_a_delayed_send_that_does_not_mean_a_delayed_transition_is_refused(
    body: str, message: str
) -> None:
    problems = refusal(doc(body))
    assert any(message in p for p in problems), problems


def test_the_checks_name_the_document_line() -> None:
    text = doc(
        """<state id="a">
    <transition event="go" target="nowhere"/>
  </state>"""
    )
    (problem,) = refusal(text)
    assert problem == "transitions[0].dest: state 'nowhere' is not defined (line 3)"
    text = doc('<state id="a"><transition event="go" cond="x &gt; 1 &amp;&amp; y"/></state>')
    (problem,) = refusal(text)
    assert problem.startswith("transitions[0].guards[0].expr: expression 'x > 1 && y'")
    assert problem.endswith("(line 2)")


def test_an_edited_cond_that_no_longer_matches_its_guards_is_refused() -> None:
    definition = load_yaml_string("""
meta: {machine_name: m}
states: [{name: A}]
transitions: [{trigger: go, source: A, guards: [ready, {expr: "n > 1"}]}]
""")
    edited = to_scxml(definition).replace('cond="n &gt; 1"', 'cond="n &gt; 2"')
    assert any("cond does not match the expr guards of ps:guards" in p for p in refusal(edited))


def test_unknown_pystator_attributes_and_versions_are_refused() -> None:
    text = doc("<state id='a' ps:colour='red'/>").replace(
        "<scxml ", f'<scxml xmlns:ps="{PYSTATOR_NS}" '
    )
    assert refusal(text) == ["line 2: <state> attribute 'ps:colour' is not PyStator's"]
    later = text.replace(PYSTATOR_NS, "urn:pystator:scxml:2")
    assert refusal(later)[0].startswith("line 2: namespace 'urn:pystator:scxml:2' is not one")


def test_text_xml_cannot_hold_is_refused_on_export() -> None:
    definition = load_yaml_string(
        'meta: {machine_name: m, description: "bell\\a"}\nstates: [{name: A}]'
    )
    with pytest.raises(ConfigurationError, match=r"U\+0007, which XML 1\.0 cannot represent"):
        to_scxml(definition)


# ------------------------------------------------------------------------ unsafe XML
UNSAFE = [
    (
        """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">]>
<scxml name="m"><state id="&lol2;"/></scxml>""",
        "line 2: a document type declaration (<!DOCTYPE lolz>) is not allowed",
    ),
    (
        """<?xml version="1.0"?>
<!DOCTYPE scxml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<scxml name="m"><state id="a">&secret;</state></scxml>""",
        "line 2: a document type declaration",
    ),
    (
        """<!DOCTYPE scxml SYSTEM "http://example.invalid/scxml.dtd"><scxml name="m"/>""",
        "line 1: a document type declaration (<!DOCTYPE scxml>) is not allowed",
    ),
    (
        "<scxml name='m'><state id='a'></scxml>",
        "line 1, column 33: not well-formed XML: mismatched tag",
    ),
    ("", "line 1, column 1: not well-formed XML: no element found"),
    (
        "<scxml name='m'>&undefined;</scxml>",
        "line 1, column 17: not well-formed XML: undefined entity",
    ),
    ("<machine name='m'/>", "line 1: the root element is <machine>, not <scxml>"),
]


@pytest.mark.parametrize(("text", "message"), UNSAFE, ids=lambda v: str(v)[:30])
def test_unsafe_and_malformed_xml_is_refused(text: str, message: str) -> None:
    assert refusal(text)[0].startswith(message)


def test_size_and_depth_are_bounded() -> None:
    with pytest.raises(ConfigurationError, match="larger than the limit of 100 bytes"):
        read_scxml(doc("<state id='a'/>" * 20), max_bytes=100)
    deep = "<scxml name='m'>" + "<state id='s'>" * MAX_XML_DEPTH + "</state>" * MAX_XML_DEPTH
    with pytest.raises(ConfigurationError, match="nested too deeply"):
        read_scxml(deep + "</scxml>")


def test_a_deep_state_tree_round_trips() -> None:
    """A parent chain of 500 states (well past Python's recursion limit in a recursive
    walk) written as nested elements, and back."""
    states = [{"name": "S0"}] + [{"name": f"S{i}", "parent": f"S{i - 1}"} for i in range(1, 500)]
    definition = definition_from_data({"meta": {"machine_name": "deep"}, "states": states})
    assert round_trip(definition) == definition


def test_bytes_in_another_declared_encoding_are_read() -> None:
    text = (
        '<?xml version="1.0" encoding="ISO-8859-1"?><scxml name="m">'
        f'<state id="a" ps:description="caf\xe9" xmlns:ps="{PYSTATOR_NS}"/></scxml>'
    )
    assert from_scxml(text.encode("latin-1")).states[0].description == "café"
    assert from_scxml(text).states[0].description == "café"


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(statecharts(), machines()))
def test_generated_definitions_round_trip(data: dict[str, Any]) -> None:
    """Lossless for every definition whose texts XML can hold; a refusal for the others."""
    definition = definition_from_data(data)
    refused = None
    try:
        text = to_scxml(definition)
    except ConfigurationError as exc:
        refused = str(exc)
    if refused is not None:
        # Only a text XML cannot hold (JSON-carried values are escaped) is refused.
        assert "which XML 1.0 cannot represent" in refused
        assert any(NOT_XML.search(text) for text in _texts(definition.model_dump()))
        return
    assert from_scxml(text).model_dump() == definition.model_dump()


def _texts(value: Any) -> list[str]:
    """Every string in plain data, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in (*_texts(k), *_texts(v))]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _texts(v)]
    return []


def test_a_transition_of_two_active_sources_is_taken_once_by_pystator_and_per_copy_by_scxml() -> (
    None
):
    """The one difference of the plain reading (docs/scxml.md, "Source lists"): a targetless
    transition of two states active together (two regions) raises its event once in
    PyStator, once per copy in SCXML; read back with PyStator's namespace, it is one
    transition again."""
    definition = load_yaml_string("""
meta: {machine_name: m}
states:
  - name: P
    type: parallel
    regions: [{name: r1, states: [a]}, {name: r2, states: [b]}]
transitions:
  - {trigger: tick, source: [a, b], actions: [{raise: tock}]}
  - {trigger: tock, source: P, internal: true}
""")
    ours = StateMachine.from_definition(round_trip(definition))
    plain = StateMachine.from_definition(from_scxml(strip_pystator(to_scxml(definition))))
    assert ours.process(ours.get_initial_state(), "tick").internal_events == ("tock",)
    assert plain.process(plain.get_initial_state(), "tick").internal_events == ("tock", "tock")


def test_pystator_markers_say_what_they_mean() -> None:
    head = f'<scxml xmlns="http://www.w3.org/2005/07/scxml" xmlns:ps="{PYSTATOR_NS}" name="m">'
    named = (
        head + "<parallel id='p'><state id='r'>"
        "<state id='a' ps:form='name'><onentry><raise event='go'/></onentry>"
        "<transition event='go' target='a'/></state></state></parallel></scxml>"
    )
    assert refusal(named) == [
        "line 1: state 'a' has fields of its own, but ps:form='name' lists it by name alone: "
        "drop ps:form"
    ]
    marked = head + "<state id='a' initial='b' ps:initial='yes'><state id='b'/></state></scxml>"
    assert refusal(marked) == ["line 1: ps:initial is 'implied' or absent"]
    outside = head + "<state id='a' ps:form='flat'/></scxml>"
    assert refusal(outside) == ["line 1: ps:form='flat' applies to a region's states only"]
