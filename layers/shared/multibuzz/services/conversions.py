"""Accept a conversion: resolve who converted, store it as pending, hand it to the attribution consumer."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from multibuzz.adapters.queue.base import OutgoingMessage, send_one
from multibuzz.bootstrap import Container
from multibuzz.consumers.envelope import Envelope
from multibuzz.conversions.ids import conversion_id_for
from multibuzz.conversions.request import ConversionRequest
from multibuzz.db.models import Conversion, Event, Identity, Visitor
from multibuzz.errors import InvalidInputError
from multibuzz.telemetry.correlation import ATTRIBUTE

KIND = "conversion.attribute"


@dataclass(frozen=True, slots=True)
class Subject:
    visitor_id: str | None  # our visitors.id
    visitor_key: str | None  # the client's visitor_id
    identity_id: str | None
    event_id: str | None
    group_id: str


def _resolve_once(session: Session, account_id: str, req: ConversionRequest) -> Subject | InvalidInputError:
    if req.event_id:
        event = session.scalar(
            select(Event).where(
                Event.account_id == account_id,
                or_(Event.id == req.event_id, Event.client_event_id == req.event_id),
            )
        )
        if event is None:
            return InvalidInputError("Event not found", field="event_id")
        key = (
            session.scalar(select(Visitor.visitor_key).where(Visitor.id == event.visitor_id))
            if event.visitor_id
            else None
        )
        group = f"{account_id}:{key}" if key else f"{account_id}:event:{event.id}"
        return Subject(event.visitor_id, key, event.identity_id, event.id, group)
    if req.visitor_id:
        visitor = session.scalar(
            select(Visitor).where(Visitor.account_id == account_id, Visitor.visitor_key == req.visitor_id)
        )
        if visitor is None:
            return InvalidInputError("Visitor not found", field="visitor_id")
        return Subject(
            visitor.id, visitor.visitor_key, visitor.identity_id, None, f"{account_id}:{visitor.visitor_key}"
        )
    identity = session.scalar(
        select(Identity).where(Identity.account_id == account_id, Identity.user_id == req.user_id)
    )
    if identity is None:
        return InvalidInputError("User not found", field="user_id")
    return Subject(None, None, identity.id, None, f"{account_id}:user:{req.user_id}")


def resolve_subject(session: Session, account_id: str, req: ConversionRequest, grace_seconds: float) -> Subject:
    """Who converted. Looks again for ``grace_seconds``: their first hits may still be in the ingest queue."""
    deadline = time.monotonic() + grace_seconds
    delay = 0.05
    while True:
        found = _resolve_once(session, account_id, req)
        if isinstance(found, Subject):
            return found
        if time.monotonic() + delay > deadline:
            raise found
        session.rollback()  # end the read snapshot so rows committed meanwhile become visible
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def submit_conversion(
    session: Session, container: Container, account_id: str, req: ConversionRequest, *, request_id: str | None = None
) -> tuple[Conversion, bool]:
    """Store the conversion as pending (or find the earlier one for a retried idempotency key).

    Returns (conversion, created). The caller commits, then calls :func:`enqueue`.
    """
    if req.idempotency_key:
        existing = session.scalar(
            select(Conversion).where(
                Conversion.account_id == account_id, Conversion.idempotency_key == req.idempotency_key
            )
        )
        if existing is not None:
            return existing, False
    subject = resolve_subject(session, account_id, req, container.settings.conversion_lookup_grace_seconds)
    now = container.clock.now()
    conversion = Conversion(
        id=conversion_id_for(account_id, req.idempotency_key) if req.idempotency_key else container.ids.new("conv"),
        account_id=account_id,
        conversion_type=req.conversion_type,
        visitor_id=subject.visitor_id,
        identity_id=subject.identity_id,
        event_id=subject.event_id,
        occurred_at=req.occurred_at or now,
        received_at=now,
        revenue=req.revenue,
        currency=req.currency,
        properties={**req.properties, "_group": subject.group_id},
        is_acquisition=req.is_acquisition,
        inherit_acquisition=req.inherit_acquisition,
        idempotency_key=req.idempotency_key,
        lookback_days=req.lookback_days,
        status="pending",
        attribution_version=0,
        sessions_analyzed=0,
        attribution_meta={},
        request_id=request_id,
    )
    session.add(conversion)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        again = session.scalar(
            select(Conversion).where(
                Conversion.account_id == account_id, Conversion.idempotency_key == req.idempotency_key
            )
        )
        if again is None:
            raise
        return again, False
    return conversion, True


def enqueue(container: Container, conversion: Conversion) -> str:
    """Hand the conversion to the attribution consumer, in its visitor's FIFO group (after their hits)."""
    group = str((conversion.properties or {}).get("_group") or f"{conversion.account_id}:{conversion.id}")
    envelope = Envelope(
        kind=KIND,
        id=f"conv:{conversion.id}",
        account_id=conversion.account_id,
        payload={"conversion_id": conversion.id},
    )
    return send_one(
        container.queue,
        "ingest",
        OutgoingMessage(
            envelope.dumps(),
            group_id=group,
            dedup_id=f"conv:{conversion.id}",
            attributes={ATTRIBUTE: conversion.request_id} if conversion.request_id else {},
        ),
    )
