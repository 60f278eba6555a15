// Draw a layout (layout.js) as SVG, highlight states and transitions, zoom, export.

import { h, s, clear, debounce } from "./dom.js";
import { layoutDiagram } from "./layout.js";
import { runElk } from "./elk-run.js";
import { actionName, asList } from "./definition.js";

const FONT_FAMILY = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', Arial, sans-serif";
const FONTS = {
  state: `600 13px ${FONT_FAMILY}`,
  label: `12px ${FONT_FAMILY}`,
  small: `11px ${FONT_FAMILY}`,
};
const STALE = "The text does not parse: the diagram shows the last version that did.";

let canvas = null;
const widthCache = new Map();

export function measureText(text, style = "state") {
  const key = `${style}\u0000${text}`;
  if (widthCache.has(key)) return widthCache.get(key);
  canvas = canvas || document.createElement("canvas");
  const ctx = canvas.getContext("2d");
  ctx.font = FONTS[style] || FONTS.state;
  const width = ctx.measureText(String(text)).width;
  if (widthCache.size > 5000) widthCache.clear();
  widthCache.set(key, width);
  return width;
}

function stateTitle(box) {
  const node = box.node;
  const lines = [`${node.kind === "region" ? "Region" : "State"} ${node.name}`];
  if (node.kind === "state") lines.push(`type: ${node.type}`);
  const def = node.def || {};
  if (typeof def.description === "string") lines.push(def.description);
  const names = (list) => asList(list).map(actionName).join(", ");
  if (names(def.on_enter)) lines.push(`on enter: ${names(def.on_enter)}`);
  if (names(def.on_exit)) lines.push(`on exit: ${names(def.on_exit)}`);
  return lines.join("\n");
}

function drawContainer(box, separators) {
  if (box.kind === "region") {
    return s("g", { class: "region", dataset: { region: box.name } },
      s("rect", { class: "region-box", x: box.x, y: box.y, width: box.w, height: box.h }),
      s("text", { class: "region-label", x: box.labelAt.x + 10, y: box.labelAt.y + 15 }, `region ${box.name}`),
      s("title", {}, stateTitle(box)));
  }
  const g = s("g", { class: `state ${box.kind} type-${box.node.type}`, dataset: { state: box.name } },
    s("title", {}, stateTitle(box)),
    s("rect", { class: "box", x: box.x, y: box.y, width: box.w, height: box.h, rx: 12 }),
    s("text", { class: "name", x: box.x + 12, y: box.y + 20 }, box.name));
  if (box.kind === "parallel") {
    g.append(s("text", { class: "badge", x: box.x + box.w - 10, y: box.y + 19, "text-anchor": "end" }, "parallel"));
    for (const l of separators.filter((line) => line.parallel === box.name)) {
      g.append(s("line", { class: "separator", x1: l.x1, y1: l.y1, x2: l.x2, y2: l.y2 }));
    }
  }
  if (box.node.type === "terminal") {
    g.append(s("rect", { class: "box-inner", x: box.x + 4, y: box.y + 4, width: box.w - 8, height: box.h - 8, rx: 9 }));
  }
  return g;
}

function drawLeaf(box) {
  if (box.kind === "history") {
    const r = box.w / 2;
    const cx = box.x + r;
    const name = box.nameBox || { x: box.x, y: box.y + box.h + 2, w: box.w, h: 14 };
    return s("g", { class: "state history", dataset: { state: box.name } },
      s("title", {}, stateTitle(box)),
      s("circle", { class: "box", cx, cy: box.y + r, r }),
      s("text", { class: "name", x: cx, y: box.y + r + 5, "text-anchor": "middle" }, box.node.def.history === "deep" ? "H*" : "H"),
      s("text", { class: "small", x: name.x + name.w / 2, y: name.y + name.h - 3, "text-anchor": "middle" }, box.name));
  }
  const g = s("g", { class: `state leaf type-${box.node.type}`, dataset: { state: box.name } },
    s("title", {}, stateTitle(box)),
    s("rect", { class: "box", x: box.x, y: box.y, width: box.w, height: box.h, rx: 10 }));
  if (box.node.type === "terminal") {
    g.append(s("rect", { class: "box-inner", x: box.x + 4, y: box.y + 4, width: box.w - 8, height: box.h - 8, rx: 7 }));
  }
  g.append(s("text", { class: "name", x: box.x + box.w / 2, y: box.y + box.h / 2 + 4.5, "text-anchor": "middle" }, box.name));
  return g;
}

function drawEdge(e) {
  const from = e.from === "*" ? "any non-terminal state" : e.from;
  const parts = [];
  if (e.origin) {
    parts.push(s("circle", { class: "any-origin", cx: e.origin.x, cy: e.origin.y, r: 3.5, dataset: { transition: e.index, from: e.from } }));
  }
  parts.push(s("path", {
    class: `edge ${e.kind}${e.targetless ? " targetless" : ""}`,
    d: e.path,
    "marker-end": "url(#pystator-arrow)",
    dataset: { transition: e.index, from: e.from, to: e.to },
  }, s("title", {}, `${from} → ${e.to}: ${e.detail || e.label}`)));
  return parts;
}

