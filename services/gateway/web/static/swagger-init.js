// The API documentation page (/docs): Swagger UI from the gateway's own copy of the
// swagger-ui-dist package, reading the gateway's OpenAPI document. A file, not an inline
// script, so the Content-Security-Policy can refuse every inline script.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
