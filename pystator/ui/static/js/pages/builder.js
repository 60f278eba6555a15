// The visual builder: add and remove states and transitions through forms. Each change edits
// the parsed data, which is written back as text (/ui/api/dump), so the editor, the diagram
// and the builder always show the same definition.

import { api } from "../api.js";
import { h, replace, field, select, splitList, toast, confirmDialog } from "../dom.js";
import {
  addState, addTransition, buildTree, emptyDefinition, removeState, removeTransition,
  transitionsOf,
} from "../definition.js";

const NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
const TRIGGER = /^[A-Za-z][A-Za-z0-9_]*$/;
const DELAY = /^\s*(\d+(\.\d+)?\s*(ms|s|m|h)|\d+)\s*$/;
const STATE_TYPES = ["stable", "initial", "terminal", "parallel", "history"];

export class BuilderPanel {
  constructor(ws) {
    this.ws = ws;
    this.notice = h("div", { class: "notice", role: "status" });
    this.stateList = h("ul", { class: "item-list states-list" });
    this.transitionList = h("ul", { class: "item-list transitions-list" });
    this.stateForm = this.buildStateForm();
    this.transitionForm = this.buildTransitionForm();
    this.element = h("div", { class: "panel builder-panel" },
      h("p", { class: "hint" }, "Add and remove states and transitions; the text in the editor and the diagram follow."),
      this.notice,
      h("section", { class: "builder-section", "aria-labelledby": "b-states" },
        h("h2", { id: "b-states" }, "States"), this.stateList, this.stateForm.form),
      h("section", { class: "builder-section", "aria-labelledby": "b-transitions" },
        h("h2", { id: "b-transitions" }, "Transitions"), this.transitionList, this.transitionForm.form));
    ws.subscribe(() => this.render());
  }

  activate() {
    this.render();
  }

  get data() {
    return this.ws.data;
  }

  // ------------------------------------------------------------------ forms
  buildStateForm() {
    const name = field("Name", h("input", { name: "state-name", autocomplete: "off", required: true, pattern: "[A-Za-z][A-Za-z0-9_]*" }), "Letters, digits and _, starting with a letter.");
    const type = field("Type", select(STATE_TYPES, "stable", { name: "state-type" }));
    const parent = field("Parent", select([["", "(top level)"]], "", { name: "state-parent" }), "A compound state or a region of a parallel state.");
    const regions = field("Regions", h("input", { name: "state-regions", autocomplete: "off" }), "For a parallel state: region names, separated by commas.");
    const onEnter = field("Entry actions", h("input", { name: "state-on-enter", autocomplete: "off" }), "Action names, separated by commas.");
    const onExit = field("Exit actions", h("input", { name: "state-on-exit", autocomplete: "off" }));
    const error = h("p", { class: "error", role: "alert" });
    regions.wrap.hidden = true;
    type.input.addEventListener("change", () => {
      regions.wrap.hidden = type.input.value !== "parallel";
    });
    const form = h("form", { class: "card builder-form", "aria-labelledby": "add-state-title", novalidate: true },
      h("h3", { id: "add-state-title" }, "Add a state"),
      h("div", { class: "grid-2" }, name.wrap, type.wrap, parent.wrap, regions.wrap, onEnter.wrap, onExit.wrap),
      error,
      h("button", { type: "submit", class: "primary" }, "Add state"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      error.textContent = "";
      const value = name.input.value.trim();
      if (!NAME.test(value)) {
        error.textContent = "A state name has letters, digits and _, and starts with a letter.";
        name.input.focus();
        return;
      }
      const regionNames = splitList(regions.input.value);
      if (type.input.value === "parallel" && regionNames.some((r) => !NAME.test(r))) {
        error.textContent = "Region names have letters, digits and _, and start with a letter.";
        regions.input.focus();
        return;
      }
      try {
        const data = addState(this.data || emptyDefinition(), {
          name: value,
          type: type.input.value,
          parent: parent.input.value || null,
          regions: regionNames,
          on_enter: splitList(onEnter.input.value),
          on_exit: splitList(onExit.input.value),
        });
        this.apply(data, `Added state ${value}.`).then(() => {
          name.input.value = "";
          type.input.value = "stable";
          regions.wrap.hidden = true;
          regions.input.value = "";
          onEnter.input.value = "";
          onExit.input.value = "";
          name.input.focus();
        }, () => {});
      } catch (err) {
        error.textContent = err.message;
        name.input.focus();
      }
    });
    return { form, parent: parent.input, name: name.input };
  }

