"""WSGI middleware: ``app = MultibuzzWSGIMiddleware(app)`` (Flask: ``multibuzz_client.flask.init_app``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from multibuzz_client.client import Client
from multibuzz_client.web import RequestInfo

logger = logging.getLogger("multibuzz_client")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Headers(dict[str, str]):
    """Lower-case header names read lazily from a WSGI environ (only the few we use)."""

    __slots__ = ("_environ",)

    def __init__(self, environ: dict[str, Any]) -> None:
        super().__init__()
        self._environ = environ

    def get(self, name: str, default: Any = None) -> Any:
        key = "HTTP_" + name.upper().replace("-", "_")
        return self._environ.get(key, default)

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return str(value)


def request_info(environ: dict[str, Any], trust_forwarded: bool, native: Any = None) -> RequestInfo:
    scheme = environ.get("wsgi.url_scheme", "http")
    ip = environ.get("REMOTE_ADDR")
    if trust_forwarded:
        scheme = (environ.get("HTTP_X_FORWARDED_PROTO") or scheme).split(",")[0].strip()
        forwarded = environ.get("HTTP_X_FORWARDED_FOR")
        if forwarded:
            ip = forwarded.split(",")[0].strip()
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
    path = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) or "/"
    return RequestInfo(
        method=environ.get("REQUEST_METHOD", "GET"),
        scheme=scheme,
        host=host,
        path=path,
        query=environ.get("QUERY_STRING", ""),
        headers=_Headers(environ),
        client_ip=ip,
        native=native,
    )


class MultibuzzWSGIMiddleware:
    def __init__(self, app: WSGIApp, client: Client | None = None) -> None:
        self.app = app
        self._client = client

    @property
    def client(self) -> Client | None:
        if self._client is not None:
            return self._client
        import multibuzz_client

        return multibuzz_client.get_client()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        client = self.client
        began = None
        if client is not None:
            try:
                request = request_info(environ, client.config.trust_forwarded)
                began = client.tracker.begin(request)
            except Exception:
                logger.exception("multibuzz: could not read the request; not tracked")
        if began is None:
            return self.app(environ, start_response)
        visit, token = began
        environ["multibuzz.visit"] = visit
        tracker = client.tracker  # type: ignore[union-attr]
        finished = False

        def tracked_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal finished
            if not finished:
                finished = True
                try:
                    content_type = next((v for k, v in headers if k.lower() == "content-type"), None)
                    cookies = tracker.finish(visit, token, int(status[:3]), content_type)
                    headers = [*headers, *(("Set-Cookie", c) for c in cookies)]
                except Exception:
                    logger.exception("multibuzz: could not finish tracking the request")
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        try:
            return self.app(environ, tracked_start_response)
        except BaseException:
            if not finished:
                finished = True
                tracker.finish(visit, token, 500, None)
            raise
