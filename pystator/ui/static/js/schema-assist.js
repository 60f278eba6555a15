// Completion and hover documentation for the definition editor, from the JSON Schema that
// `pystator schema` prints (served at /ui/api/schema) and, where the schema cannot know, the
// names the definition itself declares: its states and regions, and its triggers.

import { parseDocument } from "../vendor/codemirror/codemirror.js";
import { request } from "./api.js";
import { buildTree, asList } from "./definition.js";
import { contextAt, keyAt } from "./text-paths.js";

const ITEM = "[]";
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

// Values and keys that name something of the definition: a path pattern ("**" = anywhere
// below the root) and what it names.
const NAMED_VALUES = [
  [["meta", "initial"], "state"],
  [["transitions", ITEM, "source"], "state"],
  [["transitions", ITEM, "source", ITEM], "state"],
  [["transitions", ITEM, "dest"], "state"],
  [["transitions", ITEM, "region"], "region"],
  [["transitions", ITEM, "trigger"], "trigger"],
  [["**", "states", ITEM, "parent"], "parent"],
  [["**", "states", ITEM, "initial_child"], "state"],
  [["**", "states", ITEM, "default"], "state"],
  [["**", "states", ITEM, "timeout", "destination"], "state"],
  [["**", "regions", ITEM, "initial"], "state"],
  [["**", ITEM, "raise"], "trigger"],
];
const NAMED_KEYS = [
  [["events"], "trigger"],
  [["context", "required_in_states"], "state"],
];

function matches(pattern, path) {
  if (pattern[0] === "**") {
    const tail = pattern.slice(1);
    return path.length >= tail.length && tail.every((seg, i) => path[path.length - tail.length + i] === seg);
  }
  return pattern.length === path.length && pattern.every((seg, i) => path[i] === seg);
}

function namedKind(rules, path) {
  const found = rules.find(([pattern]) => matches(pattern, path));
  return found ? found[1] : null;
}

// ------------------------------------------------------------------------------ the schema
export class SchemaIndex {
  constructor(schema) {
    this.root = schema;
    this.defs = schema.$defs || {};
  }

