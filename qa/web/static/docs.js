// Swagger UI over the app's own OpenAPI schema (an external script, so the CSP needs no inline code).
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
