"""The web function's FastAPI app: pages under /app, the public home at /, static assets under /static."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware

from multibuzz import __version__
from multibuzz.bootstrap import get_container
from multibuzz.errors import MultibuzzError
from multibuzz.observability import get_logger
from multibuzz.web.assets import ASSETS, IMMUTABLE, accepts_gzip
from multibuzz.web.deps import LoginRequiredError, login_url
from multibuzz.web.render import render
from multibuzz.web.security import CSRF_COOKIE, cookie_secure, new_seed

logger = get_logger("web")

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'; object-src 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}

GZIPPED = {"content-encoding": "gzip"}
# Pages (HTML) gzipped on the way out when the browser accepts it; static assets come gzipped already.
PAGE_GZIP_MIN_BYTES = 1000
PAGE_GZIP_LEVEL = 6

TITLES = {401: "Log in", 403: "Not allowed", 404: "Not found", 409: "Conflict", 422: "Check the form", 429: "Slow down"}


def create_web_app() -> FastAPI:
    from multibuzz.web.pages import ROUTERS

    app = FastAPI(title="Multibuzz web", version=__version__, openapi_url=None, docs_url=None, redoc_url=None)

    @app.middleware("http")
    async def browser_state(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        seed = request.cookies.get(CSRF_COOKIE)
        fresh = not seed
        request.state.csrf_seed = seed or new_seed()
        response = await call_next(request)
        if request.url.path.startswith("/static/"):
            return response
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("cache-control", "no-store")
        if fresh and b"mbz_csrf=" not in b"".join(v for k, v in response.raw_headers if k == b"set-cookie"):
            response.set_cookie(
                CSRF_COOKIE,
                request.state.csrf_seed,
                httponly=True,
                samesite="lax",
                secure=cookie_secure(get_container().settings.stage),
                path="/",
            )
        return response

    @app.get("/static/{asset:path}", include_in_schema=False)
    def static(asset: str, request: Request) -> Response:
        found = ASSETS.find("/static/" + asset)
        if found is None:
            return Response("not found", status_code=404, media_type="text/plain")
        headers = {"cache-control": IMMUTABLE, "vary": "Accept-Encoding"}
        if accepts_gzip(request.headers.get("accept-encoding", "")):
            return Response(found.gzipped(), media_type=found.content_type, headers={**headers, **GZIPPED})
        return FileResponse(found.path, media_type=found.content_type, headers=headers)

    @app.exception_handler(LoginRequiredError)
    async def login_required(request: Request, exc: LoginRequiredError) -> Response:
        target = login_url(exc.next_path)
        if request.headers.get("hx-request"):  # htmx: a full-page redirect, not a swapped fragment
            return Response(status_code=204, headers={"hx-redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(MultibuzzError)
    async def service_error(request: Request, exc: MultibuzzError) -> Response:
        return render(
            request, "error.html", status_code=exc.status, title=TITLES.get(exc.status, "Error"), message=exc.message
        )

    @app.exception_handler(RequestValidationError)
    async def bad_query(request: Request, exc: RequestValidationError) -> Response:
        fields = ", ".join(".".join(str(p) for p in error["loc"][1:]) for error in exc.errors())
        return render(request, "error.html", status_code=422, title=TITLES[422], message=f"Check: {fields}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = "There is no page here." if exc.status_code == 404 else str(exc.detail)
        return render(
            request,
            "error.html",
            status_code=exc.status_code,
            title=TITLES.get(exc.status_code, "Error"),
            message=message,
        )

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        logger.exception("web page failed", extra={"path": request.url.path})
        return render(
            request,
            "error.html",
            status_code=500,
            title="Something went wrong",
            message="This page failed to load. Try again in a moment.",
        )

    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(GZipMiddleware, minimum_size=PAGE_GZIP_MIN_BYTES, compresslevel=PAGE_GZIP_LEVEL)
    return app