  deref(node) {
    let seen = 0;
    while (isObject(node) && typeof node.$ref === "string" && seen < 20) {
      const name = node.$ref.replace(/^#\/\$defs\//, "");
      node = this.defs[name];
      seen += 1;
    }
    return isObject(node) ? node : null;
  }

  /** The alternatives a schema node stands for ($ref and anyOf/oneOf resolved). */
  branches(node) {
    const resolved = this.deref(node);
    if (!resolved) return [];
    const options = resolved.anyOf || resolved.oneOf;
    if (Array.isArray(options)) return options.flatMap((o) => this.branches(o));
    return [resolved];
  }

  children(node, seg) {
    const out = [];
    for (const b of this.branches(node)) {
      if (seg === ITEM) {
        if (isObject(b.items)) out.push(b.items);
        continue;
      }
      if (isObject(b.properties) && b.properties[seg]) {
        out.push(b.properties[seg]);
        continue;
      }
      const patterns = isObject(b.patternProperties) ? Object.entries(b.patternProperties) : [];
      const pattern = patterns.find(([re]) => {
        try {
          return new RegExp(re).test(seg);
        } catch {
          return false;
        }
      });
      if (pattern) out.push(pattern[1]);
      else if (isObject(b.additionalProperties)) out.push(b.additionalProperties);
    }
    return out;
  }

  /** The schema nodes at `path` (unresolved: a property keeps its own description). */
  at(path) {
    let nodes = [this.root];
    for (const seg of path) {
      nodes = nodes.flatMap((n) => this.children(n, seg));
      if (!nodes.length) break;
    }
    return nodes;
  }

  /** Every key the mappings at `path` may have, in the schema's order. */
  keys(path) {
    const keys = new Map();
    for (const node of this.at(path)) {
      for (const b of this.branches(node)) {
        if (!isObject(b.properties)) continue;
        const required = new Set(asList(b.required));
        for (const [name, schema] of Object.entries(b.properties)) {
          if (!keys.has(name)) keys.set(name, { name, schema, required: required.has(name) });
        }
      }
    }
    return [...keys.values()];
  }

  /** The values the schema allows at `path` from a fixed set (enum, const, booleans). */
  values(path) {
    const values = new Map();
    for (const node of this.at(path)) {
      for (const b of this.branches(node)) {
        for (const v of asList(b.enum)) values.set(String(v), { value: v, schema: node });
        if (b.const !== undefined) values.set(String(b.const), { value: b.const, schema: node });
        if (b.type === "boolean") {
          values.set("true", { value: true, schema: node });
          values.set("false", { value: false, schema: node });
        }
      }
    }
    return [...values.values()];
  }

  /** A short name for the type of a schema node: `string`, `list of Transition`... */
  typeLabel(node, depth = 0) {
    const labels = new Set();
    for (const b of this.branches(node)) {
      if (depth < 2 && b.type === "array" && b.items) labels.add(`list of ${this.typeLabel(b.items, depth + 1)}`);
      else if (b.enum) labels.add("one of the values below");
      else if (b.const !== undefined) labels.add(JSON.stringify(b.const));
      else if (b.title && b.type === "object" && b.properties) labels.add(b.title);
      else if (b.type) labels.add(b.type === "object" ? "mapping" : b.type);
    }
    return [...labels].join(" or ") || "any value";
  }

  /** The documentation of the value at `path`: {title, type, description, values, default}. */
  describe(path) {
    const nodes = this.at(path);
    if (!nodes.length) return null;
    const node = nodes[0];
    const own = isObject(node) ? node : {};
    const resolved = this.branches(node)[0] || {};
    const values = this.values(path).map((v) => v.value).filter((v) => typeof v !== "boolean");
    return {
      title: path[path.length - 1],
      type: this.typeLabel(node),
      description: own.description || resolved.description || "",
      values,
      default: own.default,
    };
  }
}

/** After the schema could not be loaded, how long (ms) before it is asked for again. */
export const SCHEMA_RETRY_MS = 10000;

let schemaPromise = null;
let schemaFailedAt = -Infinity;

/**
 * The machine schema, asked for once per page (/ui/api/schema). When it cannot be loaded
 * (the server is down), completion and hover go without it, and it is asked for again only
 * SCHEMA_RETRY_MS later, not on every keystroke.
 */
export function loadSchema() {
  if (!schemaPromise) {
    if (performance.now() - schemaFailedAt < SCHEMA_RETRY_MS) {
      return Promise.reject(new Error("the schema could not be loaded; asked again shortly"));
    }
    schemaPromise = request("GET", "/ui/api/schema").then((schema) => new SchemaIndex(schema), (err) => {
      schemaPromise = null;
      schemaFailedAt = performance.now();
      throw err;
    });
  }
  return schemaPromise;
}

// ------------------------------------------------------------------------------ names

function triggersOf(data, tree) {
  const triggers = new Set();
  for (const t of asList(data.transitions)) {
    if (isObject(t) && typeof t.trigger === "string" && t.trigger) triggers.add(t.trigger);
  }
  if (isObject(data.events)) Object.keys(data.events).forEach((k) => triggers.add(k));
  const raised = (items) => asList(items).forEach((a) => {
    if (isObject(a) && typeof a.raise === "string" && a.raise) triggers.add(a.raise);
  });
  for (const t of asList(data.transitions)) if (isObject(t)) raised(t.actions);
  for (const node of tree.order) {
    if (node.kind !== "state") continue;
    raised(node.def.on_enter);
    raised(node.def.on_exit);
    // Compound and parallel states are done at some point: done.state.X can be a trigger.
    if (node.children.length) triggers.add(`done.state.${node.name}`);
  }
  return [...triggers];
}

/**
 * A reader of the state, region and trigger names of a definition's text, for one editor.
 * Text being typed often does not parse: then what parses is read, with the names of the
 * last text of this editor that parsed (another editor's, or an earlier page's, never).
 */
export function namesReader() {
  let lastNames = { text: null, names: { state: [], region: [], trigger: [] } };
  return (text) => {
    const found = namesIn(text, lastNames);
    if (found.clean) lastNames = { text, names: found.names };
    return found.names;
  };
}

/** The names of `text` ({names, clean}: clean when it parsed); `last`: the last clean ones. */
function namesIn(text, last) {
  if (last.text === text) return { names: last.names, clean: true };
  let data = null;
  let clean = false;
  try {
    const doc = parseDocument(text, { uniqueKeys: false });
    data = doc.toJS({ maxAliasCount: 50 });
    clean = !doc.errors.length;
  } catch {
    data = null;
  }
  const names = { state: [], region: [], trigger: [] };
  if (isObject(data)) {
    const tree = buildTree(data);
    names.state = tree.order.filter((n) => n.kind === "state").map((n) => n.name);
    names.region = tree.order.filter((n) => n.kind === "region").map((n) => n.name);
    names.trigger = triggersOf(data, tree);
  }
  if (!clean) {
    for (const kind of Object.keys(names)) {
      names[kind] = [...new Set([...names[kind], ...last.names[kind]])];
    }
  }
  return { names, clean };
}

function namesFor(kind, names) {
  if (kind === "parent") return [...names.state.map((n) => [n, "state"]), ...names.region.map((n) => [n, "region"])];
  return names[kind].map((n) => [n, kind]);
}

// ------------------------------------------------------------------------------ completion
function infoNode(doc) {
  return () => {
    const box = document.createElement("div");
    box.className = "schema-doc";
    const type = document.createElement("div");
    type.className = "schema-doc-type";
    type.textContent = doc.type;
    box.append(type);
    if (doc.description) {
      const p = document.createElement("p");
      p.textContent = doc.description;
      box.append(p);
    }
    return box;
  };
}

const WORD_CHAR = /[A-Za-z0-9_.*-]/;

/**
 * What a key completion writes: `key: `, or `key:` and the start of its list or mapping; just
 * the key when a colon follows already (a key being renamed).
 */
function keyInsert(index, key, ctx, format) {
  return (textAfter) => {
    const hasColon = /^\s*:/.test(textAfter);
    if (format === "json") return hasColon ? `"${key.name}"` : `"${key.name}": `;
    if (hasColon) return key.name;
    const branches = key.schema ? index.branches(key.schema) : [];
    const kinds = new Set(branches.map((b) => b.type));
    const pad = " ".repeat(ctx.indent + 2);
    if (kinds.size === 1 && kinds.has("array")) {
      const objects = index.branches(branches[0].items).some((b) => b.type === "object");
      return objects ? `${key.name}:\n${pad}- ` : `${key.name}: `;
    }
    if (kinds.size === 1 && kinds.has("object")) return `${key.name}:\n${pad}`;
    return `${key.name}: `;
  };
}

/**
 * A completion's `apply`: replace the word being typed (from CodeMirror's from..to, which
 * follow later typing) with its rest, the opening quote before it and the closing quote after
 * it. `insert` is the text, or a function of the text that follows.
 */
function applyText(insert, ctx) {
  const lead = ctx.replaceFrom !== undefined ? ctx.from - ctx.replaceFrom : 0;
  return (view, completion, from, to) => {
    const doc = view.state.doc;
    const start = from - lead;
    let end = to;
    while (end < doc.length && WORD_CHAR.test(doc.sliceString(end, end + 1))) end += 1;
    if (ctx.quoted && doc.sliceString(end, end + 1) === ctx.quoted) end += 1;
    const text = typeof insert === "function" ? insert(doc.sliceString(end, end + 3)) : insert;
    view.dispatch({
      changes: { from: start, to: end, insert: text },
      selection: { anchor: start + text.length },
      userEvent: "input.complete",
      scrollIntoView: true,
    });
  };
}

function keyOptions(index, ctx, format, state, namesOf) {
  const options = [];
  index.keys(ctx.path).forEach((key, i) => {
    if (ctx.siblings && ctx.siblings.has(key.name)) return;
    const doc = index.describe([...ctx.path, key.name]);
    options.push({
      label: key.name,
      type: "property",
      detail: doc.type + (key.required ? " · required" : ""),
      info: infoNode(doc),
      boost: 60 - i,
      apply: applyText(keyInsert(index, key, ctx, format), ctx),
    });
  });
  const named = namedKind(NAMED_KEYS, ctx.path);
  if (named) {
    const names = namesOf(state.doc.toString());
    for (const [name, kind] of namesFor(named, names)) {
      if (ctx.siblings && ctx.siblings.has(name)) continue;
      const key = { name, schema: index.at([...ctx.path, name])[0] };
      options.push({ label: name, type: "variable", detail: kind, apply: applyText(keyInsert(index, key, ctx, format), ctx) });
    }
  }
  return options;
}

function valueText(value, ctx, format) {
  const text = String(value);
  if (ctx.quoted) return `${ctx.quoted}${text}${ctx.quoted}`;
  if (format === "json") return typeof value === "string" ? JSON.stringify(value) : text;
  // YAML: quote what would otherwise read as another type ("false", "*", "1.0").
  if (typeof value === "string" && (/^(true|false|yes|no|on|off|null|~)$/i.test(text) || /^[*&!%@`|>]/.test(text) || /^[\d.+-]/.test(text))) {
    return JSON.stringify(text);
  }
  return text;
}

function valueOptions(index, ctx, format, state, namesOf) {
  const options = [];
  const seen = new Set();
  const add = (option) => {
    if (seen.has(option.label)) return;
    seen.add(option.label);
    options.push(option);
  };
  const named = namedKind(NAMED_VALUES, ctx.path);
  if (named) {
    const names = namesOf(state.doc.toString());
    // In the definition's order (boosts rank before the alphabet).
    namesFor(named, names).forEach(([name, kind], i) => {
      const boost = Math.max(1, 90 - i);
      add({ label: name, type: "variable", detail: kind, boost, apply: applyText(valueText(name, ctx, format), ctx) });
    });
  }
  for (const { value } of index.values(ctx.path)) {
    add({ label: String(value), type: "enum", apply: applyText(valueText(value, ctx, format), ctx) });
  }
  return options;
}

/**
 * A CodeMirror completion source: keys of the mapping being written, or values of the key
 * being written (the schema's choices, and the definition's own names). One per editor: it
 * remembers the names of that editor's text.
 */
export function completionSource(getFormat) {
  const namesOf = namesReader();
  return async (context) => {
    const { state, pos } = context;
    const format = getFormat();
    const ctx = contextAt(state.doc.toString(), pos, format);
    if (!ctx) return null;
    // Only when asked (Ctrl+Space) or while a word or a value is being typed.
    if (!context.explicit && ctx.kind === "key" && !ctx.prefix && !ctx.quoted && !ctx.item) return null;
    let index;
    try {
      index = await loadSchema();
    } catch {
      return null;
    }
    if (context.aborted) return null;
    let options = [];
    if (ctx.kind === "key") {
      options = keyOptions(index, ctx, format, state, namesOf);
      // A list item may also be a plain value: `- OPEN` under `source:`.
      if (ctx.item && format !== "json") {
        const itemCtx = { ...ctx, kind: "value", path: ctx.path };
        options = [...options, ...valueOptions(index, itemCtx, format, state, namesOf)];
      }
    } else options = valueOptions(index, ctx, format, state, namesOf);
    if (!options.length) return null;
    return { from: ctx.from, to: ctx.to, options, validFor: /^[A-Za-z0-9_.*-]*$/ };
  };
}

// ------------------------------------------------------------------------------ hover
/** A CodeMirror hover source: the schema's documentation of the key under the pointer. */
export function hoverSource(getFormat) {
  return async (view, pos) => {
    const found = keyAt(view.state.doc.toString(), pos, getFormat());
    if (!found) return null;
    let index;
    try {
      index = await loadSchema();
    } catch {
      return null;
    }
    const doc = index.describe(found.path);
    if (!doc) return null;
    return {
      pos: found.from,
      end: found.to,
      above: true,
      create: () => ({ dom: hoverDom(doc, found.path) }),
    };
  };
}

function hoverDom(doc, path) {
  const box = document.createElement("div");
  box.className = "schema-hover";
  box.setAttribute("role", "tooltip");
  const head = document.createElement("div");
  head.className = "schema-hover-head";
  const name = document.createElement("code");
  name.textContent = doc.title;
  const type = document.createElement("span");
  type.className = "schema-doc-type";
  type.textContent = doc.type;
  head.append(name, " ", type);
  box.append(head);
  if (doc.description) {
    const p = document.createElement("p");
    p.textContent = doc.description;
    box.append(p);
  }
  if (doc.values.length) {
    const p = document.createElement("p");
    p.className = "schema-hover-values";
    p.textContent = `Values: ${doc.values.join(", ")}`;
    box.append(p);
  }
  if (doc.default !== undefined && doc.default !== null && !(Array.isArray(doc.default) && !doc.default.length)) {
    const p = document.createElement("p");
    p.className = "schema-hover-default";
    p.textContent = `Default: ${JSON.stringify(doc.default)}`;
    box.append(p);
  }
  const where = namedKind(NAMED_VALUES, path);
  if (where) {
    const p = document.createElement("p");
    p.className = "schema-hover-names";
    p.textContent = `Names a ${where === "parent" ? "state or region" : where} of this definition.`;
    box.append(p);
  }
  return box;
}
