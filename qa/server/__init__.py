"""The web app: JSON routes, HTML pages, documents, the OpenAI-compatible routes, limits."""
