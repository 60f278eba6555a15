// The one entry point of the CodeMirror bundle the web UI loads
// (pystator/ui/static/vendor/codemirror/codemirror.js). Export only what the UI imports.
export { EditorState } from "@codemirror/state";
export { EditorView, keymap, lineNumbers, hoverTooltip } from "@codemirror/view";
export { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
export { autocompletion, completionKeymap } from "@codemirror/autocomplete";
export { linter, lintGutter, setDiagnostics } from "@codemirror/lint";
export { yaml } from "@codemirror/lang-yaml";
export { json } from "@codemirror/lang-json";
export { parseDocument, isMap, isSeq, isScalar, isPair, LineCounter } from "yaml";
