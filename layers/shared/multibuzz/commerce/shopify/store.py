"""Write orders: raw payload + fact row per (integration, order), the newest ``updated_at`` winning.

One set-based upsert per batch (webhook consumer and syncs alike). The guard against an older
``updated_at`` is inside the upsert itself (``ON CONFLICT … WHERE`` on SQLite, ``IF()`` on MySQL with the
timestamp assigned last), so a webhook and a sync racing on one order cannot regress it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql import sqltypes

from multibuzz.commerce.shopify.client import JsonLine
from multibuzz.commerce.shopify.conversions import conversion_id_of
from multibuzz.commerce.shopify.orders import OrderFacts, customer_ref, order_day
from multibuzz.db.models.commerce import FactOrder, Integration, ShopifyOrderRaw
from multibuzz.db.mysql_rows import insert_many

_CHUNK = 1000


@dataclass(slots=True)
class WriteResult:
    written: list[OrderFacts] = field(default_factory=list)  # rows that were new or newer
    stale: int = 0  # older than what we had: ignored
    dates: set[date] = field(default_factory=set)  # order days touched (old and new)

    def merge(self, other: WriteResult) -> None:
        self.written.extend(other.written)
        self.stale += other.stale
        self.dates |= other.dates


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def _json_text(value: Any) -> Any:
    if isinstance(value, JsonLine):
        return value.text
    return json.dumps(value) if isinstance(value, dict | list) else value


def _naive_utc(value: Any) -> Any:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value


def _converter(column: Any) -> Any:
    """How a value of this column goes to the DB-API: None when pymysql takes it as it is (text, numbers,
    dates, booleans), else a function (aware datetimes to naive UTC, JSON documents to text)."""
    kind = getattr(column.type, "impl", column.type)
    if isinstance(kind, sqltypes.JSON):
        return _json_text
    if isinstance(kind, sqltypes.DateTime):
        return _naive_utc
    if isinstance(kind, sqltypes.String | sqltypes.Numeric | sqltypes.Integer | sqltypes.Boolean | sqltypes.Date):
        return None
    return _plain


def bulk_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """A plain multi-row INSERT. On MySQL straight through the DB-API cursor with positional rows (what a raw
    ``executemany`` costs: no per-value bind processing or dict-style escaping; only the datetime and JSON
    columns are converted), its statements written by ``multibuzz.db.mysql_rows.insert_many``; elsewhere a
    Core insert."""
    if not rows:
        return
    if session.get_bind().dialect.name not in ("mysql", "mariadb"):
        session.connection().execute(insert(table), rows)
        return
    columns = [table.c[name].name for name in rows[0]]  # names of our own table's columns, never input
    prefix = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES "  # noqa: S608
    pick = itemgetter(*columns)
    convert = [(i, f) for i, f in enumerate(_converter(table.c[c]) for c in columns) if f is not None]
    values: list[tuple[Any, ...]] = []
    for row in rows:
        picked = list(pick(row)) if len(columns) > 1 else [pick(row)]
        for i, f in convert:
            value = picked[i]
            if value is not None:
                picked[i] = f(value)
        values.append(tuple(picked))
    dbapi = session.connection().connection.dbapi_connection
    assert dbapi is not None
    cursor = dbapi.cursor()
    try:
        insert_many(cursor, prefix, values)  # executemany's statements, with cheaper literals
    finally:
        cursor.close()


def _upsert(session: Session, table: Table, rows: list[dict[str, Any]], key: tuple[str, ...]) -> None:
    """INSERT, or UPDATE when the incoming ``order_updated_at`` is not older than the stored one."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    columns = [c for c in rows[0] if c not in key and c not in ("account_id", "integration_id")]
    stmt: Any
    if dialect in ("mysql", "mariadb"):
        stmt = mysql.insert(table)
        newer = stmt.inserted.order_updated_at >= table.c.order_updated_at
        ordered = [c for c in columns if c != "order_updated_at"] + ["order_updated_at"]  # compare before set
        stmt = stmt.on_duplicate_key_update([(c, func.if_(newer, stmt.inserted[c], table.c[c])) for c in ordered])
    else:
        stmt = sqlite.insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(key),
            set_={c: stmt.excluded[c] for c in columns},
            where=stmt.excluded.order_updated_at >= table.c.order_updated_at,
        )
    session.connection().execute(stmt, rows)


