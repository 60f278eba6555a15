// The one entry point of the CodeMirror bundle the web UI loads
// (pystator/ui/static/vendor/codemirror/codemirror.js). Export only what the UI imports
// (pystator/ui/static/js/editor.js and js/schema-assist.js): esbuild leaves the rest out.
export { EditorState, StateEffect, StateField, RangeSet, Compartment, Transaction } from "@codemirror/state";
export {
  EditorView,
  keymap,
  lineNumbers,
  lineNumberMarkers,
  GutterMarker,
  hoverTooltip,
  highlightActiveLine,
  highlightActiveLineGutter,
  highlightSpecialChars,
  drawSelection,
  placeholder,
} from "@codemirror/view";
export { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
export {
  syntaxHighlighting,
  defaultHighlightStyle,
  HighlightStyle,
  indentOnInput,
  bracketMatching,
} from "@codemirror/language";
export { tags } from "@lezer/highlight";
export { autocompletion, closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
export { lintGutter, lintKeymap, setDiagnostics } from "@codemirror/lint";
export { searchKeymap, highlightSelectionMatches } from "@codemirror/search";
export { yaml } from "@codemirror/lang-yaml";
export { json } from "@codemirror/lang-json";
export { parseDocument, isMap, isSeq, isScalar } from "yaml";
