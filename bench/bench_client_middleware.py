"""Python client: what the middleware adds to a request, against the same app without it, in one run.

A minimal WSGI app (and the same as ASGI) answers an HTML page; each round times one request through the bare
app and one through ``MultibuzzWSGIMiddleware`` (interleaved, so drift hits both alike). The client is real: its
sender thread delivers to a stand-in Multibuzz in a subprocess (a tiny HTTP server answering 202), so the
request path pays exactly what it would in production (cookie parsing, ids, Set-Cookie, the queue) and the
delivery work runs in its own thread.

Scenarios: ``in-session`` (cookies present: a page view) and ``first visit`` (no cookies: new ids, a session
hit and a page view). Goal (issue 14): p50 added <= 50 us.
Run: .venv/bin/python bench/bench_client_middleware.py [--requests 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "clients" / "python" / "src")]

from _common import write_results  # noqa: E402
from multibuzz_client import Client  # noqa: E402
from multibuzz_client.asgi import MultibuzzASGIMiddleware  # noqa: E402
from multibuzz_client.wsgi import MultibuzzWSGIMiddleware  # noqa: E402

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
KEY = "sk_test_" + "b" * 40
SINK = textwrap.dedent(
    """
    import sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = -1  # headers and body in one segment (no Nagle/delayed-ACK stall)
        def log_message(self, *a): pass
        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(202); self.send_header("content-length", "2"); self.end_headers()
            self.wfile.write(b"{}")
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def html_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "13")])
    return [b"<p>hello</p>\n"]


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
    await send({"type": "http.response.body", "body": b"<p>hello</p>\n"})


def environ(cookie: str | None) -> dict[str, Any]:
    env = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/products/tee",
        "QUERY_STRING": "colour=blue",
        "HTTP_HOST": "shop.example",
        "HTTP_USER_AGENT": UA,
        "HTTP_REFERER": "https://shop.example/",
        "HTTP_ACCEPT": "text/html",
        "REMOTE_ADDR": "203.0.113.9",
        "SERVER_NAME": "shop.example",
        "SERVER_PORT": "443",
        "wsgi.url_scheme": "https",
    }
    if cookie:
        env["HTTP_COOKIE"] = cookie
    return env


def wsgi_once(app: Any, env: dict[str, Any]) -> int:
    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        pass

    began = time.perf_counter_ns()
    b"".join(app(dict(env), start_response))
    return time.perf_counter_ns() - began


def asgi_once(app: Any, scope: dict[str, Any]) -> int:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        pass

    coroutine = app(dict(scope), receive, send)
    began = time.perf_counter_ns()
    with contextlib.suppress(StopIteration):  # these apps never suspend: no event loop needed to run them
        coroutine.send(None)
    return time.perf_counter_ns() - began


def summary(bare: list[int], wrapped: list[int]) -> dict[str, float]:
    def pct(values: list[int], q: float) -> float:
        return sorted(values)[int(q * (len(values) - 1))] / 1000

    return {
        "bare_p50_us": round(pct(bare, 0.5), 2),
        "with_p50_us": round(pct(wrapped, 0.5), 2),
        "added_p50_us": round(pct(wrapped, 0.5) - pct(bare, 0.5), 2),
        "bare_p99_us": round(pct(bare, 0.99), 2),
        "with_p99_us": round(pct(wrapped, 0.99), 2),
        "added_p99_us": round(pct(wrapped, 0.99) - pct(bare, 0.99), 2),
        "added_mean_us": round((statistics.fmean(wrapped) - statistics.fmean(bare)) / 1000, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
    port = free_port()
    sink = subprocess.Popen([sys.executable, "-c", SINK, str(port)])
    try:
        time.sleep(0.5)
        client = Client(api_key=KEY, api_url=f"http://127.0.0.1:{port}", flush_at_exit=False, max_queue=200_000)
        wsgi = MultibuzzWSGIMiddleware(html_app, client)
        asgi = MultibuzzASGIMiddleware(asgi_app, client)
        in_session = environ(f"theme=dark; _mbuzz_vid={'a' * 64}; _mbuzz_sid={'b' * 64}")
        first = environ(None)
        scope = {
            "type": "http",
            "method": "GET",
            "scheme": "https",
            "path": "/products/tee",
            "query_string": b"colour=blue",
            "headers": [
                (b"host", b"shop.example"),
                (b"user-agent", UA.encode()),
                (b"referer", b"https://shop.example/"),
                (b"cookie", f"_mbuzz_vid={'a' * 64}; _mbuzz_sid={'b' * 64}".encode()),
            ],
            "client": ("203.0.113.9", 5000),
        }
        asyncio.run(asgi_app(dict(scope), None, lambda m: asyncio.sleep(0)))  # warm-up of asyncio import
        figures: dict[str, Any] = {"requests_per_scenario": args.requests}
        scenarios = {
            "wsgi in-session page view": (wsgi_once, html_app, wsgi, in_session),
            "wsgi first visit": (wsgi_once, html_app, wsgi, first),
            "asgi in-session page view": (asgi_once, asgi_app, asgi, scope),
        }
        for name, (once, bare_app, wrapped_app, request) in scenarios.items():
            for _ in range(500):  # warm-up
                once(bare_app, request)
                once(wrapped_app, request)
            bare, wrapped = [], []
            for _ in range(args.requests):
                bare.append(once(bare_app, request))
                wrapped.append(once(wrapped_app, request))
            figures[name] = summary(bare, wrapped)
        if not client.flush(120):
            print("not all delivered:", client.stats())
        figures["sender"] = client.stats()
    finally:
        sink.terminate()
        sink.wait(timeout=10)
    print(f"{'scenario':<28}{'bare p50':>10}{'with p50':>10}{'added p50':>11}{'added p99':>11}  (microseconds)")
    for name in ("wsgi in-session page view", "wsgi first visit", "asgi in-session page view"):
        f = figures[name]
        print(f"{name:<28}{f['bare_p50_us']:>10}{f['with_p50_us']:>10}{f['added_p50_us']:>11}{f['added_p99_us']:>11}")
    print(f"goal: added p50 <= 50 us; sender: {figures['sender']}")
    write_results("client_middleware", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
