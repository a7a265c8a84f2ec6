"""The local API Gateway: a raw ASGI app that turns each request into a v2 event for the real handler."""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import Awaitable, Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, unquote

from multibuzz import topology
from multibuzz.adapters.objects.base import ObjectNotFoundError
from multibuzz.bootstrap import get_container
from multibuzz.observability import get_logger

from infra.local.apigw import Route, Router, build_event, parse_result
from infra.local.lambda_context import LocalLambdaContext

MAX_BODY_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Handler = Callable[[dict[str, Any], Any], Any]

logger = get_logger("gateway")

# Ingestion routes whose work is CPU only on the request path (the API key from the key cache, rate-limit
# tokens from memory, validation, one append to the queue journal): the handler is awaited on the event
# loop (``invoke``) instead of being handed to a worker thread. A thread hop per request made these requests
# wait for the GIL between threads (up to the 5 ms switch interval each time). The database is read on this
# loop only when a key's cache entry expires (every 5 s per key) or a block of rate-limit tokens runs out.
AWAITED_ROUTES = frozenset(
    {
        "POST /api/v1/events",
        "POST /api/v1/event/{action}",
        "POST /api/v1/sessions",
        "POST /api/v1/identify",
        "GET /api/v1/validate",
        # Shopify webhooks: HMAC of the body, the shop from a per-process cache (the database every 5 s per
        # shop), one append to the queue journal.
        "POST /webhooks/shopify/{topic+}",
    }
)


def _thread_init() -> None:
    asyncio.set_event_loop(asyncio.new_event_loop())


Response = tuple[int, list[tuple[bytes, bytes]], bytes]


class NextTick:
    """``await NEXT_TICK`` resumes on the loop's next iteration: asyncio.sleep(0) without its two frames."""

    def __await__(self) -> Generator[None, None, None]:
        yield


NEXT_TICK = NextTick()


def _has_body(headers: list[tuple[str, str]]) -> bool:
    """HTTP/1.1: a request has a body only when it says so (RFC 9112 6.3); a GET usually doesn't."""
    for name, _ in headers:  # noqa: SIM110 - a plain loop: any(genexpr) costs twice as much here
        if name == "content-length" or name == "transfer-encoding":
            return True
    return False


def _json(status: int, body: dict[str, Any]) -> Response:
    return status, [(b"content-type", b"application/json")], json.dumps(body).encode()


