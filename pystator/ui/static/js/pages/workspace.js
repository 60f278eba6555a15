// One machine (stored, or new): the definition text is the single source of truth. Every
// edit is parsed (/ui/api/parse) and validated (/api/v1/validate) after a short pause; the
// diagram and the builder follow the parsed data, the simulator and entities panels use it.

import { api } from "../api.js";
import { h, replace, debounce, download, toast, confirmDialog, select, showDialog } from "../dom.js";
import { DiagramView } from "../diagram.js";
import { Editor } from "../editor.js";
import { renderProblems, renderWarnings } from "../problems.js";
import { highlightMermaid, toMermaid } from "../mermaid.js";
import { TEMPLATES } from "../templates.js";
import { BuilderPanel } from "./builder.js";
import { SimulatorPanel } from "./simulator.js";
import { EntitiesPanel } from "./entities.js";

const TABS = [
  ["edit", "Editor"],
  ["build", "Builder"],
  ["simulate", "Simulator"],
  ["entities", "Entities"],
];

// Text handed from "create" to the page of the new machine, so its comments survive.
let handoff = null;

const LINE_IN_MESSAGE = /\s*\(line (\d+)\)\s*$/;
const LINE_PATH = /^line (\d+)/;

function stripPrefix(path) {
  return String(path || "").replace(/^body\.(yaml|config)\.?/, "");
}

