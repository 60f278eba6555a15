"""The web UI's diagrams (laid out by ELK's layered algorithm, elkjs, in a worker) and the live
configuration on them, in headless Chromium (the browser, server and page helpers of
``test_ui_browser.py``).

What a person sees: on every example machine (each ``examples/*.yaml``, each machine a
Python example defines, each template of the UI) no transition label covers another label,
a state, a compound state's title or a line; the simulator and the entity page mark every
active state of every region, the states around them and the transitions the last step
took, and the exported SVG and Mermaid carry that highlight. No page loads anything from
another host, the layout worker included.
"""

from __future__ import annotations

import re
import runpy
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from pystator import Machine, StateMachine
from tests.conftest import EXAMPLES, ROOT
from tests.integration.diagram_geometry import GEOMETRY, covered
from tests.integration.test_ui_browser import (  # noqa: F401 (fixtures, found by name)
    ARTIFACTS,
    ORDER_YAML,
    Page,
    driver,
    page,
    same_origin_only,
    server,
    shows_the_operations,
    store_machine,
    workdir,
)
from tests.unit.test_internal_events_shells import HISTORY

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def ui(request: pytest.FixtureRequest) -> Page:
    """``test_ui_browser``'s ``page``: its server, browser and end-of-test log checks."""
    found: Page = request.getfixturevalue("page")
    return found


TEMPLATES_JS = ROOT / "pystator" / "ui" / "static" / "js" / "templates.js"
DAY_TRADING_YAML = (EXAMPLES / "day_trading_fsm.yaml").read_text(encoding="utf-8")
DAY_TRADING = yaml.safe_load(DAY_TRADING_YAML)
SVG = "{http://www.w3.org/2000/svg}"


# ----------------------------------------------------------------------------- the machines
def python_machines(path: Path) -> list[tuple[str, str]]:
    """(name, YAML) of each machine the Python example ``path`` defines at its top level: a
    ``Machine`` class, or a definition as a dict (its ``main`` is not run)."""
    namespace = runpy.run_path(str(path), run_name="pystator_example")
    found = []
    for name, value in namespace.items():
        if isinstance(value, dict) and {"states", "transitions"} <= value.keys():
            found.append((name, StateMachine.from_dict(value).to_yaml()))
        elif (
            isinstance(value, type)
            and issubclass(value, Machine)
            and value.__module__ == "pystator_example"
        ):
            found.append((name, StateMachine.from_definition(value.definition).to_yaml()))
    return found


def example_machines() -> list[Any]:
    """A pytest param per machine drawn: ("yaml", text) or ("template", id)."""
    params = [
        pytest.param("yaml", p.read_text(encoding="utf-8"), id=p.stem)
        for p in sorted(EXAMPLES.glob("*.yaml"))
    ]
    for path in sorted(EXAMPLES.glob("*.py")):
        for name, text in python_machines(path):
            params.append(pytest.param("yaml", text, id=f"{path.stem}.{name}"))
    # History states in a parallel state and as a compound state's start (no example has one).
    params.append(pytest.param("yaml", StateMachine.from_dict(HISTORY).to_yaml(), id="history"))
    template_ids = re.findall(r'^\s+id: "(\w+)",$', TEMPLATES_JS.read_text("utf-8"), re.M)
    params += [pytest.param("template", t, id=f"template-{t}") for t in template_ids]
    return params


MACHINES = example_machines()


def test_every_example_machine_is_drawn() -> None:
    ids = {p.id for p in MACHINES}
    assert {p.stem for p in EXAMPLES.glob("*.yaml")} <= ids
    assert {"python_defined_machine.PythonOrders", "typed_order.TypedOrder"} <= ids
    assert {"template-order", "template-hierarchy", "template-parallel"} <= ids


