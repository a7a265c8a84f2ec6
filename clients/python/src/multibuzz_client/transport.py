"""One keep-alive HTTP connection to Multibuzz (standard library ``http.client``), signing when asked."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import ssl
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from multibuzz_client._version import __version__

USER_AGENT = f"multibuzz-client-python/{__version__}"


@dataclass(frozen=True, slots=True)
class Response:
    status: int  # 0: no answer (connection refused, timeout, reset)
    body: Any
    retry_after: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        return self.status in (0, 408, 425, 429) or self.status >= 500


def sign(secret: str, body: bytes) -> str:
    """``X-Signature``: HMAC-SHA256 of the raw body, hex."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        from datetime import datetime, timezone

        return max(0.0, (parsedate_to_datetime(text) - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError, IndexError):
        return None


class Transport:
    """Not thread-safe: one per thread (the sender owns one; read calls open their own)."""

    def __init__(self, base_url: str, api_key: str, timeout: float, signing_secret: str | None = None) -> None:
        parts = urlsplit(base_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._secret = signing_secret
        self._auth = f"Bearer {api_key}"
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._https:
                self._conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self._timeout, context=ssl.create_default_context()
                )
            else:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        idempotency_key: str | None = None,
        query: dict[str, Any] | None = None,
    ) -> Response:
        headers = {"Authorization": self._auth, "User-Agent": USER_AGENT, "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
            if self._secret:
                headers["X-Signature"] = sign(self._secret, body)
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        target = self._prefix + path
        if query:
            target += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        for attempt in (0, 1):  # a kept-alive connection the server closed is retried once, at once
            conn = self._connection()
            try:
                conn.request(method, target, body=body, headers=headers)
                raw = conn.getresponse()
                data = raw.read()
                retry_after = parse_retry_after(raw.getheader("Retry-After"))
                if raw.getheader("Connection", "").lower() == "close":
                    self.close()
                return Response(raw.status, _decode(data), retry_after)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                if attempt:
                    return Response(0, None, error=f"{type(exc).__name__}: {exc}")
            except (TimeoutError, OSError, http.client.HTTPException) as exc:
                self.close()
                return Response(0, None, error=f"{type(exc).__name__}: {exc}")
        return Response(0, None, error="no response")  # pragma: no cover

    def post_json(self, path: str, payload: Any, idempotency_key: str | None = None) -> Response:
        return self.request("POST", path, dumps(payload), idempotency_key=idempotency_key)


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=_default).encode()


def _default(value: Any) -> Any:
    from datetime import date, datetime
    from decimal import Decimal

    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _decode(data: bytes) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace")[:2000]
