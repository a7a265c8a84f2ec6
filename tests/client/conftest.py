"""Fixtures of the Python client's tests: a scripted Multibuzz stand-in and example-app servers, all on loopback.

The stand-in (``FakeMultibuzz``) is a real HTTP server that records what the client sends and answers from a
script, so batching, retries, Retry-After, signatures and dropping are observed on the wire. The end-to-end
tests use the real local stack instead (the ``gateway``/``api`` fixtures).
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port

EXAMPLES = Path(__file__).resolve().parents[2] / "clients" / "python" / "examples"
KEY = "sk_test_" + "a1" * 20
CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
)


def wait_for(condition: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> None:
    """Wait for a state (not a duration): fails only if it never happens."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw) if self.raw else None


@dataclass
class FakeMultibuzz:
    url: str = ""
    received: list[Received] = field(default_factory=list)
    script: list[tuple[int, dict[str, str], Any]] = field(default_factory=list)  # answers to give, in order
    gate: threading.Event = field(default_factory=threading.Event)  # cleared: requests hang until set
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.gate.set()

    def answer(self, request: Received) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            if self.script:
                return self.script.pop(0)
        if request.path.endswith("/events") and isinstance(request.json, dict) and "events" in request.json:
            n = len(request.json["events"])
            return 202, {}, {"accepted": n, "rejected": 0, "events": [], "errors": []}
        return 202, {}, {"status": "accepted"}

    def paths(self) -> list[str]:
        return [r.path for r in self.received]

    def events(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for r in self.received:
            if r.path == "/api/v1/events" and "events" in (r.json or {}):
                out.extend(r.json["events"])
        return out


@pytest.fixture
def fake() -> Iterator[FakeMultibuzz]:
    state = FakeMultibuzz()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = -1  # headers and body in one segment: no Nagle/delayed-ACK stall on kept-alive connections

        def log_message(self, *_: Any) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            request = Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, raw)
            state.gate.wait(30)
            status, headers, body = state.answer(request)
            with state.lock:
                state.received.append(request)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_GET = _handle  # noqa: N815 (http.server's names)

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    state.gate.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def examples_path(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    return EXAMPLES


@contextlib.contextmanager
def serve_wsgi(app: Any) -> Iterator[str]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@contextlib.contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 20, "uvicorn to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def serve_example(framework: str, **options: Any) -> Iterator[str]:
    """Run ``clients/python/examples/<framework>_shop.py`` as a real server on a free loopback port."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    import importlib

    module = importlib.import_module(f"{framework}_shop")
    app = module.create_app(**options)
    serve = serve_asgi if framework == "fastapi" else serve_wsgi
    with serve(app) as base:
        yield base


@pytest.fixture(autouse=True)
def _no_default_client() -> Iterator[None]:
    """Each test configures its own default client; none outlives it."""
    import multibuzz_client

    yield
    client = multibuzz_client.get_client()
    if client is not None:
        client.shutdown(timeout=0.5)
        multibuzz_client._default = None