export class Workspace {
  constructor({ id, tab, entity }) {
    this.id = id;
    this.stored = null; // MachineDetail of a stored machine
    this.data = null; // last definition data that parsed
    this.format = "yaml";
    this.valid = false;
    this.summary = null;
    this.problems = [];
    this.warnings = []; // lint findings of /api/v1/validate: shown apart, never block saving
    this.savedText = null;
    this.seq = 0;
    this.listeners = new Set();

    this.diagram = new DiagramView();
    this.editor = new Editor({ onInput: () => this.onInput() });
    this.refreshSoon = debounce(() => this.refresh(), 350);

    this.title = h("h1", {}, id || "New machine");
    this.statusPill = h("span", { class: "pill", dataset: { status: "empty" }, role: "status", "aria-live": "polite" }, "Empty");
    this.revision = h("span", { class: "muted revision" });
    this.saveButton = h("button", { type: "button", class: "primary", onclick: () => this.save(), title: "Ctrl+S" },
      id ? "Save new version" : "Create machine");
    this.deleteButton = h("button", { type: "button", class: "danger", hidden: !id, onclick: () => this.remove() }, "Delete");
    const exportSvg = h("button", { type: "button", class: "secondary", onclick: () => this.exportSvg() }, "Export SVG");
    const exportMermaid = h("button", { type: "button", class: "secondary", onclick: () => this.exportMermaid() }, "Export Mermaid");
    // The stored machine's typed API: each trigger with its payload's fields (Swagger UI).
    const apiDocs = id
      ? h("a", { class: "button secondary", href: `/docs?machine=${encodeURIComponent(id)}`, id: "machine-api-docs",
        title: "Its entity operations, typed: one form per trigger" }, "API docs")
      : null;

    this.tabLinks = new Map();
    const nav = h("nav", { class: "tabs", "aria-label": "Machine views" });
    for (const [key, label] of TABS) {
      const link = h("a", { href: this.tabHref(key), dataset: { tab: key } }, label);
      this.tabLinks.set(key, link);
      nav.append(link);
    }

    this.panels = {
      edit: this.buildEditorPanel(),
      build: new BuilderPanel(this),
      simulate: new SimulatorPanel(this),
      entities: new EntitiesPanel(this),
    };
    this.panelHost = h("div", { class: "panel-host" });
    this.element = h("section", { class: "page workspace" },
      h("div", { class: "page-head" },
        h("div", { class: "title-row" }, this.title, this.statusPill, this.revision),
        h("div", { class: "toolbar", role: "toolbar", "aria-label": "Machine actions" },
          this.saveButton, this.deleteButton, exportSvg, exportMermaid, apiDocs)),
      nav,
      h("div", { class: "split" }, this.panelHost, this.diagram.element));
    this.onKey = (event) => {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
        event.preventDefault();
        this.save();
      }
    };
    document.addEventListener("keydown", this.onKey);
    this.tab = null;
    this.show(tab, entity);
  }

  destroy() {
    document.removeEventListener("keydown", this.onKey);
    this.refreshSoon.cancel();
    for (const panel of Object.values(this.panels)) if (panel.destroy) panel.destroy();
    this.editor.destroy();
    this.diagram.destroy();
  }

  tabHref(tab) {
    const base = this.id ? `#/machines/${encodeURIComponent(this.id)}` : "#/new";
    return tab === "edit" ? base : `${base}/${tab}`;
  }

  get name() {
    const meta = this.data && this.data.meta;
    return (meta && typeof meta.machine_name === "string" && meta.machine_name) || this.id || "machine";
  }

  /** Panels call this to hear about new parsed data. */
  subscribe(fn) {
    this.listeners.add(fn);
  }

  // ------------------------------------------------------------------ editor panel
  buildEditorPanel() {
    this.problemBox = h("div", { class: "problem-box", id: "problems", "aria-live": "polite" });
    this.warningBox = h("div", { class: "warning-box", id: "warnings", "aria-live": "polite", hidden: true });
    const toYaml = h("button", { type: "button", class: "secondary small", onclick: () => this.convert("yaml") }, "As YAML");
    const toJson = h("button", { type: "button", class: "secondary small", onclick: () => this.convert("json") }, "As JSON");
    const children = [];
    if (!this.id) {
      const picker = select(TEMPLATES.map((t) => [t.id, t.title]), "order", { id: "template-select" });
      const summary = h("p", { class: "hint template-summary" }, TEMPLATES[0].summary);
      picker.addEventListener("change", () => {
        summary.textContent = TEMPLATES.find((t) => t.id === picker.value).summary;
      });
      const load = h("button", { type: "button", class: "secondary", onclick: () => this.useTemplate(picker.value) }, "Use template");
      children.push(h("div", { class: "template-row" }, h("label", { for: picker.id }, "Start from a template"), picker, load), summary);
    }
    children.push(
      h("div", { class: "editor-head" }, this.editor.label, h("div", { class: "button-row" }, toYaml, toJson)),
      this.editor.element,
      this.problemBox,
      this.warningBox,
    );
    const cls = this.id ? "panel editor-panel" : "panel editor-panel with-templates";
    return { element: h("div", { class: cls }, children), activate: () => {} };
  }

  useTemplate(templateId) {
    const template = TEMPLATES.find((t) => t.id === templateId);
    if (!template) return;
    this.setText(template.yaml);
    this.editor.focus();
    this.editor.toStart();
    toast(`Loaded the template "${template.title}".`);
  }

  async convert(format) {
    if (!this.data) {
      toast("Fix the syntax error first: only text that parses can be converted.", "error");
      return;
    }
    try {
      const dumped = await api.dump(this.data, format);
      this.setText(dumped.text);
    } catch (err) {
      toast(`Could not convert: ${err.message}`, "error");
    }
  }

  // ------------------------------------------------------------------ tabs
  show(tab, entity) {
    const key = this.tabLinks.has(tab) ? tab : "edit";
    for (const [name, link] of this.tabLinks) {
      if (name === key) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    if (this.tab !== key) {
      // Every panel stays in the page (hidden when not shown): the editor keeps its caret
      // and scroll position, and forms keep what was typed in them.
      this.tab = key;
      for (const [name, panel] of Object.entries(this.panels)) {
        if (!panel.element.isConnected) this.panelHost.append(panel.element);
        panel.element.hidden = name !== key;
      }
      this.element.dataset.tab = key;
    }
    if (key === "edit" || key === "build") this.diagram.highlight({});
    this.panels[key].activate(entity);
  }

  // ------------------------------------------------------------------ loading and text
  async load() {
    if (!this.id) {
      this.renderProblems();
      this.setStatus("empty", "Empty");
      this.diagram.render({});
      return;
    }
    this.setStatus("checking", "Loading…");
    try {
      this.stored = await api.machine(this.id);
    } catch (err) {
      if (err.status === 401) return;
      replace(this.element, h("div", { class: "page narrow" },
        h("h1", {}, err.status === 404 ? "Machine not found" : "Could not load the machine"),
        h("p", { class: "error", role: "alert" }, err.message),
        h("a", { href: "#/", class: "button" }, "Back to the machines")));
      return;
    }
    this.showStored();
    let text;
    if (handoff && handoff.id === this.id) {
      text = handoff.text;
      handoff = null;
    } else {
      text = (await api.dump(this.stored.config, "yaml")).text;
    }
    this.savedText = text;
    this.setText(text);
    for (const panel of Object.values(this.panels)) if (panel.onStored) panel.onStored(this.stored);
  }

  showStored() {
    const m = this.stored;
    this.title.textContent = m.name;
    this.revision.textContent = `version ${m.version} · revision ${m.revision}`;
  }

  setText(text) {
    this.editor.value = text;
    this.onInput();
    this.refreshSoon.flush();
  }

  onInput() {
    this.setStatus("checking", "Checking…");
    this.updateDirty();
    this.refreshSoon();
  }

  updateDirty() {
    const dirty = this.savedText === null ? Boolean(this.editor.value.trim()) : this.editor.value !== this.savedText;
    this.element.classList.toggle("dirty", dirty);
    this.dirty = dirty;
    this.saveButton.textContent = this.id ? (dirty ? "Save new version" : "Saved") : "Create machine";
    this.saveButton.disabled = this.id ? !dirty : false;
  }

  setStatus(kind, text) {
    this.statusPill.dataset.status = kind;
    this.statusPill.textContent = text;
  }

  lineOf(problem, text) {
    const inMessage = LINE_IN_MESSAGE.exec(problem.message || "");
    if (inMessage) return Number(inMessage[1]);
    const inPath = LINE_PATH.exec(problem.path || "");
    if (inPath) return Number(inPath[1]);
    if (this.format === "json" && problem.path) return this.editor.lineOf(problem.path);
    return null;
  }

  /** Parse and validate the text; false when the answer came for an older text (dropped). */
  async refresh() {
    const seq = (this.seq += 1);
    const text = this.editor.value;
    // An answer is for `text`: dropped when a newer refresh started, or when the text changed
    // since (the refresh that follows the change is still to come).
    const outdated = () => seq !== this.seq || text !== this.editor.value;
    if (!text.trim()) {
      this.data = null;
      this.valid = false;
      this.problems = [];
      this.warnings = [];
      this.renderProblems();
      this.setStatus("empty", "Empty");
      this.diagram.render({});
      this.notify();
      return true;
    }
    let parsed;
    try {
      parsed = await api.parse(text);
    } catch (err) {
      if (outdated()) return false;
      this.setStatus("error", `Not checked: ${err.message}`);
      return true;
    }
    if (outdated()) return false;
    this.format = parsed.format;
    if (parsed.error) {
      this.valid = false;
      this.problems = [{
        path: parsed.error.line ? `line ${parsed.error.line}${parsed.error.column ? `, column ${parsed.error.column}` : ""}` : "",
        message: parsed.error.message,
        line: parsed.error.line,
      }];
      this.warnings = [];
      this.renderProblems();
      this.setStatus("syntax", "Syntax error");
      this.diagram.markStale(true);
      this.notify();
      return true;
    }
    this.data = parsed.data;
    this.diagram.render(this.data, { name: this.name });
    if (!this.stored) this.title.textContent = this.name === "machine" ? "New machine" : `New machine: ${this.name}`;
    let result;
    try {
      result = await api.validate(parsed.format === "yaml" ? { yaml: text } : { config: parsed.data });
    } catch (err) {
      if (outdated()) return false;
      result = { valid: false, errors: err.errors && err.errors.length ? err.errors.map((e) => ({ ...e, path: stripPrefix(e.path) })) : [{ path: "", message: err.message }] };
    }
    if (outdated()) return false;
    this.valid = result.valid;
    this.summary = result.summary || null;
    this.problems = (result.errors || []).map((e) => ({ ...e, line: this.lineOf(e, text) }));
    this.warnings = (result.warnings || []).map((w) => {
      const warning = { ...w, path: stripPrefix(w.path) };
      return { ...warning, line: w.line || this.lineOf(warning, text) };
    });
    this.renderProblems();
    const warned = this.warnings.length ? ` · ${this.warnings.length} warning${this.warnings.length === 1 ? "" : "s"}` : "";
    if (this.valid) this.setStatus("valid", `Valid${warned}`);
    else this.setStatus("invalid", `${this.problems.length} problem${this.problems.length === 1 ? "" : "s"}`);
    this.notify();
    return true;
  }

  notify() {
    for (const fn of this.listeners) fn(this);
  }

  renderProblems() {
    this.editor.showProblems(this.problems, this.warnings);
    const goToLine = (n) => this.editor.goToLine(n);
    renderProblems(this.problemBox, this.problems, { empty: !this.editor.value.trim(), goToLine });
    renderWarnings(this.warningBox, this.warnings, { goToLine });
  }

  // ------------------------------------------------------------------ actions
  async save() {
    this.refreshSoon.cancel();
    if (!(await this.refresh())) {
      toast("The text changed while it was being checked: save again once it is checked.", "error");
      return;
    }
    const text = this.editor.value;
    if (!text.trim()) {
      toast("There is nothing to save yet.", "error");
      return;
    }
    if (!this.valid) {
      toast("The definition has problems: fix them before saving.", "error");
      if (this.tab !== "edit") location.hash = this.tabHref("edit");
      return;
    }
    const body = this.format === "yaml" ? { yaml: text } : { config: this.data };
    this.saveButton.disabled = true;
    try {
      if (this.id) {
        this.stored = await api.updateMachine(this.id, body);
        this.savedText = text;
        this.showStored();
        this.updateDirty();
        for (const panel of Object.values(this.panels)) if (panel.onStored) panel.onStored(this.stored);
        toast(`Saved ${this.stored.name}: revision ${this.stored.revision}.`);
      } else {
        const created = await api.createMachine(body);
        handoff = { id: created.id, text };
        toast(`Created ${created.name}.`);
        location.hash = `#/machines/${encodeURIComponent(created.id)}`;
      }
    } catch (err) {
      this.updateDirty();
      if (err.errors && err.errors.length) {
        this.problems = err.errors.map((e) => {
          const p = { path: stripPrefix(e.path), message: e.message };
          return { ...p, line: this.lineOf(p, text) };
        });
        this.renderProblems();
      }
      toast(`Not saved: ${err.message}`, "error");
    }
  }

  async remove() {
    if (!this.id) return;
    const ok = await confirmDialog(
      `Delete ${this.name}?`,
      "The machine and all its entities and their history are deleted. This cannot be undone.",
    );
    if (!ok) return;
    try {
      await api.deleteMachine(this.id);
      toast(`Deleted ${this.name}.`);
      location.hash = "#/";
    } catch (err) {
      toast(`Could not delete: ${err.message}`, "error");
    }
  }

  async exportSvg() {
    if (!this.data) {
      toast("There is no diagram to export yet.", "error");
      return;
    }
    let text;
    try {
      text = await this.diagram.exportSvg();
    } catch (err) {
      toast(`Could not export the SVG: ${err.message}`, "error");
      return;
    }
    download(`${this.name}.svg`, text, "image/svg+xml");
  }

  async exportMermaid() {
    if (!this.data) {
      toast("There is no diagram to export yet.", "error");
      return;
    }
    // A valid definition gets the server's text (the same as `pystator diagram`); one that
    // does not validate yet is drawn by the browser from what parses.
    let text = null;
    if (this.valid) {
      try {
        text = (await api.diagram(this.data, "mermaid")).text;
      } catch {
        text = null;
      }
    }
    if (text === null) text = toMermaid(this.data);
    // From the simulator or an entity: with the configuration the diagram highlights.
    text = highlightMermaid(text, this.data, this.diagram.highlightState);
    const area = h("textarea", { class: "code mermaid-text", readonly: true, rows: 16, id: "mermaid-text", "aria-label": "Mermaid text" });
    area.value = text;
    const copy = h("button", { type: "button", class: "secondary", onclick: async () => {
      try {
        await navigator.clipboard.writeText(text);
        toast("Copied the Mermaid text.");
      } catch {
        area.select();
        toast("Select the text and copy it with Ctrl+C.");
      }
    } }, "Copy");
    const save = h("button", { type: "button", class: "secondary", onclick: () => download(`${this.name}.mmd`, text, "text/plain") }, "Download .mmd");
    const dialog = h("dialog", { class: "mermaid-dialog", "aria-labelledby": "mermaid-title" },
      h("h2", { id: "mermaid-title" }, "Mermaid"),
      h("p", { class: "hint" }, "A stateDiagram-v2 of the definition, for Markdown documents that render Mermaid."),
      area,
      h("form", { method: "dialog", class: "actions" }, copy, save, h("button", { value: "close", class: "primary" }, "Close")));
    // The text may come after the user left this page: then there is nothing to show.
    if (!this.element.isConnected) return;
    showDialog(dialog, area);
  }
}
