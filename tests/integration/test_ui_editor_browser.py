"""The definition editor (CodeMirror 6, vendored under ``pystator/ui/static/vendor``) in
headless Chromium, with the browser, server and page helpers of ``test_ui_browser.py``.

What a person sees: typing part of a key lists the keys the schema allows there (the schema
``pystator schema`` prints), a value that names a state or a trigger lists the definition's
own, hovering a key shows its description, and the server's problems and lint warnings are
marked at their place in the text, in YAML and in JSON. Keys are typed with real key presses.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pystator.models.json_schema import machine_schema
from tests.integration.test_ui_browser import (  # noqa: F401 (fixtures, found by name)
    ORDER_YAML,
    Page,
    driver,
    page,
    server,
    workdir,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCHEMA = machine_schema()
DEFS = SCHEMA["$defs"]
TRANSITION_KEYS = set(DEFS["TransitionDefinition"]["properties"])
ENTER, ESCAPE, TAB = "\ue007", "\ue00c", "\ue004"

JSON_TEXT = (
    "{\n"
    '  "meta": {"machine_name": "json_orders"},\n'
    '  "states": [\n'
    '    {"name": "A", "type": "initial"},\n'
    '    {"name": "B", "type": "terminal"}\n'
    "  ],\n"
    '  "transitions": [\n'
    '    {"trigger": "go", "source": "A", "dest": "C"}\n'
    "  ]\n"
    "}\n"
)

# Valid, with two lint findings: ORPHAN is never entered (line 6), and the second "finish"
# from START is shadowed by the first (line 13).
LINT_YAML = """meta:
  machine_name: lint_demo
states:
  - name: START
    type: initial
  - name: ORPHAN
  - name: DONE
    type: terminal
transitions:
  - trigger: finish
    source: START
    dest: DONE
  - trigger: finish
    source: START
    dest: ORPHAN
"""


@pytest.fixture
def ui(request: pytest.FixtureRequest) -> Page:
    """``test_ui_browser``'s ``page``: its server, browser and end-of-test log checks."""
    found: Page = request.getfixturevalue("page")
    return found


def editor_text(ui: Page) -> str:
    text: str = ui.js("return document.querySelector('#definition-text').value")
    return text


def open_with(ui: Page, text: str, status: str = "valid") -> None:
    ui.open("#/new")
    ui.paste("#definition-text", text)
    ui.wait_status(status)


def caret_at(ui: Page, offset: int) -> None:
    """Focus the editor with the caret at ``offset`` of its text."""
    ui.js(
        "const el = document.querySelector('#definition-text');"
        "el.focus(); el.setSelectionRange(arguments[0], arguments[0]);",
        offset,
    )


def end_of(text: str, fragment: str) -> int:
    return text.index(fragment) + len(fragment)


