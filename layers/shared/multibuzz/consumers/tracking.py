"""Tracking message handlers: ``events.track``, ``session.hit``, ``identify`` (see multibuzz.ingest.enqueue).

Each runs inside the transaction ``consumers.process`` opens for the record. Idempotency:
events by their ``evt_`` primary key (already-stored ids are skipped before anything is
counted); session hits and identify by the ProcessedMessage inbox.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from multibuzz.bootstrap import Container
from multibuzz.clock import ensure_utc
from multibuzz.consumers.envelope import Envelope
from multibuzz.consumers.hooks import event_conversions, identity_linked
from multibuzz.consumers.registry import handles, handles_batch
from multibuzz.ingest.messages import KIND_EVENTS, KIND_IDENTIFY, KIND_SESSION
from multibuzz.observability import get_logger
from multibuzz.services import tracking

logger = get_logger()


def _when(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO-8601 timestamp, got {type(value).__name__}")
    return ensure_utc(datetime.fromisoformat(value))


def _tracker(envelope: Envelope, session: Session, container: Container) -> tracking.Tracker | None:
    account = tracking.load_rules(session, envelope.account_id)
    if account is None:
        logger.warning("message for an unknown account dropped", extra={"kind": envelope.kind, "id": envelope.id})
        return None
    return tracking.Tracker(session, container.ids, container.clock.now(), account)


def parse_event(raw: dict[str, Any], request_id: str | None = None) -> tracking.TrackedEvent:
    properties = raw.get("props") or {}
    if not isinstance(properties, dict):
        raise ValueError("event properties must be an object")
    if not raw.get("vid") and not raw.get("uid"):
        raise ValueError("event without visitor_id or user_id")
    return tracking.TrackedEvent(
        id=str(raw["id"]),
        client_event_id=raw.get("cid"),
        event_type=str(raw["type"]),
        occurred_at=_when(raw["at"]),
        received_at=_when(raw["rcv"]),
        visitor_key=raw.get("vid"),
        user_id=raw.get("uid"),
        properties=properties,
        url=raw.get("url"),
        referrer=raw.get("ref"),
        user_agent=raw.get("ua"),
        ip=raw.get("ip"),
        funnel=raw.get("funnel"),
        funnel_step=raw.get("step"),
        funnel_position=raw.get("pos"),
        request_id=request_id,
    )


@handles(KIND_EVENTS)
def track_events(envelope: Envelope, session: Session, container: Container) -> None:
    tracker = _tracker(envelope, session, container)
    if tracker is not None:
        _apply_events(envelope, tracker, session, container)


@handles_batch(KIND_EVENTS)
def track_events_batch(envelopes: list[Envelope], session: Session, container: Container) -> None:
    """The same as ``track_events`` for each message, in order, with one events INSERT for the batch."""
    tracker = _tracker(envelopes[0], session, container)
    if tracker is None:
        return
    plain = not any(raw.get("conv") for envelope in envelopes for raw in envelope.payload["events"])
    messages = [
        [parse_event(raw, envelope.correlation_id) for raw in envelope.payload["events"]] for envelope in envelopes
    ]
    if plain and tracking.store_event_messages(tracker, messages):
        return
    tracker.defer_events()
    for envelope in envelopes:
        _apply_events(envelope, tracker, session, container)
    tracker.flush_events()


def _apply_events(envelope: Envelope, tracker: tracking.Tracker, session: Session, container: Container) -> None:
    events = [parse_event(raw, envelope.correlation_id) for raw in envelope.payload["events"]]
    _, linked = tracking.store_events(tracker, events)
    specs = [
        {**raw["conv"], "event_id": raw["id"], "request_id": envelope.correlation_id}
        for raw in envelope.payload["events"]
        if raw.get("conv")
    ]
    if linked.identity_ids or specs:
        tracker.flush_events()  # the hooks read events (lead events, the purchase event)
    for identity_id in linked.identity_ids:
        identity_linked(session, container, envelope.account_id, identity_id)
    if specs:
        event_conversions(session, container, envelope.account_id, specs)


@handles(KIND_SESSION)
def session_hit(envelope: Envelope, session: Session, container: Container) -> None:
    payload = envelope.payload
    hit = tracking.Hit(
        at=_when(payload["at"]),
        url=payload.get("url"),
        referrer=payload.get("ref"),
        user_agent=payload.get("ua"),
        ip=payload.get("ip"),
        client_session_id=payload.get("sid"),
    )
    tracker = _tracker(envelope, session, container)
    if tracker is None:
        return
    key = f"{KIND_SESSION}:{envelope.id}"
    if tracker.seen(key):
        return
    tracking.record_session_hit(tracker, str(payload["vid"]), hit)
    tracker.mark_seen(key, KIND_SESSION)


@handles(KIND_IDENTIFY)
def identify(envelope: Envelope, session: Session, container: Container) -> None:
    payload = envelope.payload
    traits = payload.get("traits") or {}
    if not isinstance(traits, dict):
        raise ValueError("traits must be an object")
    tracker = _tracker(envelope, session, container)
    if tracker is None:
        return
    key = f"{KIND_IDENTIFY}:{envelope.id}"
    if tracker.seen(key):
        return
    identity_id, changed = tracking.identify(
        tracker, str(payload["uid"]), payload.get("vid"), traits, _when(payload["at"])
    )
    tracker.mark_seen(key, KIND_IDENTIFY)
    if changed:
        identity_linked(session, container, envelope.account_id, identity_id)
