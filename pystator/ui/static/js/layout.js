// Layout of a state diagram by ELK's layered algorithm (elkjs; elk-run.js runs it off the
// page's thread). This module only translates: a definition into an ELK graph, and ELK's
// answer into the boxes, paths and label boxes diagram.js draws.
//
// The graph: every state and region is a node, nested as in the definition (a compound
// state holds its children, a parallel state its regions, a region its states), and ELK lays
// the whole hierarchy out in one run (hierarchyHandling INCLUDE_CHILDREN), so a transition
// between nesting levels is routed like any other. Every transition is an edge whose label
// (trigger [guards]) is an ELK edge label of its measured size: the layered algorithm places
// labels in the space between layers and keeps them off states and off each other. A
// container's start is a small node with an edge to the child it starts in; a transition from
// "*" starts at a small node beside its target. Regions get the same layer, so they stack.

import { buildTree, startChild, transitionsOf, delayLabel } from "./definition.js";

export const METRICS = {
  leafHeight: 34,
  leafMinWidth: 84,
  header: 30,
  regionHeader: 22,
  pad: 14,
  regionPad: 10,
  historySize: 28,
  labelHeight: 18,
  startSize: 10,
  anySize: 8,
  corner: 6,
};

const ANY = "*";

// Applied to every graph element unless it sets the option itself (elkjs's global options).
const GLOBAL_OPTIONS = {
  "elk.algorithm": "layered",
  "elk.direction": "RIGHT",
  "elk.hierarchyHandling": "INCLUDE_CHILDREN",
  "elk.edgeRouting": "ORTHOGONAL",
  "elk.json.shapeCoords": "ROOT",
  "elk.json.edgeCoords": "ROOT",
  "elk.spacing.nodeNode": "26",
  "elk.layered.spacing.nodeNodeBetweenLayers": "40",
  "elk.spacing.edgeNode": "14",
  "elk.layered.spacing.edgeNodeBetweenLayers": "14",
  "elk.spacing.edgeEdge": "10",
  "elk.layered.spacing.edgeEdgeBetweenLayers": "10",
  "elk.spacing.edgeLabel": "3",
  "elk.spacing.labelLabel": "6",
  "elk.spacing.labelNode": "8",
  "elk.edgeLabels.placement": "CENTER",
  "elk.layered.nodePlacement.strategy": "NETWORK_SIMPLEX",
  // Depth first from the sources (the start markers): the flow from a container's start
  // reads left to right, and only the edges back against it are reversed.
  "elk.layered.cycleBreaking.strategy": "DEPTH_FIRST",
  "elk.layered.mergeEdges": "false",
};

const padding = (top, side, bottom) => `[top=${top},left=${side},bottom=${bottom},right=${side}]`;

/**
 * The drawable links of a definition: each source of each transition (sources "*" kept), and
 * each state's timeout.
 */
function linksOf(config, tree) {
  const links = [];
  for (const e of transitionsOf(config)) {
    for (const src of e.sources) {
      const dest = e.dest || src;
      if ((src !== ANY && !tree.nodes.has(src)) || !tree.nodes.has(dest)) continue;
      const any = src === ANY;
      links.push({
        index: e.index, from: src, to: dest,
        label: any ? `(any) ${e.diagramLabel}` : e.diagramLabel,
        detail: e.actions.length ? `${e.label} / ${e.actions.join(", ")}` : e.label,
        targetless: !e.dest, kind: any ? "transition any" : "transition",
      });
    }
  }
  for (const node of tree.order) {
    const timeout = node.kind === "state" && node.def.timeout;
    if (timeout && typeof timeout === "object" && tree.nodes.has(timeout.destination)) {
      const seconds = timeout.seconds === undefined ? "" : `${timeout.seconds}s`;
      links.push({
        index: -1, from: node.name, to: timeout.destination,
        label: `timeout ${delayLabel(seconds)}`, detail: "", targetless: false, kind: "timeout",
      });
    }
  }
  return links;
}

/** What a tree node is drawn as: leaf, history, compound, parallel or region. */
function kindOf(node) {
  if (node.kind === "region") return "region";
  if (node.type === "history") return "history";
  if (node.children.some((c) => c.kind === "region")) return "parallel";
  return node.children.length ? "compound" : "leaf";
}

/**
 * The ELK graph of `config` (plain definition data, possibly invalid), and what is needed to
 * read ELK's answer back. `measure(text, style)` gives a text's width in pixels; style is
 * "state", "label" or "small". `direction`: where the flow runs ("RIGHT" or "DOWN");
 * `stack`: whether the sections of a parallel state are kept in one layer, in order.
 */
