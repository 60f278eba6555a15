"""The visual builder on a definition in the 0.0.x form, in headless Chromium (the browser,
server and page helpers of ``test_ui_browser.py``).

A 0.0.x region state is written twice: its name in ``regions[].states`` and its declaration
in the flat ``states`` list. Removing it in the builder must take out both; a name left in the
region would still be a state (a bare one), so the state would survive its own removal.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from pystator import StateMachine
from tests.integration.test_internal_events_browser import open_editor_with
from tests.integration.test_ui_browser import (  # noqa: F401 (fixtures, found by name)
    Page,
    driver,
    page,
    server,
    workdir,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def ui(request: pytest.FixtureRequest) -> Page:
    """``test_ui_browser``'s ``page``: its server, browser and end-of-test log checks."""
    found: Page = request.getfixturevalue("page")
    return found


LEGACY: dict[str, Any] = {
    "meta": {"machine_name": "legacy_builder", "version": "1"},
    "states": [
        {"name": "IDLE", "type": "initial"},
        {
            "name": "P",
            "type": "parallel",
            "regions": [
                {"name": "a", "initial": "A2", "states": ["A1", "A2"]},
                {"name": "b", "states": ["B1"]},
            ],
        },
        {"name": "A1", "parent": "P"},
        {"name": "A2", "type": "terminal", "on_enter": ["notify"]},
        {"name": "B1", "parent": "b"},
    ],
    "transitions": [
        {"trigger": "go", "source": "IDLE", "dest": "P"},
        {"trigger": "tick", "source": "A1", "dest": "A2", "region": "a"},
        {"trigger": "stop", "source": ["A1", "B1"], "dest": "IDLE"},
    ],
}


def builder_on(ui: Page, definition: dict[str, Any]) -> None:
    open_editor_with(ui, json.dumps(definition, indent=2))
    ui.find(".tabs a[data-tab=build]").click()
    ui.find(".states-list li[data-state]")


def definition_text(ui: Page) -> str:
    text: str = ui.js("return document.querySelector('#definition-text').value")
    return text


def listed_states(ui: Page) -> list[str | None]:
    return ui.data(".states-list li[data-state]", "state")


def test_removing_a_region_state_of_the_0_0_x_form_removes_its_listing_too(ui: Page) -> None:
    assert StateMachine.from_dict(LEGACY).process("IDLE", "go").target_state == "P(a=A2, b=B1)"
    builder_on(ui, LEGACY)
    assert listed_states(ui) == ["IDLE", "P", "A1", "A2", "B1"]

    ui.find("button[aria-label='Remove state A2']").click()
    ui.wait_for(lambda: "A2" not in definition_text(ui), "A2 gone from the text")
    ui.wait_status("valid")
    assert listed_states(ui) == ["IDLE", "P", "A1", "B1"]
    assert "A2" not in ui.diagram_states()
    data = yaml.safe_load(definition_text(ui))
    # Still the 0.0.x form, without A2 anywhere: the region's listing, the flat entry, the
    # transition into it and the region's ``initial`` naming it are gone.
    assert data["states"][1]["regions"] == [
        {"name": "a", "states": ["A1"]},
        {"name": "b", "states": ["B1"]},
    ]
    assert [s["name"] for s in data["states"]] == ["IDLE", "P", "A1", "B1"]
    assert [t["trigger"] for t in data["transitions"]] == ["go", "stop"]
    machine = StateMachine.from_dict(data)
    assert machine.process("IDLE", "go").target_state == "P(a=A1, b=B1)"
    ui.screenshot("builder-legacy-removed")


def test_the_builder_keeps_the_0_0_x_form_when_adding_and_removing_around_it(ui: Page) -> None:
    builder_on(ui, LEGACY)

    # A state added to a region the old way listed: declared with the region as parent.
    ui.find("input[name=state-name]").send_keys("A3")
    ui.js("document.querySelector('select[name=state-parent]').value = 'a';")
    ui.button("Add state").click()
    ui.wait_for(lambda: "A3" in ui.diagram_states(), "A3 on the diagram")
    ui.wait_status("valid")
    data = yaml.safe_load(definition_text(ui))
    assert data["states"][-1] == {"name": "A3", "parent": "a"}
    assert data["states"][1]["regions"][0]["states"] == ["A1", "A2"]
    machine = StateMachine.from_dict(data)
    assert machine.process("P(a=A1, b=B1)", "tick").target_state == "P(a=A2, b=B1)"

    # Removing one listed state leaves the others where they were listed.
    ui.find("button[aria-label='Remove state A1']").click()
    ui.wait_for(lambda: "A1" not in definition_text(ui), "A1 gone from the text")
    ui.wait_status("valid")
    data = yaml.safe_load(definition_text(ui))
    assert data["states"][1]["regions"][0] == {"name": "a", "initial": "A2", "states": ["A2"]}
    assert [t["trigger"] for t in data["transitions"]] == ["go", "stop"]
    assert data["transitions"][1]["source"] == ["B1"]

    # Removing the parallel state removes every state of its regions, wherever declared.
    ui.find("button[aria-label='Remove state P']").click()
    ui.wait_for(lambda: ui.find("dialog.confirm").is_displayed(), "the confirmation")
    ui.button("Remove", within="dialog.confirm").click()
    ui.wait_for(lambda: listed_states(ui) == ["IDLE"], "only IDLE left")
    ui.wait_status("valid")
    data = yaml.safe_load(definition_text(ui))
    assert data["states"] == [{"name": "IDLE", "type": "initial"}]
    assert "transitions" not in data or data["transitions"] == []