def draw(ui: Page, kind: str, value: str) -> None:
    ui.open("#/new")
    if kind == "template":
        ui.js(
            "const s = document.querySelector('#template-select'); s.value = arguments[0];"
            "s.dispatchEvent(new Event('change'));",
            value,
        )
        ui.button("Use template").click()
    else:
        ui.paste("#definition-text", value)
    ui.wait_status("valid")


# ----------------------------------------------------------------------------- geometry
def drawn_transitions(ui: Page) -> set[str]:
    found: list[str] = ui.js(
        "return [...document.querySelectorAll('.diagram path.edge[data-transition]')]"
        ".map(e => e.dataset.transition)"
    )
    return set(found)


# A wide pane lays the flow out to the right; a narrow one (a phone) downwards.
PANES = {"wide": (1280, 800), "narrow": (390, 844)}


@pytest.mark.parametrize("pane", list(PANES))
@pytest.mark.parametrize(("kind", "value"), MACHINES)
def test_no_label_covers_a_label_a_state_or_a_line(
    ui: Page, kind: str, value: str, pane: str, request: pytest.FixtureRequest
) -> None:
    ui.viewport(*PANES[pane])
    draw(ui, kind, value)
    text = ui.js("return document.querySelector('#definition-text').value")
    machine = StateMachine.from_yaml_string(text)
    regions = set(ui.data(".diagram [data-region]", "region"))
    assert ui.diagram_states() | regions == set(machine.states)
    # Every transition is drawn (timeouts, drawn too, have no index).
    indices = {str(i) for i in range(len(machine.definition.transitions))}
    assert drawn_transitions(ui) - {"-1"} == indices
    geometry = ui.js(GEOMETRY)
    assert len(geometry["labels"]) >= len(machine.definition.transitions)
    problems = covered(geometry)
    example = request.node.callspec.id.removesuffix(f"-{pane}")
    if problems or example in ("order_workflow_fsm", "day_trading_fsm"):
        screenshot_diagram(ui, f"diagram-{example}-{pane}")
    assert not problems, problems


def screenshot_diagram(ui: Page, name: str) -> None:
    """The workspace with the diagram, and the diagram alone at its full size (a copy laid
    over the page, then removed)."""
    ui.js("document.querySelector('.diagram').scrollIntoView()")
    ui.screenshot(name)
    size = ui.js(
        "const v = document.querySelector('.diagram svg').cloneNode(true);"
        "v.setAttribute('width', v.viewBox.baseVal.width);"
        "v.setAttribute('height', v.viewBox.baseVal.height);"
        "const d = document.createElement('div'); d.id = 'diagram-shot';"
        "Object.assign(d.style, {position: 'fixed', left: '0', top: '0', zIndex: '1000'});"
        "d.append(v); document.body.append(d);"
        "return [v.viewBox.baseVal.width, v.viewBox.baseVal.height];"
    )
    ui.viewport(max(1280, int(size[0]) + 40), max(800, int(size[1]) + 40))
    ui.find("#diagram-shot svg").screenshot(str(ARTIFACTS / f"{name}-full.png"))
    ui.js("document.getElementById('diagram-shot').remove()")
    ui.viewport(1280, 800)


def test_the_check_sees_labels_on_states_labels_and_lines(ui: Page) -> None:
    """The check above can fail: labels moved onto a state and onto another label."""
    draw(ui, "yaml", (EXAMPLES / "order_workflow_fsm.yaml").read_text(encoding="utf-8"))
    assert not covered(ui.js(GEOMETRY))
    ui.js(
        "const labels = [...document.querySelectorAll('.diagram .labels .edge-label rect')];"
        "const state = document.querySelector('.diagram [data-state=PENDING] .box').getBBox();"
        "labels[0].setAttribute('x', state.x); labels[0].setAttribute('y', state.y);"
        "labels[1].setAttribute('x', labels[2].getAttribute('x'));"
        "labels[1].setAttribute('y', labels[2].getAttribute('y'));"
    )
    problems = " | ".join(covered(ui.js(GEOMETRY)))
    assert "covers state PENDING" in problems
    assert re.search(r'label "[^"]+" covers label "[^"]+"', problems)
    assert "is crossed by the line of" in problems


