"""Conversion messages: attribute once; re-attribute an identity's conversions when identify merges journeys."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from multibuzz.bootstrap import Container
from multibuzz.consumers.envelope import Envelope
from multibuzz.consumers.hooks import on_identity_linked
from multibuzz.consumers.registry import handles, handles_batch
from multibuzz.db.models import Account, Conversion, Visitor
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
