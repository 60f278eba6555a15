"""The web UI end to end: headless Chromium (Debian's ``chromium`` and ``chromium-driver``,
driven by Selenium) against a real ``pystator api`` process on a free port and a temporary
SQLite database. Nothing downloads a browser: without /usr/bin/chromium the tests skip, and
fail when ``CI=true``. Screenshots of each page go to ``test-artifacts/ui/``.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from tests.conftest import EXAMPLES, IN_CI, ROOT
from tests.integration.api_app import running_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path(os.environ.get("PYSTATOR_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("PYSTATOR_TEST_CHROMEDRIVER", "/usr/bin/chromedriver"))
ARTIFACTS = ROOT / "test-artifacts" / "ui"
ORDER_YAML = (EXAMPLES / "order_fsm.yaml").read_text(encoding="utf-8")
WAIT = 60.0


def require_browser() -> None:
    """Skip without Chromium, chromedriver or Selenium; in CI (CI=true) that is a failure."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    if not missing:
        return
    message = (
        f"headless browser tests need {', '.join(missing)} "
        "(apt-get install chromium chromium-driver)"
    )
    if IN_CI:
        pytest.fail(f"{message} (CI=true: .ci/run installs them)")
    pytest.skip(message)


@contextmanager
def api_server(workdir: Path, **env: str) -> Iterator[str]:
    """``pystator api`` in a subprocess on a free port; yields its base URL."""
    with running_server(workdir, "--host", "127.0.0.1", env=env) as base:
        yield base


