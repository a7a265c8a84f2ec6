"""GET|HEAD /r/{code}: answer from the link cache, 302 with ``ref_code``, click to the clicks queue.

The order of work is chosen so that the visitor is never the one who pays for a failure:
1. the code is normalised (a malformed one is a 404 without touching cache or database);
2. the snapshot comes from the process-wide cache, else one read; if the database is down a stale
   snapshot is used, else a 503 page (never a 500);
3. the Location is computed (fallback URL outside the campaign's live window or while it is not
   active), the click is built and handed to the queue; if the queue fails for any reason the click
   is spooled (and if even that fails it is logged) — the redirect is answered regardless.
Bot classification (HEAD, link-preview agents, prefetch, crawlers) happens in the click consumer:
the hot path only forwards what it saw.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from multibuzz.bootstrap import Container, get_container
from multibuzz.domain import links as link_rules
from multibuzz.domain.privacy import click_ip_facts
from multibuzz.observability import get_logger
from multibuzz.redirect import pages
from multibuzz.redirect.cache import LinkSnapshot, TtlCache, link_cache
from multibuzz.redirect.click_message import ClickTemplate, click_message, click_template
from multibuzz.redirect.geoip import GeoResolver
from multibuzz.redirect.journal import ClickJournal, JournalShipper
from multibuzz.redirect.lookup import load_link
from multibuzz.redirect.publisher import ClickPublisher, DirectClickPublisher, JournalClickPublisher
from multibuzz.redirect.spool import ClickSpool, FileClickSpool
from multibuzz.telemetry import metrics
from multibuzz.telemetry.correlation import from_http_event
from multibuzz.telemetry.invocation import begin, end

QUEUE = "clicks"
MAX_UA = 512
FUNCTION = "redirect"  # the metrics' function dimension (topology's name)
_REDIRECTS = metrics.Counter(FUNCTION, metrics.Metric.REDIRECTS)
_CACHE_HITS = metrics.Counter(FUNCTION, metrics.Metric.REDIRECT_CACHE_HITS)
_CACHE_MISSES = metrics.Counter(FUNCTION, metrics.Metric.REDIRECT_CACHE_MISSES)
MAX_REFERRER = 2048

logger = get_logger("redirect")


def is_live(snapshot: LinkSnapshot, now: datetime) -> bool:
    if snapshot.campaign_status != "active":
        return False
    if snapshot.starts_at is not None and now < snapshot.starts_at:
        return False
    return not (snapshot.ends_at is not None and now >= snapshot.ends_at)


def client_ip(event: Mapping[str, Any], headers: Mapping[str, str]) -> str | None:
    """CloudFront's viewer address when present (API Gateway's sourceIp is then the edge), else sourceIp."""
    viewer = headers.get("cloudfront-viewer-address")
    if viewer:
        return viewer.rsplit(":", 1)[0].strip("[]") if viewer.count(":") != 1 else viewer.split(":")[0]
    http = (event.get("requestContext") or {}).get("http") or {}
    ip = http.get("sourceIp")
    return str(ip) if ip else None


def geo(headers: Mapping[str, str], ip: str | None, resolver: GeoResolver | None) -> tuple[str | None, str | None]:
    """CloudFront's viewer country/city when present, else the offline IP database when configured."""
    country = headers.get("cloudfront-viewer-country") or None
    city = headers.get("cloudfront-viewer-city") or None
    if country or city:
        return (country.upper()[:2] if country else None, unquote(city)[:100] if city else None)
    if resolver is not None and ip:
        try:
            return resolver(ip)
        except Exception:  # a broken geo database must not break redirects
            logger.exception("geo lookup failed")
    return None, None


