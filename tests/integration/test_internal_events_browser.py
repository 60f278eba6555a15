"""The web UI with internal events and history in parallel states, in headless Chromium
(the browser, server and page helpers of ``test_ui_browser.py``).

What a person sees: the raise items on the diagram and in its tooltips, a history state
drawn inside the parallel state it remembers, a compound state whose start marker points at
its history, and the simulator and entity pages telling which internal events a step ran and
asking for the guards of the transitions those events take.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from pystator import StateMachine
from tests.integration.test_ui_browser import (  # noqa: F401 (fixtures, found by name)
    Page,
    driver,
    page,
    server,
    store_machine,
    workdir,
)
from tests.unit.test_internal_events_shells import HISTORY, RETRY

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def ui(request: pytest.FixtureRequest) -> Page:
    """``test_ui_browser``'s ``page``: its server, browser and end-of-test log checks."""
    found: Page = request.getfixturevalue("page")
    return found


RETRY_YAML = StateMachine.from_dict(RETRY).to_yaml()
HISTORY_YAML = StateMachine.from_dict(HISTORY).to_yaml()


def open_editor_with(ui: Page, text: str) -> None:
    ui.open("#/new")
    ui.paste("#definition-text", text)
    ui.wait_status("valid")


def title_of(ui: Page, css: str) -> str:
    text: str = ui.js(
        "const el = document.querySelector(arguments[0]);"
        "return el ? el.querySelector(':scope > title').textContent : '';",
        css,
    )
    return text


def test_the_diagram_labels_raise_items(ui: Page) -> None:
    open_editor_with(ui, RETRY_YAML)
    labels = ui.texts(".diagram .edge-label text")
    assert "start / raise bump" in labels
    assert "check [ok]" in labels
    start = title_of(ui, ".diagram path.edge[data-transition='0']")
    assert start == "IDLE → TRYING: start / log_start, raise bump"
    assert "on enter: raise check, log_enter" in title_of(ui, ".diagram [data-state=TRYING]")
    ui.screenshot("internal-events-diagram")

    # A valid definition exports the server's text (``pystator diagram``).
    ui.button("Export Mermaid").click()
    text = ui.find("#mermaid-text").get_attribute("value")
    assert "IDLE --> TRYING : start / log_start, raise bump" in text
    ui.press("\ue00c")


def test_the_diagram_draws_history_in_a_parallel_state_and_as_initial_child(
    ui: Page,
) -> None:
    open_editor_with(ui, HISTORY_YAML)
    assert ui.diagram_states() >= {"P", "H", "OUTER", "IN1", "IN2", "BACK"}
    inside = ui.js(
        "const box = e => e.getBoundingClientRect();"
        "const within = (inner, outer) => { const i = box(inner), o = box(outer);"
        "  return i.left >= o.left && i.right <= o.right && i.top >= o.top"
        "    && i.bottom <= o.bottom; };"
        "const q = s => document.querySelector(s);"
        "return within(q('.diagram .history[data-state=H] circle'),"
        "              q('.diagram [data-state=P] > rect'))"
        "  && within(q('.diagram .history[data-state=BACK] circle'),"
        "            q('.diagram [data-state=OUTER] > rect'));"
    )
    assert inside
    assert ui.texts(".diagram .history[data-state=H] text")[0] == "H*"
    # OUTER starts in its history: the start marker points at it, not at IN1.
    assert "BACK" in ui.data(".diagram [data-initial]", "initial")
    assert "IN1" not in ui.data(".diagram [data-initial]", "initial")
    ui.screenshot("history-in-parallel-diagram")

    ui.button("Export Mermaid").click()
    text = ui.find("#mermaid-text").get_attribute("value")
    block = text[text.index("state P {") : text.index("state OUTER {")]
    assert 'state "H*" as H' in block
    assert "[*] --> BACK" in text[text.index("state OUTER {") :]
    ui.press("\ue00c")
    ui.wait_for(lambda: not ui.find_all("dialog"), "the dialog to close")

    # While the text does not validate, the page draws and exports it itself.
    ui.paste("#definition-text", HISTORY_YAML.replace("dest: IN2", "dest: IN3"))
    ui.wait_status("invalid")
    assert ui.diagram_states() >= {"H", "BACK"}
    assert "BACK" in ui.data(".diagram [data-initial]", "initial")
    ui.button("Export Mermaid").click()
    text = ui.find("#mermaid-text").get_attribute("value")
    block = text[text.index("state P {") : text.index("state OUTER {")]
    assert 'state "H* H" as H' in block
    assert "[*] --> BACK" in text[text.index("state OUTER {") :]
    ui.press("\ue00c")


