"""What a drawn diagram's labels cover, read in the browser (``GEOMETRY``, a script for
Selenium's ``execute_script``) and checked here (``covered``): the checks of
``test_ui_diagram_browser.py``."""

from __future__ import annotations

from typing import Any

# Every box in the SVG's own coordinates (getBBox): the labels, what a label must not cover
# (a state's box, a history state's name, a compound state's title band, a region's label),
# and the lines of the edges (the numbers of each path's `d`, as points).
GEOMETRY = """
const svg = document.querySelector('.diagram svg');
const bb = (el) => { const b = el.getBBox(); return {x: b.x, y: b.y, w: b.width, h: b.height}; };
const view = svg.viewBox.baseVal;
const labels = [...svg.querySelectorAll('.labels .edge-label')].map((g) => ({
  what: `label "${g.textContent}"`, ...bb(g.querySelector('rect')) }));
const solids = [];
for (const g of svg.querySelectorAll('.leaves [data-state]')) {
  solids.push({what: `state ${g.dataset.state}`, ...bb(g.querySelector('.box'))});
  for (const t of g.querySelectorAll('text.small')) {
    solids.push({what: `the name of ${g.dataset.state}`, ...bb(t)});
  }
}
for (const g of svg.querySelectorAll('.containers [data-state]')) {
  const box = bb(g.querySelector(':scope > rect.box'));
  const title = [...g.querySelectorAll(':scope > text')].map(bb);
  const bottom = Math.max(...title.map((t) => t.y + t.h)) + 4;
  solids.push({what: `the title of ${g.dataset.state}`, x: box.x, y: box.y, w: box.w,
               h: bottom - box.y});
}
for (const g of svg.querySelectorAll('.containers [data-region]')) {
  solids.push({what: `the label of region ${g.dataset.region}`, ...bb(g.querySelector('text'))});
}
const lines = [...svg.querySelectorAll('path.edge')].map((p) => {
  const n = (p.getAttribute('d').match(/-?[0-9.]+/g) || []).map(Number);
  const points = [];
  for (let i = 0; i + 1 < n.length; i += 2) points.push([n[i], n[i + 1]]);
  return {what: `the line of ${p.dataset.transition ? 'transition ' + p.dataset.transition
                                                    : 'a start marker'}`, points};
});
return {labels, solids, lines, view: {x: view.x, y: view.y, w: view.width, h: view.height}};
"""


def overlap(a: dict[str, float], b: dict[str, float], tolerance: float = 0.5) -> bool:
    return (
        a["x"] + tolerance < b["x"] + b["w"]
        and b["x"] + tolerance < a["x"] + a["w"]
        and a["y"] + tolerance < b["y"] + b["h"]
        and b["y"] + tolerance < a["y"] + a["h"]
    )


def crosses(p: list[float], q: list[float], box: dict[str, Any], inset: float = 1.0) -> bool:
    """Whether the segment p-q passes through ``box`` shrunk by ``inset`` (Liang-Barsky)."""
    x0, y0 = box["x"] + inset, box["y"] + inset
    x1, y1 = box["x"] + box["w"] - inset, box["y"] + box["h"] - inset
    dx, dy = q[0] - p[0], q[1] - p[1]
    low, high = 0.0, 1.0
    for step, room in ((-dx, p[0] - x0), (dx, x1 - p[0]), (-dy, p[1] - y0), (dy, y1 - p[1])):
        if step == 0:
            if room < 0:
                return False
            continue
        t = room / step
        if step < 0:
            low = max(low, t)
        else:
            high = min(high, t)
        if low > high:
            return False
    return True


def covered(geometry: dict[str, Any]) -> list[str]:
    """Every label that overlaps another label, a state, a title or a line, or lies outside
    the drawing."""
    labels, found = geometry["labels"], []
    view = geometry["view"]
    for i, label in enumerate(labels):
        found += [
            f"{label['what']} covers {o['what']}" for o in labels[i + 1 :] if overlap(label, o)
        ]
        found += [
            f"{label['what']} covers {s['what']}" for s in geometry["solids"] if overlap(label, s)
        ]
        for line in geometry["lines"]:
            pairs = zip(line["points"], line["points"][1:], strict=False)
            if any(crosses(p, q, label) for p, q in pairs):
                found.append(f"{label['what']} is crossed by {line['what']}")
        if not (
            label["x"] >= view["x"]
            and label["y"] >= view["y"]
            and label["x"] + label["w"] <= view["x"] + view["w"]
            and label["y"] + label["h"] <= view["y"] + view["h"]
        ):
            found.append(f"{label['what']} lies outside the drawing")
    return found
