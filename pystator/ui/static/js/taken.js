// Which transitions a step took, read from its result: the diagram highlights them. The API's
// result tells the states a step left and entered and the internal events it processed, not
// the transitions themselves; in a parallel state one event may take one transition in each
// region, and internal and eventless steps take more.

import { buildTree, namedGuardsOf, transitionsOf } from "./definition.js";

/**
 * The transitions of `config` that the step `result` (a TransitionResult as JSON) took from
 * the configuration whose active states are `active`: [{index, from}], `from` the sources
 * it was taken from ("*" for a wildcard), since a transition listing several sources is
 * taken from the active one only. `refused` holds the named guards the step was told fail:
 * a transition needing one of them was not taken.
 *
 * A transition with a target was taken when its target was entered and one of its sources
 * was active (before the step, or entered by it) and was left (or the transition is
 * internal). A history state is never listed as entered (the states it restores are): a
 * transition to one counts its target entered when the step entered a state inside the
 * history state's parent. A targetless transition was taken when its source was there for its event (the
 * event sent: active before the step; an internal event: also a state the step entered) and
 * nothing else was taken on that event from the source, a state around it or inside it.
 * Higher priority first, then document order, as the engine chooses: one transition per
 * source and event.
 */
export function takenTransitions(config, active, result, refused = new Set()) {
  if (!result || !result.success) return [];
  if (result.metadata && result.metadata.reason === "no_transition") return [];
  const events = new Set([result.trigger, ...(result.internal_events || [])]);
  const entered = new Set(result.entered_states || []);
  const exited = new Set(result.exited_states || []);
  const reachable = new Set([...active, ...entered]);
  const tree = buildTree(config);
  const lineage = (name) => {
    const out = [];
    for (let cur = name; cur; cur = tree.nodes.has(cur) ? tree.nodes.get(cur).parent : null) out.push(cur);
    return out;
  };

  const fires = (t) => {
    const trigger = typeof t.def.trigger === "string" ? t.def.trigger : null;
    if (trigger === null) return Boolean(t.def.auto); // eventless: after any step that enters its source
    return events.has(trigger);
  };
  const candidates = transitionsOf(config)
    .filter((t) => fires(t) && !namedGuardsOf(t.def).some((g) => refused.has(g)))
    .sort((a, b) => (Number(b.def.priority) || 0) - (Number(a.def.priority) || 0) || a.index - b.index);

  const used = new Set(); // `${event}\u0000${state}`: the source already took a transition
  const key = (t, state) => `${t.def.trigger ?? ""}\u0000${state}`;
  const taken = [];
  const take = (t, sources) => {
    taken.push({ index: t.index, from: t.sources.includes("*") ? ["*"] : sources });
    for (const s of sources) used.add(key(t, s));
  };
  const activeSources = (t) => (t.sources.includes("*") ? [...reachable] : t.sources.filter((s) => reachable.has(s)));

  const enteredDest = (dest) => {
    if (entered.has(dest)) return true;
    const node = tree.nodes.get(dest);
    if (!node || node.kind !== "state" || node.type !== "history" || !node.parent) return false;
    return [...entered].some((name) => lineage(name).includes(node.parent));
  };
  for (const t of candidates.filter((c) => c.dest !== null)) {
    if (!enteredDest(t.dest)) continue;
    const sources = activeSources(t).filter((s) => (exited.has(s) || t.def.internal) && !used.has(key(t, s)));
    if (sources.length) take(t, sources);
  }
  const before = new Set(active);
  for (const t of candidates.filter((c) => c.dest === null)) {
    // The event sent is processed first: a state the step entered never saw it (its region
    // had just moved); internal events come after, and see the states entered.
    const present = t.def.trigger === result.trigger ? before : reachable;
    const sources = activeSources(t).filter((s) => present.has(s)
      && ![...reachable].some((other) => used.has(key(t, other)) && (lineage(other).includes(s) || lineage(s).includes(other))));
    if (sources.length) take(t, sources);
  }
  return taken.sort((a, b) => a.index - b.index);
}

/**
 * The transitions `taken` ([{index, from}] of `from`, a definition) as they are in `to`,
 * another version of it (the editor's draft of a stored machine): matched by trigger,
 * sources and target, not by position (a transition added above moves the others). Of
 * several alike, the first of `from` is the first of `to`; one `to` lacks is left out.
 */
export function takenIn(taken, from, to) {
  if (from === to || JSON.stringify(from) === JSON.stringify(to)) return taken;
  const keyOf = (t) => JSON.stringify([t.def.trigger ?? null, [...t.sources].sort(), t.dest]);
  const groups = (config) => {
    const out = new Map(); // key -> indices, in order
    for (const t of transitionsOf(config)) {
      const key = keyOf(t);
      if (!out.has(key)) out.set(key, []);
      out.get(key).push(t.index);
    }
    return out;
  };
  const before = transitionsOf(from);
  const fromGroups = groups(from);
  const toGroups = groups(to);
  const found = [];
  for (const mark of taken) {
    const t = before.find((x) => x.index === mark.index);
    if (!t) continue;
    const key = keyOf(t);
    const rank = fromGroups.get(key).indexOf(t.index);
    const index = (toGroups.get(key) || [])[rank];
    if (index !== undefined) found.push({ ...mark, index });
  }
  return found.sort((a, b) => a.index - b.index);
}