export function buildGraph(config, measure, { direction = "RIGHT", stack = true } = {}) {
  const M = METRICS;
  const tree = buildTree(config);
  const links = linksOf(config, tree);
  const parentOf = new Map(); // ELK node id -> the ELK id of its parent ("root" at the top)
  const info = new Map(); // ELK node id -> {name, node, kind} (a state or region)
  const id = (name) => `n:${name}`;
  const root = { id: "root", layoutOptions: { "elk.padding": padding(16, 16, 16) }, children: [], edges: [] };
  const elkNodes = new Map([["root", root]]);

  const addNode = (parent, elk) => {
    parent.children.push(elk);
    parentOf.set(elk.id, parent.id);
    elkNodes.set(elk.id, elk);
    return elk;
  };

  const addStart = (container, containerNode) => {
    const start = startChild(config, tree, containerNode);
    if (!start) return;
    const marker = addNode(container, { id: `start:${container.id}`, width: M.startSize, height: M.startSize });
    info.set(marker.id, { kind: "start", state: start.name });
    links.push({ kind: "initial", from: marker.id, to: start.name, raw: true });
  };

  const addState = (parent, node) => {
    const kind = kindOf(node);
    const elk = { id: id(node.name) };
    info.set(elk.id, { name: node.name, node, kind });
    if (kind === "leaf") {
      const extra = node.type === "terminal" ? 8 : 0;
      elk.width = Math.max(M.leafMinWidth, Math.ceil(measure(node.name, "state")) + 28 + extra);
      elk.height = M.leafHeight;
    } else if (kind === "history") {
      elk.width = M.historySize;
      elk.height = M.historySize;
      // The name goes under the circle: ELK keeps room for an outside label.
      elk.labels = [{
        id: `name:${node.name}`, text: node.name, width: Math.ceil(measure(node.name, "small")) + 4, height: 14,
        layoutOptions: { "elk.nodeLabels.placement": "[H_CENTER, V_BOTTOM, OUTSIDE]" },
      }];
    } else {
      const region = kind === "region";
      const title = region ? `region ${node.name}` : node.name;
      const badge = kind === "parallel" ? Math.ceil(measure("parallel", "small")) + 16 : 0;
      const minWidth = Math.ceil(measure(title, region ? "small" : "state")) + 2 * M.pad + badge;
      elk.layoutOptions = {
        "elk.padding": region ? padding(M.regionHeader, M.regionPad, M.regionPad) : padding(M.header + 6, M.pad, M.pad),
        "elk.nodeSize.constraints": "[MINIMUM_SIZE]",
        "elk.nodeSize.minimum": `(${minWidth}, ${region ? 40 : 50})`,
      };
      elk.children = [];
      elk.edges = [];
    }
    addNode(parent, elk);
    if (!elk.children) return;
    if (kind !== "parallel") addStart(elk, node);
    for (const child of node.children) addState(elk, child);
    if (kind === "parallel" && stack) stackSections(elk, node);
  };

  // The regions of a parallel state are all active at once: one layer, so they stack like
  // lanes, in the definition's order (a history state in no region comes last). Not when a
  // transition joins two of them: ELK cannot route an edge within a constrained layer
  // across hierarchy levels (it fails), so such regions are laid out in the flow instead.
  const sectionOf = (parallel, name) => {
    let cur = name;
    while (cur && tree.nodes.get(cur).parent !== parallel) cur = tree.nodes.get(cur).parent;
    return cur;
  };
  const joined = (parallel) => links.some((l) => {
    if (l.raw || l.from === ANY) return false;
    const a = sectionOf(parallel, l.from);
    const b = sectionOf(parallel, l.to);
    return a && b && a !== b;
  });
  const stackSections = (elk, node) => {
    if (joined(node.name)) return;
    elk.layoutOptions["elk.layered.crossingMinimization.semiInteractive"] = "true";
    const sections = [...node.children.filter((c) => c.kind === "region"), ...node.children.filter((c) => c.kind !== "region")];
    sections.forEach((child, i) => {
      const section = elkNodes.get(id(child.name));
      section.layoutOptions = {
        ...section.layoutOptions,
        "elk.layered.layering.layerConstraint": "FIRST",
        "elk.position": `(0, ${i * 100})`,
      };
    });
  };

  addStart(root, null);
  for (const node of tree.roots) addState(root, node);

  // Edges, each declared in the lowest node containing both ends (ELK's own rule).
  const chain = (elkId) => {
    const out = [elkId];
    while (parentOf.has(out[out.length - 1])) out.push(parentOf.get(out[out.length - 1]));
    return out;
  };
  const ownerOf = (a, b) => {
    if (a === b) return parentOf.get(a);
    const up = chain(a);
    const other = chain(b);
    if (up.includes(b)) return b;
    if (other.includes(a)) return a;
    return up.find((x) => x !== a && other.includes(x));
  };
  const edges = [];
  let anyCount = 0;
  links.forEach((link, k) => {
    let from = link.raw ? link.from : id(link.from);
    const to = id(link.to);
    // A state that is not drawn (inside a history state, which holds no children) has no
    // node: its links are left out, as those to unknown states are.
    if (!elkNodes.has(to) || (link.from !== ANY && !elkNodes.has(from))) return;
    if (link.from === ANY) {
      // A small origin beside the target, in the same box: "from any state" reads locally.
      anyCount += 1;
      const holder = elkNodes.get(parentOf.get(to));
      from = addNode(holder, { id: `any:${anyCount}`, width: M.anySize, height: M.anySize }).id;
      info.set(from, { kind: "any" });
    }
    const edge = { id: `e:${k}`, sources: [from], targets: [to] };
    if (link.kind !== "initial") {
      const width = Math.ceil(measure(link.label, "label")) + 10;
      edge.labels = [{ id: `l:${k}`, text: link.label, width, height: M.labelHeight }];
    }
    elkNodes.get(ownerOf(from, to)).edges.push(edge);
    edges.push({ ...link, elkId: edge.id, source: from });
  });
  return { graph: root, tree, edges, info, options: { ...GLOBAL_OPTIONS, "elk.direction": direction } };
}