class Page:
    """A thin layer over the WebDriver: waits, clicks, typing and screenshots."""

    def __init__(self, driver: Any, base: str) -> None:
        self.driver = driver
        self.base = base

    def open(self, route: str = "#/") -> None:
        self.driver.get(f"{self.base}/{route}")
        self.wait_for(lambda: self.js("return document.querySelector('main h1') !== null"))

    def viewport(self, width: int, height: int) -> None:
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def wait_for(
        self, condition: Callable[[], Any], what: str = "condition", timeout: float = WAIT
    ) -> Any:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                value = condition()
                if value:
                    return value
            except Exception as exc:  # the page is still changing
                last = exc
            time.sleep(0.05)
        self.screenshot(f"failed-{re.sub(r'[^a-z0-9]+', '-', what.lower())[:40]}")
        raise AssertionError(
            f"timed out waiting for {what}" + (f" (last error: {last})" if last else "")
        )

    def texts(self, css: str) -> list[str]:
        """The text content of every element matching ``css``."""
        found: list[str] = self.js(
            "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent)", css
        )
        return found

    def data(self, css: str, key: str) -> list[str | None]:
        """``dataset[key]`` of every element matching ``css``."""
        found: list[str | None] = self.js(
            "return [...document.querySelectorAll(arguments[0])].map(e => e.dataset[arguments[1]])",
            css,
            key,
        )
        return found

    def find(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.wait_for(lambda: self.driver.find_element(By.CSS_SELECTOR, css), css)

    def find_all(self, css: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        found: list[Any] = self.driver.find_elements(By.CSS_SELECTOR, css)
        return found

    def button(self, text: str, within: str = "body") -> Any:
        from selenium.webdriver.common.by import By

        def find() -> Any:
            for el in self.driver.find_elements(By.CSS_SELECTOR, f"{within} button, {within} a"):
                if el.is_displayed() and el.text.strip() == text:
                    return el
            return None

        return self.wait_for(find, f"button {text!r}")

    def click(self, css: str) -> None:
        self.find(css).click()

    def paste(self, css: str, text: str) -> None:
        """Put text in a field as a paste does: all at once, then one input event."""
        self.js(
            "const el = document.querySelector(arguments[0]); el.focus(); el.value = arguments[1];"
            "el.dispatchEvent(new InputEvent('input',"
            " {bubbles: true, inputType: 'insertFromPaste'}));",
            css,
            text,
        )

    def status(self) -> str:
        value: str = self.js("return document.querySelector('.pill').dataset.status")
        return value

    def wait_status(self, status: str) -> None:
        self.wait_for(lambda: self.status() == status, f"status {status}")
        self.wait_diagram()

    def wait_diagram(self) -> None:
        """Wait until the diagram shows the newest definition: ELK lays it out in a worker,
        and the pane is ``aria-busy`` until the drawing is on the page."""
        self.wait_for(
            lambda: self.js(
                "const d = document.querySelector('.diagram');"
                "return !d || !d.hasAttribute('aria-busy');"
            ),
            "the diagram's layout",
        )

    def diagram_states(self) -> set[str]:
        self.wait_diagram()
        names: list[str] = self.js(
            "return [...document.querySelectorAll('.diagram svg [data-state]')]"
            ".map(e => e.dataset.state)"
        )
        return set(names)

    def current_states(self) -> set[str]:
        self.wait_diagram()
        names: list[str] = self.js(
            "return [...document.querySelectorAll('.diagram svg .current[data-state]')]"
            ".map(e => e.dataset.state)"
        )
        return set(names)

    def focused(self) -> str:
        text: str = self.js(
            "const e = document.activeElement;"
            "if (!e) return '';"
            "const name = e.textContent || e.getAttribute('aria-label') || e.id || '';"
            "return e.tagName + ':' + name.trim();"
        )
        return text

    def press(self, *keys: str) -> None:
        from selenium.webdriver.common.action_chains import ActionChains

        ActionChains(self.driver).send_keys(*keys).perform()

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def no_horizontal_overflow(self) -> bool:
        value: bool = self.js(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1"
        )
        return value


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="pystator-ui-") as tmp:
        yield Path(tmp)


@pytest.fixture(scope="module")
def server(workdir: Path) -> Iterator[str]:
    require_browser()
    with api_server(workdir) as base:
        yield base


@pytest.fixture(scope="module")
def driver(workdir: Path) -> Iterator[Any]:
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = workdir / "chromium-profile"
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1280,800",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def page(driver: Any, server: str) -> Iterator[Page]:
    p = Page(driver, server)
    p.viewport(1280, 800)
    driver.get("about:blank")
    yield p
    # No script errors and no failed loads on any page a test visited.
    problems = [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE"
        and "/favicon.ico" not in entry["message"]
        # 4xx answers the test provoked on purpose are logged by Chromium as failed loads.
        and "the server responded with a status of 4" not in entry["message"]
    ]
    assert not problems, problems


def store_machine(base: str, yaml_text: str) -> str:
    response = httpx.post(f"{base}/api/v1/machines", json={"yaml": yaml_text}, timeout=10)
    if response.status_code == 409:
        name = re.search(r"machine '([^']+)'", response.json()["detail"])
        assert name is not None
        return name.group(1)
    assert response.status_code == 201, response.text
    machine_id: str = response.json()["id"]
    return machine_id


# ----------------------------------------------------------------------------- scenarios
def test_create_a_machine_by_pasting_yaml_with_live_validation(page: Page) -> None:
    page.open("#/new")
    page.screenshot("new-machine-empty")
    misspelled = ORDER_YAML.replace("order_management", "pasted_orders").replace(
        "dest: FILLED", "dest: FILED"
    )
    page.paste("#definition-text", misspelled)
    page.wait_status("invalid")
    problem = page.find(".problem")
    assert "FILED" in problem.text
    line = misspelled.splitlines().index("    dest: FILED") + 1
    assert f"Line {line}" in problem.text
    assert "transitions[1].dest" in problem.text
    assert page.js(
        "return document.querySelector('.cm-lineNumbers .error-line').textContent.trim()"
    ) == str(line)
    page.screenshot("editor-validation-error")

    # Fix it by typing, as a user would: select the misspelled word and type over it.
    page.js(
        "const ta = document.querySelector('#definition-text');"
        "const at = ta.value.indexOf('FILED');"
        "ta.focus(); ta.setSelectionRange(at, at + 5);"
    )
    page.press("FILLED")
    page.wait_status("valid")
    assert page.find(".problem-box").text == "No problems found."
    assert not page.find_all(".problem")
    assert page.diagram_states() >= {"PENDING", "OPEN", "FILLED"}
    # The diagram draws terminal states distinctly and marks the initial one.
    assert page.js("return !!document.querySelector('.diagram [data-state=FILLED] .box-inner')")
    assert (
        page.js("return document.querySelector('.diagram [data-initial]').dataset.initial")
        == "PENDING"
    )
    page.screenshot("editor-valid")

    page.button("Create machine").click()
    page.wait_for(
        lambda: page.driver.current_url.endswith("#/machines/pasted_orders"),
        "the new machine's page",
    )
    page.wait_for(lambda: "revision 1" in page.find(".revision").text, "revision 1")
    assert page.find("#definition-text").get_attribute("value").startswith("# yaml-language-server")

    # Save a new version.
    text = page.find("#definition-text").get_attribute("value")
    page.paste("#definition-text", text.replace('version: "1.0.0"', 'version: "1.1.0"'))
    page.wait_status("valid")
    page.button("Save new version").click()
    page.wait_for(lambda: "revision 2" in page.find(".revision").text, "revision 2")
    assert "version 1.1.0" in page.find(".revision").text

    page.open("#/")
    row = page.find("tr[data-machine=pasted_orders]")
    assert "1.1.0" in row.text
    page.screenshot("machines-list")


def test_the_diagram_draws_compound_and_parallel_states(page: Page) -> None:
    page.open("#/new")
    page.js(
        "const s = document.querySelector('#template-select'); s.value = 'parallel';"
        "s.dispatchEvent(new Event('change'));"
    )
    page.button("Use template").click()
    page.wait_status("valid")
    states = {"IDLE", "MONITORING", "CONNECTING", "STREAMING", "STALE", "CALM", "ALERT", "STOPPED"}
    assert page.diagram_states() >= states
    regions = page.data(".diagram [data-region]", "region")
    assert regions == ["feed", "risk"]
    assert len(page.find_all(".diagram .parallel .separator")) == 1
    labels = page.texts(".diagram .edge-label text")
    assert "limit_breached [exposure_over_limit]" in labels
    # Nested boxes: every region state lies inside its parallel state's box.
    inside = page.js(
        "const box = r => r.getBoundingClientRect();"
        "const outer = box(document.querySelector('.diagram [data-state=MONITORING] > rect'));"
        "return ['CONNECTING', 'CALM', 'ALERT'].every(n => {"
        "  const b = box(document.querySelector(`.diagram [data-state=${n}] rect`));"
        "  return b.left >= outer.left && b.right <= outer.right"
        "    && b.top >= outer.top && b.bottom <= outer.bottom; })"
    )
    assert inside
    page.screenshot("diagram-parallel")

    page.js(
        "const s = document.querySelector('#template-select'); s.value = 'approval';"
        "s.dispatchEvent(new Event('change'));"
    )
    page.button("Use template").click()
    page.wait_status("valid")
    labels = page.texts(".diagram .edge-label text")
    assert "decide [within_budget, has_receipts]" in labels
    assert "after 2h" in labels
    page.screenshot("diagram-guards-and-delays")


def test_export_svg_and_mermaid(page: Page) -> None:
    machine = store_machine(page.base, ORDER_YAML)
    page.open(f"#/machines/{machine}")
    page.wait_status("valid")
    page.js(
        "window.__blobs = []; const make = URL.createObjectURL;"
        "URL.createObjectURL = b => { window.__blobs.push(b); return make.call(URL, b); };"
    )
    page.button("Export SVG").click()
    page.wait_for(lambda: page.js("return window.__blobs.length") == 1, "the SVG download")
    svg = page.driver.execute_async_script(
        "const done = arguments[arguments.length - 1]; window.__blobs[0].text().then(done);"
    )
    root = ET.fromstring(svg.split("?>", 1)[1])
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert 'data-state="PENDING"' in svg
    assert 'data-state="FILLED"' in svg
    assert "<style>" in svg
    assert ".state-diagram" in svg

    page.button("Export Mermaid").click()
    text = page.find("#mermaid-text").get_attribute("value")
    assert text.splitlines()[0] == "stateDiagram-v2"
    assert "[*] --> PENDING" in text
    assert "PENDING --> OPEN : exchange_ack" in text
    assert "FILLED --> [*]" in text
    page.screenshot("export-mermaid")
    page.press("\ue00c")  # Escape closes the dialog and focus returns to its button
    page.wait_for(lambda: not page.find_all("dialog"), "the dialog to close")
    assert page.focused() == "BUTTON:Export Mermaid"


def test_a_dialog_closes_when_the_browser_goes_back(page: Page) -> None:
    machine = store_machine(page.base, ORDER_YAML)
    page.open("#/")
    page.find(f"tr[data-machine={machine}]")
    page.open(f"#/machines/{machine}")
    page.wait_status("valid")
    page.button("Export Mermaid").click()
    page.wait_for(lambda: page.find("dialog.mermaid-dialog").is_displayed(), "the Export dialog")
    page.driver.back()
    page.wait_for(lambda: page.find("main h1").text == "Machines", "the machines page")
    page.wait_for(
        lambda: not [d for d in page.find_all("dialog") if d.is_displayed()],
        "the Export dialog to close",
    )
    assert page.js("return document.querySelectorAll('dialog[open]').length") == 0
    page.screenshot("back-closes-the-export-dialog")

    # A confirmation left by Back counts as "Cancel": the machine is still there.
    page.driver.forward()
    page.wait_status("valid")
    page.button("Delete", within="main").click()
    page.wait_for(lambda: page.find("dialog.confirm").is_displayed(), "the confirmation")
    page.driver.back()
    page.wait_for(lambda: page.find("main h1").text == "Machines", "the machines page again")
    page.wait_for(lambda: not page.find_all("dialog"), "the confirmation to close")
    assert httpx.get(f"{page.base}/api/v1/machines/{machine}", timeout=10).status_code == 200


# ----------------------------------------------------------------------------- linked pages
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


def api_operations(base: str) -> list[tuple[str, str]]:
    """(path, summary) of every operation of the app's OpenAPI document."""
    document = httpx.get(f"{base}/openapi.json", timeout=10).json()
    return [
        (path, operation["summary"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def page_text(page: Page) -> str:
    text: str = page.js("return document.body.innerText")
    return text.replace("\u200b", "")  # Swagger UI breaks long paths with zero-width spaces


def same_origin_only(page: Page) -> None:
    """Everything the page loaded, and every element that loads something, is on the app."""
    loaded: list[str] = page.js("return performance.getEntriesByType('resource').map(e => e.name)")
    others = [url for url in loaded if not url.startswith(page.base + "/")]
    assert not others, f"loaded from another host: {others}"
    sources: list[str] = page.js(
        "return [...document.querySelectorAll('script[src], img[src], link[href], iframe[src],"
        " source[src], video[src], audio[src]')].map(e => e.src || e.href)"
    )
    others = [url for url in sources if not url.startswith((page.base + "/", "data:", "blob:"))]
    assert not others, f"elements that load from another host: {others}"


def shows_the_operations(page: Page, route: str, screenshot: str) -> None:
    """The API documentation page at ``route`` lists every operation (path and summary)."""
    operations = api_operations(page.base)
    assert len(operations) >= 15
    page.driver.get(f"{page.base}{route}")

    def missing() -> list[str]:
        text = page_text(page)
        return [f"{p} ({s})" for p, s in operations if p not in text or s not in text]

    # A 1-2 MB reader parsing the whole document: give a loaded machine time.
    page.wait_for(lambda: not missing(), f"every operation on {route}", timeout=2 * WAIT)
    text = page_text(page)
    assert "Unable to render" not in text
    assert "Something went wrong" not in text
    same_origin_only(page)
    page.screenshot(screenshot)


@pytest.mark.parametrize(
    ("route", "screenshot"), [("/docs", "api-docs-swagger"), ("/redoc", "api-docs-redoc")]
)
def test_the_api_docs_show_every_operation(page: Page, route: str, screenshot: str) -> None:
    shows_the_operations(page, route, screenshot)
    if route == "/docs":
        # An operation opens with its request body (Swagger UI resolved the 3.1 schemas).
        document = httpx.get(f"{page.base}/openapi.json", timeout=10).json()
        store = document["paths"]["/api/v1/machines"]["post"]
        block = f"#operations-{store['tags'][0]}-{store['operationId']}"
        page.find(f"{block} button").click()
        page.wait_for(lambda: "Request body" in page.find(block).text, "the operation's details")
        page.js("arguments[0].scrollIntoView()", page.find(block))
        page.screenshot(f"{screenshot}-operation")


# What each view of the workspace shows: for a stored machine, and on "New machine".
# (Each is evaluated again and again until it holds: it reads the page without waiting.)
def shown_text(page: Page, css: str) -> str:
    """The text of the first displayed element matching ``css`` ("" when there is none)."""
    text: str = page.js(
        "const e = [...document.querySelectorAll(arguments[0])].find(e => e.checkVisibility());"
        "return e ? e.innerText : '';",
        css,
    )
    return text


WORKSPACE_VIEWS: dict[str, tuple[Callable[[Page], Any], Callable[[Page], Any]]] = {
    "edit": (
        lambda p: "machine_name" in p.js("return document.querySelector('#definition-text').value"),
        lambda p: p.js("return document.querySelector('#definition-text').checkVisibility()"),
    ),
    "build": (
        lambda p: p.js("return document.querySelector('input[name=state-name]').checkVisibility()"),
        lambda p: p.js("return document.querySelector('input[name=state-name]').checkVisibility()"),
    ),
    "simulate": (
        lambda p: shown_text(p, "#sim-current"),
        lambda p: "Write or load a definition first." in shown_text(p, ".simulator-panel"),
    ),
    "entities": (
        lambda p: shown_text(p, ".entity-list") and not p.find_all(".entity-list .loading"),
        lambda p: "Entities belong to a stored machine" in shown_text(p, ".entities-panel"),
    ),
}


def expect_hash_page(page: Page, route: str) -> None:
    """Wait for what the UI page at ``route`` shows; fail for a route the test does not know."""
    parts = [unquote(part) for part in route.removeprefix("#/").split("/")]
    if route == "#/":
        page.wait_for(lambda: shown_text(page, "main h1") == "Machines", route)
        page.wait_for(lambda: page.find_all("main tr[data-machine], main .empty"), "the list")
        return
    if parts[0] == "new" and len(parts) <= 2:
        heading, view, stored = "New machine", parts[1] if len(parts) == 2 else "edit", False
    elif parts[0] == "machines" and 2 <= len(parts) <= 4:
        heading, view, stored = parts[1], parts[2] if len(parts) > 2 else "edit", True
    else:
        raise AssertionError(f"the test has no expectation for the UI's link {route}")
    page.wait_for(lambda: shown_text(page, "main h1") == heading, f"{route}: heading {heading}")
    if len(parts) == 4:
        page.wait_for(lambda: shown_text(page, "#entity-state"), f"{route}: the entity's state")
        return
    assert view in WORKSPACE_VIEWS, f"the test has no expectation for the UI's link {route}"
    shows = WORKSPACE_VIEWS[view][0 if stored else 1]
    page.wait_for(lambda: shows(page), f"{route}: the {view} view")


def expect_server_page(page: Page, route: str) -> list[str]:
    """Check the page at ``route`` (not the UI's); return the app's other pages it links to."""
    if route in ("/docs", "/redoc"):
        shows_the_operations(page, route, "linked" + route.replace("/", "-"))
        links: list[str] = page.js(
            "return [...document.querySelectorAll('a[href]')]"
            ".filter(a => a.origin === location.origin && a.pathname !== location.pathname)"
            ".map(a => a.pathname)"
        )
        return links
    if route.startswith("/docs?machine="):
        machine = route.removeprefix("/docs?machine=")
        page.driver.get(f"{page.base}{route}")
        shows_the_machine_operations(page, machine)
        return []
    if route == "/openapi.json":
        page.driver.get(f"{page.base}{route}")
        document = page.wait_for(lambda: json.loads(page.js("return document.body.innerText")))
        assert document["openapi"].startswith("3.1")
        assert "/api/v1/machines" in document["paths"]
        return []
    raise AssertionError(f"the test has no expectation for the page {route}")


def test_every_page_the_ui_links_to_shows_its_content(page: Page) -> None:
    machine = store_machine(page.base, ORDER_YAML)
    created = httpx.post(
        f"{page.base}/api/v1/machines/{machine}/entities",
        json={"entity_id": "linked-1"},
        timeout=10,
    )
    assert created.status_code in (201, 409), created.text
    todo = ["#/"]
    seen: set[str] = set()
    while todo:
        route = todo.pop(0)
        if route in seen:
            continue
        seen.add(route)
        if route.startswith("#"):
            page.open(route)
            expect_hash_page(page, route)
            links: list[str] = page.js(
                "return [...document.querySelectorAll('header a[href], main a[href]')]"
                ".filter(a => a.checkVisibility() && !a.hasAttribute('download'))"
                ".map(a => a.getAttribute('href'))"
            )
            for href in links:
                assert re.match(r"#/|/[^/]", href), f"{route} links to {href}, not to the app"
            todo += [href for href in links if href not in seen]
        else:
            todo += expect_server_page(page, route)
    assert {"#/", "#/new", "/docs", "/redoc", "/openapi.json", f"/docs?machine={machine}"} <= seen
    assert f"#/machines/{machine}/simulate" in seen
    assert f"#/machines/{machine}/entities/linked-1" in seen


def shows_the_machine_operations(page: Page, machine: str) -> dict[str, Any]:
    """``/docs?machine=<id>`` (the page open) lists one "Send <trigger>" per trigger of the
    machine's own document; returns that document."""
    url = f"{page.base}/api/v1/machines/{machine}/openapi.json"
    document: dict[str, Any] = httpx.get(url, timeout=10).json()
    sends = [
        operation["summary"]
        for item in document["paths"].values()
        for operation in item.values()
        if operation["summary"].startswith("Send ")
    ]
    assert sends

    def missing() -> list[str]:
        text = page_text(page)
        return [s for s in sends if s not in text]

    page.wait_for(lambda: not missing(), f"the operations of {machine}")
    assert "Failed to load API definition" not in page_text(page)
    same_origin_only(page)
    return document


TYPED_YAML = """\
meta: {machine_name: typed_orders, version: "1.0.0"}
context:
  fields:
    order_qty: {type: integer, required: true, minimum: 1}
events:
  fill:
    description: A fill from the exchange.
    fields:
      fill_qty: {type: integer, required: true, minimum: 1}
      venue: {type: string}
states:
  - {name: PENDING, type: initial}
  - {name: OPEN}
  - {name: FILLED, type: terminal}
transitions:
  - {trigger: exchange_ack, source: PENDING, dest: OPEN}
  - {trigger: fill, source: OPEN, dest: FILLED, guards: [{expr: "fill_qty >= order_qty"}]}
"""


def test_the_machine_page_links_to_a_typed_form_for_each_trigger(page: Page) -> None:
    machine = store_machine(page.base, TYPED_YAML)
    page.open(f"#/machines/{machine}")
    page.find("#machine-api-docs").click()
    page.wait_for(lambda: page.driver.current_url.endswith(f"/docs?machine={machine}"), "/docs")
    document = shows_the_machine_operations(page, machine)
    fill = document["paths"][f"/api/v1/machines/{machine}/entities/{{entity_id}}/events/fill"]
    operation = fill["post"]
    block = f"#operations-{operation['tags'][0]}-{operation['operationId']}"
    page.find(f"{block} button").click()
    page.wait_for(lambda: "Request body" in page.find(block).text, "the fill operation's body")
    assert "A fill from the exchange." in page.find(block).text
    # The body's example is the payload's fields, and "Try it out" makes it an editable form.
    page.button("Try it out", within=block).click()
    editor = page.find(f"{block} textarea.body-param__text")
    example = json.loads(editor.get_attribute("value"))
    assert example["context"]["fill_qty"] == 1  # an integer, at its minimum
    assert example["context"]["venue"] == "string"
    # The schema view names each field with its type ("Expand all" opens the nested ones).
    page.find(f"{block} button.tablinks[data-name=model]").click()
    page.js("arguments[0].scrollIntoView()", page.find(block))

    def fields_shown() -> bool:
        page.js(
            "const b = document.querySelector(arguments[0]);"
            "for (const e of b.querySelectorAll('.json-schema-2020-12-expand-deep-button'))"
            "  if (e.textContent === 'Expand all') e.click();",
            block,
        )
        text = page.find(block).text
        return "fill_qty" in text and "venue" in text and "integer" in text

    page.wait_for(fields_shown, "the payload's fields and types")
    page.screenshot("api-docs-machine-fill")


def test_simulator_runs_the_order_example_to_a_terminal_state(page: Page) -> None:
    machine = store_machine(page.base, ORDER_YAML)
    page.open(f"#/machines/{machine}/simulate")
    page.wait_for(lambda: page.find("#sim-current").text == "PENDING", "PENDING")
    assert page.current_states() == {"PENDING"}
    assert [b.text for b in page.find_all("[data-trigger]")] == ["Send exchange_ack"]

    page.click("[data-trigger=exchange_ack]")
    page.wait_for(lambda: page.find("#sim-current").text == "OPEN", "OPEN")
    assert page.current_states() == {"OPEN"}
    assert "exchange_ack: PENDING → OPEN" in page.find(".result.ok").text
    taken = page.data(".diagram path.edge.taken", "transition")
    assert taken == ["0"]

    page.click("[data-trigger=fill]")
    page.wait_for(lambda: page.find("#sim-current").text == "FILLED", "FILLED")
    assert page.current_states() == {"FILLED"}
    assert "terminal state" in page.find(".events").text
    steps = [li.text for li in page.find_all(".steps li")]
    assert len(steps) == 3
    assert steps[0].startswith("Start in PENDING")
    page.screenshot("simulator-terminal")

    # Go back in the step history, then take the step again.
    page.button("Go back here", within=".steps li:nth-child(2)").click()
    page.wait_for(lambda: page.find("#sim-current").text == "OPEN", "back at OPEN")
    assert len(page.find_all(".steps li")) == 2
    assert page.current_states() == {"OPEN"}
    page.screenshot("simulator")


def test_simulator_sends_guard_outcomes_and_context(page: Page) -> None:
    page.open("#/new")
    page.js(
        "const s = document.querySelector('#template-select'); s.value = 'approval';"
        "s.dispatchEvent(new Event('change'));"
    )
    page.button("Use template").click()
    page.wait_status("valid")
    page.find(".tabs a[data-tab=simulate]").click()
    page.click("[data-trigger=review]")
    page.wait_for(lambda: page.find("#sim-current").text == "IN_REVIEW", "IN_REVIEW")
    assert "assign_reviewer" in page.find(".result.ok").text
    guards = page.data("[data-event=decide] [data-guard]", "guard")
    assert guards == ["within_budget", "has_receipts"]
    page.click("[data-event=decide] [data-guard=has_receipts]")  # untick: the claim is rejected
    page.click("[data-trigger=decide]")
    page.wait_for(lambda: page.find("#sim-current").text == "REJECTED", "REJECTED")
    page.button("Go back here", within=".steps li:nth-child(2)").click()
    page.wait_for(lambda: page.find("#sim-current").text == "IN_REVIEW", "IN_REVIEW again")
    page.click("[data-trigger=decide]")
    page.wait_for(lambda: page.find("#sim-current").text == "APPROVED", "APPROVED")

    page.paste("textarea[name=sim-context]", "{not json")
    page.click("[data-trigger=pay]")
    assert "not valid JSON" in page.find(".simulator-panel .error[role=alert]").text
    assert page.find("#sim-current").text == "APPROVED"
    page.screenshot("simulator-guards")


def test_an_entity_created_over_the_api_receives_an_event(page: Page) -> None:
    machine = store_machine(page.base, ORDER_YAML)
    created = httpx.post(
        f"{page.base}/api/v1/machines/{machine}/entities",
        json={"entity_id": "order-42", "context": {"qty": 10}},
        timeout=10,
    )
    assert created.status_code == 201, created.text

    page.open(f"#/machines/{machine}/entities")
    row = page.find("tr[data-entity=order-42]")
    assert "PENDING" in row.text
    filter_id = page.find(".entities-panel select").get_attribute("id")
    page.js(
        f"const s = document.getElementById('{filter_id}'); s.value = 'OPEN';"
        "s.dispatchEvent(new Event('change'));"
    )
    page.wait_for(lambda: "No entity is in OPEN." in page.find(".entity-list").text, "empty filter")
    page.js(
        f"const s = document.getElementById('{filter_id}'); s.value = 'PENDING';"
        "s.dispatchEvent(new Event('change'));"
    )
    page.find("tr[data-entity=order-42] a").click()
    page.wait_for(lambda: page.find("#entity-state").text == "PENDING", "the entity")
    assert page.current_states() == {"PENDING"}
    assert page.find("#entity-version").text == "1"
    assert '"qty": 10' in page.find("#entity-context").text
    assert "(created)" in page.find("table.history").text
    assert "No pending timers." in page.find(".entity-detail").text

    page.paste("textarea[name=event-context]", '{"venue": "XNAS"}')
    page.button("Send event").click()
    page.wait_for(lambda: page.find("#entity-state").text == "OPEN", "the entity to move")
    assert page.find("#entity-version").text == "2"
    assert '"venue": "XNAS"' in page.find("#entity-context").text
    assert page.current_states() == {"OPEN"}
    page.wait_for(
        lambda: "PENDING → OPEN" in page.find("table.history").text, "the new history row"
    )
    assert "exchange_ack" in page.find("table.history").text
    page.screenshot("entity")

    stored = httpx.get(f"{page.base}/api/v1/machines/{machine}/entities/order-42", timeout=10)
    assert stored.json()["state"] == "OPEN"


def test_the_builder_adds_and_removes_states_and_transitions(page: Page) -> None:
    page.open("#/new")
    page.js(
        "const s = document.querySelector('#template-select'); s.value = 'blank';"
        "s.dispatchEvent(new Event('change'));"
    )
    page.button("Use template").click()
    page.wait_status("valid")
    page.find(".tabs a[data-tab=build]").click()

    name = page.find("input[name=state-name]")
    name.send_keys("DONE")
    page.js("const s = document.querySelector('select[name=state-type]'); s.value = 'terminal';")
    name.send_keys("\ue007")  # Enter submits the form
    page.wait_for(lambda: "DONE" in page.diagram_states(), "DONE on the diagram")
    assert "- name: DONE\n  type: terminal" in page.js(
        "return document.querySelector('#definition-text').value"
    )

    page.find("input[name=transition-trigger]").send_keys("finish")
    page.js(
        "const s = document.querySelector('select[name=transition-source]');"
        "[...s.options].forEach(o => o.selected = o.value === 'START');"
        "document.querySelector('select[name=transition-dest]').value = 'DONE';"
    )
    page.find("input[name=transition-guards]").send_keys("ready, qty > 0")
    page.find("input[name=transition-actions]").send_keys("archive")
    page.button("Add transition").click()
    page.wait_for(lambda: page.find_all(".diagram path.edge[data-transition='0']"), "the new edge")
    text = page.js("return document.querySelector('#definition-text').value")
    assert "trigger: finish" in text
    assert "source: START" in text
    assert "dest: DONE" in text
    assert "expr: qty > 0" in text
    page.wait_status("valid")
    labels = page.texts(".diagram .edge-label text")
    assert labels == ["finish [ready, qty > 0]"]
    assert [li.get_attribute("data-state") for li in page.find_all(".states-list li")] == [
        "START",
        "DONE",
    ]

    # A compound state with a child, through the same forms.
    name = page.find("input[name=state-name]")
    name.send_keys("WORK")
    page.button("Add state").click()
    page.wait_for(lambda: "WORK" in page.diagram_states(), "WORK")
    page.find("input[name=state-name]").send_keys("STEP_ONE")
    page.js("document.querySelector('select[name=state-parent]').value = 'WORK';")
    page.button("Add state").click()
    page.wait_for(
        lambda: page.find_all(".diagram .compound[data-state=WORK]"), "WORK as a compound state"
    )
    page.screenshot("builder")

    # Removing a state removes the transitions that need it.
    page.find("button[aria-label='Remove state DONE']").click()
    page.wait_for(lambda: "DONE" not in page.diagram_states(), "DONE removed")
    text = page.js("return document.querySelector('#definition-text').value")
    assert "DONE" not in text
    assert "finish" not in text
    page.wait_status("valid")


def test_narrow_window(page: Page) -> None:
    machine = store_machine(page.base, ORDER_YAML)
    page.viewport(390, 844)
    page.open("#/")
    assert page.no_horizontal_overflow()
    page.screenshot("narrow-machines")
    page.open(f"#/machines/{machine}")
    page.wait_status("valid")
    assert page.no_horizontal_overflow()
    panel = page.find(".panel-host").rect
    diagram = page.find(".diagram").rect
    assert diagram["y"] >= panel["y"] + panel["height"] - 1, "the diagram goes below the editor"
    assert diagram["width"] <= 390
    page.screenshot("narrow-editor")
    page.find(".tabs a[data-tab=simulate]").click()
    page.wait_for(lambda: page.find("#sim-current").text == "PENDING", "the simulator")
    assert page.no_horizontal_overflow()
    page.screenshot("narrow-simulator")


def test_keyboard_only_navigation(page: Page) -> None:
    store_machine(page.base, ORDER_YAML)
    page.open("#/")
    page.find("tr[data-machine]")
    order = []
    for _ in range(6):
        page.press("\ue004")  # Tab
        order.append(page.focused())
    assert order[:5] == [
        "A:Skip to content",
        "A:PyStator",
        "A:Machines",
        "A:New machine",
        "A:API docs",
    ]
    # The focused element shows a visible focus ring.
    outline = page.js(
        "const s = getComputedStyle(document.activeElement);"
        "return [s.outlineStyle, s.outlineWidth];"
    )
    assert outline[0] != "none"
    assert outline[1] != "0px"

    # Open "New machine" with Enter, pick a template with the keyboard.
    page.js("document.querySelector('[data-nav=new]').focus()")
    page.press("\ue007")
    page.wait_for(lambda: page.driver.current_url.endswith("#/new"), "#/new")
    page.find("#template-select")
    page.js("document.querySelector('#template-select').focus()")
    page.press("\ue015")  # ArrowDown: the next template
    page.press("\ue004")  # Tab to "Use template"
    assert page.focused() == "BUTTON:Use template"
    page.press("\ue007")
    page.wait_status("valid")
    assert "expense_approval" in page.js("return document.querySelector('#definition-text').value")

    # Tabs between views are links reachable with Tab; Enter follows them.
    page.js("document.querySelector('.tabs a[data-tab=simulate]').focus()")
    page.press("\ue007")
    page.wait_for(lambda: page.find("#sim-current").text == "SUBMITTED", "the simulator")
    page.js("document.querySelector('[data-trigger=review]').focus()")
    page.press("\ue007")
    page.wait_for(lambda: page.find("#sim-current").text == "IN_REVIEW", "a step taken with Enter")
    page.screenshot("keyboard")


def test_login_screen_when_auth_is_on(driver: Any, workdir: Path) -> None:
    from pystator.api.passwords import hash_password

    password = "browser test password"
    auth_dir = workdir / "auth"
    auth_dir.mkdir(exist_ok=True)
    env = {
        "PYSTATOR_AUTH_SECRET": "browser-test-secret-" + "z" * 32,
        "PYSTATOR_USERS": f"grace:{hash_password(password, iterations=1000)}",
    }
    with api_server(auth_dir, **env) as base:
        page = Page(driver, base)
        page.viewport(1280, 800)
        driver.get(f"{base}/#/")
        page.wait_for(lambda: driver.current_url.endswith("#/login"), "the login screen")
        page.find("input[name=username]").send_keys("grace")
        page.find("input[name=password]").send_keys("wrong password\ue007")
        page.wait_for(
            lambda: "Wrong user name or password" in page.find(".login .error").text, "the error"
        )
        page.screenshot("login")
        field = page.find("input[name=password]")
        field.clear()
        field.send_keys(password + "\ue007")
        page.wait_for(lambda: page.find("main h1").text == "Machines", "the machines page")
        assert "grace" in page.find("#account").text
        token = page.js("return sessionStorage.getItem('pystator.token')")
        assert token
        assert token.count(".") == 2
        page.button("Sign out").click()
        page.wait_for(lambda: driver.current_url.endswith("#/login"), "signed out")
        assert page.js("return sessionStorage.getItem('pystator.token')") is None
    driver.get("about:blank")
    driver.get_log("browser")  # the 401s of the wrong password are expected


def test_json_definitions_show_problems_at_their_line(page: Page) -> None:
    page.open("#/new")
    text = (
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
    page.paste("#definition-text", text)
    page.wait_status("invalid")
    problem = page.find(".problem")
    assert "Line 8" in problem.text
    assert "transitions[0].dest" in problem.text
    page.paste("#definition-text", text.replace('"dest": "C"', '"dest": "B"'))
    page.wait_status("valid")
    assert page.diagram_states() >= {"A", "B"}
    page.paste("#definition-text", text.replace('"C"}', '"C"'))
    page.wait_status("syntax")
    assert "Line 9" in page.find(".problem").text
    assert page.js("return document.querySelector('.diagram').classList.contains('stale')")
