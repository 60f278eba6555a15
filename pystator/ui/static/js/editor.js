// The definition editor: CodeMirror 6 (vendored in static/vendor, built by ui-vendor/) with
// YAML or JSON highlighting (chosen as the server does: JSON when the text starts with { or
// [), completion and hover documentation from the machine's JSON Schema and the definition's
// own names (schema-assist.js), and the server's problems as inline markers: underlined
// ranges, a marker gutter and the line number in red (warnings in amber).
//
// Tab is not bound: keyboard users leave the editor with Tab as from any field. The editable
// element has id "definition-text", the label's name, aria-invalid, and `value` (get and
// set: setting it acts like a paste) and `setSelectionRange(from, to)` as a textarea has.

import {
  EditorState, StateEffect, StateField, RangeSet, Compartment, Transaction,
  EditorView, keymap, lineNumbers, lineNumberMarkers, GutterMarker, hoverTooltip,
  highlightActiveLine, highlightActiveLineGutter, highlightSpecialChars, drawSelection, placeholder,
  defaultKeymap, history, historyKeymap,
  syntaxHighlighting, defaultHighlightStyle, HighlightStyle, tags, indentOnInput, bracketMatching,
  autocompletion, closeBrackets, closeBracketsKeymap,
  lintGutter, lintKeymap, setDiagnostics,
  searchKeymap, highlightSelectionMatches,
  yaml, json, parseDocument, isMap, isSeq, isScalar,
} from "../vendor/codemirror/codemirror.js";
import { h } from "./dom.js";
import { completionSource, hoverSource } from "./schema-assist.js";
import { splitPath } from "./text-paths.js";

const TEXT_ID = "definition-text";
const LABEL_ID = "definition-label";

/** "json" when the text starts with { or [ (as POST /ui/api/parse decides), else "yaml". */
export function formatOf(doc) {
  const head = doc.sliceString(0, Math.min(doc.length, 4096)).trimStart();
  return head.startsWith("{") || head.startsWith("[") ? "json" : "yaml";
}

// Keys in blue in YAML and JSON alike; strings, numbers and comments apart (colours with a
// contrast of at least 4.5:1 on white). Other tokens keep CodeMirror's default style.
const highlightStyle = HighlightStyle.define([
  { tag: tags.propertyName, color: "#1e40af" },
  { tag: tags.string, color: "#9f1239" },
  { tag: [tags.number, tags.bool, tags.null], color: "#6d28d9" },
  { tag: tags.lineComment, color: "#5b6577", fontStyle: "italic" },
  { tag: [tags.meta, tags.keyword], color: "#7c3aed" },
  { tag: [tags.labelName, tags.typeName], color: "#0f766e" },
]);

// ------------------------------------------------------------------------------ line marks
class LineMark extends GutterMarker {
  constructor(className) {
    super();
    this.elementClass = className;
  }

  eq(other) {
    return other.elementClass === this.elementClass;
  }
}

const ERROR_LINE = new LineMark("error-line");
const WARNING_LINE = new LineMark("warning-line");
const setLineMarks = StateEffect.define();

/** The line numbers marked in red or amber, and whether there are errors (aria-invalid). */
const lineMarks = StateField.define({
  create: () => ({ marks: RangeSet.empty, errors: 0 }),
  update(value, tr) {
    for (const effect of tr.effects) if (effect.is(setLineMarks)) return effect.value;
    return tr.docChanged ? { ...value, marks: value.marks.map(tr.changes) } : value;
  },
  provide: (field) => [
    lineNumberMarkers.from(field, (v) => v.marks),
    EditorView.contentAttributes.from(field, (v) => ({ "aria-invalid": v.errors ? "true" : "false" })),
  ],
});

// ------------------------------------------------------------------------------ locating
function keyText(node) {
  return isScalar(node) ? String(node.value) : String(node);
}

/** The part of from..to on from's line (a marker spanning many lines reads badly). */
function firstLine(doc, from, to) {
  const line = doc.lineAt(from);
  return { from, to: Math.max(from, Math.min(to, line.to)) };
}

/** The text read by the yaml package (JSON is YAML too), or null when it cannot be read. */
function parseText(text) {
  try {
    return parseDocument(text, { uniqueKeys: false });
  } catch {
    return null;
  }
}

