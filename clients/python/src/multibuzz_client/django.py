"""Django: add ``"multibuzz_client.django.MultibuzzMiddleware"`` to ``MIDDLEWARE``.

The client is the one built by ``multibuzz_client.configure()`` (call it in settings or an AppConfig), or,
when there is none yet, one built from ``settings.MULTIBUZZ`` (a dict of ``configure`` arguments) and the
``MULTIBUZZ_*`` environment. In a view, ``request.multibuzz`` (and ``multibuzz_client.current_visit()``)
is the visitor and session; ``funnel_detector`` receives a ``RequestInfo`` whose ``native`` is the
``HttpRequest``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import multibuzz_client
from multibuzz_client.client import Client
from multibuzz_client.wsgi import request_info

logger = logging.getLogger("multibuzz_client")


class MultibuzzMiddleware:
    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        if multibuzz_client.get_client() is None:
            from django.conf import settings

            multibuzz_client.configure(**dict(getattr(settings, "MULTIBUZZ", {}) or {}))

    @property
    def client(self) -> Client | None:
        return multibuzz_client.get_client()

    def __call__(self, request: Any) -> Any:
        client = self.client
        began = None
        if client is not None:
            try:
                began = client.tracker.begin(request_info(request.META, client.config.trust_forwarded, request))
            except Exception:
                logger.exception("multibuzz: could not read the request; not tracked")
        if began is None:
            return self.get_response(request)
        visit, token = began
        request.multibuzz = visit
        response = None
        try:
            response = self.get_response(request)
        finally:
            status = response.status_code if response is not None else 500
            content_type = response.get("Content-Type") if response is not None else None
            cookies = client.tracker.finish(visit, token, status, content_type)  # type: ignore[union-attr]
        for cookie in cookies:
            _set_cookie(response, cookie)
        return response


def _set_cookie(response: Any, header: str) -> None:
    """Our cookie attributes map one to one onto ``HttpResponse.set_cookie``."""
    first, *attributes = header.split("; ")
    name, _, value = first.partition("=")
    options: dict[str, Any] = {"path": "/", "httponly": True, "samesite": "Lax"}
    for attribute in attributes:
        key, _, val = attribute.partition("=")
        if key == "Max-Age":
            options["max_age"] = int(val)
        elif key == "Domain":
            options["domain"] = val
        elif key == "Secure":
            options["secure"] = True
    response.set_cookie(name, value, **options)