// ------------------------------------------------------------------ reading ELK's answer
const rect = (x, y, w, h) => ({ x, y, w, h });

/** An orthogonal polyline as an SVG path with rounded corners. */
export function roundedPath(points, radius = METRICS.corner) {
  if (!points.length) return "";
  const fmt = (v) => Math.round(v * 10) / 10;
  let d = `M${fmt(points[0].x)},${fmt(points[0].y)}`;
  for (let i = 1; i < points.length - 1; i += 1) {
    const [a, b, c] = [points[i - 1], points[i], points[i + 1]];
    const lenIn = Math.hypot(b.x - a.x, b.y - a.y);
    const lenOut = Math.hypot(c.x - b.x, c.y - b.y);
    const r = Math.min(radius, lenIn / 2, lenOut / 2);
    if (r < 0.5) {
      d += ` L${fmt(b.x)},${fmt(b.y)}`;
      continue;
    }
    const p = { x: b.x - ((b.x - a.x) / lenIn) * r, y: b.y - ((b.y - a.y) / lenIn) * r };
    const q = { x: b.x + ((c.x - b.x) / lenOut) * r, y: b.y + ((c.y - b.y) / lenOut) * r };
    d += ` L${fmt(p.x)},${fmt(p.y)} Q${fmt(b.x)},${fmt(b.y)} ${fmt(q.x)},${fmt(q.y)}`;
  }
  const last = points[points.length - 1];
  return `${d} L${fmt(last.x)},${fmt(last.y)}`;
}

function pointsOf(elkEdge) {
  const points = [];
  for (const section of elkEdge.sections || []) {
    points.push(section.startPoint, ...(section.bendPoints || []), section.endPoint);
  }
  return points;
}

