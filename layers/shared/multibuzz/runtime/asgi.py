"""Wrap a FastAPI app as a Lambda handler (Mangum), built on first call rather than at import.

``handler(event, context)`` is the Lambda entry point: Mangum runs the app on this thread's event loop.
``await handler.invoke(event, context)`` is the same invocation — the same Mangum event handler turns the
API Gateway event into the ASGI scope and the response back into the result — awaited on a loop that is
already running. The local gateway uses it for routes whose work never waits on the network, so those
requests skip the hand-off to a worker thread and back (see infra.local.gateway).

``direct`` names hot routes that are served by ``multibuzz.runtime.direct.DirectRoutes`` (the app's own
endpoint and dependency functions, without the ASGI stack) on AWS and locally alike; every other route
goes through Mangum and FastAPI.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from multibuzz.telemetry import tracing
from multibuzz.telemetry.correlation import from_http_event
from multibuzz.telemetry.invocation import begin, end

if TYPE_CHECKING:
    from multibuzz.runtime.direct import DirectRoutes


class LazyAsgiHandler:
    def __init__(self, factory: Callable[[], FastAPI], *, direct: Iterable[str] = (), name: str = "api") -> None:
        self._factory = factory
        self.name = name  # the function (metrics dimension, trace subsegment)
        self._direct_keys = tuple(direct)
        self._handler: Any = None
        self._direct: DirectRoutes | None = None
        self._lock = threading.Lock()

    def _mangum(self) -> Any:
        if self._handler is None:
            with self._lock:
                if self._handler is None:
                    from mangum import Mangum

                    from multibuzz.runtime.direct import DirectRoutes

                    app = self._factory()
                    self._direct = DirectRoutes(app, self._direct_keys)
                    self._handler = Mangum(app, lifespan="off", api_gateway_base_path="/")
                    # Everything built so far (modules, the app, its schemas) lives as long as the process:
                    # out of the cyclic collector's sight, so its full collections stop walking it.
                    gc.freeze()
        return self._handler

    def _direct_for(self, event: dict[str, Any]) -> DirectRoutes | None:
        self._mangum()
        direct = self._direct
        return direct if direct is not None and direct.serves(event) else None

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        token = begin(self.name, from_http_event(event))
        try:
            if tracing.tracer() is not None:  # inside Lambda: the invocation's subsegment
                with tracing.traced(self.name):
                    return self._call(event, context)
            return self._call(event, context)
        finally:
            end(token)

    def _call(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        handler = self._mangum()
        try:
            loop = asyncio.get_event_loop()
        except RuntimeError:  # a thread without a loop (the local gateway's worker threads)
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
        direct = self._direct_for(event)
        if direct is not None:
            return loop.run_until_complete(direct(event))
        result: dict[str, Any] = handler(event, context)
        return result

    async def invoke(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """The invocation on the running loop: Mangum's own event handler and HTTP cycle, awaited (one
        coroutine, the invocation frame inlined: this is every local HTTP request's path)."""
        token = begin(self.name, from_http_event(event))
        try:
            mangum = self._mangum()
            direct = self._direct_for(event)
            if direct is not None:
                return await direct(event)
            from mangum.protocols.http import HTTPCycle  # here: an import statement costs ~2 us per request

            event_handler = mangum.infer(event, context)
            cycle = HTTPCycle(event_handler.scope, event_handler.body)
            await cycle.run(mangum.app)
            result: dict[str, Any] = event_handler(
                {"status": cycle.status, "headers": cycle.headers, "body": cycle.body}
            )
            return result
        finally:
            end(token)
