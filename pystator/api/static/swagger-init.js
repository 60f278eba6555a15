// Starts Swagger UI on /docs. The page gives the OpenAPI document's URL in a data attribute,
// so it needs no inline script (its Content-Security-Policy forbids them).
(function () {
  "use strict";
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    // The default shows a badge loaded from an online validator, with this document's URL.
    validatorUrl: null,
  });
})();
