"""The human API docs (Swagger UI) with its assets served from the package, so they work offline.

The files in ``swagger_ui/`` are swagger-ui-dist 5.35.0 from the npm registry, unchanged (Apache-2.0: see
``swagger_ui/LICENSE`` and ``NOTICE``); ``swagger_ui/VERSION`` records the source and the tarball's digest.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

ASSET_DIR = Path(__file__).with_name("swagger_ui")
ASSET_PREFIX = "/api/v1/docs/assets"
# The only files served, with their types: a fixed table, so no request path ever reaches the file system.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}


def install_docs(app: FastAPI, *, docs_url: str, openapi_url: str) -> None:
    """``GET docs_url`` (the Swagger UI page) and ``GET /api/v1/docs/assets/{name}`` on ``app``."""

    @app.get(docs_url, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} — API docs",
            swagger_js_url=f"{ASSET_PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSET_PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{ASSET_PREFIX}/favicon-32x32.png",
        )

    @app.get(f"{ASSET_PREFIX}/{{name}}", include_in_schema=False)
    def swagger_asset(name: str) -> FileResponse:
        media_type = ASSETS.get(name)
        if media_type is None:
            raise HTTPException(status_code=404, detail="no such asset")
        return FileResponse(ASSET_DIR / name, media_type=media_type, headers={"cache-control": "public, max-age=86400"})
