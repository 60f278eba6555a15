"""The web UI after a review of its editor and diagram, in headless Chromium (the browser,
server and page helpers of ``test_ui_browser.py``).

What a person sees, or would see go wrong: leaving a machine's page releases its editor and
its diagram; a layout that never answers ends in a message, not a pane busy for ever; a
transition into a history state is highlighted; an answer that comes after a tab switch
marks nothing on the other tab; an entity's last transition is found in an unsaved draft by
what it is, not by its position; going back to a step after an edit marks no stale
transition; a state inside a history state does not break the diagram; a validation answer
for older text is never shown; the diagram is laid out again when the pane changes shape;
Export SVG reports a failure; the editor's names and the schema's loading stay per editor
and do not hammer a server that is down.

Answers are held back or refused by wrapping the page's ``fetch`` (no server is stopped),
and a layout that never answers by dropping the messages to the layout worker.
"""

from __future__ import annotations

import httpx
import pytest
import yaml

from pystator import StateMachine
from tests.integration.test_ui_browser import (  # noqa: F401 (fixtures, found by name)
    ORDER_YAML,
    Page,
    driver,
    page,
    server,
    store_machine,
    workdir,
)
from tests.unit.test_internal_events_shells import HISTORY

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HISTORY_YAML = StateMachine.from_dict(HISTORY).to_yaml()


@pytest.fixture
def ui(request: pytest.FixtureRequest) -> Page:
    """``test_ui_browser``'s ``page``: its server, browser and end-of-test log checks."""
    found: Page = request.getfixturevalue("page")
    return found


# Holds back the answers to requests whose URL contains `part` (the next `count` of them):
# the request is sent at once, its answer handed to the page only on window.__release().
# window.__ready counts the held answers the server has given.
HOLD = """
const part = arguments[0];
let count = arguments[1];
window.__held = []; window.__ready = 0;
const real = window.__realFetch || window.fetch;
window.__realFetch = real;
window.fetch = (url, init) => {
  if (!String(url).includes(part) || count <= 0) return real(url, init);
  count -= 1;
  const answer = real(url, init);
  answer.then(() => { window.__ready += 1; }, () => { window.__ready += 1; });
  return new Promise((resolve) => window.__held.push(() => resolve(answer)));
};
window.__release = () => {
  const held = window.__held; window.__held = []; held.forEach((f) => f());
};
"""


def hold(ui: Page, part: str, count: int = 1) -> None:
    ui.js(HOLD, part, count)


def taken_lines(ui: Page) -> set[str]:
    ui.wait_diagram()
    found: list[str] = ui.data(".diagram svg path.edge.taken", "transition")
    return {str(x) for x in found}


def marked_states(ui: Page) -> list[str]:
    found: list[str] = ui.data(".diagram svg .current[data-state]", "state")
    return found


def text_of(ui: Page, css: str) -> str:
    """The text of an element, shown or not (Selenium's ``.text`` is empty when hidden)."""
    text: str = ui.js(
        "const e = document.querySelector(arguments[0]); return e ? e.textContent : ''", css
    )
    return text


def steps(ui: Page) -> int:
    return len(ui.find_all(".steps li"))


def send(ui: Page, trigger: str) -> None:
    """Send ``trigger`` in the simulator and wait for its step."""
    before = steps(ui)
    ui.click(f"[data-trigger={trigger}]")
    ui.wait_for(lambda: steps(ui) == before + 1, f"the step of {trigger}")
    ui.wait_diagram()


def with_transition_first(text: str, transition: dict[str, str]) -> str:
    data = yaml.safe_load(text)
    data["transitions"].insert(0, transition)
    return yaml.safe_dump(data, sort_keys=False)


def editor_text(ui: Page) -> str:
    text: str = ui.js("return document.querySelector('#definition-text').value")
    return text


