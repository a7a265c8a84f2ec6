"""FastAPI application factory shared by the HTTP functions."""

from __future__ import annotations

from fastapi import FastAPI

from multibuzz import __version__
from multibuzz.http.errors import install_error_handlers


def create_app(title: str, *, docs: bool = False) -> FastAPI:
    app = FastAPI(
        title=title,
        version=__version__,
        openapi_url="/api/v1/openapi.json" if docs else None,
        docs_url="/api/v1/docs" if docs else None,
        redoc_url="/api/v1/redoc" if docs else None,
    )
    install_error_handlers(app)
    return app
