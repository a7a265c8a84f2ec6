"""The published OpenAPI document: FastAPI's, completed from the code so it is the truth.

- Request bodies of routes that read the raw body (ingestion: the signature covers the raw bytes) are
  declared with :func:`json_body` from the validating pydantic models; their schemas join the components.
- Security and error answers are derived from each route's dependencies: which credential it takes
  (an API key, a user's JWT, either) decides its security requirement and the 401/403 it can answer;
  path parameters, bodies, the gateway's body limit, rate limits and the queue add 404, 400/413/422,
  429 and 503. Every error is documented with the one error body the handlers write (``ErrorBody``).
- Routes served by plain Lambda handlers (the redirect, the webhook stub) are described
  from ``topology`` here, so the one document covers every HTTP route the API Gateway fronts.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema
from starlette.routing import BaseRoute

from multibuzz import topology

REF = "#/components/schemas/{model}"
JWT = "BearerJWT"
KEY_BEARER = "ApiKeyBearer"
KEY_HEADER = "ApiKeyHeader"

SECURITY_SCHEMES: dict[str, Any] = {
    JWT: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A user's access token from `POST /api/v1/auth/login` (management and reporting).",
    },
    KEY_BEARER: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "sk_live_… / sk_test_…",
        "description": "An account's API key as `Authorization: Bearer sk_…` (ingestion and SDK reads).",
    },
    KEY_HEADER: {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-KEY",
        "description": "The same API key in an `X-API-KEY` header (the influencer platform's SDKs).",
    },
}


class FieldProblem(BaseModel):
    model_config = ConfigDict(extra="allow")

    field: str = Field(description="the offending field, e.g. `events[3].visitor_id`, or `body`")
    message: str


class ErrorBody(BaseModel):
    """Every error answer: a machine code, a readable message, and the fields at fault when known."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(description="e.g. validation_error, unauthorized, forbidden, not_found, rate_limited")
    message: str
    errors: list[FieldProblem] = Field(default_factory=list, description="present for input errors")


_BODY_MODELS: dict[str, type[BaseModel]] = {}
_BODY_RULES: dict[str, dict[str, Any]] = {}


def body_rule(model: type[BaseModel], rule: dict[str, Any]) -> None:
    """A rule the code enforces outside ``model`` (e.g. in the ingestor), added to its schema in the document."""
    _BODY_RULES[model.__name__] = rule


def ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


# Headers the ingestion routes read themselves (the signature and idempotency cover the raw request).
INGEST_HEADERS: list[dict[str, Any]] = [
    {
        "name": "X-Signature",
        "in": "header",
        "required": False,
        "description": "Hex HMAC-SHA256 of the raw body with the API key's signing secret (`sha256=` prefix "
        "optional); required when the account sets `require_signature`, verified whenever present.",
        "schema": {"type": "string", "pattern": "^(sha256=)?[0-9a-fA-F]{64}$"},
    },
    {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "Makes retries safe: a repeated key is answered as the first request, not stored twice.",
        "schema": {"type": "string", "minLength": 1},
    },
]


def json_body(*models: type[BaseModel], description: str | None = None) -> dict[str, Any]:
    """``openapi_extra`` for an ingestion route that parses its JSON body itself: the body is one of
    ``models``; the route also reads ``X-Signature`` and ``Idempotency-Key``."""
    for model in models:
        _BODY_MODELS[model.__name__] = model
    schema = ref(models[0]) if len(models) == 1 else {"anyOf": [ref(m) for m in models]}
    body: dict[str, Any] = {"required": True, "content": {"application/json": {"schema": schema}}}
    if description:
        body["description"] = description
    return {"requestBody": body, "parameters": INGEST_HEADERS}


_ERRORS: dict[int, str] = {
    400: "The body is not valid JSON (`malformed_json`) or the request is malformed.",
    401: "No credential, or an invalid, expired, revoked or deactivated one.",
    403: "The credential is valid but not allowed to do this.",
    404: "Not found in the caller's account (or no account selected).",
    405: "Method not allowed; `Allow` lists the path's methods.",
    409: "Conflicts with existing data (a duplicate, or a state that forbids it).",
    413: "The body is too large.",
    422: "Invalid input; `errors` names every field at fault.",
    429: "Too many requests; retry after `Retry-After` seconds.",
    503: "A dependency (the queue) is unavailable; nothing was accepted; retry after `Retry-After` seconds.",
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}


