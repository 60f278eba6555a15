// Draw a layout (layout.js) as SVG, highlight states and transitions, zoom, export.

import { h, s, clear } from "./dom.js";
import { layoutDiagram, METRICS } from "./layout.js";
import { actionName, asList } from "./definition.js";

const FONT_FAMILY = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', Arial, sans-serif";
const FONTS = {
  state: `600 13px ${FONT_FAMILY}`,
  label: `12px ${FONT_FAMILY}`,
  small: `11px ${FONT_FAMILY}`,
};

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
  if (!node) return "Transitions from any non-terminal state";
  const lines = [`${node.kind === "region" ? "Region" : "State"} ${node.name}`];
  if (node.kind === "state") lines.push(`type: ${node.type}`);
  const def = node.def || {};
  if (typeof def.description === "string") lines.push(def.description);
  const names = (list) => asList(list).map(actionName).join(", ");
  if (names(def.on_enter)) lines.push(`on enter: ${names(def.on_enter)}`);
  if (names(def.on_exit)) lines.push(`on exit: ${names(def.on_exit)}`);
  return lines.join("\n");
}

/** Render `config` into a new <svg> element; returns {svg, layout}. */
export function renderSvg(config, { title = "State diagram", aspect = 1.3 } = {}) {
  const layout = layoutDiagram(config, measureText, { aspect });
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

  // Containers, outermost first.
  const gContainers = s("g", { class: "containers" });
  const sorted = [...layout.containers].sort((a, b) => a.depth - b.depth);
  for (const box of sorted) {
    if (box.kind === "region") {
      const g = s("g", { class: "region", dataset: { region: box.name } },
        s("rect", { class: "region-box", x: box.x, y: box.y, width: box.w, height: box.h }),
        s("text", { class: "region-label", x: box.x + 10, y: box.y + 16 }, `region ${box.name}`),
        s("title", {}, stateTitle(box)));
      gContainers.append(g);
      continue;
    }
    const g = s("g", { class: `state ${box.kind} type-${box.node.type}`, dataset: { state: box.name } });
    g.append(s("title", {}, stateTitle(box)));
    g.append(s("rect", { class: "box", x: box.x, y: box.y, width: box.w, height: box.h, rx: 12 }));
    g.append(s("text", { class: "name", x: box.x + 12, y: box.y + 19 }, box.name));
    if (box.kind === "parallel") {
      g.append(s("text", { class: "badge", x: box.x + box.w - 10, y: box.y + 18, "text-anchor": "end" }, "parallel"));
      const regions = layout.containers.filter((c) => c.kind === "region" && c.node.parent === box.name).sort((a, b) => a.x - b.x);
      for (const r of regions.slice(1)) {
        g.append(s("line", { class: "separator", x1: r.x, y1: box.y + METRICS.header, x2: r.x, y2: box.y + box.h - 6 }));
      }
    }
    if (box.node.type === "terminal") {
      g.append(s("rect", { class: "box-inner", x: box.x + 4, y: box.y + 4, width: box.w - 8, height: box.h - 8, rx: 9 }));
    }
    gContainers.append(g);
  }
  svg.append(gContainers);

  const gEdges = s("g", { class: "edges" });
  for (const e of layout.edges) {
    if (e.origin) {
      gEdges.append(s("circle", { class: "any-origin", cx: e.origin.x, cy: e.origin.y, r: 3.5, dataset: { transition: e.index } }));
    }
    gEdges.append(
      s("path", {
        class: `edge ${e.kind}${e.targetless ? " targetless" : ""}`,
        d: e.path,
        "marker-end": "url(#pystator-arrow)",
        dataset: { transition: e.index, from: e.from, to: e.to },
      }, s("title", {}, `${e.from === "*" ? "any non-terminal state" : e.from} → ${e.to}: ${e.detail || e.label}`)),
    );
  }
  svg.append(gEdges);

  const gMarkers = s("g", { class: "initial-markers" });
  for (const m of layout.markers) {
    gMarkers.append(
      s("g", { class: "initial-marker", dataset: { initial: m.state } },
        s("circle", { cx: m.x, cy: m.y, r: 5 }),
        s("path", {
          class: "edge initial",
          d: m.ty > m.y + 1 ? `M${m.x},${m.y + 5} L${m.tx},${m.ty}` : `M${m.x + 5},${m.y} L${m.tx},${m.ty}`,
          "marker-end": "url(#pystator-arrow)",
        })),
    );
  }
  svg.append(gMarkers);

  const gLeaves = s("g", { class: "leaves" });
  for (const box of layout.boxes.values()) {
    if (box.kind === "history") {
      const r = METRICS.historySize / 2;
      const cx = box.x + box.w / 2;
      const deep = box.node.def.history === "deep";
      gLeaves.append(
        s("g", { class: "state history", dataset: { state: box.name } },
          s("title", {}, stateTitle(box)),
          s("circle", { class: "box", cx, cy: box.y + r, r }),
          s("text", { class: "name", x: cx, y: box.y + r + 5, "text-anchor": "middle" }, deep ? "H*" : "H"),
          s("text", { class: "small", x: cx, y: box.y + 2 * r + 12, "text-anchor": "middle" }, box.name)),
      );
    } else if (box.kind === "leaf") {
      const g = s("g", { class: `state leaf type-${box.node.type}`, dataset: { state: box.name } },
        s("title", {}, stateTitle(box)),
        s("rect", { class: "box", x: box.x, y: box.y, width: box.w, height: box.h, rx: 10 }));
      if (box.node.type === "terminal") {
        g.append(s("rect", { class: "box-inner", x: box.x + 4, y: box.y + 4, width: box.w - 8, height: box.h - 8, rx: 7 }));
      }
      g.append(s("text", { class: "name", x: box.x + box.w / 2, y: box.y + box.h / 2 + 4.5, "text-anchor": "middle" }, box.name));
      gLeaves.append(g);
    }
  }
  svg.append(gLeaves);

  const gLabels = s("g", { class: "labels" });
  for (const e of layout.edges) {
    const r = e.labelBox;
    gLabels.append(
      s("g", { class: "edge-label", dataset: { transition: e.index } },
        s("rect", { x: r.x, y: r.y, width: r.w, height: r.h, rx: 4 }),
        s("text", { x: r.x + r.w / 2, y: r.y + r.h / 2 + 4, "text-anchor": "middle" }, e.label)),
    );
  }
  svg.append(gLabels);
  return { svg, layout };
}

