// Entities of a stored machine: list them by state, open one (state on the diagram, context,
// version, timers, history) and send it an event through the orchestrator.

import { api, missingGuard, request } from "../api.js";
import { h, replace, field, select, newId, formatTime, toast, confirmDialog } from "../dom.js";
import { buildTree } from "../definition.js";
import { takenIn, takenTransitions } from "../taken.js";

const PAGE = 25;

function parseObject(text, what) {
  const value = JSON.parse(text.trim() || "{}");
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new Error(`${what} must be a JSON object`);
  }
  return value;
}

// The JSON object typed in the context field `ctx`, or null once `error` says why it is not
// one (the field then has the focus).
function contextIn(ctx, error) {
  try {
    return parseObject(ctx.input.value, "The context");
  } catch (err) {
    error.textContent = err.message;
    ctx.input.focus();
    return null;
  }
}

export class EntitiesPanel {
  constructor(ws) {
    this.ws = ws;
    this.offset = 0;
    this.filter = "";
    this.entityId = null;
    this.laterGuards = new Map(); // entity id -> trigger -> guards asked for by the API
    this.element = h("div", { class: "panel entities-panel" });
  }

  activate(entityId) {
    if (!this.ws.id) {
      replace(this.element, h("div", { class: "empty-state card" },
        h("h2", {}, "No entities yet"),
        h("p", {}, "Entities belong to a stored machine. Create the machine first, then come back here.")));
      this.highlight({});
      return;
    }
    if (!this.ws.stored) {
      replace(this.element, h("p", { class: "loading" }, "Loading…"));
      this.pending = entityId || null;
      return;
    }
    if (entityId) this.openEntity(entityId);
    else this.showList();
  }

  /** Mark the diagram, while the entities are the tab shown (an answer may come after a switch). */
  highlight(marks) {
    if (this.ws.tab === "entities") this.ws.diagram.highlight(marks);
  }

  onStored() {
    if (this.ws.tab === "entities") this.activate(this.pending || this.entityId);
    this.pending = null;
  }

  stateOptions() {
    const tree = buildTree(this.ws.stored.config);
    return tree.order.filter((n) => n.kind === "state" && n.type !== "history").map((n) => n.name);
  }

  // ------------------------------------------------------------------ list
  async showList() {
    this.entityId = null;
    this.highlight({});
    const filter = select([["", "All states"], ...this.stateOptions()], this.filter, { id: newId("filter") });
    filter.addEventListener("change", () => {
      this.filter = filter.value;
      this.offset = 0;
      this.loadList();
    });
    this.listBody = h("div", { class: "entity-list", "aria-live": "polite" }, h("p", { class: "loading" }, "Loading entities…"));
    replace(this.element,
      this.ws.dirty ? h("p", { class: "notice" }, "The editor has unsaved changes: entities run the saved revision.") : null,
      h("section", { "aria-labelledby": "ent-list-title" },
        h("div", { class: "section-head" },
          h("h2", { id: "ent-list-title" }, "Entities"),
          h("div", { class: "inline-form" }, h("label", { for: filter.id }, "In state"), filter,
            h("button", { type: "button", class: "secondary small", onclick: () => this.loadList() }, "Refresh"))),
        this.listBody),
      this.createForm());
    await this.loadList();
  }

