"""Shopify order syncs: ``shopify_7d_fill`` (first connect, on demand) and ``shopify_fresh`` (every 15 min).

- fill: orders created in the last 7 days; above ``shopify_bulk_threshold`` a bulk operation
  (``bulkOperationRunQuery``, poll, stream the JSONL), below it paginated GraphQL.
- fresh: orders with ``updated_at >= cursor`` sorted by ``UPDATED_AT``, cursor pagination.
Each page (or JSONL chunk) is written — raw, facts, conversions — and committed together with the cursor
that covers it, so an interrupted run resumes from the last committed page: no gaps (the cursor never
passes uncommitted rows) and no duplicates (rows are keyed by order id; the boundary order is re-read and
re-written as itself). Daily aggregates of the touched days are rebuilt at the end (and after a failure).
Conversions are handed to the attribution queue after their transaction commits.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from multibuzz.bootstrap import Container
from multibuzz.commerce import integrations as svc
from multibuzz.commerce.aggregates import rebuild_shopify_days
from multibuzz.commerce.shopify import conversions as orders_to_conversions
from multibuzz.commerce.shopify import readahead
from multibuzz.commerce.shopify.client import ShopifyAuthError, ShopifyClient, ShopifyError
from multibuzz.commerce.shopify.orders import ORDER_FIELDS, OrderFacts, OrderPayloadError, from_graphql
from multibuzz.commerce.shopify.store import write_orders
from multibuzz.db.models import Account
from multibuzz.db.models.commerce import Integration
from multibuzz.observability import get_logger

logger = get_logger("shopify.sync")

FILL = "shopify_7d_fill"
FRESH = "shopify_fresh"
FRESH_CURSOR = "orders_updated_at"
FILL_CURSOR = "fill_updated_at"
FILL_DAYS = 7
_CHUNK = 1000


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def tools_of(container: Container) -> svc.Tools:
    return svc.Tools(container.clock, container.ids, container.secret_box)


def hash_key(container: Container) -> bytes:
    return ("shopify-email:" + container.settings.encryption_key.get_secret_value()).encode()


def client_for(
    container: Container,
    integration: Integration,
    token: str,
    http: httpx.Client | None = None,
    sleep: Callable[[float], None] | None = None,
) -> ShopifyClient:
    settings = container.settings
    kwargs: dict[str, Any] = {}
    if sleep is not None:
        kwargs["sleep"] = sleep
    return ShopifyClient(
        integration.external_id,
        token,
        base_url_template=settings.shopify_base_url,
        api_version=settings.shopify_api_version,
        http=http,
        **kwargs,
    )


@dataclass
class Progress:
    rows: int = 0
    stale: int = 0
    skipped: int = 0
    days: set[date] = field(default_factory=set)
    last_updated: datetime | None = None


def _account_locale(session: Session, account_id: str) -> tuple[str, str]:
    row = session.execute(select(Account.timezone, Account.currency).where(Account.id == account_id)).one()
    return str(row[0] or "UTC"), str(row[1] or "USD")


def write_batch(
    container: Container,
    session: Session,
    integration: Integration,
    nodes: Iterable[dict[str, Any]],
    progress: Progress,
    zone: str,
    *,
    source: str = "sync",
) -> list[Any]:
    """Parse and write one page of GraphQL order nodes; returns the conversion messages to send."""
    return write_parsed(container, session, integration, parse_nodes(nodes), progress, zone, source=source)


def parse_nodes(nodes: Iterable[dict[str, Any]]) -> list[tuple[OrderFacts | OrderPayloadError, dict[str, Any]]]:
    """Each node with its facts, or with the reason it cannot be read (pure: the bulk fill runs it on its
    read-ahead thread)."""
    parsed: list[tuple[OrderFacts | OrderPayloadError, dict[str, Any]]] = []
    for node in nodes:
        try:
            parsed.append((from_graphql(node), node))
        except OrderPayloadError as exc:
            parsed.append((exc, node))
    return parsed


def write_parsed(
    container: Container,
    session: Session,
    integration: Integration,
    parsed: Iterable[tuple[OrderFacts | OrderPayloadError, dict[str, Any]]],
    progress: Progress,
    zone: str,
    *,
    source: str = "sync",
) -> list[Any]:
    """Write one page of parsed nodes (``parse_nodes``); returns the conversion messages to send."""
    items: list[tuple[OrderFacts, dict[str, Any]]] = []
    for facts, node in parsed:
        if isinstance(facts, OrderPayloadError):  # one bad order never drops the page
            progress.skipped += 1
            logger.warning("order skipped", extra={"integration_id": integration.id, "reason": str(facts)})
        else:
            items.append((facts, node))
    now = container.clock.now()
    result = write_orders(session, integration, items, source=source, now=now, zone=zone, hash_key=hash_key(container))
    progress.rows += len(result.written)
    progress.stale += result.stale
    progress.days |= result.dates
    for facts, _ in items:
        if progress.last_updated is None or facts.order_updated_at > progress.last_updated:
            progress.last_updated = facts.order_updated_at
    return orders_to_conversions.upsert_conversions(
        session, integration, result.written, now=now, hash_key=hash_key(container)
    )


def run(
    container: Container,
    integration_id: str,
    sync_type: str,
    trigger: str,
    *,
    http: httpx.Client | None = None,
    sleep: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Run one Shopify sync for one integration; the outcome is recorded as a sync run."""
    tools = tools_of(container)
    with container.session() as session:
        integration = session.get(Integration, integration_id)
        if integration is None or integration.type != "shopify" or integration.status == "disconnected":
            return {"skipped": "integration not connected"}
        token = svc.read_secret(session, container.secret_box, integration.id)
        sync_run = svc.start_run(session, tools, integration, sync_type, trigger)
        session.commit()
        zone, currency = _account_locale(session, integration.account_id)
        progress = Progress()
        started = container.clock.now()
        error: str | None = None
        try:
            if token is None:
                raise ShopifyAuthError("no access token stored for this store; reconnect it")
            client = client_for(container, integration, token, http, sleep)
            if sync_type == FILL:
                _fill(container, session, integration, client, progress, zone, started)
            elif sync_type == FRESH:
                _fresh(container, session, integration, client, progress, zone, started)
            else:
                raise ShopifyError(f"unknown Shopify sync type {sync_type!r}")
        except ShopifyError as exc:
            session.rollback()
            error = str(exc)
            if isinstance(exc, ShopifyAuthError):
                svc.mark_error(session, tools, integration, error)
        except Exception as exc:  # recorded for the user, then re-raised for the logs / retry
            session.rollback()
            error = f"sync failed unexpectedly ({type(exc).__name__}); it will be retried"
            logger.exception("shopify sync crashed", extra={"integration_id": integration_id})
        if progress.days:
            rebuild_shopify_days(
                session, integration.account_id, integration.id, progress.days, container.clock.now(), currency
            )
        # A successful run has seen every order updated before it started (Shopify's search index may lag
        # by seconds; the cursor itself stays at the last order seen, so nothing is skipped).
        fresh_to = started if error is None else None
        svc.finish_run(
            session,
            tools,
            sync_run,
            rows=progress.rows,
            error_message=error,
            data_fresh_to=fresh_to,
            detail={"stale": progress.stale, "skipped": progress.skipped, "days": len(progress.days)},
        )
        session.commit()
        return {"run_id": sync_run.id, "status": sync_run.status, "rows": progress.rows, "error": error}


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _commit_page(
    container: Container,
    session: Session,
    integration: Integration,
    cursor_name: str,
    cursor_value: str | None,
    messages: list[Any],
    send: Callable[[list[Any]], Any] | None = None,
) -> None:
    """Commit the page with its cursor, then hand its conversions over (``send``: the bulk fill's sender
    thread; else now, on this thread)."""
    if cursor_value is not None:
        svc.advance_cursor(session, tools_of(container), integration, cursor_name, cursor_value)
    session.commit()
    if send is not None:
        send(messages)
    else:
        orders_to_conversions.send(container.queue, messages)


