// The API docs page (/schema): Swagger UI, vendored in /static/vendor/swagger-ui, reading our
// OpenAPI document. No CDN, no inline script, no validator badge (it would call a third party).

const { SwaggerUIBundle } = globalThis;

SwaggerUIBundle({
  url: "/schema/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
