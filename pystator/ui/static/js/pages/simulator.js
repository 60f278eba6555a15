// The simulator: step through events without storing anything. Where the machine is and
// which transitions may fire come from /ui/api/inspect (the engine itself); each event goes
// to POST /api/v1/process with the context and the outcome of each named guard.

import { api, missingGuard } from "../api.js";
import { h, replace, field, newId, toast, formatMs } from "../dom.js";
import { buildTree } from "../definition.js";
import { takenTransitions } from "../taken.js";

function actionText(action) {
  const params = action.params && Object.keys(action.params).length ? ` ${JSON.stringify(action.params)}` : "";
  return `${action.name}${params}`;
}

export class SimulatorPanel {
  constructor(ws) {
    this.ws = ws;
    this.info = null; // InspectResponse of the current state
    this.steps = []; // [{state, history, trigger, result, taken}]
    this.lastTaken = []; // the transitions the last step took: [{index, from}] (taken.js)
    this.configKey = null;
    // trigger -> named guards the API asked for beyond the event's own transitions (those
    // of transitions its internal or eventless steps take): offered on the event's card.
    this.laterGuards = new Map();

    this.stateSelect = h("select", { name: "sim-state", id: newId("sim-state") });
    const go = h("button", { type: "button", class: "secondary", onclick: () => this.start(this.stateSelect.value || null) }, "Start here");
    const restart = h("button", { type: "button", class: "secondary", onclick: () => this.start(null) }, "Restart at the initial state");
    this.current = h("div", { class: "current-state", "aria-live": "polite" });
    this.contextInput = h("textarea", { class: "code small-code", rows: 2, spellcheck: "false", name: "sim-context" });
    this.contextInput.value = "{}";
    this.contextError = h("p", { class: "error", role: "alert" });
    this.events = h("div", { class: "events" });
    this.outcome = h("div", { class: "outcome", "aria-live": "polite" });
    this.historyList = h("ol", { class: "steps" });
    this.undoButton = h("button", { type: "button", class: "secondary small", onclick: () => this.back(this.steps.length - 2) }, "Undo last step");
    this.blocked = h("div", { class: "notice" });
    const ctx = field("Context (JSON object)", this.contextInput, "Sent with every event; expression guards read it.");
    this.body = h("div", { class: "sim-body" },
      h("section", { class: "sim-where", "aria-labelledby": "sim-where-title" },
        h("h2", { id: "sim-where-title" }, "State"),
        this.current,
        h("div", { class: "inline-form" },
          h("label", { for: this.stateSelect.id }, "Pick a state"), this.stateSelect, go, restart)),
      h("section", { "aria-labelledby": "sim-outcome-title" },
        h("h2", { id: "sim-outcome-title" }, "Last step"), this.outcome),
      h("section", { "aria-labelledby": "sim-events-title" },
        h("h2", { id: "sim-events-title" }, "Events"),
        ctx.wrap, this.contextError, this.events),
      h("section", { "aria-labelledby": "sim-history-title" },
        h("div", { class: "section-head" }, h("h2", { id: "sim-history-title" }, "Steps"), this.undoButton),
        this.historyList));
    this.element = h("div", { class: "panel simulator-panel" },
      h("p", { class: "hint" }, "Nothing is stored: every event goes to POST /api/v1/process with the definition in the editor."),
      this.blocked, this.body);
    ws.subscribe(() => {
      if (this.ws.tab === "simulate") this.onDraft();
    });
  }

  activate() {
    this.onDraft();
  }

  /** The definition changed (or the tab opened): keep the state if it still exists. */
  async onDraft() {
    if (!this.ws.data || !this.ws.valid) {
      replace(this.blocked, h("p", { class: "error" },
        this.ws.data ? "The definition has problems: fix them in the editor to simulate." : "Write or load a definition first."));
      this.body.hidden = true;
      this.highlight({});
      return;
    }
    replace(this.blocked);
    this.body.hidden = false;
    this.fillStates();
    const key = JSON.stringify(this.ws.data);
    if (key === this.configKey && this.info) {
      this.show();
      return;
    }
    this.configKey = key;
    this.laterGuards = new Map();
    // Positions in the definition before the edit: no step's transitions are marked any
    // more (going back to a step restores its marks).
    this.lastTaken = [];
    for (const step of this.steps) step.taken = [];
    if (!this.info) {
      await this.start(null);
      return;
    }
    try {
      this.info = await api.inspect(this.ws.data, this.info.state);
      this.show();
    } catch {
      await this.start(null);
    }
  }

