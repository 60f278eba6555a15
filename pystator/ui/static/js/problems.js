// The lists under the editor: the server's problems (POST /api/v1/validate's errors, or the
// syntax error of POST /ui/api/parse) and, apart from them, its warnings (lint findings that
// do not stop a definition from loading). Each item shows its path and, when the text says
// where, a "Line N" button that moves the caret there.

import { h, replace } from "./dom.js";

const LINE_IN_MESSAGE = /\s*\(line (\d+)\)\s*$/;
const LINE_PATH = /^line (\d+)/;

function item(problem, kind, goToLine) {
  const line = problem.line;
  return h("li", { class: kind, dataset: problem.code ? { code: problem.code } : {} },
    line ? h("button", { type: "button", class: "link line-link", onclick: () => goToLine(line), "aria-label": `Go to line ${line}` }, `Line ${line}`) : null,
    problem.path && !LINE_PATH.test(problem.path) ? h("code", { class: "path" }, problem.path) : null,
    problem.code ? h("span", { class: "code-name" }, problem.code) : null,
    h("span", { class: "message" }, String(problem.message || "").replace(LINE_IN_MESSAGE, "")));
}

/** The problems: "No problems found." (or a hint when there is no text), or their list. */
export function renderProblems(box, problems, { empty, goToLine }) {
  if (!problems.length) {
    replace(box, empty
      ? h("p", { class: "muted" }, "Paste a definition or pick a template to begin.")
      : h("p", { class: "ok" }, "No problems found."));
    return;
  }
  replace(box,
    h("h2", { class: "problems-title" }, `Problems (${problems.length})`),
    h("ul", { class: "problems" }, problems.map((p) => item(p, "problem", goToLine))));
}

/** The warnings, in their own box: nothing at all when there are none. */
export function renderWarnings(box, warnings, { goToLine }) {
  box.hidden = !warnings.length;
  if (!warnings.length) {
    replace(box);
    return;
  }
  replace(box,
    h("h2", { class: "warnings-title" }, `Warnings (${warnings.length})`),
    h("ul", { class: "warnings" }, warnings.map((w) => item(w, "warning", goToLine))));
}