def write_orders(
    session: Session,
    integration: Integration,
    items: Sequence[tuple[OrderFacts, dict[str, Any]]],
    *,
    source: str,
    now: datetime,
    zone: str,
    hash_key: bytes,
) -> WriteResult:
    """Upsert (facts, raw payload) pairs of one integration; returns what changed and which days."""
    result = WriteResult()
    newest: dict[str, tuple[OrderFacts, dict[str, Any]]] = {}
    for facts, payload in items:
        seen = newest.get(facts.shopify_order_id)
        if seen is None or facts.order_updated_at >= seen[0].order_updated_at:
            newest[facts.shopify_order_id] = (facts, payload)
    result.stale += len(items) - len(newest)
    batch = list(newest.values())
    for start in range(0, len(batch), _CHUNK):
        result.merge(_write_chunk(session, integration, batch[start : start + _CHUNK], source, now, zone, hash_key))
    return result


def _write_chunk(
    session: Session,
    integration: Integration,
    chunk: list[tuple[OrderFacts, dict[str, Any]]],
    source: str,
    now: datetime,
    zone: str,
    hash_key: bytes,
) -> WriteResult:
    result = WriteResult()
    ids = [facts.shopify_order_id for facts, _ in chunk]
    existing = {
        order_id: (updated, day)
        for order_id, updated, day in session.execute(
            select(FactOrder.shopify_order_id, FactOrder.order_updated_at, FactOrder.order_date).where(
                FactOrder.integration_id == integration.id, FactOrder.shopify_order_id.in_(ids)
            )
        )
    }
    raw_rows: list[dict[str, Any]] = []
    fact_rows: list[dict[str, Any]] = []
    for facts, payload in chunk:
        before = existing.get(facts.shopify_order_id)
        if before is not None and facts.order_updated_at < before[0]:
            result.stale += 1
            continue
        day = order_day(facts, zone)
        result.dates.add(day)
        if before is not None:
            result.dates.add(before[1])
        result.written.append(facts)
        raw_rows.append(
            {
                "account_id": integration.account_id,
                "integration_id": integration.id,
                "shopify_order_id": facts.shopify_order_id,
                "order_updated_at": facts.order_updated_at,
                "source": source,
                "fetched_at": now,
                "payload": payload,
            }
        )
        ref, hashed = customer_ref(facts, hash_key)
        fact_rows.append(
            {
                "account_id": integration.account_id,
                "integration_id": integration.id,
                "shopify_order_id": facts.shopify_order_id,
                "order_name": facts.order_name,
                "currency": facts.currency,
                "gross": facts.gross,
                "discounts": facts.discounts,
                "net": facts.net,
                "refunds": facts.refunds,
                "total_price": facts.total_price,
                "total_tax": facts.total_tax,
                "shipping": facts.shipping,
                "financial_status": facts.financial_status,
                "fulfillment_status": facts.fulfillment_status,
                "cancelled_at": facts.cancelled_at,
                "order_created_at": facts.order_created_at,
                "order_updated_at": facts.order_updated_at,
                "processed_at": facts.processed_at,
                "order_date": day,
                "landing_site": facts.landing_site,
                "referring_site": facts.referring_site,
                "source_name": facts.source_name,
                "discount_codes": facts.discount_codes,
                "note_attributes": facts.note_attributes,
                "cart_attributes": facts.cart_attributes,
                "customer_ref": ref,
                "shopify_customer_id": facts.shopify_customer_id,
                "email_hash": hashed,
                "visitor_id": facts.visitor_key,
                "conversion_id": conversion_id_of(integration.account_id, facts),
                "test": facts.test,
                "synced_at": now,
            }
        )
    key = ("integration_id", "shopify_order_id")
    raw_table, fact_table = cast(Table, ShopifyOrderRaw.__table__), cast(Table, FactOrder.__table__)
    fresh = [i for i, row in enumerate(fact_rows) if row["shopify_order_id"] not in existing]
    if fresh and session.get_bind().dialect.name in ("mysql", "mariadb"):
        # Orders we did not have (a first fill: all of them) go in with a plain multi-row INSERT, cheaper than
        # the guarded upsert; if another writer inserted one meanwhile, the savepoint rolls back and the
        # guarded upsert below takes them all.
        try:
            with session.begin_nested():
                bulk_insert(session, raw_table, [raw_rows[i] for i in fresh])
                bulk_insert(session, fact_table, [fact_rows[i] for i in fresh])
            taken = set(fresh)
            raw_rows = [r for i, r in enumerate(raw_rows) if i not in taken]
            fact_rows = [r for i, r in enumerate(fact_rows) if i not in taken]
        except IntegrityError:
            pass
    _upsert(session, raw_table, raw_rows, key)
    _upsert(session, fact_table, fact_rows, key)
    return result


def raw_payload(session: Session, integration_id: str, shopify_order_id: str) -> dict[str, Any] | None:
    row = session.scalar(
        select(ShopifyOrderRaw.payload).where(
            ShopifyOrderRaw.integration_id == integration_id, ShopifyOrderRaw.shopify_order_id == shopify_order_id
        )
    )
    return dict(row) if row is not None else None