def test_the_newest_definition_wins_over_a_layout_still_running(ui: Page) -> None:
    """A large machine is still being laid out (the worker's first layout also loads ELK)
    when a template replaces it: the template is drawn last, the large one never after it."""
    ui.open("#/new")
    ui.js(
        "window.__drawn = [];"
        "new MutationObserver(() => {"
        "  const svg = document.querySelector('.diagram svg');"
        "  if (svg) window.__drawn.push([...svg.querySelectorAll('[data-state]')]"
        "    .map((e) => e.dataset.state).sort().join(','));"
        "}).observe(document.querySelector('.diagram-holder'), {childList: true});"
    )
    ui.paste("#definition-text", DAY_TRADING_YAML)
    ui.wait_for(
        lambda: ui.js("return document.querySelector('.diagram').hasAttribute('aria-busy')"),
        "the large machine's layout",
    )
    ui.button("Use template").click()  # the Order template, parsed at once
    ui.wait_status("valid")
    order = {"PENDING", "OPEN", "FILLED", "CANCELLED"}
    assert ui.diagram_states() == order
    drawn: list[str] = ui.js("return window.__drawn")
    assert drawn
    assert drawn[-1] == ",".join(sorted(order)), drawn


# ----------------------------------------------------------------------------- highlights
def transition_index(trigger: str, source: str, dest: str | None = None) -> int:
    """The position in day_trading's transitions of the one ``trigger`` takes from ``source``."""
    for i, t in enumerate(DAY_TRADING["transitions"]):
        sources = t["source"] if isinstance(t["source"], list) else [t["source"]]
        if t.get("trigger") == trigger and source in sources and t.get("dest", dest) == dest:
            return i
    raise AssertionError(f"day_trading has no {trigger} from {source} to {dest}")


MARKET_OPEN = transition_index("market_open", "PRE_MARKET", "TRADING_DAY")
BUY = transition_index("buy", "FLAT", "LONG")
# One event, a transition in two regions: the trading region stops out, the risk region
# rises (the guard drawdown_above passes for both).
PNL_UPDATE = {
    transition_index("pnl_update", "LONG", "FLAT"),
    transition_index("pnl_update", "CALM", "ELEVATED"),
}
CONNECTED = transition_index("connected", "CONNECTING", "STREAMING")
REGIONS = {"trading", "risk", "feed"}


def highlighted(ui: Page) -> dict[str, set[str]]:
    """What the diagram marks: active leaves, active states around them, active regions,
    and the transitions taken (their lines and their labels)."""
    ui.wait_diagram()
    found: dict[str, list[str]] = ui.js(
        "const q = (css, key) => [...document.querySelectorAll('.diagram svg ' + css)]"
        "  .map(e => e.dataset[key]);"
        "return {current: q('.current[data-state]', 'state'),"
        "  around: q('.active:not(.current)[data-state]', 'state'),"
        "  regions: q('.active[data-region]', 'region'),"
        "  lines: q('path.edge.taken', 'transition'),"
        "  labels: q('.edge-label.taken', 'transition')};"
    )
    return {key: set(value) for key, value in found.items()}


def expect_highlight(ui: Page, current: set[str], taken: set[int], what: str) -> None:
    ui.wait_for(lambda: highlighted(ui)["current"] == current, f"{what}: {sorted(current)}")
    marks = highlighted(ui)
    assert marks["around"] == {"TRADING_DAY"}, marks
    assert marks["regions"] == REGIONS, marks
    assert marks["lines"] == marks["labels"] == {str(i) for i in taken}, marks
    # Of a transition with several sources, only the line from the active one.
    assert len(ui.find_all(".diagram path.edge.taken")) == len(taken)


