// The UI's entry point: authentication, hash routing and the page shell.
//
// Routes:  #/                         machines
//          #/new[/tab]                a new machine (editor, builder, simulator)
//          #/machines/ID[/tab]        a stored machine (tab: edit, build, simulate, entities)
//          #/machines/ID/entities/E   one entity
//          #/login                    sign in (when the API has authentication on)

import { api, getToken, setToken, setUnauthorizedHandler } from "./api.js";
import { closeDialogs, h, replace } from "./dom.js";
import { MachinesPage } from "./pages/machines.js";
import { Workspace } from "./pages/workspace.js";
import { LoginPage } from "./pages/login.js";

const main = document.getElementById("main");
const account = document.getElementById("account");
const session = { authEnabled: false, user: null, returnTo: "#/" };
let current = null; // {key, page}

function parseRoute(hash) {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (!parts.length) return { name: "machines" };
  if (parts[0] === "login") return { name: "login" };
  if (parts[0] === "new") return { name: "workspace", id: null, tab: parts[1] || "edit" };
  if (parts[0] === "machines" && parts[1]) {
    if (parts[2] === "entities" && parts[3]) {
      return { name: "workspace", id: parts[1], tab: "entities", entity: parts[3] };
    }
    return { name: "workspace", id: parts[1], tab: parts[2] || "edit" };
  }
  return { name: "notfound" };
}

function markNav(route) {
  for (const link of document.querySelectorAll("[data-nav]")) {
    const here =
      (route.name === "machines" && link.dataset.nav === "machines") ||
      (route.name === "workspace" && route.id === null && link.dataset.nav === "new");
    if (here) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function renderAccount() {
  if (!session.authEnabled) {
    replace(account, h("span", { class: "muted", title: "The server has no auth secret: it serves this host only." }, "Auth off (local)"));
    return;
  }
  if (!session.user) {
    replace(account);
    return;
  }
  replace(
    account,
    h("span", {}, "Signed in as ", h("strong", {}, session.user)),
    h("button", {
      type: "button",
      class: "secondary small",
      onclick: () => {
        setToken(null);
        session.user = null;
        renderAccount();
        location.hash = "#/login";
      },
    }, "Sign out"),
  );
}

async function route() {
  closeDialogs(); // a dialog (Export Mermaid, a confirmation) belongs to the page it opened on
  const hash = location.hash || "#/";
  if (hash === "#main") return;
  const r = parseRoute(hash);
  markNav(r);
  if (session.authEnabled && !getToken() && r.name !== "login") {
    session.returnTo = hash;
    location.hash = "#/login";
    return;
  }
  if (r.name === "workspace") {
    const key = `workspace:${r.id === null ? "(new)" : r.id}`;
    if (current && current.key === key) {
      current.page.show(r.tab, r.entity);
      return;
    }
    mount(key, new Workspace({ id: r.id, tab: r.tab, entity: r.entity }));
    return;
  }
  if (r.name === "machines") mount("machines", new MachinesPage());
  else if (r.name === "login") {
    mount("login", new LoginPage({
      onSignedIn: async (user) => {
        session.user = user;
        renderAccount();
        location.hash = session.returnTo && session.returnTo !== "#/login" ? session.returnTo : "#/";
      },
    }));
  } else {
    mount("notfound", {
      element: h("section", { class: "page narrow" },
        h("h1", {}, "Page not found"),
        h("p", {}, "There is nothing at this address. ", h("a", { href: "#/" }, "Go to the machines."))),
    });
  }
}

let firstMount = true;

function mount(key, page) {
  const wasFirst = firstMount;
  firstMount = false;
  if (current && current.page.destroy) current.page.destroy();
  current = { key, page };
  replace(main, page.element);
  if (page.load) page.load();
  // After a navigation, move focus to the new page's heading so screen readers and
  // keyboard users start there (on the first load, focus stays at the document's start).
  const heading = main.querySelector("h1");
  if (heading && !wasFirst) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  }
}

async function boot() {
  document.getElementById("skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    main.focus();
  });
  setUnauthorizedHandler(() => {
    if (!session.authEnabled) return;
    setToken(null);
    session.user = null;
    renderAccount();
    if (location.hash !== "#/login") {
      session.returnTo = location.hash;
      location.hash = "#/login";
    }
  });
  try {
    const health = await api.health();
    session.authEnabled = Boolean(health.auth_enabled);
  } catch (err) {
    replace(main, h("section", { class: "page narrow" },
      h("h1", {}, "The server does not answer"),
      h("p", { class: "error" }, err.message),
      h("button", { type: "button", onclick: () => location.reload() }, "Try again")));
    return;
  }
  if (session.authEnabled && getToken()) {
    try {
      const me = await api.me();
      session.user = me.username;
    } catch {
      setToken(null);
    }
  }
  renderAccount();
  window.addEventListener("hashchange", route);
  // Back and Forward between entries of the same address fire popstate without hashchange.
  window.addEventListener("popstate", closeDialogs);
  await route();
}

boot();
