"""Serve a few hot routes of a FastAPI app straight from the API Gateway event, without the ASGI stack.

Most SDKs send one event per request, so the ingestion routes pay FastAPI's per-request machinery (ASGI
scope and cycle, middleware, routing, the dependency solver, response serialisation) once per event; in
the bench that was more than half of a request. ``DirectRoutes`` runs the *same* endpoint and dependency
functions of the app — nothing is re-implemented — with a much smaller solver:

- at build time, each named route is looked up in the app and its dependency tree is checked: only
  dependencies (plain or async functions, cached per request like FastAPI), the ``Request`` and ``str``
  path parameters are supported. A route that needs anything else (query, header, cookie or body
  parameters, security scopes, generator dependencies, background tasks), or an app with user middleware,
  is simply not taken: FastAPI serves it, as every route not named here;
- per request: a ``Request`` over the event's method, path, headers and body; the tree is solved in
  FastAPI's order; the endpoint's return value becomes the response as FastAPI would make it (a
  ``Response`` as is; anything else JSON-encoded with the route's status code);
- an exception is answered by the app's own exception handlers (``app.exception_handlers``), so error
  bodies are byte for byte those of the FastAPI path. tests/functional/test_direct_routes.py compares
  both paths on the same requests.
"""

from __future__ import annotations

import base64
import inspect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from multibuzz.http.responses import CompactJSONResponse

Event = dict[str, Any]


@dataclass(frozen=True)
class _Node:
    call: Callable[..., Any]
    is_async: bool
    request_param: str | None
    path_params: tuple[str, ...]
    children: tuple[tuple[str, _Node], ...]  # (parameter name, dependency)
    use_cache: bool


# One step of a route's plan: (call, is async, arguments). An argument is (name, source, key): source 0 is
# the value of step ``key``, 1 the request, 2 the path parameter ``key``.
_Step = tuple[Callable[..., Any], bool, tuple[tuple[str, int, Any], ...]]


@dataclass(frozen=True)
class _Route:
    api_route: APIRoute
    root: _Node
    status_code: int
    plan: tuple[_Step, ...]


def _plan(root: _Node) -> tuple[_Step, ...]:
    """The tree in the order FastAPI solves it (depth first, dependencies before their dependant), each
    cached dependency once: the request then runs a flat list instead of a recursion with a cache."""
    steps: list[_Step] = []
    cached: dict[Callable[..., Any], int] = {}

    def visit(node: _Node) -> int:
        args: list[tuple[str, int, Any]] = []
        for name, child in node.children:
            if child.use_cache and child.call in cached:
                args.append((name, 0, cached[child.call]))
                continue
            index = visit(child)
            if child.use_cache:
                cached[child.call] = index
            args.append((name, 0, index))
        if node.request_param:
            args.append((node.request_param, 1, None))
        args.extend((name, 2, name) for name in node.path_params)
        steps.append((node.call, node.is_async, tuple(args)))
        return len(steps) - 1

    visit(root)
    return tuple(steps)


def _node(dependant: Any) -> _Node | None:
    """The dependency tree of ``dependant``, or None when it needs more than this solver offers."""
    if (
        dependant.query_params
        or dependant.header_params
        or dependant.cookie_params
        or dependant.body_params
        or dependant.websocket_param_name
        or dependant.http_connection_param_name
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
        or dependant.call is None
        or inspect.isgeneratorfunction(dependant.call)
        or inspect.isasyncgenfunction(dependant.call)
    ):
        return None
    for field in dependant.path_params:
        if getattr(field.field_info, "annotation", None) is not str:
            return None
    children: list[tuple[str, _Node]] = []
    for sub in dependant.dependencies:
        child = _node(sub)
        if child is None or sub.name is None:
            return None
        children.append((sub.name, child))
    return _Node(
        call=dependant.call,
        is_async=inspect.iscoroutinefunction(dependant.call),
        request_param=dependant.request_param_name,
        path_params=tuple(field.name for field in dependant.path_params),
        children=tuple(children),
        use_cache=dependant.use_cache,
    )