def ctrl_space(ui: Page) -> None:
    """Ask for completion (CodeMirror's Ctrl+Space)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    ActionChains(ui.driver).key_down(Keys.CONTROL).send_keys(" ").key_up(Keys.CONTROL).perform()


def completions(ui: Page) -> list[str]:
    return ui.texts(".cm-tooltip-autocomplete li .cm-completionLabel")


def wait_completions(ui: Page, expected: set[str], what: str) -> None:
    ui.wait_for(lambda: set(completions(ui)) == expected, what)


def hover(ui: Page, token: str, nth: int = 0) -> None:
    """Move the mouse onto the ``nth`` highlighted token of the editor whose text is ``token``."""
    from selenium.webdriver.common.action_chains import ActionChains

    element = ui.wait_for(
        lambda: ui.js(
            "return [...document.querySelectorAll('.cm-line span')]"
            ".filter(s => s.textContent === arguments[0])[arguments[1]]",
            token,
            nth,
        ),
        f"the token {token}",
    )
    ActionChains(ui.driver).move_to_element(element).perform()


def rect(ui: Page, css: str) -> dict[str, float]:
    found: dict[str, float] = ui.js(
        "const r = document.querySelector(arguments[0]).getBoundingClientRect();"
        "return {top: r.top, bottom: r.bottom, left: r.left, right: r.right};",
        css,
    )
    return found


def same_row(ui: Page, a: str, b: str) -> bool:
    """True when the elements ``a`` and ``b`` sit on the same line of the editor."""
    ra, rb = rect(ui, a), rect(ui, b)
    return abs((ra["top"] + ra["bottom"]) / 2 - (rb["top"] + rb["bottom"]) / 2) < 4


# ----------------------------------------------------------------------------- completion
def test_a_partial_key_lists_the_keys_the_schema_allows_there(ui: Page) -> None:
    open_with(ui, ORDER_YAML)
    assert ui.js("return document.querySelector('#definition-text').dataset.language") == "yaml"
    # A new key in the state PENDING: type "on_" with real key presses.
    text = editor_text(ui)
    caret_at(ui, end_of(text, "    type: initial"))
    ui.press(ENTER, "on_")
    wait_completions(ui, {"on_enter", "on_exit"}, "the state's on_ keys")
    details = ui.texts(".cm-tooltip-autocomplete li .cm-completionDetail")
    assert all(d.startswith("list of") for d in details), details
    ui.screenshot("editor-completion-keys")
    # Enter takes the first one and starts its list.
    ui.press(ENTER, "notify_customer")
    ui.wait_for(
        lambda: "    type: initial\n    on_enter:\n      - notify_customer\n" in editor_text(ui),
        "the completed key",
    )
    ui.wait_status("valid")

    # In a transition, Ctrl+Space lists every key of a transition the mapping lacks.
    text = editor_text(ui)
    caret_at(ui, end_of(text, "    dest: OPEN"))
    ui.press(ENTER)
    ctrl_space(ui)
    wait_completions(ui, TRANSITION_KEYS - {"trigger", "source", "dest"}, "the transition keys")
    ui.press(ESCAPE)


def test_values_that_name_states_or_triggers_list_the_definitions_own(ui: Page) -> None:
    # A new transition, its lines indented already: the keys and values are typed.
    open_with(ui, ORDER_YAML + "  - ", status="invalid")
    text = editor_text(ui)
    caret_at(ui, len(text))
    ui.press("trigger: ")
    wait_completions(ui, {"exchange_ack", "fill"}, "the triggers")
    ui.press("cancel", ESCAPE, ENTER)
    ui.wait_for(lambda: editor_text(ui).endswith("  - trigger: cancel\n    "), "the indented line")
    ui.press("source: ")
    # The states in the definition's order, then the schema's "*" (every state).
    ui.wait_for(lambda: completions(ui) == ["PENDING", "OPEN", "FILLED", "*"], "the states")
    ui.press("OP")
    wait_completions(ui, {"OPEN"}, "the states matching OP")
    ui.press(ENTER, ENTER)
    ui.press("dest: ")
    wait_completions(ui, {"PENDING", "OPEN", "FILLED"}, "the states for dest")
    assert set(ui.texts(".cm-tooltip-autocomplete li .cm-completionDetail")) == {"state"}
    ui.screenshot("editor-completion-states")
    ui.press("FIL", ENTER)
    ui.wait_for(
        lambda: editor_text(ui).endswith("  - trigger: cancel\n    source: OPEN\n    dest: FILLED"),
        "the completed transition",
    )
    ui.wait_status("valid")

    # A state's type: the schema's enum, all of them on Ctrl+Space after the colon.
    caret_at(ui, end_of(editor_text(ui), "    type: stable"))
    ui.press(*["\ue003"] * len("stable"))  # Backspace
    ctrl_space(ui)
    wait_completions(ui, set(DEFS["StateDefinition"]["properties"]["type"]["enum"]), "the types")
    ui.press(ESCAPE)


# ----------------------------------------------------------------------------- hover
def test_hovering_a_key_shows_its_description_from_the_schema(ui: Page) -> None:
    open_with(ui, ORDER_YAML)
    hover(ui, "dest")
    dest = DEFS["TransitionDefinition"]["properties"]["dest"]["description"]
    ui.wait_for(lambda: dest in ui.find(".cm-tooltip-hover").text, "dest's description")
    tip = ui.find(".cm-tooltip-hover").text
    assert tip.startswith("dest")
    assert "Names a state of this definition." in tip
    ui.screenshot("editor-hover")

    hover(ui, "type")
    state_type = DEFS["StateDefinition"]["properties"]["type"]
    ui.wait_for(
        lambda: state_type["description"] in ui.find(".cm-tooltip-hover").text, "type's description"
    )
    values = ", ".join(state_type["enum"])
    assert f"Values: {values}" in ui.find(".cm-tooltip-hover").text

    hover(ui, "meta")
    meta = SCHEMA["properties"]["meta"]["description"]
    ui.wait_for(lambda: meta in ui.find(".cm-tooltip-hover").text, "meta's description")


# ----------------------------------------------------------------------------- problems
def test_an_invalid_definition_is_marked_at_its_line(ui: Page) -> None:
    misspelled = ORDER_YAML.replace("dest: FILLED", "dest: FILED")
    open_with(ui, misspelled, status="invalid")
    line = misspelled.splitlines().index("    dest: FILED") + 1
    ui.wait_for(lambda: ui.texts(".cm-lintRange-error") == ["FILED"], "the underlined value")
    assert ui.texts(".cm-lineNumbers .error-line") == [str(line)]
    assert same_row(ui, ".cm-lintRange-error", ".cm-lineNumbers .error-line")
    assert same_row(ui, ".cm-lintRange-error", ".cm-lint-marker-error")
    assert ui.find("#definition-text").get_attribute("aria-invalid") == "true"
    # The marker says what the problem list says.
    hover(ui, "FILED")
    ui.wait_for(
        lambda: "did you mean 'FILLED'" in ui.find(".cm-tooltip-lint").text, "the marker's message"
    )
    assert "transitions[1].dest" in ui.find(".cm-tooltip-lint").text
    assert f"Line {line}" in ui.find(".problem").text
    ui.screenshot("editor-inline-error")

    # A syntax error is marked on its line too.
    broken = ORDER_YAML.replace("    dest: OPEN\n", "    dest: OPEN\n   oops\n")
    ui.paste("#definition-text", broken)
    ui.wait_status("syntax")
    ui.wait_for(lambda: ui.texts(".cm-lintRange-error"), "the syntax error's marker")
    problem_line = int(ui.find(".problem .line-link").text.removeprefix("Line "))
    assert ui.texts(".cm-lineNumbers .error-line") == [str(problem_line)]
    assert same_row(ui, ".cm-lintRange-error", ".cm-lineNumbers .error-line")

    ui.paste("#definition-text", ORDER_YAML)
    ui.wait_status("valid")
    ui.wait_for(lambda: not ui.find_all(".cm-lintRange-error"), "the markers gone")
    assert not ui.find_all(".cm-lineNumbers .error-line")
    assert ui.find("#definition-text").get_attribute("aria-invalid") == "false"


def test_lint_warnings_are_listed_apart_and_marked(ui: Page) -> None:
    open_with(ui, LINT_YAML)
    ui.wait_for(lambda: ui.find_all("#warnings .warning"), "the warnings")
    assert ui.find(".problem-box").text == "No problems found."
    assert ui.find("#warnings h2").text == "Warnings (2)"
    assert ui.data("#warnings .warning", "code") == ["unreachable-state", "shadowed-transition"]
    assert ui.texts("#warnings .line-link") == ["Line 6", "Line 13"]
    assert ui.find(".pill").text == "Valid · 2 warnings"
    ui.wait_for(lambda: len(ui.find_all(".cm-lintRange-warning")) == 2, "two warning markers")
    assert ui.texts(".cm-lineNumbers .warning-line") == ["6", "13"]
    assert not ui.find_all(".cm-lintRange-error")
    assert ui.find("#definition-text").get_attribute("aria-invalid") == "false"
    ui.screenshot("editor-lint-warnings")

    # A Line button puts the caret on the line.
    ui.find_all("#warnings .line-link")[1].click()
    assert ui.js(
        "const el = document.querySelector('#definition-text');return document.activeElement === el"
    )

    # The same definition as JSON: the warnings find their lines in the JSON text.
    ui.button("As JSON").click()
    ui.wait_for(lambda: editor_text(ui).startswith("{"), "the JSON text")
    ui.wait_status("valid")
    ui.wait_for(lambda: len(ui.find_all("#warnings .warning")) == 2, "the warnings of the JSON")
    text = editor_text(ui)
    orphan = text[: text.index('"ORPHAN"')].count("\n") + 1
    ui.wait_for(
        lambda: str(orphan) in ui.texts(".cm-lineNumbers .warning-line"), "the JSON warning line"
    )

    # A definition without findings has no warnings box.
    ui.paste("#definition-text", ORDER_YAML)
    ui.wait_status("valid")
    ui.wait_for(lambda: not ui.find("#warnings").is_displayed(), "the warnings gone")
    assert ui.find(".pill").text == "Valid"
    assert not ui.find_all(".cm-lintRange-warning")


# ----------------------------------------------------------------------------- JSON
def test_json_definitions_get_the_same_help(ui: Page) -> None:
    open_with(ui, JSON_TEXT, status="invalid")
    assert ui.js("return document.querySelector('#definition-text').dataset.language") == "json"
    ui.wait_for(lambda: ui.texts(".cm-lintRange-error") == ['"C"'], "the marker on C")
    assert ui.texts(".cm-lineNumbers .error-line") == ["8"]

    # A key: the opening quote and part of the name.
    caret_at(ui, JSON_TEXT.index('"source"'))
    ui.press('"pri')
    wait_completions(ui, {"priority"}, "priority")
    ui.press(ENTER, "1, ")
    ui.wait_for(
        lambda: '{"trigger": "go", "priority": 1, "source": "A"' in editor_text(ui), "the key"
    )
    # A value naming a state: delete the C between its quotes, ask, and pick B.
    caret_at(ui, editor_text(ui).index('"C"') + 2)
    ui.press("\ue003")  # Backspace
    ctrl_space(ui)
    wait_completions(ui, {"A", "B"}, "the states in JSON")
    ui.screenshot("editor-json-completion")
    ui.press("B")
    wait_completions(ui, {"B"}, "B")
    ui.press(ENTER)
    ui.wait_for(lambda: '"dest": "B"}' in editor_text(ui), "the completed dest")
    ui.wait_status("valid")
    assert not ui.find_all(".cm-lintRange-error")

    caret_at(ui, 0)
    hover(ui, '"trigger"')
    trigger = DEFS["TransitionDefinition"]["properties"]["trigger"]["description"]
    ui.wait_for(lambda: trigger in ui.find(".cm-tooltip-hover").text, "trigger's description")


# ----------------------------------------------------------------------------- keyboard
def test_the_editor_is_labelled_and_tab_leaves_it(ui: Page) -> None:
    open_with(ui, ORDER_YAML)
    label_id = ui.find("#definition-text").get_attribute("aria-labelledby")
    assert ui.find(f"#{label_id}").text == "Definition (YAML or JSON)"
    caret_at(ui, 0)
    ui.press(TAB)
    assert ui.js("return document.activeElement.id") != "definition-text"
    assert editor_text(ui) == ORDER_YAML, "Tab typed nothing"
    # Clicking the label puts the focus in the editor.
    ui.find(f"#{label_id}").click()
    assert ui.js("return document.activeElement.id") == "definition-text"


# ----------------------------------------------------------------------------- text paths
PATH_CASES: list[tuple[str, str, dict[str, Any] | None]] = [
    # (format, text with ‸ at the cursor, the expected context's kind/path/prefix/siblings)
    (
        "yaml",
        "states:\n  - name: A\n    ty‸",
        {"kind": "key", "path": ["states", "[]"], "prefix": "ty", "siblings": ["name"]},
    ),
    (
        "yaml",
        "states:\n- name: A\n  type: initial\n  ‸\n- name: B",
        {"kind": "key", "path": ["states", "[]"], "prefix": "", "siblings": ["name", "type"]},
    ),
    (
        "yaml",
        "transitions:\n  - trigger: go\n    dest: O‸",
        {"kind": "value", "path": ["transitions", "[]", "dest"], "prefix": "O"},
    ),
    (
        "yaml",
        "transitions:\n  - source: [A, B‸",
        {"kind": "value", "path": ["transitions", "[]", "source", "[]"], "prefix": "B"},
    ),
    (
        "yaml",
        "meta:\n  machine_name: m\n\n  # comment\n  ini‸",
        {"kind": "key", "path": ["meta"], "prefix": "ini", "siblings": ["machine_name"]},
    ),
    ("yaml", "states:\n  - name: A\n    description: |\n      ty‸", None),
    ("yaml", "meta: # a note ty‸", None),
    (
        "json",
        '{"transitions": [{"trigger": "go", "de‸',
        {"kind": "key", "path": ["transitions", "[]"], "prefix": "de", "siblings": ["trigger"]},
    ),
    (
        "json",
        '{"meta": {"machine_name": "m", "initial": "P‸"}}',
        {"kind": "value", "path": ["meta", "initial"], "prefix": "P"},
    ),
]


@pytest.mark.parametrize(("fmt", "marked", "expected"), PATH_CASES)
def test_the_editor_knows_where_the_cursor_is(
    ui: Page, fmt: str, marked: str, expected: dict[str, Any] | None
) -> None:
    """``contextAt`` of js/text-paths.js, run in the page's own browser."""
    ui.open("#/new")
    text, pos = marked.replace("‸", ""), marked.index("‸")
    found = ui.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "import('/ui/assets/js/text-paths.js').then((m) => {"
        "  const c = m.contextAt(arguments[0], arguments[1], arguments[2]);"
        "  done(c && {kind: c.kind, path: c.path, prefix: c.prefix,"
        "    siblings: c.siblings ? [...c.siblings].sort() : undefined});"
        "}, (e) => done({error: String(e)}));",
        text,
        pos,
        fmt,
    )
    if expected is None:
        assert found is None
        return
    assert {k: v for k, v in found.items() if v is not None} == expected, json.dumps(found)


