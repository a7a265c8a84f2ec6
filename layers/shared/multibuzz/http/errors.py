"""Every error leaves as JSON: ``{"error": code, "message": text, "errors": [{"field", "message"}]}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from multibuzz.errors import MultibuzzError
from multibuzz.http.allow import allowed_methods, app_routes
from multibuzz.observability import get_logger


def error_body(code: str, message: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": code, "message": message}
    if errors is not None:
        body["errors"] = errors
    return body


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "events", 3, "visitor_id")`` → ``events[3].visitor_id``."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


def readable(error: dict[str, Any]) -> dict[str, Any]:
    field = field_path(error.get("loc", ()))
    message = str(error.get("msg", "invalid value"))
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if error.get("type") == "missing":
        message = f"{field.split('.')[-1]} is required"
    return {"field": field, "message": message}


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def _routes(app: Any) -> list[tuple[frozenset[str], Any]]:
    """The app's routes as (methods, path regex), computed on the first routing miss."""
    routes: list[tuple[frozenset[str], Any]] | None = getattr(app.state, "allow_routes", None)
    if routes is None:
        routes = app.state.allow_routes = app_routes(app.routes)
    return routes


def install_error_handlers(app: FastAPI) -> None:
    logger = get_logger()

    @app.exception_handler(MultibuzzError)
    async def _domain(_: Request, exc: MultibuzzError) -> JSONResponse:
        errors = [{"field": exc.field, "message": exc.message}] if exc.field else None
        retry_after = getattr(exc, "retry_after", None)  # 429 and 503
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return JSONResponse(error_body(exc.code, exc.message, errors), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        raw = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in raw):
            return JSONResponse(error_body("malformed_json", "request body is not valid JSON"), status_code=400)
        errors = [readable(e) for e in raw]
        message = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return JSONResponse(error_body("validation_error", message, errors), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code in (404, 405):  # routing: a path some function takes with another method is a 405
            allowed = allowed_methods(request.url.path, _routes(request.app))
            if allowed and request.method not in allowed:
                message = f"{request.method} is not allowed on {request.url.path}; use {', '.join(allowed)}"
                return JSONResponse(
                    error_body("method_not_allowed", message), status_code=405, headers={"Allow": ", ".join(allowed)}
                )
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", extra={"error_type": type(exc).__name__})
        return JSONResponse(error_body("internal_error", "an unexpected error occurred"), status_code=500)
