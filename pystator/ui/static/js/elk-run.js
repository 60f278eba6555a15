// ELK's layout, asked of the layout worker (elk-worker.js). One worker serves the page; it
// starts with the first diagram, so pages without a diagram never load ELK.
//
// A request that gets no answer within LAYOUT_TIMEOUT_MS (the worker hung, or its answer
// could not be read) fails with a readable message, and the worker is ended: the next layout
// starts a fresh one. Every request waiting on that worker fails with it.

const WORKER_URL = new URL("./elk-worker.js", import.meta.url);

/** How long a layout may take before it is given up (ms): generous, a large machine included. */
export const LAYOUT_TIMEOUT_MS = 20000;

let timeoutMs = LAYOUT_TIMEOUT_MS;
let worker = null;
let nextId = 0;
const waiting = new Map(); // request id -> {resolve, reject, timer}

// `workerFailed`: the worker failed, not the graph (laying it out again differently is no use).
function failAll(error) {
  error.workerFailed = true;
  for (const job of waiting.values()) {
    clearTimeout(job.timer);
    job.reject(error);
  }
  waiting.clear();
  if (worker) worker.terminate();
  worker = null; // the next layout starts a fresh worker
}

function theWorker() {
  if (worker) return worker;
  worker = new Worker(WORKER_URL, { name: "pystator-layout" });
  worker.onmessage = ({ data }) => {
    const job = waiting.get(data.id);
    if (!job) return;
    waiting.delete(data.id);
    clearTimeout(job.timer);
    if (data.error) job.reject(new Error(data.error));
    else job.resolve(data.result);
  };
  worker.onerror = (event) => {
    event.preventDefault();
    failAll(new Error(event.message || "the layout worker did not start"));
  };
  worker.onmessageerror = () => {
    failAll(new Error("the layout worker's answer could not be read"));
  };
  return worker;
}

function ask(message) {
  return new Promise((resolve, reject) => {
    nextId += 1;
    const id = nextId;
    const timer = setTimeout(() => {
      if (!waiting.has(id)) return;
      failAll(new Error(`the layout took longer than ${timeoutMs / 1000} s and was stopped`));
    }, timeoutMs);
    waiting.set(id, { resolve, reject, timer });
    theWorker().postMessage({ id, ...message });
  });
}

/** Lay out an ELK graph; resolves to the laid-out graph (ELK JSON). */
export function runElk(graph, options) {
  return ask({ graph, options });
}

/**
 * Change how long a layout may take (ms; none given: LAYOUT_TIMEOUT_MS again). The browser
 * tests (test_ui_review_fixes_browser.py) shorten it to see a layout that never answers.
 */
export function setLayoutTimeout(ms = LAYOUT_TIMEOUT_MS) {
  timeoutMs = ms;
}

/**
 * The URLs the layout worker loaded (ELK's bundle): the page's own list lacks them. Only the
 * browser tests ask (test_ui_diagram_browser.py checks that the worker loads nothing from
 * another host); the page never does.
 */
export function workerResources() {
  return ask({ cmd: "resources" });
}