function drawLabel(e) {
  const r = e.labelBox;
  return s("g", { class: "edge-label", dataset: { transition: e.index, from: e.from } },
    s("rect", { x: r.x, y: r.y, width: r.w, height: r.h, rx: 4 }),
    s("text", { x: r.x + r.w / 2, y: r.y + r.h / 2 + 4, "text-anchor": "middle" }, e.label));
}

/** Draw a finished layout as a new <svg> element. */
export function drawLayout(layout, title = "State diagram") {
  const { width, height, minX, minY } = layout;
  const svg = s("svg", {
    xmlns: "http://www.w3.org/2000/svg",
    viewBox: `${minX} ${minY} ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": title,
    class: "state-diagram",
  });
  svg.append(s("title", {}, title));
  const defs = s("defs");
  for (const [id, cls] of [["arrow", "arrowhead"], ["arrow-taken", "arrowhead taken"]]) {
    defs.append(
      s("marker", { id: `pystator-${id}`, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 8, markerHeight: 8, orient: "auto-start-reverse", markerUnits: "userSpaceOnUse" },
        s("path", { d: "M0,0 L10,5 L0,10 z", class: cls })),
    );
  }
  svg.append(defs);
  svg.append(s("rect", { class: "canvas", x: minX, y: minY, width, height }));

  // Containers outermost first, so inner boxes are drawn over outer ones.
  const sorted = [...layout.containers].sort((a, b) => a.depth - b.depth);
  svg.append(s("g", { class: "containers" }, sorted.map((box) => drawContainer(box, layout.separators))));
  svg.append(s("g", { class: "edges" }, layout.edges.map(drawEdge)));
  svg.append(s("g", { class: "initial-markers" }, layout.markers.map((m) =>
    s("g", { class: "initial-marker", dataset: { initial: m.state } },
      s("circle", { cx: m.x, cy: m.y, r: 5 }),
      s("path", { class: "edge initial", d: m.path, "marker-end": "url(#pystator-arrow)" })))));
  const leaves = [...layout.boxes.values()].filter((b) => b.kind === "leaf" || b.kind === "history");
  svg.append(s("g", { class: "leaves" }, leaves.map(drawLeaf)));
  svg.append(s("g", { class: "labels" }, layout.edges.filter((e) => e.labelBox).map(drawLabel)));
  return svg;
}

/** Lay out and draw `config` (its flow running `direction`); resolves to {svg, layout}. */
export async function renderSvg(config, { title = "State diagram", direction = "RIGHT" } = {}) {
  const layout = await layoutDiagram(config, measureText, runElk, direction);
  return { svg: drawLayout(layout, title), layout };
}

/**
 * The diagram pane: an SVG that follows the definition, with zoom and highlights. Layouts
 * run in a worker, one at a time; while one runs, only the newest definition waits, so the
 * newest always wins and the pane is `aria-busy` until it is drawn.
 */
export class DiagramView {
  constructor() {
    this.scale = null; // null = fit to the pane's width
    this.config = null;
    this.highlightState = { active: [], current: [], taken: [], state: null };
    this.wanted = null; // the newest definition not laid out yet
    this.running = null; // the promise of the layout loop, while it runs
    this.status = h("p", { class: "diagram-status", role: "status" });
    this.holder = h("div", { class: "diagram-holder", tabindex: "0", "aria-label": "State diagram (scrollable)" });
    const zoomOut = h("button", { type: "button", class: "icon", "aria-label": "Zoom out", title: "Zoom out", onclick: () => this.zoom(1 / 1.25) }, "−");
    const zoomIn = h("button", { type: "button", class: "icon", "aria-label": "Zoom in", title: "Zoom in", onclick: () => this.zoom(1.25) }, "+");
    const fit = h("button", { type: "button", class: "icon", title: "Fit to the pane", onclick: () => this.fit() }, "Fit");
    this.toolbar = h("div", { class: "diagram-tools", role: "group", "aria-label": "Zoom" }, zoomOut, zoomIn, fit);
    this.element = h("section", { class: "diagram", "aria-label": "Diagram" }, this.toolbar, this.holder, this.status);
    // A resize rescales the drawing; when the pane's shape calls for the other direction
    // (a phone turned, a window narrowed), the definition is laid out again, after a pause.
    this.relayoutSoon = debounce(() => {
      if (this.config && this.shownDirection && this.direction(this.shownDirection) !== this.shownDirection) {
        this.render(this.config, { stale: this.stale, name: this.name });
      }
    }, 250);
    this.resizeObserver = new ResizeObserver(() => {
      if (this.scale === null) this.applyScale();
      this.relayoutSoon();
    });
    this.resizeObserver.observe(this.holder);
  }

  /** The page is left: stop watching the pane's size and drop the layout waiting to start. */
  destroy() {
    this.destroyed = true;
    this.resizeObserver.disconnect();
    this.relayoutSoon.cancel();
    this.wanted = null;
  }

  /** Draw `config`; resolves once it, or a newer definition, is on the page. */
  render(config, { stale = false, name = "" } = {}) {
    if (this.destroyed) return Promise.resolve();
    this.config = config;
    this.stale = stale;
    this.name = name;
    this.wanted = { config, title: name ? `State diagram of ${name}` : "State diagram" };
    this.element.setAttribute("aria-busy", "true");
    if (!this.svg) this.status.textContent = "Drawing the diagram…";
    if (!this.running) {
      this.running = this.layoutLoop().finally(() => {
        this.running = null;
        this.element.removeAttribute("aria-busy");
      });
    }
    return this.running;
  }

  async layoutLoop() {
    while (this.wanted) {
      const job = this.wanted;
      this.wanted = null;
      const direction = this.direction(this.shownDirection);
      let drawn;
      try {
        drawn = await renderSvg(job.config, { title: job.title, direction });
      } catch (err) {
        if (!this.wanted && !this.destroyed) this.status.textContent = `The diagram could not be drawn: ${err.message}`;
        continue;
      }
      if (!this.wanted && !this.destroyed) { // a newer definition waits: skip this one
        this.shownDirection = direction;
        this.element.dataset.direction = direction;
        this.show(drawn);
      }
    }
  }

  /**
   * Down in a narrow pane (a phone), else to the right: what fits the pane best. With the
   * `current` direction, it changes only once the pane is clearly of the other shape (no
   * back and forth when a scroll bar comes and goes near the limit).
   */
  direction(current = null) {
    const width = this.holder.clientWidth || 700;
    const height = Math.max(320, Math.min(window.innerHeight - 220, 900));
    const limit = current === "DOWN" ? 0.85 : current === "RIGHT" ? 0.75 : 0.8;
    return width / height < limit ? "DOWN" : "RIGHT";
  }

  show({ svg, layout }) {
    this.svg = svg;
    this.layout = layout;
    clear(this.holder);
    if (layout.empty) {
      this.holder.append(h("p", { class: "empty" }, "No states yet: add one in the builder or the editor."));
    } else {
      this.holder.append(svg);
    }
    this.markStale(this.stale); // the text may have stopped parsing while this was laid out
    this.applyScale();
    this.highlight(this.highlightState);
  }

  markStale(stale) {
    this.stale = stale;
    this.element.classList.toggle("stale", stale);
    this.status.textContent = stale ? STALE : "";
  }

  applyScale() {
    if (!this.svg || !this.layout) return;
    let scale = this.scale;
    if (scale === null) {
      const available = Math.max(200, this.holder.clientWidth - 8);
      scale = Math.min(1, available / this.layout.width);
      scale = Math.max(scale, 0.5);
    }
    this.svg.setAttribute("width", String(Math.round(this.layout.width * scale)));
    this.svg.setAttribute("height", String(Math.round(this.layout.height * scale)));
    this.currentScale = scale;
  }

  zoom(factor) {
    const base = this.currentScale || 1;
    this.scale = Math.min(3, Math.max(0.2, base * factor));
    this.applyScale();
  }

  fit() {
    this.scale = null;
    this.applyScale();
  }

  /**
   * Mark the active configuration `state`: `active` states and regions (containers
   * included), `current` leaves, and the transitions `taken` by the last step
   * ([{index, from}], taken.js): of a transition with several sources, the edges from
   * `from` only.
   */
  highlight({ active = [], current = [], taken = [], state = null } = {}) {
    this.highlightState = { active, current, taken, state };
    if (!this.svg) return;
    const activeSet = new Set(active);
    const currentSet = new Set(current);
    const takenFrom = new Map(taken.map((t) => [String(t.index), new Set(t.from)]));
    for (const g of this.svg.querySelectorAll("[data-state]")) {
      g.classList.toggle("active", activeSet.has(g.dataset.state));
      g.classList.toggle("current", currentSet.has(g.dataset.state));
    }
    for (const g of this.svg.querySelectorAll("[data-region]")) {
      g.classList.toggle("active", activeSet.has(g.dataset.region));
    }
    for (const el of this.svg.querySelectorAll("[data-transition]")) {
      const from = takenFrom.get(el.dataset.transition);
      const isTaken = Boolean(from && from.has(el.dataset.from));
      el.classList.toggle("taken", isTaken);
      if (el.tagName === "path") el.setAttribute("marker-end", isTaken ? "url(#pystator-arrow-taken)" : "url(#pystator-arrow)");
    }
  }

  /** A standalone SVG document (styles embedded) of the diagram as shown, highlights included. */
  async exportSvg() {
    if (this.running) await this.running;
    if (!this.svg || !this.layout || this.layout.empty) throw new Error("there is no diagram on the page");
    const copy = this.svg.cloneNode(true);
    copy.setAttribute("width", String(this.layout.width));
    copy.setAttribute("height", String(this.layout.height));
    const response = await fetch("/ui/assets/css/diagram.css");
    if (!response.ok) throw new Error(`its styles did not load (HTTP ${response.status})`);
    const css = await response.text();
    const style = document.createElementNS("http://www.w3.org/2000/svg", "style");
    style.textContent = css;
    copy.insertBefore(style, copy.firstChild);
    return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(copy)}\n`;
  }
}
