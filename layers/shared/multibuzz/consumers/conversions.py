"""Conversion messages: attribute once; re-attribute an identity's conversions when identify merges journeys."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from multibuzz.bootstrap import Container
from multibuzz.consumers.envelope import Envelope
from multibuzz.consumers.hooks import on_event_conversions, on_identity_linked
from multibuzz.consumers.registry import handles, handles_batch
from multibuzz.db.models import Account, AttributionCredit, Conversion, Event, Visitor
from multibuzz.observability import get_logger
from multibuzz.services.attribution import DEFAULT_LOOKBACK_DAYS, attribute_conversion, attribute_conversions
from multibuzz.services.conversions import KIND
from multibuzz.telemetry import metrics

logger = get_logger()


class ConversionMissingError(LookupError):
    pass


# Errors that another delivery cannot cure: the conversion's own data cannot be attributed (a date out of
# range, a value the arithmetic refuses, a row the database refuses as data). Such a conversion ends
# ``failed`` with the reason, visible in GET /conversions/{id}, instead of pending until the DLQ. Anything
# else (the database unreachable, a deadlock, a lock timeout) propagates and the message is retried.
NON_RETRYABLE: tuple[type[BaseException], ...] = (ArithmeticError, ValueError, TypeError, DataError)
DONE = ("attributed", "failed")


def mark_failed(session: Session, container: Container, conversion: Conversion, exc: BaseException) -> None:
    """``failed`` with a reason; any credit rows of the attempt are removed (idempotent)."""
    reason = f"cannot be attributed: {type(exc).__name__}: {exc}"[:500]
    session.execute(
        delete(AttributionCredit).where(
            AttributionCredit.conversion_id == conversion.id,
            AttributionCredit.version > conversion.attribution_version,
        )
    )
    conversion.status = "failed"
    conversion.attribution_meta = {
        **(conversion.attribution_meta or {}),
        "failure": {"reason": reason, "at": container.clock.now().isoformat()},
    }
    session.flush()
    metrics.count(metrics.Metric.CONVERSIONS_FAILED)
    logger.warning("conversion failed", extra={"conversion_id": conversion.id, "reason": reason})


def attribute_or_fail(session: Session, container: Container, conversions: list[Conversion]) -> None:
    """Attribute together; if that fails for a non-retryable reason, one by one, failing only the culprits."""
    if not conversions:
        return
    try:
        attribute_conversions(session, container, conversions)
        return
    except NON_RETRYABLE as exc:
        if len(conversions) == 1:
            mark_failed(session, container, conversions[0], exc)
            return
    for conversion in conversions:
        try:
            attribute_conversions(session, container, [conversion])
        except NON_RETRYABLE as exc:
            mark_failed(session, container, conversion, exc)


@handles(KIND)
def attribute_message(envelope: Envelope, session: Session, container: Container) -> None:
    conversion_id = str(envelope.payload.get("conversion_id", ""))
    conversion = session.get(Conversion, conversion_id, with_for_update=True)
    if conversion is None or conversion.account_id != envelope.account_id:
        raise ConversionMissingError(f"conversion {conversion_id!r} not found for account {envelope.account_id!r}")
    if conversion.status in DONE:
        return  # redelivery: already done (or failed for good)
    attribute_or_fail(session, container, [conversion])


@handles_batch(KIND)
def attribute_messages(envelopes: list[Envelope], session: Session, container: Container) -> None:
    """The same as ``attribute_message`` for each, with the journeys loaded set-based."""
    ids = [str(e.payload.get("conversion_id", "")) for e in envelopes]
    found = {
        c.id: c
        for c in session.scalars(
            select(Conversion).where(Conversion.id.in_(ids)).order_by(Conversion.id).with_for_update()
        )
    }
    missing = [i for i in ids if i not in found or found[i].account_id != envelopes[0].account_id]
    if missing:
        raise ConversionMissingError(f"conversions not found: {', '.join(missing)}")
    todo = [found[i] for i in dict.fromkeys(ids) if found[i].status not in DONE]
    attribute_or_fail(session, container, todo)


@on_event_conversions
def conversions_from_events(
    session: Session, container: Container, account_id: str, specs: list[dict[str, Any]]
) -> None:
    """The unified form's purchase: its event is stored now, so the conversion can be created and attributed."""
    created = []
    for spec in specs:
        if session.get(Conversion, spec["id"]) is not None:
            continue  # redelivery
        event = session.get(Event, spec["event_id"])
        if event is None or event.account_id != account_id:
            raise ConversionMissingError(f"event {spec['event_id']!r} of conversion {spec['id']!r} was not stored")
        properties = dict(event.properties or {})
        conversion = Conversion(
            id=spec["id"],
            account_id=account_id,
            conversion_type=str(spec["type"]),
            visitor_id=event.visitor_id,
            identity_id=event.identity_id,
            event_id=event.id,
            occurred_at=event.occurred_at,
            received_at=container.clock.now(),
            revenue=Decimal(str(spec["revenue"])),
            currency=str(spec["currency"]),
            properties=properties,
            is_acquisition=bool(properties.get("is_acquisition", False)),
            inherit_acquisition=bool(properties.get("inherit_acquisition", False)),
            idempotency_key=f"event:{event.id}",
            status="pending",
            attribution_version=0,
            sessions_analyzed=0,
            attribution_meta={},
            request_id=spec.get("request_id"),
        )
        session.add(conversion)
        created.append(conversion)
    if created:
        session.flush()
        attribute_or_fail(session, container, created)


@on_identity_linked
def reattribute_identity(session: Session, container: Container, account_id: str, identity_id: str) -> None:
    """Visitors were linked to ``identity_id``: its conversions inside the lookback see the merged journey."""
    settings = dict(session.scalar(select(Account.settings).where(Account.id == account_id)) or {})
    lookback = int(settings.get("lookback_days") or DEFAULT_LOOKBACK_DAYS)
    since = container.clock.now() - timedelta(days=lookback)
    visitor_ids = list(
        session.scalars(select(Visitor.id).where(Visitor.account_id == account_id, Visitor.identity_id == identity_id))
    )
    scope = [Conversion.identity_id == identity_id]
    if visitor_ids:
        scope.append(Conversion.visitor_id.in_(visitor_ids))
    conversions = session.scalars(
        select(Conversion)
        .where(Conversion.account_id == account_id, or_(*scope), Conversion.occurred_at >= since)
        .order_by(Conversion.occurred_at)
        .with_for_update()
    ).all()
    for conversion in conversions:
        conversion.identity_id = identity_id
        if conversion.status == "attributed":
            attribute_conversion(session, container, conversion, settings)
