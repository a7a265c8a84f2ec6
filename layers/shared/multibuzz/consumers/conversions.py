"""Conversion messages: attribute once; re-attribute an identity's conversions when identify merges journeys."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from multibuzz.bootstrap import Container
from multibuzz.consumers.envelope import Envelope
from multibuzz.consumers.hooks import on_event_conversions, on_identity_linked
from multibuzz.consumers.registry import handles, handles_batch
from multibuzz.db.models import Account, Conversion, Event, Visitor
from multibuzz.services.attribution import DEFAULT_LOOKBACK_DAYS, attribute_conversion, attribute_conversions
from multibuzz.services.conversions import KIND


class ConversionMissingError(LookupError):
    pass


@handles(KIND)
def attribute_message(envelope: Envelope, session: Session, container: Container) -> None:
    conversion_id = str(envelope.payload.get("conversion_id", ""))
    conversion = session.get(Conversion, conversion_id, with_for_update=True)
    if conversion is None or conversion.account_id != envelope.account_id:
        raise ConversionMissingError(f"conversion {conversion_id!r} not found for account {envelope.account_id!r}")
    if conversion.status == "attributed":
        return  # redelivery: already done
    attribute_conversion(session, container, conversion)


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
    todo = [found[i] for i in dict.fromkeys(ids) if found[i].status != "attributed"]
    attribute_conversions(session, container, todo)


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
        )
        session.add(conversion)
        created.append(conversion)
    if created:
        session.flush()
        attribute_conversions(session, container, created)


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