# ----------------------------------------------------------------------------- leaving a page
def test_leaving_a_machine_releases_its_editor_and_its_diagram(ui: Page) -> None:
    ui.open("#/")
    # Watch which elements ResizeObservers watch, and which observers are disconnected.
    ui.js(
        "window.__observed = [];"
        "const observe = ResizeObserver.prototype.observe;"
        "ResizeObserver.prototype.observe = function (target, ...rest) {"
        "  window.__observed.push({observer: this, target});"
        "  return observe.call(this, target, ...rest); };"
        "const disconnect = ResizeObserver.prototype.disconnect;"
        "ResizeObserver.prototype.disconnect = function () {"
        "  this.__disconnected = true; return disconnect.call(this); };"
        "location.hash = '#/new';"
    )
    ui.find("#definition-text")
    ui.button("Use template").click()
    ui.wait_status("valid")
    ui.js(
        "window.__editor = document.querySelector('.workspace .editor');"
        "window.__cm = window.__editor.querySelector('.cm-editor');"
    )
    assert ui.js(
        "return window.__observed.some((o) => o.target.classList.contains('diagram-holder'))"
    )
    ui.js("location.hash = '#/'")
    ui.wait_for(lambda: not ui.find_all(".workspace"), "the machines page")
    # CodeMirror's view is destroyed (its DOM leaves the editor's box), and the diagram's
    # observer is disconnected.
    assert ui.js("return window.__editor.contains(window.__cm)") is False
    assert ui.js(
        "return window.__observed.filter((o) => o.target.classList.contains('diagram-holder'))"
        "  .every((o) => o.observer.__disconnected)"
    )


# ----------------------------------------------------------------------------- layout
def test_a_layout_that_never_answers_ends_in_a_message(ui: Page) -> None:
    ui.open("#/new")
    ui.button("Use template").click()
    ui.wait_status("valid")
    # Shorten the timeout, and drop every message to the layout worker.
    ui.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "import('/ui/assets/js/elk-run.js').then((m) => {"
        "  m.setLayoutTimeout(400);"
        "  window.__post = Worker.prototype.postMessage;"
        "  Worker.prototype.postMessage = function () {};"
        "  done(true); });"
    )
    text = editor_text(ui)
    ui.paste("#definition-text", text.replace("OPEN", "WORKING"))
    ui.wait_status("valid")  # the status comes back; the pane stops being busy
    ui.wait_for(
        lambda: "took longer than 0.4 s" in text_of(ui, ".diagram-status"), "the timeout message"
    )
    assert "The diagram could not be drawn" in text_of(ui, ".diagram-status")
    ui.screenshot("review-layout-timeout")

    # The next layout starts a fresh worker, which answers.
    ui.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "Worker.prototype.postMessage = window.__post;"
        "import('/ui/assets/js/elk-run.js').then((m) => { m.setLayoutTimeout(); done(true); });"
    )
    ui.paste("#definition-text", text.replace("OPEN", "ACTIVE"))
    ui.wait_status("valid")
    ui.wait_for(lambda: "ACTIVE" in ui.diagram_states(), "the new diagram")
    assert text_of(ui, ".diagram-status") == ""


STATE_IN_HISTORY = """\
meta:
  machine_name: state_in_history
states:
  - name: A
    type: initial
  - name: OUTER
    initial_child: IN1
  - name: IN1
    parent: OUTER
  - name: H
    parent: OUTER
    type: history
  - name: UNDER
    parent: H
transitions:
  - trigger: go
    source: A
    dest: UNDER
  - trigger: back
    source: UNDER
    dest: A
  - trigger: reset
    source: "*"
    dest: UNDER
  - trigger: in
    source: A
    dest: OUTER
"""


def test_a_state_inside_a_history_state_leaves_the_rest_drawn(ui: Page) -> None:
    ui.open("#/new")
    ui.paste("#definition-text", STATE_IN_HISTORY)
    ui.wait_for(lambda: ui.status() in ("invalid", "valid"), "the validation")
    ui.wait_for(lambda: ui.diagram_states() >= {"A", "OUTER", "IN1", "H"}, "the diagram")
    assert "could not be drawn" not in text_of(ui, ".diagram-status")
    # The links of the state that is not drawn are left out; the others are drawn.
    assert ui.data(".diagram path.edge[data-transition]", "transition") == ["3"]


def test_the_diagram_is_laid_out_again_when_the_pane_changes_shape(ui: Page) -> None:
    ui.open("#/new")
    ui.button("Use template").click()
    ui.wait_status("valid")

    def direction() -> str:
        found: str = ui.js("return document.querySelector('.diagram').dataset.direction")
        return found

    assert direction() == "RIGHT"
    ui.viewport(390, 844)
    ui.wait_for(lambda: direction() == "DOWN", "the layout downwards")
    ui.wait_diagram()
    ui.viewport(1280, 800)
    ui.wait_for(lambda: direction() == "RIGHT", "the layout to the right")


