"""FastAPI / Starlette: ``app.add_middleware(MultibuzzMiddleware)``.

In an endpoint, ``multibuzz_client.current_visit()`` (or ``request.state.multibuzz_visit``) is the
visitor and session of the request.
"""

from __future__ import annotations

from multibuzz_client.asgi import MultibuzzASGIMiddleware

MultibuzzMiddleware = MultibuzzASGIMiddleware

__all__ = ["MultibuzzMiddleware"]
