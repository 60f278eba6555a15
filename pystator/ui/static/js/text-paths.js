// Where a place in a definition's text is, as a path into the data: what the editor completes
// and explains. Text being typed rarely parses, so this reads the text itself: YAML by its
// indentation (block style, and one-line flow lists), JSON with a small scanner.
//
// A path is a list of keys, with "[]" for "an item of a list": `transitions[3].dest` is
// ["transitions", "[]", "dest"] (completion needs the shape, not the index).
//
// contextAt(text, pos, format) -> null, or
//   {kind: "key", path, from, to, prefix, siblings, indent, quoted}: a key of the mapping at
//     `path` is being written (text[from..to] is the part typed so far, `siblings` the keys
//     the mapping has already, `indent` the column of its keys);
//   {kind: "value", path, from, to, prefix, quoted}: the value at `path`.
// keyAt(text, pos, format) -> {path, from, to} of the key under `pos`, or null.

const ITEM = "[]";

// ------------------------------------------------------------------------------ YAML
const QUOTED_KEY = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*')\s*:(?=\s|$)/;
const PLAIN_KEY = /^([^\s#"'{}[\],&*!|>%@`][^#]*?)\s*:(?=\s|$)/;

function unquote(key) {
  if (key.startsWith('"')) {
    try {
      return JSON.parse(key);
    } catch {
      return key.slice(1, -1);
    }
  }
  if (key.startsWith("'")) return key.slice(1, -1).replace(/''/g, "'");
  return key;
}

/**
 * What one line opens, left to right: `- ` list items and at most one `key:`, each with its
 * column. `  - name: A` -> [{col: 2, kind: "item"}, {col: 4, kind: "key", key: "name", ...}].
 */
export function lineEntries(line) {
  const entries = [];
  let i = /^ */.exec(line)[0].length;
  if (i >= line.length || line[i] === "#" || /^(---|\.\.\.)(\s|$)/.test(line.slice(i))) return entries;
  while (line[i] === "-" && (i + 1 === line.length || line[i + 1] === " ")) {
    entries.push({ col: i, kind: "item" });
    i += 1;
    while (line[i] === " ") i += 1;
  }
  if (i >= line.length || line[i] === "#") return entries;
  const rest = line.slice(i);
  const found = QUOTED_KEY.exec(rest) || PLAIN_KEY.exec(rest);
  if (found) {
    const value = rest.slice(found[0].length).replace(/\s+#.*$/, "").trim();
    entries.push({ col: i, kind: "key", key: unquote(found[1]), end: i + found[1].length, value });
  } else {
    entries.push({ col: i, kind: "scalar" });
  }
  return entries;
}

/**
 * The entries enclosing column `col` of line `row` (outermost first): the nearest lines above
 * that open something at a smaller column. `isItem`: the thing at `col` is a list item, which
 * may sit at its key's own column (`states:` then `- name: A` below it).
 */
function yamlAncestors(lines, row, col, isItem) {
  const chain = [];
  let limit = col;
  let item = isItem;
  for (let r = row - 1; r >= 0 && (limit > 0 || item); r -= 1) {
    const entries = lineEntries(lines[r]);
    if (!entries.length) continue;
    const outer = entries.filter((e) => e.col < limit || (item && e.col === limit && e.kind === "key" && !e.value));
    if (!outer.length) continue;
    chain.unshift(...outer);
    limit = outer[0].col;
    item = outer[0].kind === "item";
  }
  return chain;
}

function pathOf(entries) {
  return entries.filter((e) => e.kind !== "scalar").map((e) => (e.kind === "item" ? ITEM : e.key));
}

/** True when an ancestor key holds a block scalar (`description: |`): its lines are text. */
function inBlockScalar(chain) {
  return chain.some((e) => e.kind === "key" && /^[|>][-+0-9]*$/.test(e.value || ""));
}

/** The keys of the block mapping whose keys sit at column `col` around line `row`. */
function yamlSiblings(lines, row, col) {
  const keys = new Set();
  const collect = (entries) => {
    for (const e of entries) if (e.kind === "key" && e.col === col) keys.add(e.key);
  };
  // Upwards to the line that opens the mapping (a `- key:` item holds its first key).
  for (let r = row - 1; r >= 0; r -= 1) {
    const entries = lineEntries(lines[r]);
    if (!entries.length) continue;
    collect(entries);
    if (entries[0].col < col) break;
  }
  // Downwards to the first line outside it.
  for (let r = row + 1; r < lines.length; r += 1) {
    const entries = lineEntries(lines[r]);
    if (!entries.length) continue;
    if (entries[0].col < col) break;
    collect(entries);
  }
  return keys;
}

function lineStarts(text) {
  const starts = [0];
  for (let i = 0; i < text.length; i += 1) if (text[i] === "\n") starts.push(i + 1);
  return starts;
}

function rowOf(starts, pos) {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= pos) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** A value inside a one-line flow list (`source: [A, B`): the path gains an item. */
function flowValue(valueText, valueStart, path) {
  if (!valueText.startsWith("[") || /[{}]/.test(valueText)) return null;
  let depth = 0;
  let cut = 0;
  for (let i = 0; i < valueText.length; i += 1) {
    const c = valueText[i];
    if (c === "[") {
      depth += 1;
      cut = i + 1;
    } else if (c === "]") depth -= 1;
    else if (c === ",") cut = i + 1;
  }
  if (depth !== 1) return null;
  const lead = /^\s*/.exec(valueText.slice(cut))[0].length;
  return { path: [...path, ITEM], start: valueStart + cut + lead, text: valueText.slice(cut + lead) };
}

function valueContext(path, start, text, cursor) {
  if (/^["']/.test(text)) {
    return { kind: "value", path, from: start + 1, to: cursor, prefix: text.slice(1), quoted: text[0], replaceFrom: start };
  }
  if (!/^[^\s#,[\]{}]*$/.test(text)) return null;
  return { kind: "value", path, from: start, to: cursor, prefix: text, quoted: null };
}

function yamlContext(text, pos) {
  const starts = lineStarts(text);
  const row = rowOf(starts, pos);
  const lines = text.split("\n");
  const lineStart = starts[row];
  const before = text.slice(lineStart, pos);
  if (before.includes("#")) return null;
  const entries = lineEntries(before);
  const items = entries.filter((e) => e.kind === "item");
  const firstCol = entries.length ? entries[0].col : /^ */.exec(before)[0].length;
  const chain = [...yamlAncestors(lines, row, firstCol, items.length > 0), ...items];
  if (inBlockScalar(chain)) return null;
  const path = pathOf(chain);
  const last = entries[entries.length - 1];
  if (last && last.kind === "key") {
    // `key: value`: the cursor is in the value.
    const valueStart = lineStart + before.indexOf(":", last.end) + 1;
    const valueText = before.slice(valueStart - lineStart);
    const lead = /^\s*/.exec(valueText)[0].length;
    if (!lead && valueText.length) return null;
    const flow = flowValue(valueText.slice(lead), valueStart + lead, [...path, last.key]);
    if (flow) return valueContext(flow.path, flow.start, flow.text, pos);
    return valueContext([...path, last.key], valueStart + lead, valueText.slice(lead), pos);
  }
  const col = last && last.kind !== "item" ? last.col : before.length;
  const typed = before.slice(col);
  if (!/^[A-Za-z0-9_.-]*$/.test(typed)) {
    if (/^["']/.test(typed) && items.length) return valueContext(path, lineStart + col, typed, pos);
    return null;
  }
  const after = /^[A-Za-z0-9_.-]*/.exec(text.slice(pos))[0];
  return {
    kind: "key",
    path,
    from: lineStart + col,
    to: pos + after.length,
    prefix: typed,
    siblings: yamlSiblings(lines, row, col),
    indent: col,
    quoted: null,
    // A list item's text may also be a plain value (`source:` then `- OPEN`).
    item: items.length > 0,
  };
}

function yamlKeyAt(text, pos) {
  const starts = lineStarts(text);
  const row = rowOf(starts, pos);
  const lines = text.split("\n");
  const col = pos - starts[row];
  const entries = lineEntries(lines[row]);
  const key = entries.find((e) => e.kind === "key" && col >= e.col && col <= e.end);
  if (!key) return null;
  const items = entries.filter((e) => e.kind === "item" && e.col < key.col);
  const first = entries[0];
  const chain = [...yamlAncestors(lines, row, first.col, first.kind === "item"), ...items];
  if (inBlockScalar(chain)) return null;
  return { path: [...pathOf(chain), key.key], from: starts[row] + key.col, to: starts[row] + key.end };
}

// ------------------------------------------------------------------------------ JSON
/**
 * Scan JSON text up to `pos`. Returns the open containers (outermost first, each with the key
 * it sits under and the keys it has so far) and, when `pos` is inside or right after a
 * token, that token.
 */
function scanJson(text, pos) {
  const frames = [];
  let token = null;
  let i = 0;
  const top = () => frames[frames.length - 1];
  const childVia = () => {
    const f = top();
    if (!f) return null;
    return f.type === "array" ? ITEM : f.lastKey;
  };
  while (i < pos) {
    const c = text[i];
    if (c === "{" || c === "[") {
      frames.push({ type: c === "{" ? "object" : "array", via: childVia(), expect: c === "{" ? "key" : "value", keys: [] });
      i += 1;
    } else if (c === "}" || c === "]") {
      frames.pop();
      if (top()) top().expect = "after";
      i += 1;
    } else if (c === ":") {
      if (top()) top().expect = "value";
      i += 1;
    } else if (c === ",") {
      if (top()) top().expect = top().type === "object" ? "key" : "value";
      i += 1;
    } else if (c === '"') {
      const start = i;
      i += 1;
      while (i < text.length && text[i] !== '"' && text[i] !== "\n") i += text[i] === "\\" ? 2 : 1;
      const closed = text[i] === '"';
      const end = closed ? i + 1 : i;
      const f = top();
      const role = f && f.type === "object" && f.expect === "key" ? "key" : "value";
      if (pos <= (closed ? i : end)) {
        token = { start, end, role, quoted: true, closed, text: text.slice(start + 1, closed ? i : end) };
        break;
      }
      if (role === "key") {
        let raw = text.slice(start + 1, i);
        try {
          raw = JSON.parse(`"${raw}"`);
        } catch {
          // keep the raw text
        }
        f.lastKey = raw;
        f.keys.push(raw);
        f.expect = "colon";
      } else if (f) f.expect = "after";
      i = end;
    } else if (/[A-Za-z0-9_.+-]/.test(c)) {
      const start = i;
      while (i < text.length && /[A-Za-z0-9_.+-]/.test(text[i])) i += 1;
      const f = top();
      if (pos <= i) {
        token = { start, end: i, role: f && f.type === "object" && f.expect === "key" ? "key" : "value", quoted: false, text: text.slice(start, i) };
        break;
      }
      if (f) f.expect = "after";
    } else i += 1;
  }
  return { frames, token };
}

function jsonPath(frames) {
  return frames.slice(1).map((f) => f.via);
}

function jsonContext(text, pos) {
  const { frames, token } = scanJson(text, pos);
  if (!frames.length) return null;
  const f = frames[frames.length - 1];
  const path = jsonPath(frames);
  if (token && token.role === "key") {
    // A key being typed, with or without its opening quote: the completion writes `"key": `.
    const from = token.start + (token.quoted ? 1 : 0);
    return {
      kind: "key", path, from, to: pos, prefix: text.slice(from, pos), siblings: new Set(f.keys),
      quoted: '"', replaceFrom: token.start,
    };
  }
  if (!token && f.type === "object" && f.expect === "key") {
    return { kind: "key", path, from: pos, to: pos, prefix: "", siblings: new Set(f.keys), quoted: null };
  }
  const valuePath = f.type === "array" ? [...path, ITEM] : [...path, f.lastKey];
  if (f.expect !== "value" && !(token && token.role === "value")) return null;
  if (f.type === "object" && f.lastKey === undefined) return null;
  if (token && token.quoted) {
    return {
      kind: "value", path: valuePath, from: token.start + 1, to: pos, prefix: text.slice(token.start + 1, pos),
      quoted: '"', replaceFrom: token.start,
    };
  }
  const start = token ? token.start : pos;
  return { kind: "value", path: valuePath, from: start, to: pos, prefix: text.slice(start, pos), quoted: null };
}

function jsonKeyAt(text, pos) {
  // The token under the cursor: scan to the end of it, then check that a ':' follows.
  const { frames, token } = scanJson(text, pos + 1);
  if (!token || token.role !== "key" || !token.quoted || !token.closed) return null;
  if (!/^\s*:/.test(text.slice(token.end))) return null;
  let key = token.text;
  try {
    key = JSON.parse(`"${key}"`);
  } catch {
    // keep the raw text
  }
  return { path: [...jsonPath(frames), key], from: token.start, to: token.end };
}

// ------------------------------------------------------------------------------ both
export function contextAt(text, pos, format) {
  return format === "json" ? jsonContext(text, pos) : yamlContext(text, pos);
}

export function keyAt(text, pos, format) {
  return format === "json" ? jsonKeyAt(text, pos) : yamlKeyAt(text, pos);
}

/** `transitions[1].dest` -> ["transitions", 1, "dest"] (numbers for list indexes). */
export function splitPath(path) {
  const parts = [];
  const re = /([^.[\]]+)|\[(\d+)\]/g;
  let found;
  while ((found = re.exec(String(path || "")))) parts.push(found[2] !== undefined ? Number(found[2]) : found[1]);
  return parts;
}
