"""FastAPI application factory shared by the HTTP functions."""

from __future__ import annotations

from fastapi import FastAPI

from multibuzz import __version__
from multibuzz.http.docs import install_docs
from multibuzz.http.errors import install_error_handlers


def create_app(title: str, *, docs: bool = False) -> FastAPI:
    app = FastAPI(
        title=title,
        version=__version__,
        openapi_url="/api/v1/openapi.json" if docs else None,
        docs_url=None,  # served by install_docs, with Swagger UI's assets from the package (works offline)
        redoc_url=None,  # ReDoc would load its script from a CDN: blank offline
    )
    install_error_handlers(app)
    if docs:
        install_docs(app, docs_url="/api/v1/docs", openapi_url="/api/v1/openapi.json")
    return app