/** The diagram pane: an SVG that follows the definition, with zoom and highlights. */
export class DiagramView {
  constructor() {
    this.scale = null; // null = fit to the pane's width
    this.config = null;
    this.highlightState = { active: [], current: [], transition: null };
    this.status = h("p", { class: "diagram-status", role: "status" });
    this.holder = h("div", { class: "diagram-holder", tabindex: "0", "aria-label": "State diagram (scrollable)" });
    const zoomOut = h("button", { type: "button", class: "icon", "aria-label": "Zoom out", title: "Zoom out", onclick: () => this.zoom(1 / 1.25) }, "−");
    const zoomIn = h("button", { type: "button", class: "icon", "aria-label": "Zoom in", title: "Zoom in", onclick: () => this.zoom(1.25) }, "+");
    const fit = h("button", { type: "button", class: "icon", title: "Fit to the pane", onclick: () => this.fit() }, "Fit");
    this.toolbar = h("div", { class: "diagram-tools", role: "group", "aria-label": "Zoom" }, zoomOut, zoomIn, fit);
    this.element = h("section", { class: "diagram", "aria-label": "Diagram" }, this.toolbar, this.holder, this.status);
    this.resizeObserver = new ResizeObserver(() => {
      if (this.scale === null) this.applyScale();
    });
    this.resizeObserver.observe(this.holder);
  }

  render(config, { stale = false, name = "" } = {}) {
    this.config = config;
    const { svg, layout } = renderSvg(config, { title: name ? `State diagram of ${name}` : "State diagram", aspect: this.aspect() });
    this.svg = svg;
    this.layout = layout;
    clear(this.holder);
    if (layout.empty) {
      this.holder.append(h("p", { class: "empty" }, "No states yet: add one in the builder or the editor."));
    } else {
      this.holder.append(svg);
    }
    this.element.classList.toggle("stale", stale);
    this.status.textContent = stale ? "The text does not parse: the diagram shows the last version that did." : "";
    this.applyScale();
    this.highlight(this.highlightState);
  }

  /** Width over height of the space the diagram can use (the layout aims for it). */
  aspect() {
    const width = this.holder.clientWidth || 700;
    const height = Math.max(320, Math.min(window.innerHeight - 220, 900));
    return Math.min(2.5, Math.max(0.6, width / height));
  }

  markStale(stale) {
    this.element.classList.toggle("stale", stale);
    this.status.textContent = stale ? "The text does not parse: the diagram shows the last version that did." : "";
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

  /** Mark active states, the current leaves and the transition just taken. */
  highlight({ active = [], current = [], transition = null } = {}) {
    this.highlightState = { active, current, transition };
    if (!this.svg) return;
    const activeSet = new Set(active);
    const currentSet = new Set(current);
    for (const g of this.svg.querySelectorAll("[data-state]")) {
      g.classList.toggle("active", activeSet.has(g.dataset.state));
      g.classList.toggle("current", currentSet.has(g.dataset.state));
    }
    for (const g of this.svg.querySelectorAll("[data-region]")) {
      g.classList.toggle("active", activeSet.has(g.dataset.region));
    }
    for (const el of this.svg.querySelectorAll("[data-transition]")) {
      const taken = transition !== null && el.dataset.transition === String(transition);
      el.classList.toggle("taken", taken);
      if (el.tagName === "path") el.setAttribute("marker-end", taken ? "url(#pystator-arrow-taken)" : "url(#pystator-arrow)");
    }
  }

  /** A standalone SVG document (styles embedded) of the current diagram. */
  async exportSvg() {
    if (!this.svg) return "";
    const copy = this.svg.cloneNode(true);
    copy.setAttribute("width", String(this.layout.width));
    copy.setAttribute("height", String(this.layout.height));
    const css = await fetch("/ui/assets/css/diagram.css").then((r) => r.text());
    const style = document.createElementNS("http://www.w3.org/2000/svg", "style");
    style.textContent = css;
    copy.insertBefore(style, copy.firstChild);
    return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(copy)}\n`;
  }
}
