// The diagrams' layout worker: ELK (elkjs's vendored bundle) runs here, off the page's thread,
// so laying out a large machine never freezes the editor. A classic worker script, since the
// bundle is a UMD script and not an ES module; same-origin, so the page's
// Content-Security-Policy (script-src 'self') allows it. Messages: {id, graph, options} in,
// {id, result} (the laid-out graph) or {id, error} out; {id, cmd: "resources"} asks for the
// URLs the worker loaded (only the browser tests ask: test_ui_diagram_browser.py checks that
// the worker loads nothing from another host).
/* global ELK, importScripts */

importScripts("../vendor/elk/elk.bundled.js");

const elk = new ELK();

// Loading ELK in a worker makes ELK's own dispatcher the worker's onmessage (for elkjs's
// worker protocol): this one, set after, replaces it.
self.onmessage = async (event) => {
  const { id, graph, options, cmd } = event.data;
  try {
    if (cmd === "resources") {
      // What this worker loaded (its own resource timing, which the page cannot see).
      self.postMessage({ id, result: performance.getEntriesByType("resource").map((e) => e.name) });
      return;
    }
    const laidOut = await elk.layout(graph, { layoutOptions: options });
    self.postMessage({ id, result: laidOut });
  } catch (err) {
    const message = err && (err.message || (typeof err.toString === "function" && err.toString()));
    self.postMessage({ id, error: String(message || err) });
  }
};