def test_export_svg_says_when_it_fails(ui: Page) -> None:
    ui.open("#/new")
    ui.button("Use template").click()
    ui.wait_status("valid")
    ui.js(
        "const real = window.fetch;"
        "window.fetch = (url, init) => String(url).includes('diagram.css')"
        "  ? Promise.resolve(new Response('', {status: 503})) : real(url, init);"
        "window.__blobs = []; const make = URL.createObjectURL;"
        "URL.createObjectURL = (b) => { window.__blobs.push(b); return make.call(URL, b); };"
    )
    ui.button("Export SVG").click()
    ui.wait_for(
        lambda: "Could not export the SVG" in " ".join(ui.texts(".toast.error")), "the error"
    )
    assert "503" in " ".join(ui.texts(".toast.error"))
    assert ui.js("return window.__blobs.length") == 0


# ----------------------------------------------------------------------------- highlights
def test_a_transition_into_a_history_state_is_highlighted(ui: Page) -> None:
    machine = store_machine(ui.base, HISTORY_YAML)
    ui.open(f"#/machines/{machine}/simulate")
    ui.wait_for(lambda: ui.find("#sim-current").text == "IDLE", "IDLE")
    for trigger in ("enter", "step_left", "leave"):
        send(ui, trigger)
    send(ui, "again")  # IDLE -> H: P again, as it was (L2, R1)
    assert set(marked_states(ui)) == {"L2", "R1"}
    assert taken_lines(ui) == {"4"}
    ui.screenshot("review-history-highlight")


def test_an_answer_after_a_tab_switch_marks_nothing_there(ui: Page) -> None:
    machine = store_machine(ui.base, ORDER_YAML)
    ui.open(f"#/machines/{machine}/simulate")
    ui.wait_for(lambda: ui.find("#sim-current").text == "PENDING", "PENDING")
    hold(ui, "/ui/api/inspect")
    ui.click("[data-trigger=exchange_ack]")
    ui.wait_for(lambda: ui.js("return window.__ready") == 1, "the held answer")
    ui.js(f"location.hash = '#/machines/{machine}'")
    ui.wait_for(lambda: ui.find_all(".workspace[data-tab=edit]"), "the editor tab")
    ui.js("window.__release()")
    ui.wait_for(lambda: text_of(ui, "#sim-current") == "OPEN", "the step, on the hidden tab")
    assert marked_states(ui) == []
    assert taken_lines(ui) == set()
    # Back on the simulator, its configuration is marked again.
    ui.js(f"location.hash = '#/machines/{machine}/simulate'")
    ui.wait_for(lambda: marked_states(ui) == ["OPEN"], "the simulator's marks")
    assert taken_lines(ui) == {"0"}


def test_going_back_after_an_edit_marks_no_old_transition(ui: Page) -> None:
    machine = store_machine(ui.base, ORDER_YAML)
    ui.open(f"#/machines/{machine}/simulate")
    ui.wait_for(lambda: ui.find("#sim-current").text == "PENDING", "PENDING")
    send(ui, "exchange_ack")
    send(ui, "fill")
    assert taken_lines(ui) == {"1"}
    # An edit puts a transition first: the recorded positions mean other transitions now
    # (the first one, from PENDING too, is what step 2's marks would wrongly point at).
    ui.js(f"location.hash = '#/machines/{machine}'")
    ui.find("#definition-text")
    ui.wait_status("valid")
    edited = with_transition_first(
        editor_text(ui), {"trigger": "ping", "source": "PENDING", "dest": "FILLED"}
    )
    ui.paste("#definition-text", edited)
    ui.wait_status("valid")
    ui.js(f"location.hash = '#/machines/{machine}/simulate'")
    ui.wait_for(lambda: marked_states(ui) == ["FILLED"], "the simulator")
    assert taken_lines(ui) == set()
    ui.button("Undo last step").click()
    ui.wait_for(lambda: marked_states(ui) == ["OPEN"], "back at OPEN")
    assert taken_lines(ui) == set()


