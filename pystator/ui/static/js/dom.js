// Small DOM helpers: build elements without innerHTML, so text from definitions and the
// server is never parsed as markup.

const SVG_NS = "http://www.w3.org/2000/svg";

function applyProps(el, props) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.setAttribute("class", value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "value" && "value" in el) el.value = value;
    else if (key === "checked" || key === "disabled" || key === "selected" || key === "hidden") {
      el[key] = Boolean(value);
      if (key === "hidden" || key === "disabled") el.toggleAttribute(key, Boolean(value));
    } else el.setAttribute(key, value === true ? "" : String(value));
  }
}

function appendChildren(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** h("button", {class: "primary", onclick}, "Save") -> an HTML element. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  applyProps(el, props);
  appendChildren(el, children);
  return el;
}

/** s("rect", {x: 1}) -> an SVG element. */
export function s(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, String(value));
  }
  appendChildren(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function replace(el, ...children) {
  clear(el);
  appendChildren(el, children);
  return el;
}

let uid = 0;
/** A fresh id for label/for pairs. */
export function newId(prefix = "f") {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A labelled form field: returns {wrap, input}. */
export function field(label, input, hint) {
  if (!input.id) input.id = newId("field");
  const children = [h("label", { for: input.id }, label), input];
  if (hint) {
    const hintId = newId("hint");
    input.setAttribute("aria-describedby", hintId);
    children.push(h("small", { id: hintId, class: "hint" }, hint));
  }
  return { wrap: h("div", { class: "field" }, children), input };
}

export function select(options, value, props = {}) {
  const el = h("select", props);
  for (const opt of options) {
    const [val, text] = Array.isArray(opt) ? opt : [opt, opt];
    el.append(h("option", { value: val, selected: val === value }, text));
  }
  return el;
}

export function debounce(fn, ms) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  wrapped.flush = (...args) => {
    clearTimeout(timer);
    fn(...args);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}

/** Offer `text` as a file download. */
export function download(filename, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: filename, class: "visually-hidden" });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Announce a short message to screen readers and show it as a toast. */
export function toast(message, kind = "info") {
  const region = document.getElementById("toasts");
  if (!region) return;
  const item = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  region.append(item);
  while (region.children.length > 3) region.firstElementChild.remove();
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
}

/** Split "a, b ,c" into ["a", "b", "c"]. */
export function splitList(text) {
  return String(text || "")
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean);
}

/** 7200000 -> "2h", 1500 -> "1.5s", 250 -> "250ms". */
export function formatMs(ms) {
  const units = [[3600000, "h"], [60000, "m"], [1000, "s"]];
  for (const [size, unit] of units) {
    if (ms >= size) return `${Math.round((ms / size) * 100) / 100}${unit}`;
  }
  return `${ms}ms`;
}

export function formatTime(value) {
  if (value === null || value === undefined || value === "") return "";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString();
}

/**
 * Show `dialog` as a modal: it is added to the page, removed when it closes, and focus goes
 * back to what had it before (unless the dialog was closed by a navigation: see closeDialogs).
 */
export function showDialog(dialog, focusTarget, onClose = () => {}) {
  const opener = document.activeElement;
  document.body.append(dialog);
  dialog.addEventListener("close", () => {
    onClose(dialog.returnValue);
    dialog.remove();
    if (dialog.dataset.closedBy !== "navigation" && opener && opener.isConnected && opener.focus) {
      opener.focus();
    }
  });
  dialog.showModal();
  if (focusTarget) focusTarget.focus();
}

/**
 * Close every open dialog: called on every navigation (a link, Back, Forward), so a dialog
 * never stays open over the next page. A confirmation closed this way counts as cancelled.
 */
export function closeDialogs() {
  for (const dialog of document.querySelectorAll("dialog[open]")) {
    dialog.dataset.closedBy = "navigation";
    dialog.close();
  }
}

/** A modal confirmation built on <dialog> (Escape cancels, focus returns). */
export function confirmDialog(title, message, confirmLabel = "Delete") {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog",
      { class: "confirm", "aria-labelledby": "confirm-title" },
      h("form", { method: "dialog" },
        h("h2", { id: "confirm-title" }, title),
        h("p", {}, message),
        h("div", { class: "actions" },
          h("button", { value: "cancel", class: "secondary" }, "Cancel"),
          h("button", { value: "ok", class: "danger" }, confirmLabel),
        ),
      ),
    );
    showDialog(dialog, dialog.querySelector("button[value=cancel]"), (value) => resolve(value === "ok"));
  });
}