/**
 * The range of the text a problem's path names (`transitions[1].dest`: the value of that
 * dest), in `parsed` (parseText of the text of `doc`). A path that goes further than the text
 * (a missing key) gives the deepest key it has; an unknown one gives null.
 */
export function locatePath(parsed, doc, path) {
  const parts = splitPath(path);
  if (!parts.length || !parsed) return null;
  let node = parsed.contents;
  let key = null; // the key of the deepest pair found on the way
  let complete = true;
  for (const part of parts) {
    let next = null;
    if (isMap(node)) {
      const pair = node.items.find((p) => p.key && keyText(p.key) === String(part));
      if (pair) {
        key = pair.key;
        next = pair.value;
      }
    } else if (isSeq(node) && typeof part === "number") {
      next = node.items[part] || null;
      if (next) key = null;
    }
    if (!next || !next.range) {
      complete = false;
      break;
    }
    node = next;
  }
  if (complete && isMap(node)) {
    // A mapping (a state, a transition): its `name: X` if it has one, else its first key.
    const pairs = node.items.filter((p) => p.key && p.key.range);
    const pair = pairs.find((p) => keyText(p.key) === "name") || pairs[0];
    if (pair) {
      const end = pair.value && pair.value.range && !isMap(pair.value) && !isSeq(pair.value) ? pair.value.range[1] : pair.key.range[1];
      return firstLine(doc, pair.key.range[0], end);
    }
  }
  if (complete && !isMap(node) && !isSeq(node)) return firstLine(doc, node.range[0], node.range[1]);
  if (key && key.range) return firstLine(doc, key.range[0], key.range[1]);
  if (node && node !== parsed.contents && node.range) return firstLine(doc, node.range[0], node.range[1]);
  return null;
}

function lineRange(doc, n, column) {
  const line = doc.line(Math.min(Math.max(1, n), doc.lines));
  const indent = /^\s*/.exec(line.text)[0].length;
  const from = column ? Math.min(line.from + column - 1, line.to) : line.from + indent;
  return { from, to: Math.max(from, line.to) };
}

/**
 * Where to mark a problem {path, message, line}: its path's text, else its line. `parsed()`
 * gives the text read once (parseText), however many problems are marked.
 */
function problemRange(parsed, doc, problem) {
  const column = /column (\d+)/.exec(problem.path || "");
  const found = problem.path && !/^line \d+/.test(problem.path) ? locatePath(parsed(), doc, problem.path) : null;
  if (found && (!problem.line || doc.lineAt(found.from).number === problem.line)) return found;
  if (problem.line) return lineRange(doc, problem.line, column ? Number(column[1]) : null);
  return found;
}

// ------------------------------------------------------------------------------ the editor
export class Editor {
  constructor({ onInput, label = "Definition (YAML or JSON)" }) {
    this.label = h("label", { id: LABEL_ID, class: "editor-label", onclick: () => this.view.focus() }, label);
    this.element = h("div", { class: "editor" });
    this.language = new Compartment();
    this.quiet = false;
    const getFormat = () => formatOf(this.view.state.doc);
    const extensions = [
      lineNumbers(),
      lineMarks,
      lintGutter(),
      highlightActiveLineGutter(),
      highlightSpecialChars(),
      history(),
      drawSelection(),
      indentOnInput(),
      syntaxHighlighting(highlightStyle),
      syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
      bracketMatching(),
      closeBrackets(),
      highlightActiveLine(),
      highlightSelectionMatches(),
      this.language.of(yaml()),
      // Its own keymap (Enter, arrows, Escape, Ctrl+Space) comes first. Enter takes the
      // highlighted completion whenever the list is shown (no grace period after the list
      // changes, which made a quick Enter insert a line break instead).
      autocompletion({ override: [completionSource(getFormat)], icons: false, interactionDelay: 0 }),
      hoverTooltip(hoverSource(getFormat), { hideOnChange: true }),
      placeholder("Paste YAML or JSON here"),
      EditorState.tabSize.of(2),
      EditorView.contentAttributes.of({
        id: TEXT_ID,
        "aria-labelledby": LABEL_ID,
        "aria-describedby": "problems warnings",
        autocapitalize: "off",
        spellcheck: "false",
      }),
      keymap.of([
        ...closeBracketsKeymap, ...defaultKeymap, ...searchKeymap, ...historyKeymap, ...lintKeymap,
      ]),
      // The language follows the text: JSON as soon as it starts with { or [.
      EditorState.transactionExtender.of((tr) => {
        if (!tr.docChanged) return null;
        const format = formatOf(tr.newDoc);
        if (format === formatOf(tr.startState.doc)) return null;
        return { effects: this.language.reconfigure(format === "json" ? json() : yaml()) };
      }),
      EditorView.updateListener.of((update) => {
        if (update.docChanged && !this.quiet) onInput(this.value);
      }),
    ];
    this.view = new EditorView({ parent: this.element, state: EditorState.create({ doc: "", extensions }) });
    this.exposeOnElement(this.view.contentDOM);
  }