KEY_CASES: list[tuple[str, str, list[str] | None]] = [
    ("yaml", "states:\n  - name: A\n    ty‸pe: initial", ["states", "[]", "type"]),
    (
        "yaml",
        "states:\n  - name: P\n    regions:\n      - name: r\n        sta‸tes: [A]",
        ["states", "[]", "regions", "[]", "states"],
    ),
    ("yaml", 'meta:\n  "machine_n‸ame": m', ["meta", "machine_name"]),
    ("yaml", "meta:\n  machine_name: na‸me", None),
    ("json", '{"meta": {"ini‸tial": "A"}}', ["meta", "initial"]),
    ("json", '{"meta": {"initial": "A‸"}}', None),
]


@pytest.mark.parametrize(("fmt", "marked", "expected"), KEY_CASES)
def test_the_editor_knows_which_key_is_under_the_pointer(
    ui: Page, fmt: str, marked: str, expected: list[str] | None
) -> None:
    """``keyAt`` of js/text-paths.js (what the hover explains), run in the browser."""
    ui.open("#/new")
    text, pos = marked.replace("‸", ""), marked.index("‸")
    found = ui.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "import('/ui/assets/js/text-paths.js').then((m) => {"
        "  const k = m.keyAt(arguments[0], arguments[1], arguments[2]);"
        "  done(k && k.path);"
        "}, (e) => done({error: String(e)}));",
        text,
        pos,
        fmt,
    )
    assert found == expected
