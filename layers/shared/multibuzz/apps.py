"""The FastAPI applications, composed in one place.

- the events function's app: tracking ingestion + conversions;
- the api function's app: management and reporting;
- the exports function's app: export requests and downloads (its worker is multibuzz.exports.worker);
- one OpenAPI document for the whole HTTP API (both apps' routes), served by the api function.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from multibuzz import __version__


def create_events_app() -> FastAPI:
    from multibuzz.conversions.http import router as conversions_router
    from multibuzz.ingest.app import create_ingest_app

    app = create_ingest_app()
    app.include_router(conversions_router)
    return app


def whole_api_openapi(api_app: FastAPI) -> dict[str, Any]:
    from multibuzz.http.openapi import complete

    events = create_events_app()
    exports = create_exports_app()
    routes = [*events.routes, *exports.routes, *api_app.routes]
    document = get_openapi(
        title="Multibuzz API",
        version=__version__,
        description=(
            "Every HTTP route of Multibuzz: ingestion (API key), management and reporting (a user's JWT), "
            "tracking-link redirects. Every error body is JSON: `{error, message, errors: [{field, message}]}`."
        ),
        routes=routes,
    )
    return complete(document, routes)


def create_api_app() -> FastAPI:
    from multibuzz.api.app import create_api_app as build

    app = build()
    cache: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if "doc" not in cache:
            cache["doc"] = whole_api_openapi(app)
        return cache["doc"]

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def create_exports_app() -> FastAPI:
    """The exports function's HTTP side (its queue side is multibuzz.exports.worker)."""
    from multibuzz.exports.http import router
    from multibuzz.http.app import create_app

    app = create_app("Multibuzz exports")
    app.include_router(router)
    return app
