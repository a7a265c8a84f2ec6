"""What the middlewares share: which requests are tracked, the cookies, the session rules, page views.

The client is thin (seed "Server-Side Attribution Architecture"): it keeps the visitor and session
cookies and forwards URLs, referrers, IPs and user agents; the server works out UTMs, channels and the
sessions themselves. Rules here:

- a request without a valid ``_mbuzz_vid`` is a first visit: a new visitor id (64 hex) and a new session;
- a request without ``_mbuzz_sid`` (it lives 30 minutes, renewed on every tracked request) is a returning
  visitor's new session; a request carrying a marketing touch (UTM or ad click id) is forwarded as a
  session hit too, and the server decides whether it starts a new session;
- a tracked HTML GET answered 2xx is a page view; static assets, health checks, bots, excluded paths
  (and, when the app asks, visitors sending ``Sec-GPC: 1``/``DNT: 1``) are not tracked and get no cookies.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from multibuzz_client.config import SESSION_COOKIE, VISITOR_COOKIE, VISITOR_MAX_AGE

if TYPE_CHECKING:
    from multibuzz_client.client import Client

logger = logging.getLogger("multibuzz_client")

_ID = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
_STATIC_SUFFIXES = (
    ".css", ".js", ".mjs", ".map", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".ico", ".webp", ".avif",
    ".woff", ".woff2", ".ttf", ".otf", ".eot", ".mp4", ".webm", ".mp3", ".pdf", ".zip", ".txt", ".xml", ".json",
)  # fmt: skip
_STATIC_PREFIXES = ("/static/", "/assets/", "/media/", "/_next/", "/favicon", "/robots.txt", "/.well-known/")
_HEALTH_PATHS = frozenset(
    ("/health", "/healthz", "/health-check", "/healthcheck", "/livez", "/readyz", "/ready", "/ping", "/up", "/status")
)
_BOT_TOKENS = (
    "bot/", "bot;", "bot)", "bot ", "crawl", "spider", "slurp", "facebookexternalhit", "headlesschrome",
    "lighthouse", "pingdom", "uptime", "monitor", "preview", "scrapy", "python-requests", "go-http-client",
    "curl/", "wget/", "feedfetcher", "mediapartners",
)  # fmt: skip
_bot_cache: dict[str, bool] = {}  # user agents repeat: the verdict is looked up, not recomputed
_TOUCH_KEYS = (
    "utm_source=", "utm_medium=", "utm_campaign=", "gclid=", "gbraid=", "wbraid=", "msclkid=", "fbclid=",
    "ttclid=", "li_fat_id=", "twclid=", "ref_code=", "ref=",
)  # fmt: skip

_current: ContextVar[Visit | None] = ContextVar("multibuzz_visit", default=None)


@dataclass(slots=True)
class RequestInfo:
    """The parts of an HTTP request the client reads; framework-neutral (also what ``funnel_detector`` gets)."""

    method: str
    scheme: str
    host: str
    path: str
    query: str
    headers: Mapping[str, str]  # lower-case names
    client_ip: str | None = None
    native: Any = None  # the framework's own request object when there is one (Django's HttpRequest)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}{self.path}" + (f"?{self.query}" if self.query else "")


@dataclass(slots=True)
class Visit:
    """The current visitor and session, reachable from the request (``multibuzz_client.current_visit()``)."""

    visitor_id: str
    session_id: str
    new_visitor: bool
    new_session: bool
    url: str
    referrer: str | None
    user_agent: str | None
    ip: str | None
    secure: bool
    request: RequestInfo = field(repr=False)


def current_visit() -> Visit | None:
    return _current.get()


def parse_cookies(header: str | None) -> tuple[str | None, str | None]:
    """Just our two cookies from a ``Cookie`` header (faster than parsing them all)."""
    if not header or "_mbuzz_" not in header:
        return None, None
    vid = sid = None
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == VISITOR_COOKIE:
            vid = value.strip('"')
        elif name == SESSION_COOKIE:
            sid = value.strip('"')
    return vid, sid


def new_id() -> str:
    return secrets.token_hex(32)


def is_bot(user_agent: str | None) -> bool:
    if not user_agent:
        return False
    verdict = _bot_cache.get(user_agent)
    if verdict is None:
        lowered = user_agent.lower()
        verdict = lowered.endswith("bot") or any(token in lowered for token in _BOT_TOKENS)
        if len(_bot_cache) < 10_000:
            _bot_cache[user_agent] = verdict
    return verdict


class Tracker:
    """The rules above, for one client; each middleware calls ``begin`` and ``finish`` around the app."""

    def __init__(self, client: Client) -> None:
        self.client = client
        config = client.config
        self._excluded = tuple(config.excluded_paths)
        attrs = "; Path=/; HttpOnly; SameSite=Lax"
        if config.cookie_domain:
            attrs += f"; Domain={config.cookie_domain}"
        self._vid_tail = f"; Max-Age={VISITOR_MAX_AGE}{attrs}"
        self._sid_tail = f"; Max-Age={config.session_timeout}{attrs}"

    def skip(self, request: RequestInfo) -> bool:
        path = request.path
        if path in _HEALTH_PATHS or path.startswith(_STATIC_PREFIXES) or path.endswith(_STATIC_SUFFIXES):
            return True
        if self._excluded and any(path == p or path.startswith(p.rstrip("/") + "/") for p in self._excluded):
            return True
        headers = request.headers
        if is_bot(headers.get("user-agent")):
            return True
        return self.client.config.honor_privacy_signals and (
            headers.get("sec-gpc", "").strip() == "1" or headers.get("dnt", "").strip() == "1"
        )

    def begin(self, request: RequestInfo) -> tuple[Visit, Token[Visit | None]] | None:
        """Identify the visitor and session of a request (None when it is not tracked)."""
        if not self.client.enabled or self.skip(request):
            return None
        headers = request.headers
        vid, sid = parse_cookies(headers.get("cookie"))
        new_visitor = vid is None or not _ID.match(vid)
        if new_visitor:
            vid = new_id()
        new_session = new_visitor or sid is None or not _ID.match(sid)
        if new_session:
            sid = new_id()
        assert vid is not None and sid is not None
        visit = Visit(
            visitor_id=vid,
            session_id=sid,
            new_visitor=new_visitor,
            new_session=new_session,
            url=request.url,
            referrer=headers.get("referer") or None,
            user_agent=headers.get("user-agent") or None,
            ip=request.client_ip,
            secure=request.scheme == "https",
            request=request,
        )
        query = request.query
        if new_session or (query and any(key in query for key in _TOUCH_KEYS)):
            self.client._session_hit(visit)
        return visit, _current.set(visit)

    def finish(self, visit: Visit, token: Token[Visit | None], status: int, content_type: str | None) -> list[str]:
        """After the app answered: record a page view if it was one; the ``Set-Cookie`` values to add."""
        try:
            _current.reset(token)
        except ValueError:  # finished in another context (some ASGI servers): nothing to restore
            _current.set(None)
        try:
            if (
                200 <= status < 300
                and visit.request.method == "GET"
                and content_type
                and content_type.startswith("text/html")
            ):
                self._page_view(visit)
        except Exception:
            logger.exception("multibuzz: could not record the page view")
        secure = "; Secure" if visit.secure else ""
        return [
            f"{VISITOR_COOKIE}={visit.visitor_id}{self._vid_tail}{secure}",
            f"{SESSION_COOKIE}={visit.session_id}{self._sid_tail}{secure}",
        ]

    def _page_view(self, visit: Visit) -> None:
        properties: dict[str, Any] = {"url": visit.url}
        if visit.referrer:
            properties["referrer"] = visit.referrer
        detector = self.client.config.funnel_detector
        if detector is not None:
            try:
                funnel = detector(visit.request)
            except Exception:
                logger.exception("multibuzz: funnel_detector raised; page view tracked without a funnel")
                funnel = None
            if funnel:
                properties.update(funnel)
        self.client.track("page_view", properties, visitor_id=visit.visitor_id, _visit=visit)