class Redirector:
    def __init__(
        self,
        container_factory: Callable[[], Container] = get_container,
        cache: TtlCache[LinkSnapshot] = link_cache,
        spool_factory: Callable[[Container], ClickSpool] | None = None,
        *,
        journal: bool | None = None,
    ) -> None:
        self._container_factory = container_factory
        self.cache = cache
        self._spool_factory = spool_factory or default_spool
        self._spools: dict[int, ClickSpool] = {}
        self._publishers: dict[int, ClickPublisher] = {}
        self._journal = journal
        self._templates: dict[tuple[int, bool], ClickTemplate] = {}

    def publisher(self, container: Container) -> ClickPublisher:
        """Per container: the click journal for the local queue, direct for SQS (see multibuzz.redirect.publisher)."""
        key = id(container)
        publisher = self._publishers.get(key)
        if publisher is None:
            journal = self._journal
            if journal is None:
                journal = container.settings.queue_backend == "local"
            spool = self.spool(container)
            if journal:
                directory = journal_directory(container)
                publisher = JournalClickPublisher(
                    ClickJournal(directory), JournalShipper(directory), lambda: container.queue, spool
                )
            else:
                publisher = DirectClickPublisher(lambda: container.queue, spool)
            self._publishers[key] = publisher
        return publisher

    def flush(self) -> None:
        """Hand every click recorded so far to the queue now (locally: ship the journal in this process)."""
        for publisher in list(self._publishers.values()):
            publisher.flush()

    def spool(self, container: Container) -> ClickSpool:
        key = id(container)
        spool = self._spools.get(key)
        if spool is None:
            spool = self._spools[key] = self._spool_factory(container)
        return spool

    # -- the handler ---------------------------------------------------------------------
    def __call__(self, event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        # No tracer here (its import and client patching cost more than the redirect's cold-start budget).
        token = begin(FUNCTION, from_http_event(event))
        try:
            return self._serve(event)
        finally:
            end(token)

    def _serve(self, event: Mapping[str, Any]) -> dict[str, Any]:
        try:
            raw_code = (event.get("pathParameters") or {}).get("code") or ""
            code = link_rules.normalize_code(str(raw_code))
            if code is None:
                return pages.html(404, pages.NOT_FOUND)
            container = self._container_factory()
            snapshot = self._snapshot(container, code)
        except _Unavailable:
            return pages.html(503, pages.UNAVAILABLE)
        except Exception:
            logger.exception("redirect lookup failed")
            return pages.html(503, pages.UNAVAILABLE)
        if snapshot is None or not snapshot.account_active:
            return pages.html(404, pages.NOT_FOUND)
        if not snapshot.active:
            return pages.html(410, pages.GONE)
        try:
            location, click = self._click(container, snapshot, event)
        except Exception:  # the visitor still goes where the link says
            logger.exception("click recording failed", extra={"link_id": snapshot.link_id})
            return pages.redirect(link_rules.iri_to_uri(snapshot.destination_url))
        try:
            self._publish(container, click)
        except Exception:  # the visitor still goes where the link says
            logger.exception("click recording failed", extra={"link_id": snapshot.link_id})
        _REDIRECTS.add()
        return pages.redirect(location)

    def _snapshot(self, container: Container, code: str) -> LinkSnapshot | None:
        fresh, snapshot = self.cache.get(code)
        if fresh:
            _CACHE_HITS.add()
            return snapshot
        _CACHE_MISSES.add()
        try:
            snapshot = load_link(container.engine, code, container.settings.encryption_key.get_secret_value())
        except Exception as exc:
            stale = self.cache.stale(code)
            logger.exception("link lookup failed", extra={"served_stale": stale is not None})
            if stale is not None:
                return stale
            raise _Unavailable from exc
        self.cache.put(code, snapshot)
        return snapshot

    def _click(self, container: Container, snapshot: LinkSnapshot, event: Mapping[str, Any]) -> tuple[str, str]:
        """(Location, click message body)."""
        now = container.clock.now()
        headers: Mapping[str, str] = event.get("headers") or {}
        template = self._template(snapshot, is_live(snapshot, now))
        raw_query = event.get("rawQueryString")
        if raw_query and snapshot.forward_utms:
            incoming = parse_qsl(str(raw_query), keep_blank_values=False)
            location = link_rules.build_location(
                template.target, snapshot.code, incoming_query=incoming, forward_utms=True
            )
        else:  # the common case: the same Location every time for this snapshot and target
            location = template.location
        http = (event.get("requestContext") or {}).get("http") or {}
        ip = client_ip(event, headers)
        user_agent = headers.get("user-agent") or None
        country, city = geo(headers, ip, container.geo_resolver)
        stored_ip, fingerprint = click_ip_facts(ip, user_agent, snapshot.ip_privacy, snapshot.salt)
        body = click_message(
            template,
            click_id=container.ids.new("clk"),
            occurred_at=now.isoformat(),
            method=str(http.get("method") or "GET").upper()[:8],
            user_agent=user_agent[:MAX_UA] if user_agent else None,
            referrer=(headers.get("referer") or "")[:MAX_REFERRER] or None,
            ip=stored_ip,
            visitor_hash=fingerprint,
            country=country,
            city=city,
            destination_url=location,
            prefetch=link_rules.is_prefetch(headers),
        )
        return location, body

    def _template(self, snapshot: LinkSnapshot, live: bool) -> ClickTemplate:
        """The per-snapshot part of the click message (see click_message), made once per snapshot."""
        key = (id(snapshot), live)
        template = self._templates.get(key)
        if template is None or template.snapshot is not snapshot:
            if len(self._templates) > 10_000:
                self._templates.clear()
            template = self._templates[key] = click_template(snapshot, live)
        return template

    def _publish(self, container: Container, body: str) -> None:
        self.publisher(container).publish(body)


class _Unavailable(Exception):
    pass


def journal_directory(container: Container) -> Path:
    """Where the local click journal lives (see multibuzz.redirect.journal)."""
    return Path(container.settings.data_dir) / "clicks-journal"


def default_spool(container: Container) -> ClickSpool:
    """Locally ``<data_dir>/spool``; on AWS (SQS backend) ``/tmp`` plus a log copy (see spool module)."""
    if container.settings.queue_backend == "sqs":
        return FileClickSpool(Path("/tmp/multibuzz-spool"), log_copy=True)  # noqa: S108 - Lambda's only disk
    return FileClickSpool(container.settings.data_dir / "spool")