def _error_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _ERRORS[status],
        "content": {"application/json": {"schema": ref(ErrorBody)}},
    }
    if status in (429, 503):
        response["headers"] = dict(_RETRY_AFTER)
    return response


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _credentials(route: Any) -> tuple[bool, bool, bool]:
    """(takes a user's JWT, takes an API key, needs an account selected) from the route's dependencies."""
    names = {getattr(call, "__name__", "") for call in _calls(route.dependant)}
    jwt = bool(names & {"current_actor", "account_reader", "sdk_reader", "optional_actor", "privacy_requester"})
    key = bool(
        names & {"api_key_principal", "sdk_reader", "privacy_requester"}
    )  # account_reader refuses API keys (scopes, defect 4)
    return jwt, key, "account_actor" in names


def _optional_login(route: Any) -> bool:
    """A route whose login is optional (accepting an invitation: a new address has none yet)."""
    return "optional_actor" in {getattr(call, "__name__", "") for call in _calls(route.dependant)}


def _security(jwt: bool, key: bool, optional: bool = False) -> list[dict[str, list[str]]]:
    out: list[dict[str, list[str]]] = [{}] if optional else []
    if jwt:
        out.append({JWT: []})
    if key:
        out += [{KEY_BEARER: []}, {KEY_HEADER: []}]
    return out


def _error_statuses(route: Any, method: str, operation: dict[str, Any]) -> set[int]:
    jwt, key, account = _credentials(route)
    has_body = "requestBody" in operation
    statuses: set[int] = set()
    if jwt or key:
        statuses |= {401, 403}
    if route.dependant.path_params or account:
        statuses.add(404)
    if has_body:
        statuses |= {400, 413}
    if has_body or operation.get("parameters"):
        statuses.add(422)
    writes = method in ("post", "put", "patch", "delete")
    if writes and key and not jwt:  # ingestion: per-key rate limit, and the queue may be down
        statuses |= {429, 503}
    if writes and jwt:
        statuses.add(409)
    if route.path_format.startswith("/api/v1/auth/"):
        statuses |= {401, 429}  # wrong credentials; login throttling
    return statuses


def _complete_operation(route: Any, method: str, operation: dict[str, Any]) -> None:
    jwt, key, _ = _credentials(route)
    security = _security(jwt, key, _optional_login(route))
    if security:
        operation.setdefault("security", security)
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in sorted(_error_statuses(route, method, operation)):
        existing = responses.get(str(status))
        if existing is None or _is_fastapi_validation(existing):
            responses[str(status)] = _error_response(status)
        elif status == 422:  # a route-specific 422 body; the generic one can still occur
            schema = existing["content"]["application/json"]["schema"]
            existing["content"]["application/json"]["schema"] = {"anyOf": [schema, ref(ErrorBody)]}