class LocalGateway:
    """ASGI app. ``inline`` functions run on the event loop (no thread hop): the redirect hot path."""

    def __init__(
        self,
        *,
        inline: frozenset[str] = frozenset({"redirect"}),
        awaited: frozenset[str] = AWAITED_ROUTES,
        workers: int = 16,
    ) -> None:
        self.router = Router(topology.all_routes())
        self.inline = inline
        self.awaited = awaited
        self._handlers: dict[str, tuple[Handler, topology.FunctionSpec]] = {}
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lambda", initializer=_thread_init)

    def handler(self, function: str) -> Handler:
        return self._function(function)[0]

    def _function(self, function: str) -> tuple[Handler, topology.FunctionSpec]:
        found = self._handlers.get(function)
        if found is None:
            spec = topology.function(function)
            module = importlib.import_module(spec.handler_module)
            found = self._handlers[function] = (module.lambda_handler, spec)
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        method: str = scope["method"]
        path: str = scope["path"]
        if path.startswith("/_local/objects/"):
            response = self._serve_object(path, scope.get("query_string", b"").decode())
        elif (matched := self.router.match(method, path)) is None:
            response = self._no_route(method, path)
        else:
            route, params = matched
            headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
            if route.function in self.inline and not _has_body(headers):  # the redirect: no thread, no await
                response = self._invoke_inline(route, self._event(scope, route, params, headers, b""))
                # Write coalescing (as Netty's FlushConsolidationHandler): an inline answer is written on the
                # next loop tick, together with the answers of the other requests handled in this one, instead
                # of one socket write between every two handlers. On loopback each write that finds the client
                # asleep costs a cross-CPU wakeup (~15 us of kernel time on this VM); back-to-back writes pay
                # it once per tick. Measured by bench/bench_redirect.py: redirect +30 %; a raw 302 with the
                # same yield is unchanged, because there the client never falls asleep.
                await NEXT_TICK
            else:
                response = await self._respond(scope, receive, route, params, headers)
        status, headers, body = response
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    def _no_route(self, method: str, path: str) -> Response:
        """404, or 405 with ``Allow`` when routes of the path take other methods."""
        allowed = {r.method for r in self.router.routes if r.method != "ANY" and r.pattern.match(path)}
        if not allowed:
            return _json(404, {"error": "not_found", "message": f"no route for {method} {path}"})
        allow = ", ".join(sorted(allowed))
        status, headers, body = _json(405, {"error": "method_not_allowed", "message": f"{method} {path}: use {allow}"})
        return status, [*headers, (b"allow", allow.encode())], body

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self._executor.shutdown(wait=False, cancel_futures=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _read_body(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                return None
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    async def _respond(
        self, scope: Scope, receive: Receive, route: Route, params: dict[str, str], headers: list[tuple[str, str]]
    ) -> Response:
        """A routed request that needs its body read or its function run on a worker thread."""
        body = await self._read_body(receive) if _has_body(headers) else b""
        if body is None:
            return _json(413, {"error": "payload_too_large", "message": "request body exceeds 6 MB"})
        event = self._event(scope, route, params, headers, body)
        if route.function in self.inline:
            return self._invoke_inline(route, event)
        try:
            handler, spec = self._function(route.function)
            context = LocalLambdaContext(route.function, spec.memory_mb, spec.timeout_seconds)
            invoke = getattr(handler, "invoke", None) if route.key in self.awaited else None
            if invoke is not None:
                result = await invoke(event, context)
                await NEXT_TICK  # write coalescing, as for the inline redirect (see __call__)
            else:
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(self._executor, handler, event, context)
        except Exception:  # API Gateway answers 500 when the function itself fails
            logger.exception("function failed", extra={"function": route.function})
            return _json(500, {"error": "internal_error", "message": "Internal Server Error"})
        status, response_headers, response_body = parse_result(result)
        # As API Gateway HTTP APIs: the request id (the correlation id of the logs and stored rows) answered.
        response_headers.append((b"apigw-requestid", event["requestContext"]["requestId"].encode()))
        return status, response_headers, response_body

    def _invoke_inline(self, route: Route, event: dict[str, Any]) -> Response:
        try:
            handler, spec = self._function(route.function)
            result = handler(event, LocalLambdaContext(route.function, spec.memory_mb, spec.timeout_seconds))
        except Exception:
            logger.exception("function failed", extra={"function": route.function})
            return _json(500, {"error": "internal_error", "message": "Internal Server Error"})
        return parse_result(result)

    @staticmethod
    def _event(
        scope: Scope, route: Route, params: dict[str, str], headers: list[tuple[str, str]], body: bytes
    ) -> dict[str, Any]:
        client = scope.get("client") or ("127.0.0.1", 0)
        return build_event(
            route=route,
            path_params={k: unquote(v) for k, v in params.items()},
            method=scope["method"],
            path=scope["path"],
            query_string=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            body=body,
            source_ip=client[0],
        )

    def _serve_object(self, path: str, query_string: str) -> Response:
        from multibuzz.adapters.objects.local import LocalObjectStore

        store = get_container().objects
        if not isinstance(store, LocalObjectStore):
            return _json(404, {"error": "not_found", "message": "no local object store"})
        key = unquote(path[len("/_local/objects/") :])
        query = {k: v[0] for k, v in parse_qs(query_string).items()}
        if not store.verify(key, query.get("expires", ""), query.get("signature", ""), query.get("filename", "")):
            return _json(403, {"error": "forbidden", "message": "signature invalid or expired"})
        try:
            data = store.get(key)
        except (ObjectNotFoundError, ValueError):
            return _json(404, {"error": "not_found", "message": "object not found"})
        headers = [(b"content-type", store.content_type(key).encode())]
        if query.get("filename"):
            headers.append((b"content-disposition", f'attachment; filename="{query["filename"]}"'.encode()))
        return 200, headers, data
