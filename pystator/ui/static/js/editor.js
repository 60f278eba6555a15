// The definition editor: a textarea with a line-number gutter, error marks on lines, and a
// list of problems whose line buttons move the caret there. Tab is left alone so keyboard
// users can leave the editor; Enter keeps the current line's indentation.

import { h, replace } from "./dom.js";

export class Editor {
  constructor({ onInput, label = "Definition (YAML or JSON)" }) {
    const id = "definition-text";
    this.gutter = h("pre", { class: "gutter", "aria-hidden": "true" });
    this.textarea = h("textarea", {
      id,
      class: "code",
      spellcheck: "false",
      autocapitalize: "off",
      autocomplete: "off",
      wrap: "off",
      placeholder: "Paste YAML or JSON here",
    });
    this.label = h("label", { for: id, class: "editor-label" }, label);
    this.element = h("div", { class: "editor" }, this.gutter, this.textarea);
    this.errorLines = new Set();
    this.textarea.addEventListener("input", () => {
      this.renderGutter();
      onInput(this.value);
    });
    this.textarea.addEventListener("scroll", () => {
      this.gutter.scrollTop = this.textarea.scrollTop;
    });
    this.textarea.addEventListener("keydown", (event) => this.onKeyDown(event));
    this.renderGutter();
  }

  get value() {
    return this.textarea.value;
  }

  set value(text) {
    this.textarea.value = text;
    this.renderGutter();
  }

  onKeyDown(event) {
    if (event.key !== "Enter" || event.shiftKey || event.ctrlKey || event.metaKey || event.altKey) return;
    const ta = this.textarea;
    const before = ta.value.slice(0, ta.selectionStart);
    const lineStart = before.lastIndexOf("\n") + 1;
    const indent = /^[ ]*/.exec(before.slice(lineStart))[0];
    const extra = /:\s*$/.test(before) ? "  " : "";
    if (!indent && !extra) return;
    event.preventDefault();
    const insert = `\n${indent}${extra}`;
    ta.setRangeText(insert, ta.selectionStart, ta.selectionEnd, "end");
    ta.dispatchEvent(new Event("input", { bubbles: true }));
  }

  renderGutter() {
    const count = this.textarea.value.split("\n").length;
    const parts = [];
    for (let i = 1; i <= count; i += 1) {
      if (this.errorLines.has(i)) parts.push(h("span", { class: "error-line" }, `${i}\n`));
      else parts.push(`${i}\n`);
    }
    replace(this.gutter, parts);
    this.gutter.scrollTop = this.textarea.scrollTop;
  }

  markErrors(lines) {
    this.errorLines = new Set(lines.filter((n) => Number.isInteger(n)));
    this.textarea.setAttribute("aria-invalid", this.errorLines.size ? "true" : "false");
    this.renderGutter();
  }

  /** Select line `n` (1-based) and scroll it into view. */
  goToLine(n) {
    const lines = this.textarea.value.split("\n");
    const line = Math.min(Math.max(1, n), lines.length);
    let start = 0;
    for (let i = 0; i < line - 1; i += 1) start += lines[i].length + 1;
    const end = start + lines[line - 1].length;
    this.textarea.focus();
    this.textarea.setSelectionRange(start, end);
    const lineHeight = parseFloat(getComputedStyle(this.textarea).lineHeight) || 20;
    this.textarea.scrollTop = Math.max(0, (line - 4) * lineHeight);
  }
}

/**
 * Lines of JSON values by path ("transitions[1].dest" -> 19), from a small scanner of the
 * text (the browser's JSON.parse says nothing about where values are).
 */
export function jsonLines(text) {
  const lines = new Map();
  let i = 0;
  let line = 1;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) {
      if (text[i] === "\n") line += 1;
      i += 1;
    }
  };
  const str = () => {
    i += 1;
    let out = "";
    while (i < text.length && text[i] !== '"') {
      if (text[i] === "\\") {
        out += text.slice(i, i + 2);
        i += 2;
      } else {
        if (text[i] === "\n") line += 1;
        out += text[i];
        i += 1;
      }
    }
    i += 1;
    try {
      return JSON.parse(`"${out}"`);
    } catch {
      return out;
    }
  };
  const value = (path, depth) => {
    if (depth > 200) throw new Error("too deep");
    ws();
    lines.set(path, lines.has(path) ? lines.get(path) : line);
    const c = text[i];
    if (c === "{") {
      i += 1;
      ws();
      if (text[i] === "}") {
        i += 1;
        return;
      }
      while (i < text.length) {
        ws();
        const keyLine = line;
        const key = str();
        const child = path ? `${path}.${key}` : key;
        lines.set(child, keyLine);
        ws();
        i += 1; // ':'
        value(child, depth + 1);
        ws();
        if (text[i] === ",") i += 1;
        else {
          i += 1;
          return;
        }
      }
    } else if (c === "[") {
      i += 1;
      ws();
      if (text[i] === "]") {
        i += 1;
        return;
      }
      let k = 0;
      while (i < text.length) {
        value(`${path}[${k}]`, depth + 1);
        k += 1;
        ws();
        if (text[i] === ",") i += 1;
        else {
          i += 1;
          return;
        }
      }
    } else if (c === '"') str();
    else {
      while (i < text.length && !/[\s,\]}]/.test(text[i])) i += 1;
    }
  };
  try {
    value("", 0);
  } catch {
    // a partial map is still useful
  }
  return lines;
}

/** The line of `path` in a map from jsonLines, trying shorter prefixes. */
export function lineOfPath(map, path) {
  let p = path;
  while (p) {
    if (map.has(p)) return map.get(p);
    const cut = Math.max(p.lastIndexOf("."), p.lastIndexOf("["));
    if (cut <= 0) break;
    p = p.slice(0, cut);
  }
  return map.has(p) ? map.get(p) : null;
}