def _is_fastapi_validation(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref", "").endswith("/HTTPValidationError"))


def _add_body_models(schemas: dict[str, Any]) -> None:
    if not _BODY_MODELS:
        return
    _, top = models_json_schema([(m, "validation") for m in _BODY_MODELS.values()], ref_template=REF)
    for name, schema in top.get("$defs", {}).items():
        if name in schemas and schemas[name] != schema:
            raise ValueError(f"two different schemas are named {name!r} in the OpenAPI document")
        schemas[name] = {**schema, **_BODY_RULES.get(name, {})}


# Routes served by plain Lambda handlers, not FastAPI: described here, keyed by their topology route key.
_PLAIN_HANDLERS: dict[str, dict[str, Any]] = {
    "GET /r/{code}": {
        "tags": ["redirect"],
        "summary": "Follow a tracking link: 302 to its destination with `ref_code`; the click is logged",
        "parameters": [{"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {
            "302": {
                "description": "Redirect to the link's destination (or its campaign's fallback URL).",
                "headers": {"Location": {"schema": {"type": "string", "format": "uri"}, "required": True}},
            },
            "404": {"description": "No such link (an HTML page).", "content": {"text/html": {"schema": {}}}},
            "410": {"description": "The link was disabled (an HTML page).", "content": {"text/html": {"schema": {}}}},
            "503": {
                "description": "The link could not be looked up right now (an HTML page).",
                "content": {"text/html": {"schema": {}}},
            },
        },
    },
    "POST /webhooks/shopify/{topic+}": {
        "tags": ["webhooks"],
        "summary": "Shopify webhooks: HMAC verified first, then queued (orders, refunds, uninstall, compliance)",
        "parameters": [
            {"name": "topic", "in": "path", "required": True, "schema": {"type": "string"}},
            {"name": "X-Shopify-Hmac-Sha256", "in": "header", "required": True, "schema": {"type": "string"}},
            {"name": "X-Shopify-Shop-Domain", "in": "header", "required": True, "schema": {"type": "string"}},
            {"name": "X-Shopify-Webhook-Id", "in": "header", "required": True, "schema": {"type": "string"}},
        ],
        "responses": {
            "200": {
                "description": "Queued (or an unknown shop: acknowledged, nothing stored).",
                "content": {"application/json": {}},
            },
            "400": {
                "description": "Signed, but no webhook id or not a JSON object.",
                "content": {"application/json": {"schema": ref(ErrorBody)}},
            },
            "401": {
                "description": "Missing or wrong X-Shopify-Hmac-Sha256; nothing stored.",
                "content": {"application/json": {"schema": ref(ErrorBody)}},
            },
            "503": {
                "description": "The queue is unavailable; Shopify retries.",
                "content": {"application/json": {"schema": ref(ErrorBody)}},
            },
        },
    },
}
_FASTAPI_FUNCTIONS = ("events", "exports", "api")
# Functions that answer browsers with HTML pages (multibuzz.web), not API operations: not in the document.
_PAGE_FUNCTIONS = ("web",)


def _openapi_path(route_key: str) -> tuple[str, str]:
    method, template = route_key.split(" ", 1)
    return method.lower(), template.replace("+}", "}")


def _add_plain_handlers(paths: dict[str, Any]) -> None:
    for key, function in topology.all_routes():
        if function in _FASTAPI_FUNCTIONS or function in _PAGE_FUNCTIONS:
            continue
        if key.startswith("HEAD "):
            continue  # HEAD is answered as GET (the API Gateway route and the redirect treat them alike)
        if key not in _PLAIN_HANDLERS:
            raise KeyError(f"route {key!r} of function {function!r} is not described in the OpenAPI document")
        method, path = _openapi_path(key)
        operation = copy.deepcopy(_PLAIN_HANDLERS[key])
        if "{" in path:  # a parameter no route pattern matches (a '/' in an id, say) ends in API Gateway's 404
            gateway_404 = _error_response(404)
            responses = operation["responses"]
            if "404" in responses:
                responses["404"]["content"].update(gateway_404["content"])
            else:
                responses["404"] = gateway_404
        operation.setdefault("operationId", f"{function}_{method}_{path.strip('/').replace('/', '_')}")
        paths.setdefault(path, {})[method] = operation


def api_routes(routes: Iterable[BaseRoute]) -> Iterator[Any]:
    """The API routes (newer FastAPI: with the context of the routers that include them)."""
    try:
        from fastapi.routing import iter_route_contexts  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # FastAPI before included-router contexts
        yield from (route for route in routes if isinstance(route, APIRoute))
        return
    for context in iter_route_contexts(list(routes)):
        if isinstance(context.original_route, APIRoute):
            yield context


def _fastapi_operations(routes: Iterable[BaseRoute], paths: dict[str, Any]) -> Iterator[tuple[Any, str, Any]]:
    for route in api_routes(routes):
        if not route.include_in_schema:
            continue
        for method in route.methods:
            operation = paths.get(route.path_format, {}).get(method.lower())
            if operation is not None:
                yield route, method.lower(), operation


def complete(document: dict[str, Any], routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """Complete FastAPI's document (in place) for ``routes``; returns it."""
    paths: dict[str, Any] = document.setdefault("paths", {})
    components: dict[str, Any] = document.setdefault("components", {})
    schemas: dict[str, Any] = components.setdefault("schemas", {})
    for route, method, operation in _fastapi_operations(routes, paths):
        _complete_operation(route, method, operation)
    _add_plain_handlers(paths)
    _add_body_models(schemas)
    error_schema = ErrorBody.model_json_schema(ref_template=REF)
    schemas.update(error_schema.pop("$defs", {}))
    schemas["ErrorBody"] = error_schema
    if "HTTPValidationError" not in str(paths):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
    components["securitySchemes"] = SECURITY_SCHEMES
    return document