class DirectRoutes:
    def __init__(self, app: FastAPI, route_keys: Iterable[str]) -> None:
        self.app = app
        self.routes: dict[str, _Route] = {}
        if app.user_middleware:  # middleware would be skipped: serve nothing directly
            return
        wanted = set(route_keys)
        for path, methods, dependant, api_route, limited in _routes(app.routes):
            if limited:  # a per-route body limit is middleware this solver does not run
                continue
            for method in methods:
                key = f"{method} {path}"
                if key in wanted and key not in self.routes:
                    root = _node(dependant)
                    if root is not None:
                        self.routes[key] = _Route(api_route, root, api_route.status_code or 200, _plan(root))

    def serves(self, event: Event) -> bool:
        return event.get("routeKey") in self.routes

    async def __call__(self, event: Event) -> dict[str, Any]:
        route = self.routes[event["routeKey"]]
        request = _request(event)
        try:
            result = await _run(route.plan, request, event.get("pathParameters") or {})
            response = (
                result
                if isinstance(result, Response)
                else CompactJSONResponse(jsonable_encoder(result), status_code=route.status_code)
            )
        except Exception as exc:
            response = await self._handle(request, exc)
        return _result(response)

    async def _handle(self, request: Request, exc: Exception) -> Response:
        handlers = self.app.exception_handlers
        for cls in type(exc).__mro__:
            handler = handlers.get(cls)
            if handler is not None:
                response = handler(request, exc)
                if inspect.isawaitable(response):
                    response = await response
                assert isinstance(response, Response)
                return response
        raise exc


def _routes(routes: Iterable[Any]) -> Iterator[tuple[str, set[str], Any, APIRoute, bool]]:
    """(path, methods, dependant, route, has a body limit) of every API route, in routing order, through
    included routers (FastAPI >= 0.160 keeps them as ``_IncludedRouter``s with effective route contexts)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route.path, set(route.methods or ()), route.dependant, route, False
        elif hasattr(route, "effective_candidates"):
            yield from _routes(route.effective_candidates())
        elif isinstance(getattr(route, "original_route", None), APIRoute):
            limited = getattr(route, "max_body_size", None) is not None
            yield route.path, set(route.methods or ()), route.dependant, route.original_route, limited


async def _run(plan: tuple[_Step, ...], request: Request, path: dict[str, str]) -> Any:
    values: list[Any] = []
    for call, is_async, args in plan:
        kwargs = {
            name: values[key] if source == 0 else request if source == 1 else path[key] for name, source, key in args
        }
        values.append(await call(**kwargs) if is_async else call(**kwargs))
    return values[-1]


class _EventHeaders(Headers):
    """The request's headers as Starlette's ``Headers`` reads them from Mangum's scope, looked up in a dict
    instead of a scan of the raw list (the endpoints read four or five headers per request)."""

    def __init__(self, raw: list[tuple[bytes, bytes]], values: dict[str, str]) -> None:
        self._list = raw
        self._values = values  # lower-case names, values as Headers decodes them; the first of a name wins

    def __getitem__(self, key: str) -> str:
        try:
            return self._values[key.lower()]
        except KeyError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key.lower(), default)

    def __contains__(self, key: Any) -> bool:
        return key.lower() in self._values


def _request(event: Event) -> Request:
    http = event["requestContext"]["http"]
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
    # As Mangum builds the scope from a v2 event: names lower-cased, UTF-8, the cookies as one header.
    raw_headers: list[tuple[bytes, bytes]] = []
    values: dict[str, str] = {}
    for name, value in (event.get("headers") or {}).items():
        key, data = name.lower().encode(), value.encode()
        raw_headers.append((key, data))
        text = name.lower() if name.isascii() else key.decode("latin-1")  # as Starlette decodes header bytes
        if text not in values:
            values[text] = value if value.isascii() else data.decode("latin-1")
    if event.get("cookies"):
        cookie = "; ".join(event["cookies"]).encode()
        raw_headers.append((b"cookie", cookie))
        values.setdefault("cookie", cookie.decode("latin-1"))
    headers = _EventHeaders(raw_headers, values)
    path = event.get("rawPath") or http["path"]
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": http["method"],
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "scheme": "https",
        "query_string": (event.get("rawQueryString") or "").encode(),
        "headers": raw_headers,
        "client": (http.get("sourceIp") or "", 0),
        "server": None,
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    request = Request(scope, receive)
    request._headers = headers
    request._body = body  # the whole body is already here: ``await request.body()`` needs no stream
    return request


def _result(response: Response) -> dict[str, Any]:
    """API Gateway v2 result (as Mangum makes it for these JSON responses)."""
    headers: dict[str, str] = {}
    for name, value in response.raw_headers:
        key = name.decode("latin-1").lower()
        headers[key] = f"{headers[key]},{value.decode('latin-1')}" if key in headers else value.decode("latin-1")
    return {
        "statusCode": response.status_code,
        "headers": headers,
        "body": bytes(response.body).decode(),
        "isBase64Encoded": False,
    }
