"""Translate between HTTP and API Gateway HTTP API (payload format 2.0) events, and route keys."""

from __future__ import annotations

import base64
import functools
import itertools
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

# Request ids only need to be unique per process run: a counter, not a random UUID per request.
_REQUEST_PREFIX = f"local-{os.getpid():x}-{int(time.time()):x}"
_REQUEST_COUNTER = itertools.count(1)
_TEXT_TYPES = (
    "text/",
    "application/json",
    "application/x-www-form-urlencoded",
    "application/xml",
    "application/javascript",
    "image/svg+xml",
)


@dataclass(frozen=True)
class Route:
    key: str  # "GET /r/{code}"
    method: str  # "GET" | "ANY"
    template: str
    function: str
    pattern: re.Pattern[str]
    literal_segments: int
    greedy: bool

    @classmethod
    def parse(cls, key: str, function: str) -> Route:
        method, template = key.split(" ", 1)
        regex = "^"
        literal = 0
        greedy = False
        for segment in template.strip("/").split("/"):
            regex += "/"
            if segment.startswith("{") and segment.endswith("+}"):
                regex += f"(?P<{segment[1:-2]}>.+)"
                greedy = True
            elif segment.startswith("{") and segment.endswith("}"):
                regex += f"(?P<{segment[1:-1]}>[^/]+)"
            else:
                regex += re.escape(segment)
                literal += 1
        return cls(key, method, template, function, re.compile(regex + "$"), literal, greedy)

    def sort_key(self) -> tuple[int, int, int]:
        # As API Gateway: most specific first; greedy routes and ANY last.
        return (int(self.greedy), -self.literal_segments, int(self.method == "ANY"))


def _first_segment(path: str) -> str:
    return path[1:].split("/", 1)[0] if path.startswith("/") else ""


class Router:
    def __init__(self, routes: list[tuple[str, str]]) -> None:
        self.routes = sorted((Route.parse(key, fn) for key, fn in routes), key=Route.sort_key)
        # Candidates by the path's first segment, in the same precedence order: routes whose template starts
        # with that literal, plus those that start with a parameter (which match any first segment).
        variable = [r for r in self.routes if r.template[1:2] == "{"]
        self._by_first: dict[str, list[Route]] = {}
        for route in self.routes:
            first = _first_segment(route.template)
            if not first.startswith("{"):
                self._by_first.setdefault(first, [])
        for first, candidates in self._by_first.items():
            candidates.extend(r for r in self.routes if _first_segment(r.template) == first or r.template[1:2] == "{")
        self._variable = variable

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        lookup = "GET" if method == "HEAD" else method
        fallback: tuple[Route, dict[str, str]] | None = None
        for route in self._by_first.get(_first_segment(path), self._variable):
            found = route.pattern.match(path)
            if not found:
                continue
            if route.method in (method, "ANY"):
                return route, found.groupdict()
            if route.method == lookup and fallback is None:
                fallback = (route, found.groupdict())
        return fallback


@functools.lru_cache(maxsize=4)
def _clf_time(second: int) -> str:
    """API Gateway's requestContext.time (CLF format); formatted once per second, not per request."""
    return datetime.fromtimestamp(second, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def build_event(
    *,
    route: Route,
    path_params: dict[str, str],
    method: str,
    path: str,
    query_string: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
) -> dict[str, Any]:
    merged: dict[str, str] = {}
    cookies: list[str] | None = None
    for name, value in headers:
        lname = name.lower()
        if lname in merged:
            merged[lname] = f"{merged[lname]},{value}"
        elif lname == "cookie":
            cookies = cookies or []
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
        else:
            merged[lname] = value
    body_text: str | None
    if not body:
        body_text, encoded = None, False
    elif merged.get("content-type", "").startswith(_TEXT_TYPES):
        try:
            body_text, encoded = body.decode("utf-8"), False
        except UnicodeDecodeError:
            body_text, encoded = base64.b64encode(body).decode(), True
    else:
        body_text, encoded = base64.b64encode(body).decode(), True
    now = time.time()
    host = merged.get("host", "localhost")
    request_id = f"{_REQUEST_PREFIX}-{next(_REQUEST_COUNTER):x}"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.key,
        "rawPath": path,
        "rawQueryString": query_string,
        "headers": merged,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split(".", 1)[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": route.key,
            "stage": "$default",
            "time": _clf_time(int(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": encoded,
    }
    if cookies:
        event["cookies"] = cookies
    if query_string:
        query: dict[str, str] = {}
        for key, value in parse_qsl(query_string, keep_blank_values=True):
            query[key] = f"{query[key]},{value}" if key in query else value
        if query:
            event["queryStringParameters"] = query
    if path_params:
        event["pathParameters"] = path_params
    if body_text is not None:
        event["body"] = body_text
    return event


_HEADER_BYTES: dict[tuple[str, Any], tuple[bytes, bytes]] = {}


def _header(name: str, value: Any) -> tuple[bytes, bytes]:
    """(name, value) as HTTP bytes; remembered, since a function answers with the same few headers."""
    key = (name, value)
    try:
        found = _HEADER_BYTES.get(key)
    except TypeError:  # an unhashable value: encode it every time
        return name.lower().encode("latin-1"), str(value).encode("latin-1")
    if found is None:
        found = (name.lower().encode("latin-1"), str(value).encode("latin-1"))
        if len(_HEADER_BYTES) >= 4096:
            _HEADER_BYTES.clear()
        _HEADER_BYTES[key] = found
    return found


def parse_result(result: Any) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """A v2 Lambda result → (status, headers, body), with API Gateway's rules for bare results."""
    if not isinstance(result, dict) or "statusCode" not in result:
        import json

        payload = result if isinstance(result, str) else json.dumps(result)
        return 200, [(b"content-type", b"application/json")], payload.encode()
    status = int(result["statusCode"])
    headers = [_header(name, value) for name, value in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values:
            headers.append((name.lower().encode("latin-1"), str(value).encode("latin-1")))
    for cookie in result.get("cookies") or []:
        headers.append((b"set-cookie", cookie.encode("latin-1")))
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    # As API Gateway: a buffered response always carries its length (and so goes out in one write).
    for name, _ in headers:
        if name == b"content-length":
            break
    else:
        headers.append((b"content-length", b"%d" % len(body)))
    return status, headers, body