  fillStates() {
    const keep = this.stateSelect.value;
    const tree = buildTree(this.ws.data);
    replace(this.stateSelect, h("option", { value: "" }, "(initial state)"),
      tree.order.filter((n) => n.kind === "state" && n.type !== "history")
        .map((n) => h("option", { value: n.name, selected: n.name === keep }, n.name)));
  }

  async start(state) {
    try {
      this.info = await api.inspect(this.ws.data, state);
    } catch (err) {
      replace(this.outcome, h("p", { class: "error", role: "alert" }, err.message));
      return;
    }
    this.steps = [{ state: this.info.state, history: null, trigger: null, result: null }];
    replace(this.outcome, h("p", { class: "muted" }, `Started in ${this.info.state}.`));
    this.lastTaken = [];
    this.show();
  }

  show() {
    const info = this.info;
    replace(this.current,
      h("p", {}, "Current state: ", h("code", { class: "state-code", id: "sim-current", dataset: { state: info.state } }, info.state),
        info.terminal ? h("span", { class: "tag type-terminal" }, "terminal") : null));
    // Every active state of every region, the states around them, and the last step's
    // transitions (one per region that moved, and those of its internal events).
    this.highlight({ active: info.active, current: info.leaves, taken: this.lastTaken, state: info.state });
    this.renderEvents();
    this.renderSteps();
  }

  /** Mark the diagram, while the simulator is the tab shown (an answer may come after a switch). */
  highlight(marks) {
    if (this.ws.tab === "simulate") this.ws.diagram.highlight(marks);
  }

  renderEvents() {
    const info = this.info;
    if (info.terminal) {
      replace(this.events, h("p", { class: "empty" }, "This is a terminal state: no event leaves it. Go back a step or restart."));
      return;
    }
    const byTrigger = new Map();
    const timers = [];
    for (const t of info.transitions) {
      if (t.auto) continue;
      if (t.delay_ms !== null && (t.trigger === null || !info.triggers.includes(t.trigger))) {
        timers.push(t);
        continue;
      }
      if (t.trigger === null) continue;
      if (!byTrigger.has(t.trigger)) byTrigger.set(t.trigger, []);
      byTrigger.get(t.trigger).push(t);
    }
    const cards = [];
    for (const [trigger, candidates] of byTrigger) {
      const guards = [...new Set([
        ...candidates.flatMap((t) => t.guards.filter((g) => g.name).map((g) => g.name)),
        ...(this.laterGuards.get(trigger) || []),
      ])];
      const exprs = [...new Set(candidates.flatMap((t) => t.guards.filter((g) => g.expr).map((g) => g.expr)))];
      const boxes = guards.map((g) => {
        const id = newId("guard");
        const input = h("input", { type: "checkbox", id, checked: true, dataset: { guard: g } });
        return { g, input, label: h("label", { for: id, class: "check" }, input, ` ${g} passes`) };
      });
      const fire = h("button", { type: "button", class: "primary", dataset: { trigger }, onclick: () => this.fire(trigger, boxes) }, `Send ${trigger}`);
      const targets = candidates.map((t) => `${t.dest || "(stays)"}${t.guards.length ? ` if ${t.guards.map((g) => g.label).join(" and ")}` : ""}`);
      cards.push(h("div", { class: "event-card", dataset: { event: trigger } },
        h("div", { class: "event-head" }, fire, h("span", { class: "muted" }, `→ ${targets.join(", else ")}`)),
        boxes.length ? h("fieldset", { class: "guards" }, h("legend", {}, "Named guard outcomes"), boxes.map((b) => b.label)) : null,
        exprs.length ? h("p", { class: "hint" }, `Evaluated on the context: ${exprs.join("; ")}`) : null));
    }
    for (const t of timers) {
      cards.push(h("div", { class: "event-card timer" },
        h("p", {}, `After ${formatMs(t.delay_ms)} → ${t.dest || "(stays)"}`),
        h("p", { class: "hint" }, "A delayed transition: a timer fires it in a running system (pystator worker); it cannot be sent here.")));
    }
    if (!cards.length) cards.push(h("p", { class: "empty" }, "No event can be sent from this state."));
    replace(this.events, cards);
  }

  readContext() {
    this.contextError.textContent = "";
    const text = this.contextInput.value.trim() || "{}";
    let value;
    try {
      value = JSON.parse(text);
    } catch (err) {
      this.contextError.textContent = `The context is not valid JSON: ${err.message}`;
      this.contextInput.focus();
      return null;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      this.contextError.textContent = "The context must be a JSON object, like {\"qty\": 10}.";
      this.contextInput.focus();
      return null;
    }
    return value;
  }