def test_the_simulator_shows_the_internal_events_of_a_step(ui: Page) -> None:
    machine = store_machine(ui.base, RETRY_YAML)
    ui.open(f"#/machines/{machine}/simulate")
    ui.wait_for(lambda: ui.find("#sim-current").text == "IDLE", "IDLE")
    assert not ui.find_all("[data-event=start] [data-guard]")

    # ``ok`` guards the transition the internal event ``check`` takes: the first send is
    # refused by the API, and the simulator offers the guard on the event.
    ui.click("[data-trigger=start]")
    ui.wait_for(
        lambda: "needs the outcome of guard 'ok'" in ui.find(".outcome").text,
        "the missing guard",
    )
    assert ui.find("#sim-current").text == "IDLE"
    box = ui.find("[data-event=start] [data-guard=ok]")
    box.click()  # untick: ok fails, the step ends in FAILED
    ui.click("[data-trigger=start]")
    ui.wait_for(lambda: ui.find("#sim-current").text == "FAILED", "FAILED")
    outcome = ui.find(".result.ok").text
    assert "Internal events processed: bump → check" in outcome
    assert "log_start, log_enter, count, log_exit" in outcome
    assert ui.current_states() == {"FAILED"}
    # The diagram marks every transition of the step: start, then bump and check (internal).
    assert ui.data(".diagram path.edge.taken", "transition") == ["0", "1", "3"]
    ui.screenshot("simulator-internal-events")

    ui.click("[data-trigger=reset]")
    ui.wait_for(lambda: ui.find("#sim-current").text == "IDLE", "IDLE again")
    assert "Internal events" not in ui.find(".result.ok").text
    ui.find("[data-event=start] [data-guard=ok]")  # still offered, ticked: ok passes
    ui.click("[data-trigger=start]")
    ui.wait_for(lambda: ui.find("#sim-current").text == "DONE", "DONE")
    assert "Internal events processed: bump → check" in ui.find(".result.ok").text


def test_an_entity_event_asks_for_the_guard_of_an_internal_event(ui: Page) -> None:
    machine = store_machine(ui.base, RETRY_YAML)
    created = httpx.post(
        f"{ui.base}/api/v1/machines/{machine}/entities", json={"entity_id": "r-1"}, timeout=10
    )
    assert created.status_code == 201, created.text
    ui.open(f"#/machines/{machine}/entities/r-1")
    ui.wait_for(lambda: ui.find("#entity-state").text == "IDLE", "the entity")
    ui.button("Send event").click()
    ui.wait_for(
        lambda: "needs the outcome of guard 'ok'" in ui.find(".entity-detail .error").text,
        "the missing guard",
    )
    ui.find(".entity-detail [data-guard=ok]")  # offered, ticked: ok passes
    ui.button("Send event").click()
    ui.wait_for(lambda: ui.find("#entity-state").text == "DONE", "the entity to move")
    assert ui.find("#entity-version").text == "2"
    ui.wait_for(lambda: "IDLE → DONE" in ui.find("table.history").text, "the history row")
    ui.screenshot("entity-internal-events")


LEGACY: dict[str, Any] = {
    # 0.0.x: a region lists its states by name; they are declared in the flat list, one
    # before the parallel state (with it as parent), one after it (no parent).
    "meta": {"machine_name": "legacy_regions", "version": "1"},
    "states": [
        {"name": "A1", "parent": "P", "on_enter": [{"raise": "tick"}]},
        {"name": "IDLE", "type": "initial"},
        {
            "name": "P",
            "type": "parallel",
            "regions": [{"name": "a", "initial": "A1", "states": ["A1", "A2"]}],
        },
        {"name": "A2", "on_exit": ["bye"]},
    ],
    "transitions": [
        {"trigger": "go", "source": "IDLE", "dest": "P"},
        {"trigger": "tick", "source": "A1", "dest": "A2"},
    ],
}


def test_region_states_declared_in_the_flat_list_are_drawn_in_their_region(ui: Page) -> None:
    assert StateMachine.from_dict(LEGACY).process("IDLE", "go").target_state == "P(a=A2)"
    open_editor_with(ui, json.dumps(LEGACY, indent=2))
    inside = ui.js(
        "const box = e => e.getBoundingClientRect();"
        "const region = box(document.querySelector('.diagram [data-region=a] rect'));"
        "return ['A1', 'A2'].every(n => {"
        "  const b = box(document.querySelector(`.diagram [data-state=${n}] rect`));"
        "  return b.left >= region.left && b.right <= region.right"
        "    && b.top >= region.top && b.bottom <= region.bottom; });"
    )
    assert inside
    assert "on enter: raise tick" in title_of(ui, ".diagram [data-state=A1]")
    assert "on exit: bye" in title_of(ui, ".diagram [data-state=A2]")
    assert "A1" in ui.data(".diagram [data-initial]", "initial")
    ui.screenshot("legacy-regions-diagram")


ROUND_TRIP_YAML = """
meta: {machine_name: round_trip}
states:
  - {name: IDLE, type: initial}
  - {name: WORK}
transitions:
  - {trigger: start, source: IDLE, dest: WORK, actions: [{raise: check}]}
  - {trigger: check, source: WORK, dest: IDLE, guards: [ok]}
"""


def test_an_entity_keeps_the_guards_it_was_asked_for(ui: Page) -> None:
    machine = store_machine(ui.base, ROUND_TRIP_YAML)
    created = httpx.post(
        f"{ui.base}/api/v1/machines/{machine}/entities", json={"entity_id": "rt-1"}, timeout=10
    )
    assert created.status_code == 201, created.text
    ui.open(f"#/machines/{machine}/entities/rt-1")
    ui.wait_for(lambda: ui.find("#entity-state").text == "IDLE", "the entity")
    ui.button("Send event").click()
    ui.wait_for(
        lambda: "needs the outcome of guard 'ok'" in ui.find(".entity-detail .error").text,
        "the missing guard",
    )
    ui.button("Send event").click()
    ui.wait_for(lambda: ui.find("#entity-version").text == "2", "the first round trip")
    # The form is drawn again after the event; the guard asked for is still offered, so the
    # second round trip needs no second refusal.
    ui.find(".entity-detail [data-guard=ok]")
    ui.button("Send event").click()
    ui.wait_for(lambda: ui.find("#entity-version").text == "3", "the second round trip")
    assert ui.find("#entity-state").text == "IDLE"
    assert ui.find(".entity-detail .error").text == ""
