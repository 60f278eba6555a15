// Layout of a state diagram: a recursive box layout.
//
// Every container (the machine, a compound state, a region) arranges its children in columns
// by rank: the child it starts in has rank 0, and a child reached from a child of rank r by a
// transition (between them or between any of their descendants) gets rank r + 1 (breadth
// first, so the main flow reads left to right). Children nobody reaches go after the last
// column. Within a column, children are ordered by the average row of their predecessors.
// A parallel state places its regions side by side. Gaps between columns grow to fit the
// labels of the transitions that cross them. Edges are then routed between the absolute
// boxes: forward edges as horizontal curves, edges within a column as vertical curves, and
// backward edges as curves below the lowest child of the container they share.

import { buildTree, startChild, transitionsOf, delayLabel } from "./definition.js";

export const METRICS = {
  leafHeight: 34,
  leafMinWidth: 84,
  pad: 14,
  header: 28,
  regionHeader: 24,
  rootTop: 14,
  initSpace: 24,
  rowGap: 28,
  colGapMin: 56,
  colGapTB: 36,
  rowGapTB: 50,
  colGapMax: 260,
  labelHeight: 18,
  backLane: 16,
  historySize: 28,
};

const ANY = "*";

function rect(x, y, w, h) {
  return { x, y, w, h };
}

function overlaps(a, b, margin = 2) {
  return (
    a.x < b.x + b.w + margin &&
    b.x < a.x + a.w + margin &&
    a.y < b.y + b.h + margin &&
    b.y < a.y + a.h + margin
  );
}

/**
 * Lay out `config` (plain definition data, possibly invalid).
 * `measure(text, style)` returns a text width in pixels; style is "state", "label", "small".
 */
