// The machines list: every stored machine, with links to edit, simulate and browse entities.

import { api } from "../api.js";
import { h, replace, formatTime, confirmDialog, toast } from "../dom.js";

export class MachinesPage {
  constructor() {
    this.body = h("div", { class: "machines-body" }, h("p", { class: "loading" }, "Loading machines…"));
    this.element = h("section", { class: "page" },
      h("div", { class: "page-head" },
        h("h1", {}, "Machines"),
        h("a", { class: "button primary", href: "#/new" }, "New machine")),
      this.body);
  }

  async load() {
    let page;
    try {
      page = await api.machines();
    } catch (err) {
      if (err.status === 401) return;
      replace(this.body, h("div", { class: "card error-box", role: "alert" },
        h("p", {}, `Could not load the machines: ${err.message}`),
        h("button", { type: "button", onclick: () => this.load() }, "Try again")));
      return;
    }
    if (!page.items.length) {
      replace(this.body, h("div", { class: "card empty-state" },
        h("h2", {}, "No machines yet"),
        h("p", {}, "Create one from a template, or paste a YAML or JSON definition."),
        h("a", { class: "button primary", href: "#/new" }, "Create a machine")));
      return;
    }
    const rows = page.items.map((m) => h("tr", { dataset: { machine: m.id } },
      h("th", { scope: "row" }, h("a", { href: `#/machines/${encodeURIComponent(m.id)}` }, m.name)),
      h("td", { class: "description" }, m.description || h("span", { class: "muted" }, "—")),
      h("td", {}, m.version),
      h("td", {}, String(m.revision)),
      h("td", {}, formatTime(m.updated_at)),
      h("td", { class: "row-actions" },
        h("a", { class: "button small secondary", href: `#/machines/${encodeURIComponent(m.id)}/simulate`, "aria-label": `Simulate ${m.name}` }, "Simulate"),
        h("a", { class: "button small secondary", href: `#/machines/${encodeURIComponent(m.id)}/entities`, "aria-label": `Entities of ${m.name}` }, "Entities"),
        h("button", { type: "button", class: "small danger", "aria-label": `Delete ${m.name}`, onclick: () => this.remove(m) }, "Delete"))));
    replace(this.body,
      h("p", { class: "muted" }, `${page.total} machine${page.total === 1 ? "" : "s"}`),
      h("div", { class: "table-wrap" },
        h("table", { class: "machines" },
          h("thead", {}, h("tr", {},
            h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Description"),
            h("th", { scope: "col" }, "Version"), h("th", { scope: "col" }, "Revision"),
            h("th", { scope: "col" }, "Updated"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
          h("tbody", {}, rows))));
  }

  async remove(machine) {
    const ok = await confirmDialog(
      `Delete ${machine.name}?`,
      "The machine and all its entities and their history are deleted. This cannot be undone.",
    );
    if (!ok) return;
    try {
      await api.deleteMachine(machine.id);
      toast(`Deleted ${machine.name}.`);
      this.load();
    } catch (err) {
      toast(`Could not delete ${machine.name}: ${err.message}`, "error");
    }
  }
}
