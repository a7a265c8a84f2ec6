"""ASGI middleware (Starlette, FastAPI, any ASGI app): ``app = MultibuzzASGIMiddleware(app)``.

FastAPI/Starlette: ``app.add_middleware(MultibuzzASGIMiddleware)``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from multibuzz_client.client import Client
from multibuzz_client.web import RequestInfo

logger = logging.getLogger("multibuzz_client")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def request_info(scope: Scope, trust_forwarded: bool) -> RequestInfo:
    headers: dict[str, str] = {}
    for name, value in scope.get("headers") or ():
        headers[name.decode("latin-1").lower()] = value.decode("latin-1")
    scheme = scope.get("scheme", "http")
    client = scope.get("client")
    ip = client[0] if client else None
    if trust_forwarded:
        scheme = (headers.get("x-forwarded-proto") or scheme).split(",")[0].strip()
        forwarded = headers.get("x-forwarded-for")
        if forwarded:
            ip = forwarded.split(",")[0].strip()
    host = headers.get("host")
    if not host:
        server = scope.get("server") or ("localhost", 80)
        host = f"{server[0]}:{server[1]}"
    path = scope.get("root_path", "") + scope.get("path", "/")
    return RequestInfo(
        method=scope.get("method", "GET"),
        scheme=scheme,
        host=host,
        path=path or "/",
        query=(scope.get("query_string") or b"").decode("latin-1"),
        headers=headers,
        client_ip=ip,
    )


class MultibuzzASGIMiddleware:
    def __init__(self, app: ASGIApp, client: Client | None = None) -> None:
        self.app = app
        self._client = client

    @property
    def client(self) -> Client | None:
        if self._client is not None:
            return self._client
        import multibuzz_client

        return multibuzz_client.get_client()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = self.client if scope["type"] == "http" else None
        began = None
        if client is not None:
            try:
                began = client.tracker.begin(request_info(scope, client.config.trust_forwarded))
            except Exception:
                logger.exception("multibuzz: could not read the request; not tracked")
        if began is None:
            await self.app(scope, receive, send)
            return
        visit, token = began
        scope.setdefault("state", {})["multibuzz_visit"] = visit
        tracker = client.tracker  # type: ignore[union-attr]
        finished = False

        async def tracked_send(message: Message) -> None:
            nonlocal finished
            if message["type"] == "http.response.start" and not finished:
                finished = True
                try:
                    headers = list(message.get("headers") or [])
                    content_type = next((v.decode("latin-1") for k, v in headers if k.lower() == b"content-type"), None)
                    cookies = tracker.finish(visit, token, int(message["status"]), content_type)
                    headers.extend((b"set-cookie", c.encode("latin-1")) for c in cookies)
                    message["headers"] = headers
                except Exception:
                    logger.exception("multibuzz: could not finish tracking the request")
            await send(message)

        try:
            await self.app(scope, receive, tracked_send)
        finally:
            if not finished:
                finished = True
                tracker.finish(visit, token, 500, None)