def test_an_entity_with_an_unsaved_draft_marks_its_transition_in_the_draft(ui: Page) -> None:
    machine = store_machine(ui.base, ORDER_YAML)
    url = f"{ui.base}/api/v1/machines/{machine}/entities"
    created = httpx.post(url, json={"entity_id": "draft-1"}, timeout=10)
    assert created.status_code in (201, 409), created.text
    if created.status_code == 201:
        sent = httpx.post(f"{url}/draft-1/events", json={"trigger": "exchange_ack"}, timeout=10)
        assert sent.status_code == 200, sent.text
    ui.open(f"#/machines/{machine}")
    ui.find("#definition-text")
    ui.wait_status("valid")
    # The draft puts a transition first: exchange_ack is the second one there.
    edited = with_transition_first(
        editor_text(ui), {"trigger": "ping", "source": "OPEN", "dest": "PENDING"}
    )
    ui.paste("#definition-text", edited)
    ui.wait_status("valid")
    ui.js(f"location.hash = '#/machines/{machine}/entities/draft-1'")
    ui.wait_for(lambda: text_of(ui, "#entity-state") == "OPEN", "the entity")
    ui.wait_for(lambda: marked_states(ui) == ["OPEN"], "the entity's marks")
    assert taken_lines(ui) == {"1"}
    line = ui.find(".diagram svg path.edge.taken")
    assert (line.get_attribute("data-from"), line.get_attribute("data-to")) == ("PENDING", "OPEN")


# ----------------------------------------------------------------------------- validation
def test_an_answer_for_older_text_is_never_shown(ui: Page) -> None:
    ui.open("#/new")
    ui.find("#definition-text")
    ui.js(
        "window.__shown = [];"
        "const box = document.querySelector('#problems');"
        "new MutationObserver(() => window.__shown.push(box.textContent))"
        "  .observe(box, {childList: true, subtree: true, characterData: true});"
    )
    hold(ui, "/api/v1/validate")
    broken = ORDER_YAML.replace("dest: FILLED", "dest: NOWHERE")
    ui.paste("#definition-text", broken)
    ui.wait_for(lambda: ui.js("return window.__ready") == 1, "the answer for the broken text")
    # New text, and the old answer handed over at once: well before the new text is checked.
    ui.js(
        "const el = document.querySelector('#definition-text'); el.value = arguments[0];"
        "el.dispatchEvent(new InputEvent('input', {bubbles: true, inputType: 'insertFromPaste'}));"
        "window.__release();",
        ORDER_YAML,
    )
    ui.wait_status("valid")
    shown: list[str] = ui.js("return window.__shown")
    assert not [text for text in shown if "NOWHERE" in text], shown
    assert "NOWHERE" not in text_of(ui, "#problems")


# ----------------------------------------------------------------------------- editor help
def test_the_names_of_one_editor_never_reach_another(ui: Page) -> None:
    ui.open("#/new")
    found = ui.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "import('/ui/assets/js/schema-assist.js').then((m) => {"
        "  const first = m.namesReader(); const second = m.namesReader();"
        "  first('states:\\n  - name: ZEBRA\\n');"
        "  const broken = 'states:\\n  - name: LION\\n  - [oops\\n';"
        "  done({second: second(broken).state, first: first(broken).state}); });"
    )
    assert "ZEBRA" not in found["second"], found
    assert "ZEBRA" in found["first"], found  # its own last names are kept while text is broken


def test_a_schema_that_does_not_load_is_not_asked_for_on_every_key(ui: Page) -> None:
    ui.open("#/")
    found = ui.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "window.__asked = 0; const real = window.fetch;"
        "window.fetch = (url, init) => {"
        "  if (!String(url).includes('/ui/api/schema')) return real(url, init);"
        "  window.__asked += 1;"
        '  return Promise.resolve(new Response(\'{"detail": "down"}\','
        "    {status: 503, headers: {'content-type': 'application/json'}})); };"
        "import('/ui/assets/js/schema-assist.js').then(async (m) => {"
        "  const outcomes = [];"
        "  for (let i = 0; i < 5; i += 1) {"
        "    outcomes.push(await m.loadSchema().then(() => 'ok', () => 'failed')); }"
        "  done({asked: window.__asked, outcomes}); });"
    )
    assert found == {"asked": 1, "outcomes": ["failed"] * 5}, found
