"""A small Graph API client for the Marketing API calls Multibuzz makes, with Meta's throttling rules.

Meta signals throttling in the error body, not only with HTTP 429: codes 4 (app), 17 (user), 32 (page),
613 (custom rate) and 80000-80014 (business use case limits), and it reports how close a caller is in
the ``X-Business-Use-Case-Usage`` / ``X-Ad-Account-Usage`` (and ``X-App-Usage``) headers. A throttled
call is retried after an exponential backoff with full jitter — at least the ``estimated_time_to_regain_
access`` Meta announces, capped — and after ``max_retries`` it raises :class:`MetaThrottledError`, so the
sync stops with its cursor saved and the next run resumes there. A usage header at or above
``slow_down_pct`` makes the client pause before its next call instead of running into the wall.

The token travels in an ``Authorization`` header (never in a logged URL); ``paging.next`` URLs are
followed with their ``access_token`` parameter stripped. ``sleep`` and ``rng`` are injectable.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx

THROTTLE_CODES = frozenset({4, 17, 32, 613, *range(80000, 80015)})
AUTH_CODES = frozenset({190, 102})
TRANSIENT_CODES = frozenset({1, 2})  # "unknown error", "service temporarily unavailable"
USAGE_HEADERS = ("x-business-use-case-usage", "x-ad-account-usage", "x-app-usage")


class MetaError(Exception):
    """A Graph API failure, with a message written for a person (shown in sync-status)."""

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


class MetaAuthError(MetaError):
    """The token is invalid, expired or lacks permission: the integration needs a new token."""


class MetaThrottledError(MetaError):
    """Still throttled after every retry; the sync resumes from its cursor on the next run."""


class MetaUnavailableError(MetaError):
    """Meta could not be reached or kept answering 5xx."""


def usage_percent(headers: httpx.Headers) -> tuple[float, float]:
    """(highest usage %, seconds until access is regained) announced by the usage headers."""
    top, regain = 0.0, 0.0
    for name in USAGE_HEADERS:
        raw = headers.get(name)
        if not raw:
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            continue
        entries: list[Any] = []
        if name == "x-business-use-case-usage" and isinstance(value, dict):
            for items in value.values():
                entries.extend(items if isinstance(items, list) else [items])
        else:
            entries.append(value)
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            for key in ("call_count", "total_cputime", "total_time", "acc_id_util_pct"):
                with contextlib.suppress(TypeError, ValueError):
                    top = max(top, float(entry.get(key) or 0))
            try:
                regain = max(regain, 60.0 * float(entry.get("estimated_time_to_regain_access") or 0))
                regain = max(regain, float(entry.get("reset_time_duration") or 0))
            except (TypeError, ValueError):
                pass
    return top, regain


@dataclass
class Backoff:
    base: float = 2.0
    cap: float = 120.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, at_least: float = 0.0) -> float:
        """Full jitter: uniform in [0, min(cap, base·2^attempt)], but never below what Meta announced."""
        ceiling = min(self.cap, self.base * (2**attempt))
        return min(self.cap, max(at_least, self.rng.uniform(ceiling / 2, ceiling)))


class GraphClient:
    def __init__(
        self,
        base_url: str,
        access_token: str,
        *,
        app_secret: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 6,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
        slow_down_pct: float = 90.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = access_token
        self._proof = (
            hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest() if app_secret else None
        )
        self.max_retries = max_retries
        self.backoff = backoff or Backoff()
        self.sleep = sleep
        self.slow_down_pct = slow_down_pct
        self.throttled = 0  # throttled answers seen (for the sync run's detail)
        self.slept = 0.0
        self._http = httpx.Client(
            timeout=timeout, headers={"authorization": f"Bearer {access_token}"}, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- calls ----------------------------------------------------------------------------------------
    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.request("GET", self._url(path), params or {})

    def post(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.request("POST", self._url(path), params or {})

    def follow(self, next_url: str) -> dict[str, Any]:
        """A ``paging.next`` URL as Meta gave it (its access_token parameter dropped: ours is a header)."""
        parts = urlsplit(next_url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("access_token", "appsecret_proof")]
        url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        return self.request("GET", url, dict(query))

    def _url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(self, method: str, url: str, params: dict[str, Any]) -> dict[str, Any]:
        params = {k: (json.dumps(v) if isinstance(v, list | dict) else v) for k, v in params.items()}
        if self._proof:
            params["appsecret_proof"] = self._proof
        attempt = 0
        while True:
            try:
                response = self._http.get(url, params=params) if method == "GET" else self._http.post(url, data=params)
            except httpx.HTTPError as exc:
                if attempt >= self.max_retries:
                    raise MetaUnavailableError(f"Meta could not be reached ({type(exc).__name__})") from exc
                self._pause(self.backoff.delay(attempt))
                attempt += 1
                continue
            usage, regain = usage_percent(response.headers)
            body = self._json(response)
            error = body.get("error") if isinstance(body, dict) else None
            if response.status_code < 400 and not error:
                if usage >= self.slow_down_pct:  # close to the limit: give the window time before the next call
                    self._pause(max(regain, self.backoff.delay(0)))
                return body
            code, message = self._error_parts(error, response)
            throttled = code in THROTTLE_CODES or response.status_code == 429
            transient = code in TRANSIENT_CODES or response.status_code >= 500
            if code in AUTH_CODES:
                raise MetaAuthError(
                    f"Meta rejected the access token (code {code}: {message}); connect the ad account again "
                    "with a valid token",
                    code=code,
                    status=response.status_code,
                )
            if throttled or transient:
                if throttled:
                    self.throttled += 1
                if attempt >= self.max_retries:
                    cls = MetaThrottledError if throttled else MetaUnavailableError
                    what = "is throttling this ad account" if throttled else "kept failing"
                    raise cls(
                        f"Meta {what} (code {code}: {message}) after {attempt + 1} attempts; the sync resumes "
                        "from its saved position on the next run",
                        code=code,
                        status=response.status_code,
                    )
                self._pause(self.backoff.delay(attempt, at_least=regain if throttled else 0.0))
                attempt += 1
                continue
            raise MetaError(f"Meta answered an error (code {code}: {message})", code=code, status=response.status_code)

    def _pause(self, seconds: float) -> None:
        self.slept += seconds
        self.sleep(seconds)

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            return {}

    @staticmethod
    def _error_parts(error: Any, response: httpx.Response) -> tuple[int | None, str]:
        if isinstance(error, dict):
            code = error.get("code")
            message = str(error.get("error_user_msg") or error.get("message") or "no message")
            return (int(code) if isinstance(code, int | str) and str(code).isdigit() else None), message[:300]
        return None, f"HTTP {response.status_code}"