  async loadList() {
    let page;
    try {
      page = await api.entities(this.ws.id, { state: this.filter || undefined, limit: PAGE, offset: this.offset });
    } catch (err) {
      replace(this.listBody, h("p", { class: "error", role: "alert" }, `Could not load the entities: ${err.message}`));
      return;
    }
    if (!page.items.length) {
      replace(this.listBody, h("p", { class: "empty" }, this.filter
        ? `No entity is in ${this.filter}.`
        : "No entities yet. Create one below, or over the API."));
      return;
    }
    const href = (e) => `#/machines/${encodeURIComponent(this.ws.id)}/entities/${encodeURIComponent(e.entity_id)}`;
    const rows = page.items.map((e) => h("tr", { dataset: { entity: e.entity_id } },
      h("th", { scope: "row" }, h("a", { href: href(e) }, e.entity_id)),
      h("td", {}, h("code", {}, e.state), e.is_final ? h("span", { class: "tag type-terminal" }, "final") : null),
      h("td", {}, String(e.version)),
      h("td", {}, formatTime(e.updated_at))));
    const pager = h("div", { class: "pager" },
      h("button", { type: "button", class: "secondary small", disabled: this.offset === 0, onclick: () => { this.offset = Math.max(0, this.offset - PAGE); this.loadList(); } }, "Previous"),
      h("span", { class: "muted" }, `${this.offset + 1}–${this.offset + page.items.length} of ${page.total}`),
      h("button", { type: "button", class: "secondary small", disabled: this.offset + PAGE >= page.total, onclick: () => { this.offset += PAGE; this.loadList(); } }, "Next"));
    replace(this.listBody,
      h("div", { class: "table-wrap" }, h("table", { class: "entities" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Entity"), h("th", { scope: "col" }, "State"), h("th", { scope: "col" }, "Version"), h("th", { scope: "col" }, "Updated"))),
        h("tbody", {}, rows))),
      pager);
  }

  createForm() {
    const id = field("Entity id", h("input", { name: "entity-id", autocomplete: "off", placeholder: "(a new random id)" }), "Letters, digits and _ . : @ -");
    const ctx = field("Initial context (JSON object)", h("textarea", { name: "entity-context", class: "code small-code", rows: 3, spellcheck: "false" }));
    ctx.input.value = "{}";
    const initial = field("Initial state", select([["", "(the machine's initial state)"], ...this.stateOptions()], ""));
    const error = h("p", { class: "error", role: "alert" });
    const form = h("form", { class: "card", "aria-labelledby": "ent-new-title", novalidate: true },
      h("h3", { id: "ent-new-title" }, "New entity"),
      h("div", { class: "grid-2" }, id.wrap, initial.wrap), ctx.wrap, error,
      h("button", { type: "submit", class: "primary" }, "Create entity"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      const context = contextIn(ctx, error);
      if (context === null) return;
      const body = { context };
      if (id.input.value.trim()) body.entity_id = id.input.value.trim();
      if (initial.input.value) body.initial_state = initial.input.value;
      try {
        const created = await api.createEntity(this.ws.id, body);
        toast(`Created entity ${created.entity_id} in ${created.state}.`);
        location.hash = `#/machines/${encodeURIComponent(this.ws.id)}/entities/${encodeURIComponent(created.entity_id)}`;
      } catch (err) {
        error.textContent = err.message;
      }
    });
    return form;
  }

  // ------------------------------------------------------------------ one entity
  async openEntity(entityId) {
    this.entityId = entityId;
    const back = h("a", { href: `#/machines/${encodeURIComponent(this.ws.id)}/entities`, class: "back-link" }, "← All entities");
    this.detail = h("div", { class: "entity-detail" }, h("p", { class: "loading" }, "Loading the entity…"));
    replace(this.element, back, this.detail);
    await this.loadEntity();
  }

  async loadEntity() {
    const entityId = this.entityId;
    let entity;
    let history;
    try {
      [entity, history] = await Promise.all([
        api.entity(this.ws.id, entityId),
        api.history(this.ws.id, entityId),
      ]);
    } catch (err) {
      replace(this.detail, h("p", { class: "error", role: "alert" },
        err.status === 404 ? `There is no entity '${entityId}' in this machine.` : `Could not load the entity: ${err.message}`));
      return;
    }
    if (entityId !== this.entityId) return;
    const config = this.ws.stored.config;
    const [info, taken] = await Promise.all([
      // null: a state removed by a later revision (shown, not highlighted)
      api.inspect(config, entity.state).catch(() => null),
      this.lastTaken(config, entity, history.items),
    ]);
    if (entityId !== this.entityId) return;
    this.entity = entity;
    this.info = info;
    // The diagram draws the editor's definition, which may be an unsaved draft: its
    // transitions are matched by trigger, sources and target, not by position.
    const drawn = takenIn(taken, config, this.ws.data || config);
    this.highlight(info ? { active: info.active, current: info.leaves, taken: drawn, state: info.state } : {});
    replace(this.detail,
      h("h2", { class: "entity-title" }, "Entity ", h("code", {}, entity.entity_id)),
      h("dl", { class: "facts" },
        h("dt", {}, "State"), h("dd", {}, h("code", { id: "entity-state", dataset: { state: entity.state } }, entity.state),
          entity.is_final ? h("span", { class: "tag type-terminal" }, "final") : null),
        h("dt", {}, "Version"), h("dd", { id: "entity-version" }, String(entity.version)),
        h("dt", {}, "Created"), h("dd", {}, formatTime(entity.created_at)),
        h("dt", {}, "Updated"), h("dd", {}, formatTime(entity.updated_at))),
      h("section", { "aria-labelledby": "ent-ctx-title" },
        h("h3", { id: "ent-ctx-title" }, "Context"),
        h("pre", { class: "json", id: "entity-context" }, JSON.stringify(entity.context, null, 2))),
      this.eventForm(entity, info),
      h("section", { "aria-labelledby": "ent-timers-title" },
        h("h3", { id: "ent-timers-title" }, "Pending timers"),
        entity.timers.length
          ? h("table", { class: "timers" },
            h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Trigger"), h("th", { scope: "col" }, "Due"), h("th", { scope: "col" }, "Timer"))),
            h("tbody", {}, entity.timers.map((t) => h("tr", {}, h("td", {}, t.trigger), h("td", {}, formatTime(t.due)), h("td", {}, h("code", {}, t.key))))))
          : h("p", { class: "muted" }, "No pending timers.")),
      h("section", { "aria-labelledby": "ent-history-title" },
        h("h3", { id: "ent-history-title" }, "History"),
        history.items.length
          ? h("div", { class: "table-wrap" }, h("table", { class: "history" },
            h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Version"), h("th", { scope: "col" }, "Trigger"), h("th", { scope: "col" }, "From → to"), h("th", { scope: "col" }, "Context changes"), h("th", { scope: "col" }, "At"))),
            h("tbody", {}, history.items.map((r) => h("tr", {},
              h("td", {}, String(r.version)),
              h("td", {}, r.trigger === "__create__" ? h("em", {}, "(created)") : r.trigger),
              h("td", {}, r.source_state ? h("code", {}, r.source_state) : null, " → ", h("code", {}, r.target_state)),
              h("td", {}, Object.keys(r.context_changes).length || r.context_removed.length
                ? h("code", {}, JSON.stringify(r.context_changes) + (r.context_removed.length ? ` −${r.context_removed.join(",")}` : ""))
                : h("span", { class: "muted" }, "none")),
              h("td", {}, formatTime(r.at)))))))
          : h("p", { class: "muted" }, "No transitions yet.")),
      h("div", { class: "danger-zone" },
        h("button", { type: "button", class: "danger small", onclick: () => this.deleteEntity(entity) }, "Delete entity")));
  }

  /**
   * The transitions the entity's last event took (its newest history row's result, read
   * against the configuration it left); [] after a creation, or when that row or its states
   * are not in this revision.
   */
  async lastTaken(config, entity, rows) {
    let last = rows.find((r) => r.version === entity.version);
    if (!last) {
      // More rows than the page holds: one row per version, the creation first.
      const path = `/api/v1/machines/${encodeURIComponent(this.ws.id)}/entities/${encodeURIComponent(entity.entity_id)}/history`;
      const page = await request("GET", `${path}?limit=1&offset=${entity.version - 1}`).catch(() => null);
      last = page && page.items.find((r) => r.version === entity.version);
    }
    if (!last || last.trigger === "__create__" || !last.result || !last.source_state) return [];
    const before = await api.inspect(config, last.source_state).catch(() => null);
    return before ? takenTransitions(config, before.active, last.result) : [];
  }

  eventForm(entity, info) {
    const section = h("section", { "aria-labelledby": "ent-event-title", class: "card" }, h("h3", { id: "ent-event-title" }, "Send an event"));
    if (entity.is_final) {
      section.append(h("p", { class: "empty" }, "The entity is in a final state: no event applies."));
      return section;
    }
    if (!entity.available_triggers.length) {
      section.append(h("p", { class: "empty" }, "No event can be sent from this state."));
      return section;
    }
    const trigger = field("Trigger", select(entity.available_triggers, entity.available_triggers[0], { name: "event-trigger" }));
    const guardBox = h("div", { class: "guards-host" });
    const ctx = field("Event context (JSON object, merged into the entity's context)", h("textarea", { name: "event-context", class: "code small-code", rows: 3, spellcheck: "false" }));
    ctx.input.value = "{}";
    const key = field("Idempotency key (optional)", h("input", { name: "event-key", autocomplete: "off" }), "An event sent twice with the same key is applied once.");
    const error = h("p", { class: "error", role: "alert" });
    const result = h("div", { class: "outcome", "aria-live": "polite" });
    let boxes = [];
    // trigger -> guards the API asked for beyond its own transitions': kept per entity for
    // as long as the page lives, since the form is drawn again after every event.
    if (!this.laterGuards.has(entity.entity_id)) this.laterGuards.set(entity.entity_id, new Map());
    const later = this.laterGuards.get(entity.entity_id);
    const renderGuards = () => {
      const names = info
        ? [...new Set([
          ...info.transitions.filter((t) => t.trigger === trigger.input.value)
            .flatMap((t) => t.guards.filter((g) => g.name).map((g) => g.name)),
          ...(later.get(trigger.input.value) || []),
        ])]
        : [];
      boxes = names.map((g) => {
        const id = newId("eguard");
        const input = h("input", { type: "checkbox", id, checked: true, dataset: { guard: g } });
        return { g, input, label: h("label", { for: id, class: "check" }, input, ` ${g} passes`) };
      });
      replace(guardBox, boxes.length ? h("fieldset", { class: "guards" }, h("legend", {}, "Named guard outcomes"), boxes.map((b) => b.label)) : null);
    };
    trigger.input.addEventListener("change", renderGuards);
    renderGuards();
    const submit = h("button", { type: "submit", class: "primary" }, "Send event");
    const form = h("form", { novalidate: true }, h("div", { class: "grid-2" }, trigger.wrap, key.wrap), guardBox, ctx.wrap, error, submit, result);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      const context = contextIn(ctx, error);
      if (context === null) return;
      const body = {
        trigger: trigger.input.value,
        context,
        guards: Object.fromEntries(boxes.map((b) => [b.g, b.input.checked])),
      };
      if (key.input.value.trim()) body.idempotency_key = key.input.value.trim();
      submit.disabled = true;
      try {
        const answer = await api.sendEvent(this.ws.id, entity.entity_id, body);
        const r = answer.result;
        if (r.success) toast(`${r.trigger}: ${r.source_state} → ${r.target_state}`);
        else toast(`${r.trigger} refused: ${r.error ? r.error.message : "no transition"}`, "error");
        await this.loadEntity();
      } catch (err) {
        const guard = missingGuard(err);
        if (guard !== null) {
          // A transition taken after the event (an internal event's, an eventless one).
          later.set(body.trigger, new Set([...(later.get(body.trigger) || []), guard]));
          renderGuards();
          error.textContent = `${body.trigger} also needs the outcome of guard '${guard}' (a transition taken after it, by an internal or eventless step): choose it above and send again.`;
        } else error.textContent = err.message;
        submit.disabled = false;
      }
    });
    section.append(form);
    return section;
  }

  async deleteEntity(entity) {
    const ok = await confirmDialog(`Delete entity ${entity.entity_id}?`, "The entity and its history are deleted.");
    if (!ok) return;
    try {
      await api.deleteEntity(this.ws.id, entity.entity_id);
      toast(`Deleted entity ${entity.entity_id}.`);
      location.hash = `#/machines/${encodeURIComponent(this.ws.id)}/entities`;
    } catch (err) {
      toast(`Could not delete: ${err.message}`, "error");
    }
  }
}