  buildTransitionForm() {
    const trigger = field("Trigger", h("input", { name: "transition-trigger", autocomplete: "off" }), "The event's name; leave empty for a delayed or automatic transition.");
    const source = field("Source", h("select", { name: "transition-source", multiple: true, size: 4 }), "One or more states (Ctrl+click or Shift+arrows for several).");
    const dest = field("Destination", select([["", "(none: targetless)"]], "", { name: "transition-dest" }));
    const guards = field("Guards", h("input", { name: "transition-guards", autocomplete: "off" }), "Named guards or expressions (qty > 0), separated by commas.");
    const actions = field("Actions", h("input", { name: "transition-actions", autocomplete: "off" }), "Action names, separated by commas.");
    const after = field("Delay (after)", h("input", { name: "transition-after", autocomplete: "off", placeholder: "e.g. 30s, 5m, 250ms" }), "Fires this long after the source was entered.");
    const auto = h("input", { type: "checkbox", name: "transition-auto", id: "transition-auto" });
    const internal = h("input", { type: "checkbox", name: "transition-internal", id: "transition-internal" });
    const error = h("p", { class: "error", role: "alert" });
    const form = h("form", { class: "card builder-form", "aria-labelledby": "add-transition-title", novalidate: true },
      h("h3", { id: "add-transition-title" }, "Add a transition"),
      h("div", { class: "grid-2" }, trigger.wrap, dest.wrap, source.wrap,
        h("div", {}, guards.wrap, actions.wrap), after.wrap,
        h("fieldset", { class: "checks" }, h("legend", {}, "Options"),
          h("label", { for: "transition-auto" }, auto, " Automatic (no trigger)"),
          h("label", { for: "transition-internal" }, internal, " Internal (no exit)"))),
      error,
      h("button", { type: "submit", class: "primary" }, "Add transition"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      error.textContent = "";
      const trig = trigger.input.value.trim();
      const sources = [...source.input.selectedOptions].map((o) => o.value);
      const delay = after.input.value.trim();
      const fail = (message, input) => {
        error.textContent = message;
        input.focus();
      };
      if (!this.data) return fail("The definition does not parse: fix the text first.", trigger.input);
      if (trig && !TRIGGER.test(trig)) return fail("A trigger has letters, digits and _, and starts with a letter.", trigger.input);
      if (auto.checked && (trig || delay)) return fail("An automatic transition has no trigger and no delay.", trigger.input);
      if (!auto.checked && !trig && !delay) return fail("Give a trigger, a delay, or make it automatic.", trigger.input);
      if (delay && !DELAY.test(delay)) return fail("A delay is a number of milliseconds, or like 250ms, 5s, 1.5m, 2h.", after.input);
      if (!sources.length) return fail("Choose at least one source state.", source.input);
      const data = addTransition(this.data, {
        trigger: trig,
        sources,
        dest: dest.input.value || null,
        guards: splitList(guards.input.value),
        actions: splitList(actions.input.value),
        after: delay,
        auto: auto.checked,
        internal: internal.checked,
      });
      const label = trig || (delay ? `after ${delay}` : "automatic");
      this.apply(data, `Added transition ${label}.`).then(() => {
        for (const input of [trigger.input, guards.input, actions.input, after.input]) input.value = "";
        auto.checked = false;
        internal.checked = false;
        trigger.input.focus();
      }, () => {});
    });
    return { form, source: source.input, dest: dest.input };
  }

