"""The web layer: FastAPI app factory, JSON API, server-rendered pages and static assets."""