def exported_svg(ui: Page) -> ET.Element:
    """The SVG file "Export SVG" downloads, parsed."""
    ui.js(
        "window.__blobs = []; const make = URL.createObjectURL;"
        "URL.createObjectURL = b => { window.__blobs.push(b); return make.call(URL, b); };"
    )
    ui.button("Export SVG").click()
    ui.wait_for(lambda: ui.js("return window.__blobs.length") == 1, "the SVG download")
    text: str = ui.driver.execute_async_script(
        "const done = arguments[arguments.length - 1]; window.__blobs[0].text().then(done);"
    )
    assert "<style>" in text
    assert ".current" in text, "the highlight's styles travel with it"
    return ET.fromstring(text.split("?>", 1)[1])


def svg_marks(root: ET.Element) -> dict[str, set[str]]:
    def having(cls: str, key: str) -> set[str]:
        return {
            el.get(key, "")
            for el in root.iter()
            if cls in (el.get("class") or "").split() and el.get(key) is not None
        }

    return {
        "current": having("current", "data-state"),
        "active": having("active", "data-state"),
        "regions": having("active", "data-region"),
        "taken": {
            el.get("data-transition", "")
            for el in root.iter(f"{SVG}path")
            if "taken" in (el.get("class") or "").split() and el.get("data-transition")
        },
    }


def exported_mermaid(ui: Page) -> str:
    ui.button("Export Mermaid").click()
    text: str = ui.find("#mermaid-text").get_attribute("value")
    ui.press("\ue00c")
    ui.wait_for(lambda: not ui.find_all("dialog"), "the dialog to close")
    return text


def mermaid_classes(text: str) -> dict[str, set[str]]:
    """``class A,B name`` lines of a Mermaid text: name -> states."""
    found: dict[str, set[str]] = {}
    for names, cls in re.findall(r"^\s*class (\S+) (\w+)$", text, re.M):
        found.setdefault(cls, set()).update(names.split(","))
    return found


def expect_exports(ui: Page, current: set[str], taken: set[int], configuration: str) -> None:
    marks = svg_marks(exported_svg(ui))
    assert marks["current"] == current, marks
    assert marks["active"] == current | {"TRADING_DAY"}, marks
    assert marks["regions"] == REGIONS, marks
    assert marks["taken"] == {str(i) for i in taken}, marks
    text = exported_mermaid(ui)
    assert "classDef current " in text
    assert "classDef active " in text
    assert mermaid_classes(text) == {"current": current, "active": {"TRADING_DAY"}}
    assert f"%% active configuration: {configuration}" in text
    assert text.count("%% last step took: ") == len(taken)


def test_the_simulator_highlights_every_active_state_and_the_last_step(ui: Page) -> None:
    machine = store_machine(ui.base, DAY_TRADING_YAML)
    ui.open(f"#/machines/{machine}/simulate")
    ui.wait_for(lambda: ui.find("#sim-current").text == "PRE_MARKET", "PRE_MARKET")
    assert highlighted(ui)["current"] == {"PRE_MARKET"}

    ui.click("[data-trigger=market_open]")
    expect_highlight(ui, {"FLAT", "CALM", "CONNECTING"}, {MARKET_OPEN}, "market_open")
    ui.click("[data-trigger=buy]")
    expect_highlight(ui, {"LONG", "CALM", "CONNECTING"}, {BUY}, "buy")
    ui.click("[data-trigger=pnl_update]")
    expect_highlight(ui, {"FLAT", "ELEVATED", "CONNECTING"}, PNL_UPDATE, "pnl_update")
    configuration = "TRADING_DAY(trading=FLAT, risk=ELEVATED, feed=CONNECTING)"
    assert ui.find("#sim-current").text == configuration
    screenshot_diagram(ui, "simulator-parallel-highlight")
    expect_exports(ui, {"FLAT", "ELEVATED", "CONNECTING"}, PNL_UPDATE, configuration)

    # Back a step: the configuration and the step that led there.
    ui.button("Go back here", within=".steps li:nth-child(3)").click()
    expect_highlight(ui, {"LONG", "CALM", "CONNECTING"}, {BUY}, "back after buy")