def _paged(
    container: Container,
    session: Session,
    integration: Integration,
    client: ShopifyClient,
    progress: Progress,
    zone: str,
    search: str,
    cursor_name: str,
) -> None:
    after: str | None = None
    while True:
        nodes, after = client.orders_page(search, after, container.settings.shopify_page_size, ORDER_FIELDS)
        messages = write_batch(container, session, integration, nodes, progress, zone)
        last = max((str(n.get("updatedAt")) for n in nodes if n.get("updatedAt")), default=None)
        _commit_page(container, session, integration, cursor_name, iso(_parse(last)) if last else None, messages)
        if after is None:
            return


def _fill(
    container: Container,
    session: Session,
    integration: Integration,
    client: ShopifyClient,
    progress: Progress,
    zone: str,
    started: datetime,
) -> None:
    since = started - timedelta(days=FILL_DAYS)
    search = f"created_at:>='{iso(since)}'"
    resume = svc.read_cursor(session, integration.id, FILL_CURSOR)
    if resume is not None and resume.value:
        search += f" AND updated_at:>='{resume.value}'"
    count = client.orders_count(search)
    if count > container.settings.shopify_bulk_threshold:
        operation = client.run_bulk_orders(search, ORDER_FIELDS)
        url = client.poll_bulk(operation)
        if url:
            # The download and parse of the next lines (JSON, then facts) run on a thread while this one
            # writes, and each committed page's conversion messages go out on another (readahead).
            sender = readahead.Sender(lambda batch: orders_to_conversions.send(container.queue, batch))
            try:
                for chunk in readahead.chunks(client.stream_jsonl(url), _CHUNK, parse_nodes):
                    _commit_page(
                        container,
                        session,
                        integration,
                        FILL_CURSOR,
                        None,
                        write_parsed(container, session, integration, chunk, progress, zone),
                        sender.submit,
                    )
            except BaseException:
                with contextlib.suppress(BaseException):  # the write's error is the one to report
                    sender.close()
                raise
            sender.close()
    else:
        _paged(container, session, integration, client, progress, zone, search, FILL_CURSOR)
    # Done: the next fill starts over; fresh syncs continue from when this fill started.
    svc.advance_cursor(session, tools_of(container), integration, FILL_CURSOR, None)
    fresh = svc.read_cursor(session, integration.id, FRESH_CURSOR)
    if fresh is None or not fresh.value:
        svc.advance_cursor(session, tools_of(container), integration, FRESH_CURSOR, iso(started))
    session.commit()


def _fresh(
    container: Container,
    session: Session,
    integration: Integration,
    client: ShopifyClient,
    progress: Progress,
    zone: str,
    started: datetime,
) -> None:
    cursor = svc.read_cursor(session, integration.id, FRESH_CURSOR)
    since = cursor.value if cursor and cursor.value else iso(started - timedelta(days=FILL_DAYS))
    _paged(container, session, integration, client, progress, zone, f"updated_at:>='{since}'", FRESH_CURSOR)


def connected_shopify(session: Session) -> list[str]:
    return list(
        session.scalars(select(Integration.id).where(Integration.type == "shopify", Integration.status == "connected"))
    )
