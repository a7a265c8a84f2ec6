"""Wrap a FastAPI app as a Lambda handler (Mangum), built on first call rather than at import."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI


class LazyAsgiHandler:
    def __init__(self, factory: Callable[[], FastAPI]) -> None:
        self._factory = factory
        self._handler: Any = None

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        if self._handler is None:
            from mangum import Mangum

            self._handler = Mangum(self._factory(), lifespan="off", api_gateway_base_path="/")
        try:
            asyncio.get_event_loop()
        except RuntimeError:  # a thread without a loop (the local gateway's worker threads)
            asyncio.set_event_loop(asyncio.new_event_loop())
        result: dict[str, Any] = self._handler(event, context)
        return result