  // ------------------------------------------------------------------ lists
  render() {
    const data = this.data;
    const tree = buildTree(data || {});
    const broken = this.ws.problems.length && !this.ws.valid && this.ws.statusPill.dataset.status === "syntax";
    replace(this.notice, broken
      ? h("p", { class: "error" }, "The text has a syntax error: the builder shows the last version that parsed. Changes here replace the text.")
      : null);
    const states = tree.order.filter((n) => n.kind === "state");
    // Parent options: compound-capable states and regions.
    const keepParent = this.stateForm.parent.value;
    replace(this.stateForm.parent, h("option", { value: "" }, "(top level)"),
      tree.order.filter((n) => n.kind === "region" || (n.kind === "state" && n.type !== "parallel" && n.type !== "history" && n.type !== "terminal"))
        .map((n) => h("option", { value: n.name, selected: n.name === keepParent }, n.kind === "region" ? `region ${n.name}` : n.name)));
    const keepSources = new Set([...this.transitionForm.source.selectedOptions].map((o) => o.value));
    replace(this.transitionForm.source,
      states.filter((n) => n.type !== "history").map((n) => h("option", { value: n.name, selected: keepSources.has(n.name) }, n.name)),
      h("option", { value: "*", selected: keepSources.has("*") }, "* (any non-terminal state)"));
    const keepDest = this.transitionForm.dest.value;
    replace(this.transitionForm.dest, h("option", { value: "" }, "(none: targetless)"),
      states.map((n) => h("option", { value: n.name, selected: n.name === keepDest }, n.name)));

    const depth = (n) => {
      let d = 0;
      let up = n.parent;
      while (up) {
        if (tree.nodes.get(up).kind === "state") d += 1;
        up = tree.nodes.get(up).parent;
      }
      return d;
    };
    if (!states.length) {
      replace(this.stateList, h("li", { class: "empty" }, "No states yet. Add the first one below; it becomes the initial state."));
    } else {
      replace(this.stateList, states.map((n) => h("li", { class: `depth-${Math.min(depth(n), 4)}`, dataset: { state: n.name } },
        h("span", { class: "item-name" }, n.name),
        h("span", { class: `tag type-${n.type}` }, n.type),
        n.parent ? h("span", { class: "muted" }, `in ${tree.nodes.get(n.parent).kind === "region" ? "region " : ""}${n.parent}`) : null,
        h("button", { type: "button", class: "small danger-outline", "aria-label": `Remove state ${n.name}`, onclick: () => this.dropState(n.name) }, "Remove"))));
    }
    const edges = transitionsOf(data || {});
    if (!edges.length) {
      replace(this.transitionList, h("li", { class: "empty" }, "No transitions yet."));
    } else {
      replace(this.transitionList, edges.map((e) => h("li", { dataset: { transition: e.index } },
        h("span", { class: "item-name" }, e.label),
        h("span", {}, `${e.sources.join(", ") || "?"} → ${e.dest || "(stays)"}`),
        e.actions.length ? h("span", { class: "muted" }, `/ ${e.actions.join(", ")}`) : null,
        h("button", { type: "button", class: "small danger-outline", "aria-label": `Remove transition ${e.label} from ${e.sources.join(", ")}`, onclick: () => this.dropTransition(e.index, e.label) }, "Remove"))));
    }
  }

  async dropState(name) {
    const tree = buildTree(this.data);
    const node = tree.nodes.get(name);
    const inner = node ? node.children.length : 0;
    if (inner) {
      const ok = await confirmDialog(`Remove ${name}?`, `${name} contains other states; they are removed too, with the transitions that need them.`, "Remove");
      if (!ok) return;
    }
    try {
      const { data, removedStates, removedTransitions } = removeState(this.data, name);
      const extra = [];
      if (removedStates > 1) extra.push(`${removedStates - 1} inner state${removedStates > 2 ? "s" : ""}`);
      if (removedTransitions) extra.push(`${removedTransitions} transition${removedTransitions > 1 ? "s" : ""}`);
      await this.apply(data, `Removed state ${name}${extra.length ? ` with ${extra.join(" and ")}` : ""}.`);
    } catch (err) {
      toast(err.message, "error");
    }
  }

  async dropTransition(index, label) {
    await this.apply(removeTransition(this.data, index), `Removed transition ${label}.`);
  }

  async apply(data, message) {
    try {
      const dumped = await api.dump(data, this.ws.format === "json" ? "json" : "yaml");
      this.ws.setText(dumped.text);
      toast(message);
    } catch (err) {
      toast(`Could not update the text: ${err.message}`, "error");
      throw err;
    }
  }
}