/** Read a laid-out ELK graph (`built` from buildGraph) as boxes, edges and markers. */
export function readLayout(built, laidOut) {
  const boxes = new Map(); // state or region name -> box
  const containers = [];
  const markers = [];
  const anyOrigins = new Map(); // ELK id of a "*" origin -> its centre
  const starts = new Map(); // ELK id of a start marker -> {x, y, state}
  const elkEdges = new Map();
  let right = laidOut.width || 0;
  let bottom = laidOut.height || 0;
  let left = 0;
  let top = 0;
  const extend = (r) => {
    left = Math.min(left, r.x);
    top = Math.min(top, r.y);
    right = Math.max(right, r.x + r.w);
    bottom = Math.max(bottom, r.y + r.h);
  };

  const walk = (elk, depth) => {
    for (const edge of elk.edges || []) elkEdges.set(edge.id, edge);
    for (const child of elk.children || []) {
      const meta = built.info.get(child.id);
      const box = rect(child.x, child.y, child.width, child.height);
      if (meta.kind === "start") starts.set(child.id, { ...box, state: meta.state });
      else if (meta.kind === "any") anyOrigins.set(child.id, { x: box.x + box.w / 2, y: box.y + box.h / 2 });
      else {
        const full = { name: meta.name, node: meta.node, kind: meta.kind, depth, ...box };
        if (meta.kind === "history" && child.labels && child.labels[0]) {
          const l = child.labels[0]; // absolute, as every shape (json.shapeCoords ROOT)
          full.nameBox = rect(l.x, l.y, l.width, l.height);
          extend(full.nameBox);
        }
        if (meta.kind === "region") full.labelAt = { x: box.x, y: box.y };
        boxes.set(meta.name, full);
        if (child.children) containers.push(full);
      }
      walk(child, depth + 1);
    }
  };
  walk(laidOut, 0);
  const separators = sectionsOf(boxes, containers);

  const edges = [];
  for (const link of built.edges) {
    const elk = elkEdges.get(link.elkId);
    if (!elk) continue;
    const points = pointsOf(elk);
    if (!points.length) continue;
    if (link.kind === "initial") {
      const start = starts.get(link.source);
      markers.push({
        state: start.state, x: start.x + start.w / 2, y: start.y + start.h / 2,
        path: roundedPath(points),
      });
      continue;
    }
    const l = elk.labels && elk.labels[0];
    const labelBox = l ? rect(l.x, l.y, l.width, l.height) : null;
    if (labelBox) extend(labelBox);
    for (const p of points) extend(rect(p.x, p.y, 0, 0));
    edges.push({ ...link, path: roundedPath(points), points, labelBox, origin: anyOrigins.get(link.source) || null });
  }
  const margin = 8;
  return {
    empty: built.tree.order.length === 0,
    minX: Math.floor(left - margin),
    minY: Math.floor(top - margin),
    width: Math.ceil(right - left + 2 * margin),
    height: Math.ceil(bottom - top + 2 * margin),
    boxes,
    containers,
    markers,
    edges,
    separators,
    tree: built.tree,
  };
}

/**
 * The sections of each parallel state (its regions, and a history state in no region) sit
 * in one layer: stacked when the flow runs right, side by side when it runs down. Draw the
 * regions across the parallel state, as lanes, with a dashed line between two sections.
 * Region labels stay where ELK put them.
 */
function sectionsOf(boxes, containers) {
  const M = METRICS;
  const lines = [];
  const extent = (b) => ({ box: b, x0: b.x, x1: b.x + b.w, y0: b.y, y1: b.nameBox ? b.nameBox.y + b.nameBox.h : b.y + b.h });
  for (const parallel of containers.filter((c) => c.kind === "parallel")) {
    const inside = [...boxes.values()].filter((b) => b.node.parent === parallel.name).map(extent);
    for (const [from, to] of [["y0", "y1"], ["x0", "x1"]]) {
      const sections = [...inside].sort((a, b) => a[from] - b[from]);
      if (!sections.every((sec, i) => i === 0 || sec[from] >= sections[i - 1][to])) continue;
      const stacked = from === "y0";
      for (const { box } of sections.filter((sec) => sec.box.kind === "region")) {
        if (stacked) Object.assign(box, { x: parallel.x + M.regionPad / 2, w: parallel.w - M.regionPad });
        else Object.assign(box, { y: parallel.y + M.header, h: parallel.h - M.header - M.regionPad / 2 });
      }
      for (let i = 1; i < sections.length; i += 1) {
        const at = (sections[i - 1][to] + sections[i][from]) / 2;
        lines.push(stacked
          ? { parallel: parallel.name, x1: parallel.x + 6, y1: at, x2: parallel.x + parallel.w - 6, y2: at }
          : { parallel: parallel.name, x1: at, y1: parallel.y + M.header, x2: at, y2: parallel.y + parallel.h - 6 });
      }
      break;
    }
  }
  return lines;
}

/**
 * Lay out `config` with its flow running `direction` ("RIGHT" or "DOWN"): `run(graph,
 * options)` is ELK's layout (elk-run.js); resolves to what readLayout returns. Should ELK
 * refuse the graph (its hierarchy handling has corner cases), it is laid out once more
 * without the constraints that stack the regions of parallel states. Any error (a
 * definition the graph cannot be built from included) rejects the promise: the pane shows it.
 */
export async function layoutDiagram(config, measure, run, direction = "RIGHT") {
  let first;
  try {
    const built = buildGraph(config, measure, { direction });
    if (built.tree.order.length === 0) return readLayout(built, { width: 0, height: 0 });
    return readLayout(built, await run(built.graph, built.options));
  } catch (err) {
    if (err.workerFailed) throw err; // stopped or crashed: the graph is not the cause
    first = err;
  }
  try {
    const plain = buildGraph(config, measure, { direction, stack: false });
    return readLayout(plain, await run(plain.graph, plain.options));
  } catch {
    throw first; // the first attempt's error says more
  }
}