  async fire(trigger, boxes) {
    const context = this.readContext();
    if (context === null) return;
    const guards = Object.fromEntries(boxes.map((b) => [b.g, b.input.checked]));
    const before = this.info;
    const last = this.steps[this.steps.length - 1];
    let result;
    try {
      result = await api.process({
        config: this.ws.data,
        current_state: before.state,
        trigger,
        context,
        guards,
        ...(last.history ? { history: last.history } : {}),
      });
    } catch (err) {
      const guard = missingGuard(err);
      if (guard !== null) {
        this.laterGuards.set(trigger, new Set([...(this.laterGuards.get(trigger) || []), guard]));
        this.renderEvents();
      }
      replace(this.outcome, h("p", { class: "error", role: "alert" }, guard === null
        ? `Refused by the API: ${err.message}`
        : `${trigger} also needs the outcome of guard '${guard}' (a transition taken after it, by an internal or eventless step): choose it on the event and send again.`));
      return;
    }
    this.renderOutcome(result);
    if (!result.success || !result.target_state) {
      this.lastTaken = [];
      this.show();
      return;
    }
    const refused = new Set(Object.entries(guards).filter(([, passes]) => !passes).map(([name]) => name));
    this.lastTaken = takenTransitions(this.ws.data, before.active, result, refused);
    try {
      this.info = await api.inspect(this.ws.data, result.target_state);
    } catch (err) {
      toast(err.message, "error");
      return;
    }
    this.steps.push({ state: this.info.state, history: result.history || last.history, trigger, result, taken: this.lastTaken });
    this.show();
  }

  renderOutcome(result) {
    if (!result.success) {
      const reason = (result.metadata && result.metadata.reason) || "refused";
      replace(this.outcome, h("div", { class: "result failed", role: "alert" },
        h("p", {}, h("strong", {}, `${result.trigger} refused`), ` (${reason.replace(/_/g, " ")})`),
        result.error ? h("p", {}, result.error.message) : null,
        h("p", { class: "muted" }, `Still in ${result.source_state}.`)));
      return;
    }
    const groups = result.ordered_actions
      ? [["In order", result.ordered_actions]]
      : [["Exit", result.on_exit_actions], ["Transition", result.actions_to_execute], ["Entry", result.on_enter_actions]];
    const rows = groups.filter(([, list]) => list && list.length).map(([label, list]) =>
      h("li", {}, h("span", { class: "muted" }, `${label}: `), list.map(actionText).join(", ")));
    const noop = result.metadata && result.metadata.reason === "no_transition";
    replace(this.outcome, h("div", { class: "result ok" },
      h("p", {}, h("strong", {}, result.trigger), `: ${result.source_state} → `, h("strong", {}, result.target_state || "?"),
        noop ? " (no transition: lenient no-op)" : ""),
      rows.length ? h("div", {}, h("p", {}, "Actions that would run:"), h("ul", { class: "actions-list" }, rows)) : h("p", { class: "muted" }, "No actions."),
      result.internal_events && result.internal_events.length
        ? h("p", { class: "internal-events" }, "Internal events processed: ", result.internal_events.join(" → "))
        : null,
      result.timers_to_arm && result.timers_to_arm.length
        ? h("p", { class: "muted" }, `Timers armed: ${result.timers_to_arm.map((t) => `${t.trigger} in ${formatMs(t.delay_ms)}`).join(", ")}`)
        : null));
  }

  renderSteps() {
    this.undoButton.disabled = this.steps.length < 2;
    const lastIndex = this.steps.length - 1;
    replace(this.historyList, this.steps.map((step, i) => h("li", { class: i === lastIndex ? "current" : "" },
      step.trigger === null
        ? h("span", {}, "Start in ", h("code", {}, step.state))
        : h("span", {}, h("strong", {}, step.trigger), " → ", h("code", {}, step.state)),
      i === lastIndex
        ? h("span", { class: "tag" }, "now")
        : h("button", { type: "button", class: "small secondary", "aria-label": `Go back to step ${i + 1} (${step.state})`, onclick: () => this.back(i) }, "Go back here"))));
  }

  async back(index) {
    if (index < 0 || index >= this.steps.length) return;
    this.steps = this.steps.slice(0, index + 1);
    const step = this.steps[index];
    try {
      this.info = await api.inspect(this.ws.data, step.state);
    } catch (err) {
      toast(err.message, "error");
      return;
    }
    this.lastTaken = step.taken || [];
    replace(this.outcome, h("p", { class: "muted" }, `Back at step ${index + 1}: ${step.state}.`));
    this.show();
  }
}
