"""Flask: ``multibuzz_client.flask.init_app(app)`` wraps ``app.wsgi_app`` with the WSGI middleware.

In a view, ``multibuzz_client.current_visit()`` is the visitor and session of the request (also
``request.environ["multibuzz.visit"]``), and ``multibuzz_client.track(...)`` uses it.
"""

from __future__ import annotations

from typing import Any

from multibuzz_client.client import Client
from multibuzz_client.wsgi import MultibuzzWSGIMiddleware


def init_app(app: Any, client: Client | None = None) -> Any:
    app.wsgi_app = MultibuzzWSGIMiddleware(app.wsgi_app, client)
    return app
