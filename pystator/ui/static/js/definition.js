// Read a machine definition (plain data, possibly invalid) as a tree of states, and edit it
// (the visual builder). Mirrors pystator/models/tree.py: a state is nested by `parent: X`, by
// being listed in a region of a parallel state, or by `parent: <region>`.

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

export function asList(value) {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/**
 * Where 0.0.x definitions put the states a region lists by name: state name -> {region,
 * parallel}. Such a state is declared in the flat `states` list with no parent or with the
 * parallel state as parent, before or after the parallel state; it belongs to the region.
 */
function listedByName(states) {
  const listed = new Map();
  const walk = (state) => {
    if (!isObject(state) || !Array.isArray(state.regions)) return;
    for (const region of state.regions) {
      if (!isObject(region) || typeof region.name !== "string") continue;
      for (const item of asList(region.states)) {
        if (typeof item === "string") listed.set(item, { region: region.name, parallel: state.name });
        else walk(item);
      }
    }
  };
  states.forEach(walk);
  return listed;
}

/** Every state and region as a node, in document order; tolerant of invalid data. */
export function buildTree(config) {
  const nodes = new Map();
  const order = [];
  const states = config && Array.isArray(config.states) ? config.states : [];
  const listed = listedByName(states);
  const add = (state, parent, path, bare = false) => {
    if (!isObject(state) || typeof state.name !== "string" || !state.name) return;
    const regions = Array.isArray(state.regions) ? state.regions : [];
    const type =
      typeof state.type === "string" ? state.type : regions.length ? "parallel" : "stable";
    const known = nodes.get(state.name);
    if (known) {
      // A name a region lists, declared in full in the flat list: draw the declaration
      // (its type and actions). Other duplicates: the first one wins for drawing.
      if (known.bare && !bare && !regions.length) Object.assign(known, { type, def: state, path, bare: false });
      return;
    }
    const where = listed.get(state.name);
    if (where && (!parent || parent === where.parallel)) parent = where.region;
    const node = { name: state.name, kind: "state", type, parent: parent || null, def: state, path, bare, children: [] };
    nodes.set(state.name, node);
    order.push(node);
    regions.forEach((region, r) => {
      if (!isObject(region) || typeof region.name !== "string" || nodes.has(region.name)) return;
      const rnode = {
        name: region.name, kind: "region", type: "region", parent: state.name, def: region,
        path: `${path}.regions[${r}]`, children: [],
      };
      nodes.set(region.name, rnode);
      order.push(rnode);
      asList(region.states).forEach((item, k) => {
        const child = typeof item === "string" ? { name: item } : item;
        add(child, region.name, `${rnode.path}.states[${k}]`, typeof item === "string");
      });
    });
  };
  states.forEach((state, i) => add(state, isObject(state) ? state.parent : null, `states[${i}]`));
  // Unknown parents and parent cycles: draw such states at the top level.
  for (const node of order) {
    if (node.parent && !nodes.has(node.parent)) node.parent = null;
  }
  for (const node of order) {
    const seen = new Set([node.name]);
    let up = node.parent;
    while (up) {
      if (seen.has(up)) {
        node.parent = null;
        break;
      }
      seen.add(up);
      up = nodes.get(up).parent;
    }
  }
  const roots = [];
  for (const node of order) {
    if (node.parent) nodes.get(node.parent).children.push(node);
    else roots.push(node);
  }
  for (const node of order) {
    if (node.kind === "state" && node.children.some((c) => c.kind === "region")) node.type = node.type === "history" ? node.type : "parallel";
  }
  return { nodes, order, roots };
}

/**
 * The child a container starts in (the machine root when `container` is null). A history
 * child counts only when `initial_child` (a region's `initial`) names it: the container is
 * then entered through its history, as in SCXML.
 */
export function startChild(config, tree, container) {
  const states = (container ? container.children : tree.roots).filter((c) => c.kind === "state");
  let wanted = null;
  if (!container) wanted = config && isObject(config.meta) ? config.meta.initial : null;
  else if (container.kind === "region") wanted = container.def.initial;
  else wanted = container.def.initial_child;
  const named = states.find((k) => k.name === wanted);
  if (named) return named;
  const kids = states.filter((c) => c.type !== "history");
  if (!kids.length) return null;
  if (container && container.kind === "region") return kids[0];
  return kids.find((k) => k.type === "initial") || kids[0];
}

export function guardLabel(guard) {
  if (typeof guard === "string") return guard;
  if (isObject(guard)) {
    if (typeof guard.name === "string") return guard.name;
    if (typeof guard.expr === "string") return guard.expr;
  }
  return "?";
}

/** The event a `{raise: EVENT}` item queues, or null for any other item. */
export function raisedEvent(action) {
  return isObject(action) && typeof action.raise === "string" ? action.raise : null;
}

/** How an action item reads: its name, `raise EVENT`, or `field := expression, ...`. */
export function actionName(action) {
  if (typeof action === "string") return action;
  if (isObject(action) && typeof action.name === "string") return action.name;
  const raised = raisedEvent(action);
  if (raised !== null) return `raise ${raised}`;
  if (isObject(action) && isObject(action.assign)) {
    return Object.entries(action.assign).map(([field, expr]) => `${field} := ${expr}`).join(", ") || "?";
  }
  return "?";
}

export function delayLabel(after) {
  if (after === undefined || after === null) return "";
  if (typeof after === "number") return after % 1000 === 0 ? `${after / 1000}s` : `${after}ms`;
  return String(after).trim();
}

/** The label drawn on a transition: trigger [guards] after N. */
export function transitionLabel(t) {
  const parts = [];
  if (typeof t.trigger === "string") parts.push(t.trigger);
  if (t.auto) parts.push("(auto)");
  if (t.after !== undefined && t.after !== null) parts.push(`after ${delayLabel(t.after)}`);
  const guards = asList(t.guards).map(guardLabel);
  let label = parts.join(" ");
  if (guards.length) label += ` [${guards.join(", ")}]`;
  return label || "(no trigger)";
}

/**
 * Transitions as drawable edges; sources "*" kept as "*". `label` is the transition's
 * `trigger [guards] after N`, `actions` every item of its action list as it reads, and
 * `diagramLabel` what the diagram writes on the edge: the label and the internal events the
 * transition raises (`start / raise retry`). Raises are part of the flow (they cause further
 * transitions in the same step), so they are drawn; other actions only show on hover.
 */
export function transitionsOf(config) {
  const list = config && Array.isArray(config.transitions) ? config.transitions : [];
  return list
    .map((t, index) => ({ t, index }))
    .filter(({ t }) => isObject(t))
    .map(({ t, index }) => {
      const label = transitionLabel(t);
      const raises = asList(t.actions).map(raisedEvent).filter((e) => e !== null);
      return {
        index,
        sources: t.source === "*" ? ["*"] : asList(t.source).filter((x) => typeof x === "string"),
        dest: typeof t.dest === "string" ? t.dest : null,
        label,
        diagramLabel: raises.length ? `${label} / ${raises.map((e) => `raise ${e}`).join(", ")}` : label,
        actions: asList(t.actions).map(actionName),
        def: t,
      };
    });
}

export function stateNames(config) {
  return buildTree(config).order.filter((n) => n.kind === "state").map((n) => n.name);
}

export function namedGuardsOf(transition) {
  return asList(transition.guards)
    .filter((g) => typeof g === "string" || (isObject(g) && typeof g.name === "string"))
    .map(guardLabel);
}

// ------------------------------------------------------------------ builder operations
// Each takes plain data and returns new data (the input is not changed).

const clone = (v) => structuredClone(v);

export function emptyDefinition(name = "new_machine") {
  return {
    meta: { machine_name: name, version: "1.0.0" },
    states: [],
    transitions: [],
  };
}

/** Add a state; `spec` = {name, type, parent, on_enter, on_exit, regions, description}. */
export function addState(config, spec) {
  const data = clone(config || emptyDefinition());
  if (!Array.isArray(data.states)) data.states = [];
  const tree = buildTree(data);
  if (tree.nodes.has(spec.name)) throw new Error(`a state or region named '${spec.name}' exists already`);
  const state = { name: spec.name };
  if (spec.type && spec.type !== "stable") state.type = spec.type;
  if (spec.parent) state.parent = spec.parent;
  if (spec.on_enter && spec.on_enter.length) state.on_enter = spec.on_enter;
  if (spec.on_exit && spec.on_exit.length) state.on_exit = spec.on_exit;
  if (spec.type === "parallel") {
    const names = spec.regions && spec.regions.length ? spec.regions : [];
    for (const region of names) {
      if (tree.nodes.has(region) || region === spec.name) {
        throw new Error(`a state or region named '${region}' exists already`);
      }
    }
    if (names.length) state.regions = names.map((r) => ({ name: r, states: [`${r}_IDLE`] }));
  }
  if (spec.timeout_seconds && spec.timeout_destination) {
    state.timeout = { seconds: Number(spec.timeout_seconds), destination: spec.timeout_destination };
  }
  if (spec.description) state.description = spec.description;
  data.states.push(state);
  return data;
}

/**
 * `states` without any entry for `name`, at any depth: its declarations (`{name: ...}`) and
 * the plain names regions list. A 0.0.x definition has both for one region state (the name in
 * `regions[].states`, the declaration in the flat list); a bare name left behind would still
 * be a state, so removing only one of them would not remove the state.
 */
function withoutState(states, name) {
  const kept = states.filter((item) => item !== name && !(isObject(item) && item.name === name));
  for (const state of kept) {
    if (!isObject(state) || !Array.isArray(state.regions)) continue;
    for (const region of state.regions) {
      if (isObject(region) && Array.isArray(region.states)) region.states = withoutState(region.states, name);
    }
  }
  return kept;
}

/**
 * Remove a state with its descendants, every place that declares or lists them, the
 * transitions that need them, and the references to them (`meta.initial`, `initial_child`, a
 * region's `initial`, a history's `default`, a timeout's `destination`).
 */
export function removeState(config, name) {
  const data = clone(config);
  const tree = buildTree(data);
  const node = tree.nodes.get(name);
  if (!node) throw new Error(`no state named '${name}'`);
  const gone = new Set();
  const collect = (n) => {
    gone.add(n.name);
    n.children.forEach(collect);
  };
  collect(node);
  for (const dead of gone) data.states = withoutState(data.states, dead);
  let removedTransitions = 0;
  if (Array.isArray(data.transitions)) {
    const kept = [];
    for (const t of data.transitions) {
      if (!isObject(t)) continue;
      if (typeof t.dest === "string" && gone.has(t.dest)) {
        removedTransitions += 1;
        continue;
      }
      if (t.source !== "*") {
        const sources = asList(t.source).filter((src) => !gone.has(src));
        if (!sources.length) {
          removedTransitions += 1;
          continue;
        }
        t.source = Array.isArray(t.source) ? sources : sources[0];
      }
      kept.push(t);
    }
    data.transitions = kept;
  }
  const clearRef = (obj, key) => {
    if (isObject(obj) && gone.has(obj[key])) delete obj[key];
  };
  clearRef(data.meta, "initial");
  for (const n of buildTree(data).order) {
    if (n.kind === "state") {
      clearRef(n.def, "initial_child");
      clearRef(n.def, "default");
      if (isObject(n.def.timeout) && gone.has(n.def.timeout.destination)) delete n.def.timeout;
    } else clearRef(n.def, "initial");
  }
  return { data, removedStates: gone.size, removedTransitions };
}

/** Add a transition; `spec` = {trigger, sources, dest, guards, actions, after, auto, internal, priority}. */
export function addTransition(config, spec) {
  const data = clone(config);
  if (!Array.isArray(data.transitions)) data.transitions = [];
  const t = {};
  if (spec.trigger) t.trigger = spec.trigger;
  t.source = spec.sources.includes("*") ? "*" : spec.sources.length === 1 ? spec.sources[0] : spec.sources;
  if (spec.dest) t.dest = spec.dest;
  if (spec.guards && spec.guards.length) {
    t.guards = spec.guards.map((g) => {
      if (/^expr:/.test(g)) return { expr: g.slice(5).trim() };
      return /^[A-Za-z_][A-Za-z0-9_.:-]*$/.test(g) ? g : { expr: g };
    });
  }
  if (spec.actions && spec.actions.length) t.actions = spec.actions;
  if (spec.after) t.after = /^\d+$/.test(spec.after) ? Number(spec.after) : spec.after;
  if (spec.auto) t.auto = true;
  if (spec.internal) t.internal = true;
  if (spec.priority) t.priority = Number(spec.priority);
  data.transitions.push(t);
  return data;
}

export function removeTransition(config, index) {
  const data = clone(config);
  if (Array.isArray(data.transitions)) data.transitions.splice(index, 1);
  return data;
}