def test_the_entity_page_highlights_every_active_state_and_the_last_event(ui: Page) -> None:
    machine = store_machine(ui.base, DAY_TRADING_YAML)
    url = f"{ui.base}/api/v1/machines/{machine}/entities"
    created = httpx.post(url, json={"entity_id": "desk-1"}, timeout=10)
    assert created.status_code in (201, 409), created.text
    if created.status_code == 201:
        for trigger in ("market_open", "buy", "pnl_update"):
            body = {"trigger": trigger, "guards": {"drawdown_above": True}}
            sent = httpx.post(f"{url}/desk-1/events", json=body, timeout=10)
            assert sent.status_code == 200, sent.text
            assert sent.json()["result"]["success"], sent.text
    ui.open(f"#/machines/{machine}/entities/desk-1")
    configuration = "TRADING_DAY(trading=FLAT, risk=ELEVATED, feed=CONNECTING)"
    ui.wait_for(lambda: ui.find("#entity-state").text == configuration, "the entity")
    expect_highlight(ui, {"FLAT", "ELEVATED", "CONNECTING"}, PNL_UPDATE, "the last event")
    screenshot_diagram(ui, "entity-parallel-highlight")
    expect_exports(ui, {"FLAT", "ELEVATED", "CONNECTING"}, PNL_UPDATE, configuration)

    # An event sent from the page moves one region; the highlight follows.
    ui.js(
        "const s = document.querySelector('select[name=event-trigger]'); s.value = 'connected';"
        "s.dispatchEvent(new Event('change'));"
    )
    ui.button("Send event").click()
    ui.wait_for(lambda: ui.find("#entity-version").text == "5", "the event")
    expect_highlight(ui, {"FLAT", "ELEVATED", "STREAMING"}, {CONNECTED}, "connected")


# ----------------------------------------------------------------------------- hosts
def worker_loaded(ui: Page) -> list[str]:
    """What the diagrams' layout worker loaded (its own list: the page's lacks it)."""
    found: list[str] = ui.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "import('/ui/assets/js/elk-run.js').then((m) => m.workerResources())"
        "  .then(done, (err) => done(['failed: ' + err]));"
    )
    return found


def test_no_page_loads_anything_from_another_host(ui: Page) -> None:
    machine = store_machine(ui.base, ORDER_YAML)
    url = f"{ui.base}/api/v1/machines/{machine}/entities"
    assert httpx.post(url, json={"entity_id": "hosts-1"}, timeout=10).status_code in (201, 409)
    workspace = [
        "#/new",
        f"#/machines/{machine}",
        f"#/machines/{machine}/build",
        f"#/machines/{machine}/simulate",
        f"#/machines/{machine}/entities",
        f"#/machines/{machine}/entities/hosts-1",
    ]
    for route in ["#/", "#/login", *workspace]:
        ui.driver.get("about:blank")  # a new document: its own list of loads
        ui.open(route)
        if route in workspace:
            if route == "#/new":
                ui.button("Use template").click()
            ui.wait_for(lambda: ui.find_all(".diagram svg [data-state]"), f"{route}: diagram")
            ui.wait_diagram()
            loaded = worker_loaded(ui)
            assert any(u.endswith("/ui/assets/vendor/elk/elk.bundled.js") for u in loaded), loaded
            others = [u for u in loaded if not u.startswith(ui.base + "/")]
            assert not others, f"{route}: the layout worker loaded from another host: {others}"
            page_loads: list[str] = ui.js(
                "return performance.getEntriesByType('resource').map(e => e.name)"
            )
            assert f"{ui.base}/ui/assets/vendor/codemirror/codemirror.js" in page_loads
        same_origin_only(ui)
    for route in ("/docs", "/redoc"):
        shows_the_operations(ui, route, f"hosts{route.replace('/', '-')}")