export function layoutDiagram(config, measure, options = {}) {
  const M = METRICS;
  const tree = buildTree(config);
  const edges = transitionsOf(config);

  // Edge list between names (sources expanded), with timeouts as edges too.
  const links = [];
  for (const e of edges) {
    for (const src of e.sources) {
      const dest = e.dest || src;
      if ((src === ANY || tree.nodes.has(src)) && tree.nodes.has(dest)) {
        const label = src === ANY ? `(any) ${e.diagramLabel}` : e.diagramLabel;
        const detail = e.actions.length ? `${e.label} / ${e.actions.join(", ")}` : e.label;
        links.push({ index: e.index, from: src, to: dest, label, detail, actions: e.actions, targetless: !e.dest, kind: src === ANY ? "transition any" : "transition" });
      }
    }
  }
  for (const node of tree.order) {
    const timeout = node.kind === "state" && node.def.timeout;
    if (timeout && typeof timeout === "object" && tree.nodes.has(timeout.destination)) {
      links.push({
        index: -1, from: node.name, to: timeout.destination,
        label: `timeout ${delayLabel(timeout.seconds === undefined ? "" : `${timeout.seconds}s`)}`,
        actions: [], targetless: false, kind: "timeout",
      });
    }
  }

  const parentOf = (name) => (name === ANY ? null : tree.nodes.get(name).parent);
  const ancestors = (name) => {
    const out = [];
    let up = parentOf(name);
    while (up) {
      out.push(up);
      up = tree.nodes.get(up).parent;
    }
    return out;
  };
  // The child of `container` (null = the machine) that holds `name`, or null.
  const childOf = (container, name) => {
    let cur = name;
    while (cur !== null) {
      const parent = parentOf(cur);
      if ((parent || null) === (container ? container.name : null)) return cur;
      cur = parent;
    }
    return null;
  };

  const boxes = new Map(); // name -> {node, x, y, w, h, kind, ...} (relative until placed)
  const markers = [];
  const containers = [];

  function leafSize(node) {
    if (node.type === "history") {
      const w = Math.max(M.historySize, measure(node.name, "small") + 8);
      return { w, h: M.historySize + 14 };
    }
    const extra = node.type === "terminal" ? 8 : 0;
    return { w: Math.max(M.leafMinWidth, Math.ceil(measure(node.name, "state")) + 28 + extra), h: M.leafHeight };
  }

  // Lay out the children of a container; returns {w, h, items: [{name, x, y}], ...}.
  function layoutContainer(container, kids, top, label, aspect) {
    const items = kids.map((k) => ({ name: k.name, node: k, size: sizeOf(k) }));
    const byName = new Map(items.map((it) => [it.name, it]));
    const adj = new Map(items.map((it) => [it.name, []]));
    const preds = new Map(items.map((it) => [it.name, []]));
    const lifted = [];
    for (const link of links) {
      if (link.from === ANY) continue;
      const a = childOf(container, link.from);
      const b = childOf(container, link.to);
      if (a && b && a !== b && byName.has(a) && byName.has(b)) {
        lifted.push({ a, b, link });
        adj.get(a).push(b);
        preds.get(b).push(a);
      }
    }
    // Ranks, breadth first from the start child.
    const start = startChild(config, tree, container);
    const rank = new Map();
    const queue = [];
    const seed = (name, r) => {
      rank.set(name, r);
      queue.push(name);
      while (queue.length) {
        const cur = queue.shift();
        for (const next of adj.get(cur) || []) {
          if (!rank.has(next)) {
            rank.set(next, rank.get(cur) + 1);
            queue.push(next);
          }
        }
      }
    };
    if (start && byName.has(start.name)) seed(start.name, 0);
    for (const it of items) {
      if (rank.has(it.name)) continue;
      const known = preds.get(it.name).filter((p) => rank.has(p)).map((p) => rank.get(p));
      const maxRank = Math.max(-1, ...rank.values());
      // Nobody reaches it (a wildcard target, an orphan): beside the last rank.
      seed(it.name, known.length ? Math.max(...known) + 1 : Math.max(0, maxRank));
    }
    const ncols = Math.max(1, ...[...rank.values()].map((r) => r + 1));
    const columns = Array.from({ length: ncols }, () => []);
    for (const it of items) columns[rank.get(it.name)].push(it);
    // Keep the start child first in rank 0.
    columns[0].sort((p, q) => (start ? (q.name === start.name) - (p.name === start.name) : 0));
    // Order columns 1.. by the mean row of their predecessors (one sweep).
    const row = new Map();
    columns[0].forEach((it, i) => row.set(it.name, i));
    for (let c = 1; c < ncols; c += 1) {
      const keyed = columns[c].map((it, i) => {
        const ps = preds.get(it.name).filter((p) => row.has(p));
        const key = ps.length ? ps.reduce((sum, p) => sum + row.get(p), 0) / ps.length : 1e6 + i;
        return { it, key, i };
      });
      keyed.sort((p, q) => p.key - q.key || p.i - q.i);
      columns[c] = keyed.map((k) => k.it);
      columns[c].forEach((it, i) => row.set(it.name, i));
    }
    // Gaps sized by the labels of the transitions crossing them.
    const gaps = Array.from({ length: Math.max(0, ncols - 1) }, () => M.colGapMin);
    const crossing = Array.from({ length: Math.max(0, ncols - 1) }, () => 0);
    let backCount = 0;
    let backLabel = 0;
    let forwardLabel = 0;
    for (const { a, b, link } of lifted) {
      const ra = rank.get(a);
      const rb = rank.get(b);
      const width = Math.ceil(measure(link.label, "label")) + 30;
      if (rb === ra + 1) {
        gaps[ra] = Math.min(M.colGapMax, Math.max(gaps[ra], width));
        forwardLabel = Math.max(forwardLabel, width - 24);
        crossing[ra] += 1;
      }
      if (rb === ra - 1) crossing[rb] += 1;
      if (rb < ra) {
        backCount += 1;
        backLabel = Math.max(backLabel, width);
      }
    }
    const startName = start ? start.name : null;
    const minW = label ? Math.ceil(measure(label, "state")) + 2 * M.pad + 40 : 0;
    const outer = container === null ? 10 : M.pad;

    // Left to right: ranks are columns; backward edges pass below.
    const arrangeLR = () => {
      const colW = columns.map((col) => Math.max(0, ...col.map((it) => it.size.w)));
      const colH = columns.map((col) => col.reduce((sum, it) => sum + it.size.h, 0) + Math.max(0, col.length - 1) * M.rowGap);
      const contentH = Math.max(M.leafHeight, ...colH);
      let x = outer + M.initSpace;
      const placed = [];
      columns.forEach((col, c) => {
        let y = top + (contentH - colH[c]) / 2;
        for (const it of col) {
          placed.push({ name: it.name, x: x + (colW[c] - it.size.w) / 2, y, size: it.size });
          y += it.size.h + M.rowGap;
        }
        x += colW[c] + (c < gaps.length ? gaps[c] : 0);
      });
      const backPad = backCount ? M.labelHeight + 10 + Math.min(backCount, 6) * M.backLane : 0;
      return {
        dir: "LR", w: Math.max(x + M.pad, minW), h: top + contentH + M.pad + backPad, placed,
        start: startName, contentBottom: top + contentH, contentRight: x,
      };
    };

    // Top to bottom: ranks are rows; backward edges pass on the right. Rows crossed by
    // many transitions get room for their labels.
    const rowGaps = crossing.map((n) => Math.min(130, Math.max(M.rowGapTB, 24 + 22 * n)));
    const arrangeTB = () => {
      const rowH = columns.map((col) => Math.max(0, ...col.map((it) => it.size.h)));
      const rowW = columns.map((col) => col.reduce((sum, it) => sum + it.size.w, 0) + Math.max(0, col.length - 1) * M.colGapTB);
      const contentW = Math.max(M.leafMinWidth, ...rowW);
      let y = top + M.initSpace;
      const placed = [];
      columns.forEach((col, r) => {
        let x = outer + (contentW - rowW[r]) / 2;
        for (const it of col) {
          placed.push({ name: it.name, x, y: y + (rowH[r] - it.size.h) / 2, size: it.size });
          x += it.size.w + M.colGapTB;
        }
        y += rowH[r] + (r < columns.length - 1 ? rowGaps[r] : 0);
      });
      const backPad = backCount ? Math.min(backLabel, M.colGapMax) + 12 + Math.min(backCount, 6) * M.backLane : 0;
      // Labels of downward edges sit right of the middle of the rows they join.
      const labelRight = outer + contentW / 2 + 6 + Math.min(forwardLabel, M.colGapMax) + M.pad;
      return {
        dir: "TB", w: Math.max(outer + contentW + M.pad + backPad, labelRight, minW), h: y + M.pad, placed,
        start: startName, contentBottom: y, contentRight: outer + contentW,
      };
    };

    const lr = arrangeLR();
    if (ncols < 2) return lr;
    const tb = arrangeTB();
    const score = (lay) => Math.max(lay.w / aspect, lay.h);
    return score(tb) < score(lr) * 0.97 ? tb : lr;
  }

  const layouts = new Map(); // container name -> layout (relative)

  function sizeOf(node) {
    if (node.kind === "region") {
      const lay = layoutContainer(node, node.children, M.regionHeader, `region ${node.name}`, 0.9);
      layouts.set(node.name, lay);
      return { w: lay.w, h: lay.h };
    }
    const realKids = node.children.filter((c) => c.kind === "state" || c.kind === "region");
    if (!realKids.length) return leafSize(node);
    const regions = node.children.filter((c) => c.kind === "region");
    if (regions.length) {
      // A parallel state: regions side by side, each as tall as the tallest.
      const others = node.children.filter((c) => c.kind !== "region");
      const parts = regions.map((r) => ({ name: r.name, size: sizeOf(r) }));
      if (others.length) {
        const lay = layoutContainer(node, others, M.regionHeader, "", 0.9);
        layouts.set(`${node.name}\u0000rest`, lay);
        parts.push({ name: `${node.name}\u0000rest`, size: { w: lay.w, h: lay.h } });
      }
      const hMax = Math.max(...parts.map((p) => p.size.h));
      let x = 0;
      const placed = parts.map((p) => {
        const at = { name: p.name, x, y: M.header, size: { w: p.size.w, h: hMax } };
        x += p.size.w;
        return at;
      });
      const minW = Math.ceil(measure(node.name, "state")) + 2 * M.pad + 60;
      const w = Math.max(x, minW);
      if (w > x && placed.length) placed[placed.length - 1].size.w += w - x;
      layouts.set(node.name, { dir: "LR", w, h: M.header + hMax, placed, parallel: true, start: null, contentBottom: M.header + hMax, contentRight: w });
      return { w, h: M.header + hMax };
    }
    const lay = layoutContainer(node, node.children, M.header + 6, node.name, 1.6);
    layouts.set(node.name, lay);
    return { w: lay.w, h: lay.h };
  }

  const root = layoutContainer(null, tree.roots, M.rootTop, "", options.aspect || 1.3);
  layouts.set("", root);

  // Absolute positions.
  function place(name, lay, ox, oy, depth) {
    for (const p of lay.placed) {
      const ax = ox + p.x;
      const ay = oy + p.y;
      const node = tree.nodes.get(p.name);
      if (p.name.includes("\u0000")) {
        place(p.name, layouts.get(p.name), ax, ay, depth + 1);
        continue;
      }
      const inner = layouts.get(p.name);
      let kind = "leaf";
      if (node.kind === "region") kind = "region";
      else if (node.type === "history") kind = "history";
      else if (inner && inner.parallel) kind = "parallel";
      else if (inner) kind = "compound";
      const box = { name: p.name, node, kind, depth, ...rect(ax, ay, p.size.w, p.size.h) };
      boxes.set(p.name, box);
      if (inner) {
        containers.push(box);
        box.contentBottom = ay + inner.contentBottom;
        box.contentRight = ax + inner.contentRight;
        box.dir = inner.dir;
        place(p.name, inner, ax, ay, depth + 1);
      }
    }
    if (lay.start) {
      const target = lay.placed.find((p) => p.name === lay.start);
      if (target && lay.dir === "TB") {
        const tx = ox + target.x + target.size.w / 2;
        const ty = oy + target.y;
        markers.push({ container: name, x: tx, y: ty - M.initSpace + 4, tx, ty, state: lay.start });
      } else if (target) {
        const tx = ox + target.x;
        const ty = oy + target.y + Math.min(target.size.h, M.leafHeight) / 2;
        markers.push({ container: name, x: tx - M.initSpace + 4, y: ty, tx, ty, state: lay.start });
      }
    }
  }
  place("", root, 0, 0, 0);
  const rootBox = { name: "", kind: "root", dir: root.dir, contentBottom: root.contentBottom, contentRight: root.contentRight, ...rect(0, 0, root.w, root.h) };

  // ---------------------------------------------------------------- edges
  const isInside = (inner, outer) => ancestors(inner).includes(outer);
  const commonContainer = (a, b) => {
    const up = a === ANY ? [] : ancestors(a);
    const other = new Set(b === ANY ? [] : ancestors(b));
    const found = up.find((x) => other.has(x));
    return found ? boxes.get(found) : rootBox;
  };
  const laneOf = new Map();
  const labelRects = [];
  const solid = [...boxes.values()].filter((b) => b.kind === "leaf" || b.kind === "history");
  function placeLabel(text, cx, cy, mode, step = "y") {
    // Near the edge's middle, moving along `step` first; the first spot free of other labels
    // and of state boxes wins, else the one that covers the least.
    const w = Math.ceil(measure(text, "label")) + 10;
    const hgt = M.labelHeight;
    const base = { x: mode === "right" ? cx + 6 : mode === "left" ? cx - w : cx - w / 2, y: cy - hgt / 2 };
    const along = step === "x" ? { x: w / 2 + 4, y: 0 } : { x: 0, y: hgt + 2 };
    const across = step === "x" ? { x: 0, y: hgt + 2 } : { x: w / 2 + 4, y: 0 };
    const area = (a, b) =>
      Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x) + 2) *
      Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y) + 2);
    let best = null;
    for (const i of [0, 1, -1, 2, -2, 3, -3, 4, -4]) {
      for (const j of [0, 1, -1]) {
        const r = rect(base.x + i * along.x + j * across.x, base.y + i * along.y + j * across.y, w, hgt);
        let cost = 0;
        for (const o of labelRects) if (overlaps(o, r)) cost += 2 * area(o, r);
        for (const o of solid) if (overlaps(o, r, 0)) cost += area(o, r);
        if (cost === 0) {
          labelRects.push(r);
          return r;
        }
        if (best === null || cost < best.cost) best = { r, cost };
      }
    }
    labelRects.push(best.r);
    return best.r;
  }

  // Pass 1: how each edge runs, and which sides of which boxes it uses.
  const sides = new Map(); // "name|side" -> [{route, end, key}]
  const useSide = (box, side, route, end, key) => {
    const id = `${box.name}|${side}`;
    if (!sides.has(id)) sides.set(id, []);
    sides.get(id).push({ route, end, key });
  };
  const routes = [];
  const selfCount = new Map();
  for (const l of links) {
    const B = boxes.get(l.to);
    if (!B) continue;
    if (l.from === ANY) {
      routes.push({ l, type: "any", B });
      continue;
    }
    const A = boxes.get(l.from);
    if (!A) continue;
    if (l.from === l.to) {
      const k = selfCount.get(l.from) || 0;
      selfCount.set(l.from, k + 1);
      routes.push({ l, type: "self", A, k });
      continue;
    }
    if (isInside(l.to, l.from)) {
      routes.push({ l, type: "down-in", A, B });
      continue;
    }
    if (isInside(l.from, l.to)) {
      routes.push({ l, type: "up-out", A, B });
      continue;
    }
    const owner = commonContainer(l.from, l.to);
    const right = B.x >= A.x + A.w - 4;
    const left = B.x + B.w <= A.x + 4;
    const below = B.y >= A.y + A.h - 4;
    // Backward edges between neighbouring ranks go straight back (their ports are spread
    // apart from the forward ones); longer ones go around the side of the container.
    const near = (gap) => gap < 150;
    let type;
    if ((owner.dir || "LR") === "LR") {
      if (right) type = "right";
      else if (left) type = near(A.x - (B.x + B.w)) ? "left" : "back-below";
      else type = below ? "down" : "up";
    } else if (below) type = "down";
    else if (B.y + B.h <= A.y + 4) type = near(A.y - (B.y + B.h)) ? "up" : "back-right";
    else type = right ? "right" : "left";
    const route = { l, type, A, B, owner };
    routes.push(route);
    const cx = (b) => b.x + b.w / 2;
    const cy = (b) => b.y + Math.min(b.h, M.leafHeight) / 2;
    // Sort key along a side: the other end's position, so ports do not cross.
    const sideOf = {
      right: [["right", cy(B)], ["left", cy(A)]],
      left: [["left", cy(B)], ["right", cy(A)]],
      down: [["bottom", cx(B)], ["top", cx(A)]],
      up: [["top", cx(B)], ["bottom", cx(A)]],
      "back-below": [["bottom", cx(B) - 1e4], ["bottom", cx(A) + 1e4]],
      "back-right": [["right", cy(B) + 1e4], ["right", cy(A) - 1e4]],
    }[type];
    useSide(A, sideOf[0][0], route, "a", sideOf[0][1]);
    useSide(B, sideOf[1][0], route, "b", sideOf[1][1]);
  }
  // Pass 2: spread the ports of each side evenly, in the order of their other ends.
  for (const [id, list] of sides) {
    const [name, side] = id.split("|");
    const box = boxes.get(name);
    list.sort((p, q) => p.key - q.key);
    const n = list.length;
    list.forEach((item, i) => {
      let pt;
      if (side === "top" || side === "bottom") {
        const span = box.w * (n > 1 ? 0.7 : 0);
        const x = box.x + (box.w - span) / 2 + (n > 1 ? (span * i) / (n - 1) : 0);
        pt = { x, y: side === "top" ? box.y : box.y + box.h };
      } else {
        const tall = Math.min(box.h, M.leafHeight + (box.h > M.leafHeight ? 24 : 0));
        const span = n > 1 ? Math.min(tall * 0.7, (n - 1) * 10) : 0;
        const y = box.y + tall / 2 - span / 2 + (n > 1 ? (span * i) / (n - 1) : 0);
        pt = { x: side === "left" ? box.x : box.x + box.w, y };
      }
      item.route[item.end] = pt;
    });
  }

  // Pass 3: paths and labels.
  const routed = [];
  const anySeen = new Map();
  const nextLane = (owner) => {
    const lane = laneOf.get(owner.name) || 0;
    laneOf.set(owner.name, lane + 1);
    return 14 + (lane % 6) * M.backLane;
  };
  for (const r of routes) {
    const { l, A, B } = r;
    let path;
    let mid;
    let mode = "center";
    let step = "y";
    if (r.type === "any") {
      // From any state: a short stub into the target, with the wildcard's label.
      const k = anySeen.get(l.to) || 0;
      anySeen.set(l.to, k + 1);
      const ey = B.y + Math.min(B.h, M.leafHeight) / 2 + (k ? 6 : 0);
      const sx = B.x - 38;
      const sy = ey - 18 - k * 16;
      path = `M${sx},${sy} C${sx + 20},${sy} ${B.x - 18},${ey} ${B.x},${ey}`;
      const labelBox = placeLabel(l.label, sx - 4, sy, "left");
      routed.push({ ...l, path, labelBox, origin: { x: sx, y: sy } });
      continue;
    }
    if (r.type === "self") {
      const k = r.k;
      const ax2 = A.x + A.w;
      const sx = ax2 - 18 - k * 10;
      const sy = A.y;
      const ey = A.y + 14 + k * 6;
      path = `M${sx},${sy} C${sx},${sy - 30 - k * 8} ${ax2 + 32 + k * 8},${ey} ${ax2},${ey}`;
      if ((commonContainer(l.from, l.to).dir || "LR") === "TB") {
        // Top to bottom, the label of the edge coming in from above sits above the box:
        // this one goes beside the loop, right of the box.
        mid = { x: ax2 + 10 + k * 8, y: sy - 10 - k * 8 };
        mode = "right";
      } else {
        mid = { x: ax2 - 4, y: sy - 30 - k * 8 };
      }
      step = "x";
    } else if (r.type === "down-in") {
      const sx = A.x + 12;
      const sy = A.y + M.header - 6;
      const ey = B.y + Math.min(B.h, M.leafHeight) / 2;
      path = `M${sx},${sy} C${sx},${ey} ${sx},${ey} ${B.x},${ey}`;
      mid = { x: sx, y: (sy + ey) / 2 };
      mode = "right";
    } else if (r.type === "up-out") {
      const sx = A.x + A.w / 2;
      const sy = A.y;
      const ex = B.x + B.w - 14;
      const ey = B.y + M.header - 4;
      path = `M${sx},${sy} C${sx},${ey} ${ex},${sy} ${ex},${ey}`;
      mid = { x: (sx + ex) / 2, y: (sy + ey) / 2 };
    } else {
      const a = r.a;
      const b = r.b;
      if (r.type === "right" || r.type === "left") {
        const sign = r.type === "right" ? 1 : -1;
        const dx = Math.max(30, Math.abs(b.x - a.x) / 2) * sign;
        path = `M${a.x},${a.y} C${a.x + dx},${a.y} ${b.x - dx},${b.y} ${b.x},${b.y}`;
        mid = { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
      } else if (r.type === "down" || r.type === "up") {
        const my = (a.y + b.y) / 2;
        path = `M${a.x},${a.y} C${a.x},${my} ${b.x},${my} ${b.x},${b.y}`;
        mid = { x: (a.x + b.x) / 2, y: my };
        step = "x";
      } else if (r.type === "back-below") {
        // The curve's lowest point (t = 0.5) is 3/4 of the way to its control points.
        const floor = Math.max(r.owner.contentBottom, A.y + A.h, B.y + B.h);
        const depth = nextLane(r.owner);
        const yb = (floor + depth - 0.125 * (a.y + b.y)) / 0.75;
        path = `M${a.x},${a.y} C${a.x},${yb} ${b.x},${yb} ${b.x},${b.y}`;
        mid = { x: (a.x + b.x) / 2, y: floor + depth };
        step = "x";
      } else {
        const wall = Math.max(r.owner.contentRight, A.x + A.w, B.x + B.w);
        const depth = nextLane(r.owner);
        const xb = (wall + depth - 0.125 * (a.x + b.x)) / 0.75;
        path = `M${a.x},${a.y} C${xb},${a.y} ${xb},${b.y} ${b.x},${b.y}`;
        mid = { x: wall + depth, y: (a.y + b.y) / 2 };
        mode = "right";
      }
    }
    const labelBox = placeLabel(l.label, mid.x, mid.y, mode, step);
    routed.push({ ...l, path, labelBox });
  }

  // The drawing's extent (self loops and labels may stick out of the root box).
  let width = root.w;
  let height = root.h;
  for (const r of labelRects) {
    width = Math.max(width, r.x + r.w + 8);
    height = Math.max(height, r.y + r.h + 8);
  }
  let minY = 0;
  let minX = 0;
  for (const r of labelRects) {
    minY = Math.min(minY, r.y - 6);
    minX = Math.min(minX, r.x - 6);
  }
  for (const b of boxes.values()) minY = Math.min(minY, b.y - 34);
  return {
    width: Math.ceil(width + 40 - minX),
    height: Math.ceil(height - minY + 4),
    minX: Math.floor(minX),
    minY: Math.floor(minY),
    boxes,
    containers,
    markers,
    edges: routed,
    tree,
    empty: tree.order.length === 0,
  };
}
