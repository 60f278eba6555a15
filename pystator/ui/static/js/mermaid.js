// Mermaid (stateDiagram-v2) text of a definition: compound states as nested `state X { }`
// blocks, parallel regions separated by `--`, `[*]` for initial and terminal states.

import { buildTree, startChild, transitionsOf, delayLabel } from "./definition.js";

const ANY_ID = "ANY_STATE";

function clean(label) {
  // ':' ends a Mermaid label's start, ';' ends a statement, '#' starts an entity code.
  return label.replace(/[:;#]/g, " ").replace(/\s+/g, " ").trim();
}

export function toMermaid(config) {
  const tree = buildTree(config);
  const lines = ["stateDiagram-v2"];
  const meta = config && config.meta;
  if (meta && typeof meta.machine_name === "string") lines.unshift(`---\ntitle: ${clean(meta.machine_name)}\n---`);

  const writeContainer = (container, kids, indent) => {
    const pad = "    ".repeat(indent);
    const start = startChild(config, tree, container);
    if (start) lines.push(`${pad}[*] --> ${start.name}`);
    for (const kid of kids) writeState(kid, indent);
    for (const kid of kids) {
      if (kid.kind === "state" && kid.type === "terminal") lines.push(`${pad}${kid.name} --> [*]`);
    }
  };

  const writeState = (node, indent) => {
    const pad = "    ".repeat(indent);
    if (node.type === "history") {
      const deep = node.def.history === "deep";
      lines.push(`${pad}state "${deep ? "H*" : "H"} ${node.name}" as ${node.name}`);
      return;
    }
    const regions = node.children.filter((c) => c.kind === "region");
    const states = node.children.filter((c) => c.kind === "state");
    if (typeof node.def.description === "string") {
      lines.push(`${pad}${node.name} : ${clean(node.def.description)}`);
    }
    if (regions.length) {
      lines.push(`${pad}state ${node.name} {`);
      regions.forEach((region, i) => {
        if (i > 0) lines.push(`${pad}    --`);
        lines.push(`${pad}    %% region ${region.name}`);
        writeContainer(region, region.children, indent + 1);
      });
      // A history state directly in the parallel state belongs to no region: a section of
      // its own (as pystator.diagram draws it).
      if (states.length) {
        lines.push(`${pad}    --`);
        for (const kid of states) writeState(kid, indent + 1);
      }
      lines.push(`${pad}}`);
    } else if (states.length) {
      lines.push(`${pad}state ${node.name} {`);
      writeContainer(node, node.children, indent + 1);
      lines.push(`${pad}}`);
    }
  };

  writeContainer(null, tree.roots, 1);
  const edges = transitionsOf(config);
  if (edges.some((e) => e.sources.includes("*"))) {
    lines.push(`    state "any state" as ${ANY_ID}`);
  }
  for (const e of edges) {
    for (const src of e.sources) {
      const from = src === "*" ? ANY_ID : src;
      const to = e.dest || src;
      if (src !== "*" && !tree.nodes.has(src)) continue;
      if (!tree.nodes.has(to)) continue;
      lines.push(`    ${from} --> ${to} : ${clean(e.diagramLabel)}`);
    }
  }
  for (const node of tree.order) {
    const timeout = node.kind === "state" && node.def.timeout;
    if (timeout && typeof timeout === "object" && tree.nodes.has(timeout.destination)) {
      lines.push(`    ${node.name} --> ${timeout.destination} : timeout ${clean(delayLabel(`${timeout.seconds}s`))}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/**
 * `text` (a stateDiagram-v2) with a configuration highlighted, as the diagram shows it: the
 * active leaves get `classDef current`, the states around them `classDef active`, and
 * comments name the configuration and the transitions the last step took ([{index, from}],
 * taken.js; Mermaid's state diagrams cannot style one transition). Regions are not Mermaid states: they are left out.
 */
export function highlightMermaid(text, config, { active = [], current = [], taken = [], state = null } = {}) {
  const tree = buildTree(config);
  const isState = (name) => tree.nodes.has(name) && tree.nodes.get(name).kind === "state";
  const leaves = current.filter(isState);
  const around = active.filter((name) => isState(name) && !leaves.includes(name));
  if (!leaves.length && !around.length) return text;
  const lines = [];
  if (state) lines.push(`    %% active configuration: ${clean(state)}`);
  const edges = transitionsOf(config);
  for (const { index, from } of taken) {
    const e = edges.find((edge) => edge.index === index);
    if (e) lines.push(`    %% last step took: ${from.join(", ")} --> ${e.dest || from.join(", ")} : ${clean(e.diagramLabel)}`);
  }
  lines.push("    classDef active fill:#eff6ff,stroke:#2563eb,stroke-width:2px");
  lines.push("    classDef current fill:#2563eb,color:#ffffff,stroke:#1e3a8a,stroke-width:3px");
  if (around.length) lines.push(`    class ${around.join(",")} active`);
  if (leaves.length) lines.push(`    class ${leaves.join(",")} current`);
  return `${text.replace(/\n*$/, "\n")}${lines.join("\n")}\n`;
}