  /** `value` and `setSelectionRange` on the editable element, as a textarea has them. */
  exposeOnElement(dom) {
    Object.defineProperty(dom, "value", {
      configurable: true,
      get: () => this.value,
      set: (text) => this.replaceText(String(text), "input.paste"),
    });
    dom.setSelectionRange = (from, to) => {
      const length = this.view.state.doc.length;
      const clamp = (n) => Math.min(Math.max(0, n), length);
      this.view.dispatch({ selection: { anchor: clamp(from), head: clamp(to) }, scrollIntoView: true });
    };
  }

  get value() {
    return this.view.state.doc.toString();
  }

  /** Replace the text from the page (a template, a conversion): not reported as input. */
  set value(text) {
    this.quiet = true;
    try {
      this.replaceText(text, "set");
    } finally {
      this.quiet = false;
    }
  }

  replaceText(text, userEvent) {
    const doc = this.view.state.doc;
    this.view.dispatch({
      changes: { from: 0, to: doc.length, insert: text },
      selection: { anchor: Math.min(this.view.state.selection.main.head, text.length) },
      userEvent,
      // The first text (a stored machine, a template in an empty editor) is not undone.
      annotations: Transaction.addToHistory.of(doc.length > 0),
    });
  }

  focus() {
    this.view.focus();
  }

  /** The page is left: CodeMirror's listeners and observers go with its view. */
  destroy() {
    this.view.destroy();
  }

  /** The text read by the yaml package, read again only when the text changed. */
  parsed() {
    const text = this.value;
    if (!this.parsedCache || this.parsedCache.text !== text) this.parsedCache = { text, parsed: parseText(text) };
    return this.parsedCache.parsed;
  }

  /** Put the caret at the start of the text and show it. */
  toStart() {
    this.view.dispatch({ selection: { anchor: 0 }, effects: EditorView.scrollIntoView(0, { y: "start" }) });
  }

  /**
   * Show the server's problems as markers: `errors` and `warnings` are lists of {path,
   * message, line}; each is marked where its path points in the text (else on its line).
   */
  showProblems(errors, warnings = []) {
    const doc = this.view.state.doc;
    const parsed = () => this.parsed();
    const diagnostics = [];
    const marks = [];
    const add = (problem, severity) => {
      const range = problemRange(parsed, doc, problem);
      if (!range) return;
      const path = problem.path && !/^line \d+/.test(problem.path) ? problem.path : "";
      diagnostics.push({
        from: range.from,
        to: range.to,
        severity,
        source: path || undefined,
        message: String(problem.message || "").replace(/\s*\(line \d+\)\s*$/, ""),
      });
      marks.push((severity === "error" ? ERROR_LINE : WARNING_LINE).range(doc.lineAt(range.from).from));
    };
    errors.forEach((p) => add(p, "error"));
    warnings.forEach((p) => add(p, "warning"));
    const spec = setDiagnostics(this.view.state, diagnostics);
    const effects = [...[].concat(spec.effects || []), setLineMarks.of({ marks: RangeSet.of(marks, true), errors: errors.length })];
    this.view.dispatch({ effects });
  }

  /** The line (1-based) where a problem's path points in the text, or null. */
  lineOf(path) {
    const doc = this.view.state.doc;
    const found = locatePath(this.parsed(), doc, path);
    return found ? doc.lineAt(found.from).number : null;
  }

  /** Select line `n` (1-based), show it, and put the focus in the editor. */
  goToLine(n) {
    const doc = this.view.state.doc;
    const line = doc.line(Math.min(Math.max(1, n), doc.lines));
    this.view.dispatch({
      selection: { anchor: line.from, head: line.to },
      effects: EditorView.scrollIntoView(line.from, { y: "center" }),
    });
    this.view.focus();
  }
}
