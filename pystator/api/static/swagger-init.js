// Starts Swagger UI on /docs. The page gives the OpenAPI document's URL in a data attribute,
// so it needs no inline script (its Content-Security-Policy forbids them).
//
// /docs?machine=<id> shows one stored machine's typed document instead
// (GET /api/v1/machines/<id>/openapi.json); an id that cannot be a machine's gets a notice
// above the whole API's document. The document needs a token when the server has auth on:
// the web UI keeps one in this tab's sessionStorage, and every request to this origin
// (the document, and "Try it out") carries it.
(function () {
  "use strict";
  const TOKEN_KEY = "pystator.token"; // the web UI's key (pystator/ui/static/js/api.js)
  const MACHINE_ID = /^[A-Za-z][A-Za-z0-9_]{0,199}$/;
  const root = document.getElementById("swagger-ui");
  const machine = new URLSearchParams(window.location.search).get("machine");
  let url = root.dataset.openapiUrl;
  if (machine !== null && MACHINE_ID.test(machine)) {
    url = `/api/v1/machines/${machine}/openapi.json`;
    document.title = `${machine} - ${document.title}`;
  } else if (machine !== null) {
    showNotice(
      `"${machine}" is not a machine id (a letter, then letters, digits or _; at most 200): ` +
        "showing the whole API instead."
    );
  }

  function showNotice(text) {
    const notice = document.createElement("p");
    notice.id = "docs-notice";
    notice.setAttribute("role", "alert");
    notice.textContent = text; // text, never markup: the id comes from the address bar
    notice.style.cssText =
      "margin:0;padding:0.75em 1.25em;background:#fff3cd;color:#664d03;" +
      "border-bottom:1px solid #ffe69c;font-family:sans-serif;";
    root.parentNode.insertBefore(notice, root);
  }

  function withToken(request) {
    let token = null;
    try {
      token = window.sessionStorage.getItem(TOKEN_KEY);
    } catch (err) {
      token = null; // storage refused (privacy settings): no token to give
    }
    const target = new URL(request.url, window.location.href);
    const headers = request.headers || {};
    const hasAuth = Object.keys(headers).some((name) => name.toLowerCase() === "authorization");
    if (token && target.origin === window.location.origin && !hasAuth) {
      headers.Authorization = `Bearer ${token}`;
      request.headers = headers;
    }
    return request;
  }

  window.ui = SwaggerUIBundle({
    url: url,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    requestInterceptor: withToken,
    // The default shows a badge loaded from an online validator, with this document's URL.
    validatorUrl: null,
  });
})();
